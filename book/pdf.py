"""The PDF writer: the book's HTML, laid out by WeasyPrint part by part and joined.

print_html() renders the whole book; book/pdf_edition.py cuts it into parts (front matter, each
chapter, each back-matter page, the index), lays them out in worker processes until the page
numbers they print of each other have settled, and book/pdf_join.py joins their PDFs, with
page labels (i, ii, … then 1, 2, …), links, outline, tags and fonts made whole. The index lists
each page once, so which marks it prints depends on their pages: it is laid out after the parts
that hold them. write_pdf_single() lays the book out as one document, as before parts (for
comparison: the page maps of the two must be equal).
"""
from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pikepdf
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from .config import PAPER_SIZES
from .diagnostics import Report
from .fetch import BookFetcher
from .model import BookView
from . import pagemap
from .names import names_kept_whole
from .pagemap import PAGE_SOURCE, PageMap, one_per_page, read_page_map
from .diagnostics import BuildError, Diagnostic
from .names import name_words
from .pdf_cache import PartCache, inputs_digest
from .pdf_edition import EditionLayout, EditionSpec, book_parts, lay_out_editions
from .pdf_join import BrokenLinks, join
from .pdf_parts import PAGE_REF_CSS, LogCapture, layout_code
from .pdf_workers import Pool
from .pdf_tags import PDF_VARIANT, tagged
from .print_html import page_map_key, print_html

@dataclass
class PdfResult:
    data: bytes
    pages: int
    page_map: PageMap | None = None  # for the edition the EPUB's page numbers follow


def stylesheets(root: Path, paper: str, fetcher: BookFetcher, fonts: FontConfiguration, parts: bool = False):
    """The print styles for one paper size (with `parts`, and the rule that prints another
    part's page numbers); made once per process and reused for every part laid out there."""
    styles = root / "styles"
    sheets = [
        CSS(filename=str(styles / "fonts.css"), font_config=fonts, url_fetcher=fetcher),
        CSS(filename=str(styles / "print.css"), font_config=fonts, url_fetcher=fetcher),
        CSS(string=f"@page {{ size: {PAPER_SIZES[paper]}; }}", font_config=fonts, url_fetcher=fetcher),
    ]
    if parts:
        sheets.append(CSS(string=PAGE_REF_CSS, font_config=fonts, url_fetcher=fetcher))
    return sheets


def layout(markup: str, root: Path, paper: str, fetcher: BookFetcher, fonts: FontConfiguration, sheets=None):
    """WeasyPrint's layout of one HTML document: the whole book, or one part of it (`sheets`)."""
    styles = root / "styles"
    sheets = sheets or stylesheets(root, paper, fetcher, fonts)
    document = HTML(string=markup, base_url=str(styles) + "/", url_fetcher=fetcher)
    return document.render(stylesheets=sheets, font_config=fonts)


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


def write_pdf_single(view: BookView, root: Path, paper: str, report: Report, edition: str = "student") -> PdfResult:
    """The book laid out as one WeasyPrint document (as before parts; for comparisons)."""
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


def edition_page_map(view: BookView, root: Path) -> PageMap:
    """The page map of the edition the EPUB's page numbers follow: cached, or laid out now."""
    key = page_map_key(view, root)
    cached = pagemap.load_cached(root, key)
    if cached is not None:
        return cached
    [edition] = lay_out(view, root, [edition_spec(view, root, PAGE_SOURCE)], write=False)  # cached too
    page_map = edition.page_map()
    pagemap.store(root, key, page_map)
    return page_map


def default_workers() -> int:
    """Worker processes for layout: BOOK_PDF_WORKERS, or one per core."""
    try:
        return max(1, int(os.environ.get("BOOK_PDF_WORKERS", "")))
    except ValueError:
        return os.cpu_count() or 1


def edition_spec(view: BookView, root: Path, paper: str, code: bytes | None = None, name: str = "",
                 more_parts=None, edition: str = "student") -> EditionSpec:
    """The book in one paper size, as a list of parts. The teacher's edition (edition="teacher")
    is the student's parts (its title page says which edition it is) and the teacher's notes
    after them; the cache lays out again only the parts that differ. An edition with more passes
    more_parts(labels, pages) -> [Part, …], appended in order (each a whole HTML document, see
    book/pdf_parts.py), and a name of its own."""
    words = name_words(view.people)
    shared = inputs_digest(root, paper, words, code or layout_code(), view.config.identifier.encode())
    parts_for = book_parts(view, partial(print_html, edition=edition), lambda marks: one_per_page(view.index, marks))
    if more_parts is not None:
        book_only = parts_for

        def parts_for(labels, pages):
            return book_only(labels, pages) + more_parts(labels, pages)
    return EditionSpec(paper, parts_for, PartCache(root, shared), name)


def lay_out(view: BookView, root: Path, specs: list[EditionSpec], write: bool, workers: int | None = None):
    """Every edition laid out part by part (in worker processes), and with `write` its parts' PDFs."""
    editions = [EditionLayout(spec) for spec in specs]
    pool = Pool(workers or default_workers(), (root, name_words(view.people), view.config.identifier.encode()))
    try:
        lay_out_editions(editions, pool, write)
    except BrokenLinks as broken:
        pool.kill()
        raise BuildError([Diagnostic("error", "pdf.link", f"a link points to #{target}, which nothing in the "
                                     "book holds: correct the link or add the id") for target in broken.targets]) from None
    except BaseException:
        pool.kill()  # workers die with the build: none is left laying out
        raise
    pool.close()
    return editions


def write_editions(view: BookView, root: Path, specs: list[EditionSpec], report: Report,
                   workers: int | None = None) -> dict[str, PdfResult]:
    """Each edition laid out part by part, across the cores, its parts joined: by edition name."""
    results = {}
    for edition in lay_out(view, root, specs, write=True, workers=workers):
        messages, refused = edition.messages()
        for url in dict.fromkeys(refused):
            report.warning("fetch.refused", f"refused to load {url}: the build reads only files inside the "
                           "book's folder and never the network; remove it or copy the file into the book",
                           **view.locate(url))
        for message in dict.fromkeys(messages):
            if "refused:" not in message:
                report.warning("pdf.weasyprint", f"WeasyPrint: {message}")
        placement = edition.placement()
        try:
            data = join(edition.part_pdfs(), placement.first_main, view.config.language, root / "styles" / "fonts",
                        edition.spec.cache)
        except BrokenLinks as broken:
            raise BuildError([Diagnostic("error", "pdf.link", f"a link points to #{target}, which nothing in "
                                         "the PDF holds") for target in broken.targets]) from None
        page_map = None
        if edition.name == PAGE_SOURCE:
            page_map = edition.page_map()
            pagemap.store(root, page_map_key(view, root), page_map)
        results[edition.name] = PdfResult(data, placement.total, page_map)
        edition.spec.cache.prune()
    return results


def write_pdfs(view: BookView, root: Path, papers: list[str], report: Report,
               workers: int | None = None, edition: str = "student") -> dict[str, PdfResult]:
    """The book in each paper size (see write_editions), by paper."""
    code = layout_code()
    names = {paper: paper if edition == "student" else f"{edition}-{paper}" for paper in papers}
    specs = [edition_spec(view, root, paper, code, names[paper], edition=edition) for paper in papers]
    results = write_editions(view, root, specs, report, workers)
    return {paper: results[names[paper]] for paper in papers}


def write_pdf(view: BookView, root: Path, paper: str, report: Report, workers: int | None = None,
              edition: str = "student") -> PdfResult:
    return write_pdfs(view, root, [paper], report, workers, edition)[paper]


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
