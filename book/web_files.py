"""The web edition's pages worked out one by one, and remembered through a `serve` session.

As for the EPUB (book/epub_files.py): a page's final markup depends only on its own body and the
notes it calls, the glossary's definitions (its tooltips), the page-break markers that fall into
it and the pages its links lead to. The whole-book steps that remain work on small summaries:
the alignment with the print edition's words (each page's words are kept) and the map of ids to
pages. After an edit only the pages whose inputs changed are parsed, marked and serialised again;
the others' finished markup and search records come from memory, keyed by all of those inputs, so
the site is the same as a fresh build's. Pages with pictures are always done again (the refusal
of an outside picture is reported on every build). `python build.py --no-cache`
(book/cache.enabled()) uses none of it.
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml import html

from . import cache
from .epub_files import IMAGES, Prepared, finished_key, homes, notes_key
from .epub_pages import file_text, insert_markers, page_places
from .memo import Memo


@dataclass
class Finished:
    """A page's article markup, its chapter's sections (id, heading) and its search records."""
    content: str
    sections: list[tuple[str, str]]
    records: list[dict]


def work_pages(pages, view, page_map, root, report) -> tuple[list[Finished], list[tuple[str, bytes]]]:
    """Per page (in order) its finished markup; the pictures packed. The pages of kind "search" carry
    no notes, page markers or markup of the text, as the print edition has no text of them."""
    from .epub import embed_images, link_across
    from .web import definitions_of, tooltip_ids

    remember = cache.enabled()
    definitions = definitions_of(view)
    common = cache.key(notes_key(view), sorted(definitions.items())) if remember else ""
    prepared, fresh = [], {}
    for page in pages:
        key = cache.key("web-page", page.file_name, page.title, page.kind, page.searchable, page.body,
                        common) if remember else ""
        entry = _PREPARED.lookup(key) if remember else None
        if entry is None:
            tree, text, segments = _prepared_tree(page, view)
            ids = {e.get("id") for e in tree.xpath(".//*[@id]")}
            if text is not None:
                ids |= set(tooltip_ids(tree, page.file_name, definitions))
            entry = Prepared(key, text, frozenset(ids),
                             tuple(a.get("href")[1:] for a in tree.xpath(".//a[starts-with(@href, '#')]")),
                             bool(tree.xpath(IMAGES)))
            fresh[page.file_name] = (tree, segments)
            if remember:
                _PREPARED.keep(key, entry)
        prepared.append(entry)

    marked = [index for index, entry in enumerate(prepared) if entry.text is not None]
    markers, places = page_places([pages[i].file_name for i in marked], [prepared[i].text for i in marked], page_map)
    placed: list[list] = [[] for _ in pages]
    for marker, (index, offset) in zip(markers, places):
        placed[marked[index]].append((marker, offset))
    home = homes([page.file_name for page in pages], prepared, placed)

    finished: dict[str, Finished] = {}
    with_images = {}
    for page, entry, here in zip(pages, prepared, placed):
        name = page.file_name
        key = finished_key(entry, name, here, home) if remember else ""
        done = _FINISHED.lookup(key) if remember and not entry.images else None
        if done is not None:
            finished[name] = done
            continue
        tree, segments = fresh.pop(name, None) or _prepared_tree(page, view)[::2]
        if entry.text is not None:
            from .web import web_markup

            insert_markers(tree, segments, here)
            web_markup(tree, name, definitions)
        link_across(tree, name, home)
        if entry.images:
            with_images[page] = tree
            continue
        finished[name] = _finish(page, tree)
        if remember:
            _FINISHED.keep(key, finished[name])
    images = embed_images({page.file_name: tree for page, tree in with_images.items()}, root, view, report)
    for page, tree in with_images.items():
        finished[page.file_name] = _finish(page, tree)
    return [finished[page.file_name] for page in pages], images


def _prepared_tree(page, view):
    """A page's tree with its notes placed and paragraphs numbered; its text and the pieces of it."""
    from .web import number_paragraphs, place_notes

    tree = html.fragment_fromstring(page.body, create_parent="div")
    if page.kind == "search":
        return tree, None, None
    place_notes(tree, page.file_name, view)
    number_paragraphs(tree, page.file_name)  # ids only: the text and where markers go stay the same
    text, segments = file_text(tree)
    return tree, text, segments


def _finish(page, tree) -> Finished:
    from .html import inner_html
    from .web_search import page_records

    sections = [(h.get("id"), h.text_content().strip()) for h in tree.xpath('.//div[@class="chapter-body"]/h2[@id]')]
    return Finished(inner_html(tree), sections, page_records(page, tree) if page.searchable else [])


# Within 32 MB each, roughly (a word, its place and its index entry: some 200 bytes), as for the EPUB.
_PREPARED = Memo(32 << 20, lambda entry: 200 * len(entry.text.words) + 1000 if entry.text else 1000)
_FINISHED = Memo(32 << 20, lambda done: 2 * len(done.content) + 1000)
