"""The web edition: a static site, one page per part, from the same view and templates as the EPUB.

Each part's HTML goes through the same steps as in the EPUB (notes placed per page, the A4
edition's page-break markers, links across files), then into the site's page shell
(book/templates/web/). Notes sit beside their call (margin notes on wide screens, pop-ups on
narrow ones); glossary links carry their definition as a tooltip. Every paragraph goes into the
search data (book/web_search.py) that the search page indexes in the browser. The same input
gives the same bytes: file order, names and contents are fixed.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from lxml import etree, html

from .diagnostics import Report
from .epub_render import rendered
from .html import note_content, note_paragraphs, note_refs, remove_keeping_tail
from .memo import Memo
from . import pagemap
from .model import BACK_MATTER, BookView
from .pagemap import PAGE_SOURCE, PageMap, one_per_page
from .templates import MANY_PAGES, environment, index_groups
from .web_files import work_pages
from .web_search import DATA_FILE, search_records, search_script

ASSETS = ("web.css", "web.js", "search.js", "icon.svg", "vendor/minisearch.js", "vendor/minisearch-LICENSE.txt")
# (from styles/web/, shipped in assets/)
FONT_SUFFIX = ".otf"
# The book's index is "index" in the model; a site's index.html is its home page.
FILE_OF_BACK = {"index": "book-index"}
PARAGRAPHS = ("p", "li", "dd", "blockquote", "td")  # blocks a search result can jump to
IN_SIDENOTE = etree.XPath("ancestor::*[contains(@class, 'sidenote')]")  # compiled once: asked of every block


@dataclass
class WebPage:
    file_name: str
    title: str  # in the contents and the window title
    body: str  # HTML of the page's article
    kind: str  # "home", "front", "chapter", "back", "search"
    searchable: bool = True


def template_context(view: BookView, page_map: PageMap) -> dict:
    index = one_per_page(view.index, page_map.anchors)  # page references in the print edition
    return dict(config=view.config, year=view.year, events=view.events, people=view.people,
                terms=view.terms, sources=view.sources, conflicts=view.conflicts, index_groups=index_groups(index),
                index_by_heading={e.heading: e for e in index}, paged=False, many=MANY_PAGES,
                page_label=page_map.label_of, front=view.front, chapters=view.chapters, exact=True,
                interactive=True)  # the self-check questions answer back (templates/selfcheck.html.j2)


def pages_of(view: BookView, page_map: PageMap, context: dict | None = None) -> list[WebPage]:
    """The site's pages, their bodies rendered from the templates (remembered in serve: book/epub_render.py)."""
    env = environment()
    context = context or template_context(view, page_map)
    pages = [WebPage("index.html", "Title page and contents",
                     rendered(env, "web/home.html.j2", dict(context, back=back_pages()), page_map), "home",
                     searchable=False)]  # the title page and contents: every result would be there too
    pages += [WebPage(f"{p.slug}.html", p.title, rendered(env, "web/part.html.j2", dict(context, part=p), page_map),
                      "front") for p in view.front]
    pages += [WebPage(f"chapter-{p.number}.html", f"{p.number}. {p.title}",
                      rendered(env, "web/part.html.j2", dict(context, part=p), page_map), "chapter")
              for p in view.chapters]
    for item in BACK_MATTER:
        pages.append(WebPage(f"{FILE_OF_BACK.get(item['id'], item['id'])}.html", item["title"],
                             rendered(env, f"{item['id']}.html.j2", context, page_map), "back",
                             searchable=item["id"] != "index"))
    return pages


def back_pages() -> list[dict]:
    extra = [{"file": "search.html", "title": "Search"}]
    return [{"file": f"{FILE_OF_BACK.get(i['id'], i['id'])}.html", "title": i["title"]} for i in BACK_MATTER] + extra


