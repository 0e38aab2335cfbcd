"""The PDF writer: one HTML document for the whole book, laid out by WeasyPrint.

Layout runs twice: the first pass (without the index) finds the page of every index mark, so
that the index can list each page once; the second is the book. Page labels (i, ii, … then 1, 2, …) are added
afterwards with pikepdf, since WeasyPrint writes none.
"""
from __future__ import annotations

import io
import logging
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from lxml import html
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from .config import PAPER_SIZES
from .diagnostics import Report
from .fetch import BookFetcher
from .html import append_inline, note_paragraphs, note_refs
from .model import BACK_MATTER, BookView, IndexEntry
from . import pagemap
from .names import names_kept_whole
from .pagemap import PAGE_SOURCE, PageMap, one_per_page, read_page_map
from .processes import die_with_parent, kill_workers
from .pdf_tags import PDF_VARIANT, tagged
from .templates import MANY_PAGES, environment, index_groups

@dataclass
class PdfResult:
    data: bytes
    pages: int
    page_map: PageMap | None = None  # for the edition the EPUB's page numbers follow


def print_html(view: BookView, index: list[IndexEntry], edition: str = "student") -> str:
    """The book as one HTML document, notes moved to where they are called. The teacher's edition
    is the student's book followed by the teacher's notes, so that its pages are the student's."""
    markup = environment().get_template("print.html.j2").render(
        config=view.config, year=view.year, front=view.front, chapters=view.chapters, back=BACK_MATTER,
        events=view.events, people=view.people, terms=view.terms, sources=view.sources, conflicts=view.conflicts,
        index_groups=index_groups(index), index_by_heading={e.heading: e for e in index},
        paged=True, many=MANY_PAGES, edition=edition, teacher=view.teacher)
    root = html.document_fromstring(markup)
    for ref in note_refs(root):
        span = html.Element("span", {"class": "footnote"})  # a float must hold inline content only
        for number, paragraph in enumerate(note_paragraphs(view.notes[ref.get("href").lstrip("#")])):
            append_inline(span, paragraph, " " if number else "")
        span.tail = ref.tail
        ref.getparent().replace(ref, span)
        parent = span.getparent()
        keep_call_with_word(parent if "citation" in (parent.get("class") or "") else span)
    return html.tostring(root, encoding="unicode", doctype="<!DOCTYPE html>")


def keep_call_with_word(holder) -> None:
    """Wrap a note call with the word before it, so that no line starts with a note number."""
    parent, previous = holder.getparent(), holder.getprevious()
    text = previous.tail if previous is not None else parent.text
    match = re.match(r"(.*?)(\S+)$", text or "", re.S)
    if not match:
        return
    head, word = match.groups()
    if previous is not None:
        previous.tail = head
    else:
        parent.text = head
    position, tail = parent.index(holder), holder.tail
    holder.tail = None
    parent.remove(holder)
    wrapper = html.Element("span", {"class": "nobreak"})
    wrapper.text = word
    wrapper.append(holder)
    wrapper.tail = tail
    parent.insert(position, wrapper)


