"""The EPUB's back matter rendered from its templates, remembered through a --watch session.

A page is kept under a key made of its templates' sources and of every value they read (found
with jinja2.meta, the templates they include or import counted too, by book/templates.py's
template_facts), each written out by repr: the view is made of dataclasses and strings, whose
repr shows all of their content. A template that reads every chapter (the answers) is rendered
each time, as is one that reads a value whose repr is only an object's address, or one that
includes a template named at run time.
`python build.py --no-cache` (book/cache.enabled()) renders everything.
"""
from __future__ import annotations

from jinja2 import Environment

from . import cache
from .memo import Memo
from .pagemap import PageMap
from .templates import template_facts


def rendered(env: Environment, name: str, context: dict, page_map: PageMap) -> str:
    """env's template `name` rendered with the context (whose page_label is page_map's)."""
    template = env.get_template(name)
    if not cache.enabled():
        return template.render(**context)
    reads, sources = _reads(env, name)
    if reads is None or "chapters" in reads:
        return template.render(**context)
    values = []
    for variable in sorted(reads):
        if variable == "page_label":
            values.append(_page_map_key(page_map))
            continue
        text = repr(context[variable]) if variable in context else "(absent)"
        if " at 0x" in text:
            return template.render(**context)
        values.append(text)
    key = cache.key("epub-page", name, sources, sorted(reads), values)
    return _PAGES.get(key, lambda: template.render(**context))


def _reads(env: Environment, name: str) -> tuple[set[str] | None, list[str]]:
    """The variables a template and those it includes or imports read (None: one of them is named
    at run time), and their sources; worked out again when one of the sources changes."""
    known = _ANALYSED.get(name)
    if known is not None:
        names, sources, reads = known
        if names is None or [env.loader.get_source(env, n)[0] for n in names] == sources:
            return reads, sources
    names = _closure_names(env, name)
    sources = [env.loader.get_source(env, n)[0] for n in names] if names is not None else []
    reads = None
    if names is not None:
        reads = set()
        for template in names:
            reads |= template_facts(env, template)[1]
    _ANALYSED[name] = (names, sources, reads)
    return reads, sources


def _closure_names(env: Environment, name: str) -> list[str] | None:
    """The template and every template it includes or imports, in a fixed order; None if one is named at run time."""
    found, todo = [], [name]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.append(current)
        referenced = template_facts(env, current)[0]
        if referenced is None:
            return None
        todo.extend(referenced)
    return found


def _page_map_key(page_map: PageMap) -> str:
    """What page_label reads of the page map: its labels and where each id stands."""
    known = _MAP_KEYS.get(id(page_map))
    if known is None or known[0] is not page_map:
        digest = cache.key("page-labels", page_map.labels, page_map.anchors)
        _MAP_KEYS.clear()
        known = _MAP_KEYS[id(page_map)] = (page_map, digest)
    return known[1]


_PAGES = Memo(16 << 20)  # key -> the rendered page
_ANALYSED: dict[str, tuple] = {}  # template name -> (its templates, their sources, the variables they read)
_MAP_KEYS: dict[int, tuple[PageMap, str]] = {}