def place_notes(root: html.HtmlElement, file_name: str, view: BookView) -> None:
    """One page's notes, numbered 1, 2, …; each note follows its call, as a margin note or pop-up.

    The call and the note are marked as the EPUB marks them (noteref, class "notes") so that the
    page-break alignment skips them, as the print edition sets notes apart from the text."""
    stem = file_name.removesuffix(".html")
    for number, ref in enumerate(note_refs(root), start=1):
        note = note_content(view.notes, ref)
        call = html.Element("a", {"href": f"#{stem}-note-{number}", "id": f"{stem}-ref-{number}",
                                  "class": "noteref", "role": "doc-noteref",
                                  "aria-label": f"Note {number}"})
        call.text = str(number)
        sup = html.Element("sup", {"epub:type": "noteref"})
        sup.append(call)
        aside = html.Element("span", {"id": f"{stem}-note-{number}", "class": "sidenote notes",
                                      "role": "doc-footnote"})
        back = html.Element("a", {"href": f"#{stem}-ref-{number}", "role": "doc-backlink", "class": "note-number",
                                  "aria-label": f"Back to the text of note {number}"})
        back.text = f"{number}."
        aside.append(back)
        for paragraph in note_paragraphs(note):
            paragraph.tag = "span"
            paragraph.set("class", "note-para")
            aside.append(paragraph)
        aside.tail = ref.tail
        ref.getparent().replace(ref, sup)
        sup.addnext(aside)


def number_paragraphs(root: html.HtmlElement, file_name: str) -> None:
    """An id for each block a search result can open at (the notes' paragraphs are not results)."""
    stem = file_name.removesuffix(".html")
    counter = 0
    for element in root.iter(*PARAGRAPHS):
        if element.get("id") is None and not IN_SIDENOTE(element):
            counter += 1
            element.set("id", f"{stem}-p{counter}")


def web_markup(root: html.HtmlElement, file_name: str, definitions: dict[str, str]) -> None:
    """The EPUB's attributes become the web's; glossary tooltips. (The paragraphs have their ids
    already: number_paragraphs, before the page-break markers go in.)"""
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        kind = element.attrib.pop("epub:type", None)
        if kind == "pagebreak":  # role doc-pagebreak is for e-books; axe refuses it on a web page's span
            label = element.attrib.pop("aria-label")
            del element.attrib["role"]
            element.set("class", "pagebreak")
            element.set("data-page", label)
            element.set("title", f"Page {label} of the A4 print edition")
    for tip_id, link, term in glossed(root, file_name, definitions):
        wrap = html.Element("span", {"class": "gloss-wrap"})
        tip = html.Element("span", {"class": "gloss-tip", "role": "tooltip", "id": tip_id})
        tip.text = definitions[term]
        link.set("aria-describedby", tip_id)
        link.addprevious(wrap)
        wrap.tail, link.tail = link.tail, None
        wrap.append(link)
        wrap.append(tip)


def glossed(root: html.HtmlElement, file_name: str, definitions: dict[str, str]) -> list:
    """The glossary links that get a tooltip: (the tooltip's id, the link, the term)."""
    stem = file_name.removesuffix(".html")
    found = []
    for number, link in enumerate(root.xpath('.//a[contains(concat(" ", @class, " "), " gloss ")]'), 1):
        term = link.get("href", "").rpartition("#term-")[2]
        if term in definitions:
            found.append((f"{stem}-tip-{number}", link, term))
    return found


def tooltip_ids(root: html.HtmlElement, file_name: str, definitions: dict[str, str]) -> list[str]:
    return [tip_id for tip_id, _, _ in glossed(root, file_name, definitions)]


def definitions_of(view: BookView) -> dict[str, str]:
    """Each glossary term's id -> its definition as a tooltip's text."""
    return {t.id: _DEFINITIONS.get(t.definition or "", lambda: definition_text(t.definition)) for t in view.terms}


def definition_text(definition: str) -> str:
    """A glossary definition as the plain text of a tooltip, without its note calls."""
    root = html.fragment_fromstring(definition or "", create_parent="span")
    for ref in note_refs(root):
        remove_keeping_tail(ref)
    return " ".join(root.text_content().split())