class LogCapture(logging.Handler):
    """WeasyPrint logs problems (a missing font, bad CSS) and carries on: make them diagnostics."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def layout(markup: str, root: Path, paper: str, fetcher: BookFetcher, fonts: FontConfiguration):
    styles = root / "styles"
    stylesheets = [
        CSS(filename=str(styles / "fonts.css"), font_config=fonts, url_fetcher=fetcher),
        CSS(filename=str(styles / "print.css"), font_config=fonts, url_fetcher=fetcher),
        CSS(string=f"@page {{ size: {PAPER_SIZES[paper]}; }}", font_config=fonts, url_fetcher=fetcher),
    ]
    document = HTML(string=markup, base_url=str(styles) + "/", url_fetcher=fetcher)
    return document.render(stylesheets=stylesheets, font_config=fonts)


def pages_of_anchors(document) -> dict[str, int]:
    """The page on which each id starts (an element spanning pages is listed on each of them)."""
    pages: dict[str, int] = {}
    for number, page in enumerate(document.pages):
        for anchor in page.anchors:
            pages.setdefault(anchor, number)
    return pages


def lay_out_book(view: BookView, root: Path, paper: str, fetcher: BookFetcher, fonts: FontConfiguration,
                 edition: str = "student"):
    """The book laid out with an index whose page references are right: each page once.

    Which index marks to print depends on the pages they fall on, so the layout needs those
    pages first. They cannot depend on the index itself, which comes after every mark. The last
    build's pages are a guess that is usually right after an edit: lay out once with the index
    they give, and keep the result if the marks' real pages give the same index. Otherwise
    (or with no guess) the real pages of one layout decide the index of a second."""
    indexed = {anchor for entry in view.index for anchor in entry.anchors}
    guess = pagemap.load_guess(root, paper)
    with names_kept_whole(view.people):
        if guess is not None:
            index = one_per_page(view.index, guess)
            document = layout(print_html(view, index, edition), root, paper, fetcher, fonts)
        else:
            index, document = None, layout(print_html(view, [], edition), root, paper, fetcher, fonts)
        pages = {a: p for a, p in pages_of_anchors(document).items() if a in indexed}
        right = one_per_page(view.index, pages)
        if right != index:
            document = layout(print_html(view, right, edition), root, paper, fetcher, fonts)
    pagemap.store_guess(root, paper, pages)
    return document


def write_pdf(view: BookView, root: Path, paper: str, report: Report, edition: str = "student") -> PdfResult:
    fetcher = BookFetcher(root)
    fonts = FontConfiguration()
    capture = LogCapture()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(capture)
    try:
        document = lay_out_book(view, root, paper, fetcher, fonts, edition)
        with tagged(document):
            data = document.write_pdf(pdf_identifier=view.config.identifier.encode(), pdf_variant=PDF_VARIANT)
    finally:
        logger.removeHandler(capture)
    for url in dict.fromkeys(fetcher.refused):
        report.warning("fetch.refused", f"refused to load {url}: the build reads only files inside the "
                       "book's folder and never the network; remove it or copy the file into the book",
                       **view.locate(url))
    for message in dict.fromkeys(capture.messages):
        if "refused:" not in message:
            report.warning("pdf.weasyprint", f"WeasyPrint: {message}")
    first_main = pages_of_anchors(document).get(view.chapters[0].anchor, 0)
    page_map = None
    if paper == PAGE_SOURCE and edition == "student":
        page_map = read_page_map(document, first_main)
        pagemap.store(root, page_map_key(view, root), page_map)
    return PdfResult(add_page_labels(data, first_main, view), len(document.pages), page_map)


def page_map_key(view: BookView, root: Path) -> str:
    code = b"".join((Path(__file__).parent / name).read_bytes() for name in ("pdf.py", "names.py"))
    return pagemap.cache_key(print_html(view, []), root, PAGE_SOURCE, code=code)


def edition_page_map(view: BookView, root: Path) -> PageMap:
    """The page map of the edition the EPUB's page numbers follow: cached, or laid out now."""
    key = page_map_key(view, root)
    cached = pagemap.load_cached(root, key)
    if cached is not None:
        return cached
    document = lay_out_book(view, root, PAGE_SOURCE, BookFetcher(root), FontConfiguration())
    page_map = read_page_map(document, pages_of_anchors(document).get(view.chapters[0].anchor, 0))
    pagemap.store(root, key, page_map)
    return page_map


_SHARED: dict = {}  # what forked workers read: the view cannot be pickled (lxml elements)


def _write_one(root: Path, paper: str, edition: str):
    report = Report()
    result = write_pdf(_SHARED["view"], root, paper, report, edition)
    return result, report.items


def write_pdfs(view: BookView, root: Path, papers: list[str], report: Report,
               edition: str = "student") -> dict[str, PdfResult]:
    """Lay out each paper size, in parallel when there are several (one process per core)."""
    workers = min(len(papers), os.cpu_count() or 1)
    if workers <= 1:
        return {paper: write_pdf(view, root, paper, report, edition) for paper in papers}
    _SHARED["view"] = view
    # Workers die with the build (killed, interrupted, or failed): none is left laying out.
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        futures = {paper: pool.submit(_write_one, root, paper, edition) for paper in papers}
        results = {}
        for paper, future in futures.items():
            results[paper], items = future.result()
            report.items.extend(item for item in items if item not in report.items)
        return results
    except BaseException:
        kill_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _SHARED.clear()


def add_page_labels(data: bytes, first_main: int, view: BookView) -> bytes:
    """Roman numerals for the front matter, arabic from the first chapter, and the language."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        nums = [0, pikepdf.Dictionary(S=pikepdf.Name.r)] if first_main else []
        nums += [first_main, pikepdf.Dictionary(S=pikepdf.Name.D, St=1)]
        pdf.Root.PageLabels = pikepdf.Dictionary(Nums=pikepdf.Array(nums))
        pdf.Root.Lang = pikepdf.String(view.config.language)
        out = io.BytesIO()
        # Object streams: the structure tree's many small objects compress well together.
        pdf.save(out, deterministic_id=True, compress_streams=True,
                 object_stream_mode=pikepdf.ObjectStreamMode.generate)
        return out.getvalue()