def write_site(view: BookView, root: Path, report: Report, page_map: PageMap, folder: Path) -> int:
    """The site, written into folder (created, must not exist). Returns the number of files."""
    env = environment()
    context = template_context(view, page_map)
    pages = pages_of(view, page_map, context)
    pages.append(WebPage("search.html", "Search", env.get_template("web/search.html.j2").render(**context),
                         "search", searchable=False))
    # Notes, page markers, tooltips, links and pictures, page by page (remembered in serve).
    finished, images = work_pages(pages, view, page_map, root, report)
    folder.mkdir(parents=True)
    if images:
        (folder / "images").mkdir()
        for name, data in images:
            (folder / "images" / name).write_bytes(data)

    shell = env.get_template("web/page.html.j2")
    contents = [(p.file_name, p.title, p.kind) for p in pages]
    for position, (page, done) in enumerate(zip(pages, finished)):
        markup = shell.render(
            config=view.config, page=page, body=done.content, contents=contents, sections=done.sections,
            previous=pages[position - 1] if position else None,
            next=pages[position + 1] if position + 1 < len(pages) else None,
            page_source=PAGE_SOURCE)
        (folder / page.file_name).write_text(markup, encoding="utf-8")

    write_assets(root, folder)
    records = search_records([done.records for page, done in zip(pages, finished) if page.searchable])
    (folder / "assets" / DATA_FILE).write_text(search_script(records), encoding="utf-8")
    return sum(1 for p in folder.rglob("*") if p.is_file())


def write_assets(root: Path, folder: Path) -> None:
    """The styles, scripts and fonts, into folder/assets/ (serve calls this alone after a style edit)."""
    assets = folder / "assets"
    (assets / "fonts").mkdir(parents=True, exist_ok=True)
    styles = root / "styles"
    fonts_css = (styles / "fonts.css").read_text(encoding="utf-8")
    web_css = (styles / "web" / "web.css").read_text(encoding="utf-8")
    (assets / "web.css").write_text(fonts_css + web_css, encoding="utf-8")
    (assets / "vendor").mkdir(exist_ok=True)
    for name in ASSETS[1:]:
        shutil.copyfile(styles / "web" / name, assets / name)
    for font in sorted((styles / "fonts").iterdir()):
        if font.suffix in (FONT_SUFFIX, ".txt"):
            shutil.copyfile(font, assets / "fonts" / font.name)


def build_site(view: BookView, options, report: Report, staging: Path, page_map: PageMap | None,
               progress, task) -> str:
    """The build's web step: find the page map, write the site into staging; a summary line."""
    from .build import summary_line

    started = time.perf_counter()
    if page_map is None:
        progress.update(task, description="finding the print edition's pages")
        page_map = preview_page_map(view, options.root) if options.preview else None
        if page_map is None:
            from .pdf import edition_page_map

            page_map = edition_page_map(view, options.root)
    progress.update(task, description="writing the web edition")
    folder = staging / f"{view.config.slug}-web"
    files = write_site(view, options.root, report, page_map, folder)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return summary_line(options.out_dir / folder.name, f"{files} files", size, time.perf_counter() - started)


def preview_page_map(view: BookView, root: Path) -> PageMap | None:
    """For serve: the current page map if cached, else the newest cached one. After an edit the
    page numbers may be a little off until the next full build, but a save shows in seconds
    instead of after laying the whole book out again (a minute)."""
    from .print_html import page_map_key

    if root in _PREVIEW_MAPS:  # serve's later rebuilds: skip even the key (rendering the print HTML)
        return _PREVIEW_MAPS[root]
    current = pagemap.load_cached(root, page_map_key(view, root))
    if current is not None:
        _PREVIEW_MAPS[root] = current
        return current
    folder = pagemap.cache_path(root, "x").parent
    entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True) if folder.is_dir() else []
    for entry in entries:
        cached = pagemap.load_cached(root, entry.stem)
        if cached is not None:
            _PREVIEW_MAPS[root] = cached
            return cached
    return None


_DEFINITIONS = Memo(1 << 20)  # a definition's HTML -> its tooltip's text
_PREVIEW_MAPS: dict[Path, PageMap] = {}  # root -> the page map a serve or --watch process keeps using


def remember_page_map(root: Path, page_map: PageMap) -> None:
    """A new layout's pages: the next preview build uses them."""
    _PREVIEW_MAPS[root] = page_map


def install(built: Path, target: Path) -> None:
    """Put a finished site in place of the old one: the old is moved aside first, then removed."""
    old = built.parent / (built.name + ".old")
    if target.exists():
        os.replace(target, old)
    os.replace(built, target)
    shutil.rmtree(old, ignore_errors=True)
