"""One page numbering across formats: the EPUB carries the A4 edition's page numbers.

Read independently of the builder: the PDF's pages through pdfplumber and pypdf, the EPUB's
markers and text through lxml, so that a mistake in the builder's own alignment shows here.
"""
import io
import random
import re
import shutil
import zipfile

import pdfplumber
import pytest
from lxml import etree
from pypdf import PdfReader

from conftest import make_root, run_build

from book.config import ROOT

NS = {"x": "http://www.w3.org/1999/xhtml", "epub": "http://www.idpf.org/2007/ops",
      "opf": "http://www.idpf.org/2007/opf", "dc": "http://purl.org/dc/elements/1.1/"}
EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"
WORD = re.compile(r"\w+")
HEAD, FOOT = 50, 45  # points taken by the running head and the folio (see test_pdf.py)


def spine(files: dict[str, bytes]) -> list[str]:
    opf = etree.fromstring(files["EPUB/content.opf"])
    hrefs = {item.get("id"): item.get("href") for item in opf.iterfind(".//opf:manifest/opf:item", NS)}
    return [f"EPUB/{hrefs[ref.get('idref')]}" for ref in opf.iterfind(".//opf:spine/opf:itemref", NS)]


def marked_stream(files: dict[str, bytes]) -> tuple[list[str], dict[str, int]]:
    """The EPUB's reading text as words, and for each page-break marker the index of the word
    after it. Notes and note calls are left out: the PDF sets them at the foot of the page."""
    words: list[str] = []
    markers: dict[str, int] = {}

    def walk(element):
        kind = element.get(EPUB_TYPE, "")
        if kind == "pagebreak":
            assert element.get("role") == "doc-pagebreak"
            markers[element.get("aria-label")] = len(words)
        elif kind in ("footnote", "noteref") or "notes" in element.get("class", "").split():
            pass
        else:
            words.extend(WORD.findall(element.text or ""))
            for child in element:
                walk(child)
        words.extend(WORD.findall(element.tail or ""))

    for name in spine(files):
        if not name.endswith("nav.xhtml"):
            walk(etree.fromstring(files[name]).find("x:body", NS))
    return [w.lower() for w in words], markers


def first_words(page, two_columns: bool) -> list[str]:
    """The first words of a page's body text, top to bottom (the left column first)."""
    box = (0, HEAD, page.width / 2 if two_columns else page.width, page.height - FOOT)
    return [w["text"] for w in page.crop(box).extract_words()]


def ends_hyphenated(page) -> bool:
    """Whether the last line of body text (9 pt and more: not the notes) breaks a word."""
    body = [w for w in page.extract_words(extra_attrs=["size"])
            if HEAD < w["top"] and w["bottom"] < page.height - FOOT and w["size"] >= 9]
    if not body:
        return False
    last_top = max(w["top"] for w in body)
    return max((w for w in body if abs(w["top"] - last_top) < 2), key=lambda w: w["x1"])["text"].endswith("\u2010")


def lettered(words) -> list[str]:
    """Words with numbers left out: note calls, list numbers and page references are set as
    superscripts or generated in the PDF, and as text or not at all in the EPUB."""
    tokens = [t.lower() for w in words for t in WORD.findall(w)]
    return [t for t in tokens if not t.isdigit()]


@pytest.fixture(scope="module")
def a4(book):
    with pdfplumber.open(book.pdf("a4")) as pdf:
        yield pdf, PdfReader(book.pdf("a4"))


def test_every_a4_page_has_a_marker_and_a_page_list_entry(book, a4):
    _, reader = a4
    labels = list(reader.page_labels)
    files = book.epub_files()
    _, markers = marked_stream(files)
    assert list(markers) == labels  # one marker per page, in page order
    nav = etree.fromstring(files["EPUB/nav.xhtml"])
    page_list = nav.find(".//x:nav[@epub:type='page-list']", NS)
    entries = page_list.findall(".//x:a", NS)
    assert [a.text for a in entries] == labels
    for a in entries:
        name, _, anchor = a.get("href").partition("#")
        target = etree.fromstring(files[f"EPUB/{name}"]).find(f".//*[@id='{anchor}']")
        assert target is not None and target.get(EPUB_TYPE) == "pagebreak", a.get("href")
    opf = etree.fromstring(files["EPUB/content.opf"])
    source = opf.find(".//opf:meta[@property='pageBreakSource']", NS)
    assert source is not None and "A4" in source.text


def test_the_text_after_each_marker_starts_with_that_pages_first_words(book, a4):
    plumber, reader = a4
    labels = list(reader.page_labels)
    index_start = reader.get_destination_page_number(
        next(o for o in reader.outline if not isinstance(o, list) and o.title == "Index"))
    contents = reader.get_destination_page_number(
        next(o for o in reader.outline if not isinstance(o, list) and o.title == "Contents"))
    words, markers = marked_stream(book.epub_files())
    checked = 0
    for number, page in enumerate(plumber.pages):
        if number == contents:
            continue  # the printed contents: the EPUB has its own navigation instead
        expected = lettered(first_words(page, two_columns=number >= index_start))[:6]
        if not expected:
            continue  # a blank page
        after = lettered(words[markers[labels[number]]:markers[labels[number]] + 40])
        if expected[0] != after[0] and number and ends_hyphenated(plumber.pages[number - 1]):
            expected = expected[1:]  # the page opens with the end of a word broken across pages
        assert after[:len(expected)] == expected, (
            f"page {labels[number]}: the PDF page begins {expected}, the EPUB marker is followed by {after[:8]}")
        checked += 1
    assert checked >= len(plumber.pages) * 0.8


def epub_index(files: dict[str, bytes]) -> dict[str, list[str]]:
    root = etree.fromstring(files["EPUB/index.xhtml"])
    entries = {}
    for item in root.iterfind(".//x:ul[@class='index-list']/x:li", NS):
        pages = [a.text for a in item.iterfind(".//x:a[@class='index-page']", NS)]
        heading = "".join(item.itertext()).split(",")[0].strip()
        entries[heading] = pages
    return entries


def test_the_epub_index_gives_the_pdf_index_page_numbers(book, a4):
    """Each entry's numbers as the PDF's index prints them (ranges "12–14" as their two ends)."""
    plumber, reader = a4
    index_start = reader.get_destination_page_number(
        next(o for o in reader.outline if not isinstance(o, list) and o.title == "Index"))
    ebook = epub_index(book.epub_files())
    checked = 0
    for page in plumber.pages[index_start:]:
        for x0, x1 in ((0, page.width / 2), (page.width / 2, page.width)):
            for line in (page.crop((x0, 0, x1, page.height - FOOT)).extract_text() or "").splitlines():
                match = re.fullmatch(r"([^,\d]+?), ((?:[\dxvi]+[,–] ?)*[\dxvi]+)", line)
                if match and match.group(1) in ebook:
                    printed = re.split(r", |–", match.group(2))
                    assert ebook[match.group(1)] == printed, f"{match.group(1)}: PDF {printed}, EPUB {ebook[match.group(1)]}"
                    checked += 1
    assert checked >= 40


def test_an_epub_built_alone_is_byte_identical_with_or_without_the_cache(tmp_path):
    root = make_root(tmp_path, "tiny")
    full = run_build(root, tmp_path / "full")
    cached = run_build(root, tmp_path / "cached", targets=("epub",))
    shutil.rmtree(root / ".cache")
    fresh = run_build(root, tmp_path / "fresh", targets=("epub",))
    assert full.epub.read_bytes() == cached.epub.read_bytes() == fresh.epub.read_bytes()
    with zipfile.ZipFile(io.BytesIO(full.epub.read_bytes())) as archive:
        assert b'epub:type="pagebreak"' in archive.read("EPUB/chapter-1.xhtml")


def test_a_torn_or_corrupt_cache_entry_is_never_used(tmp_path):
    """Neither the page map nor the last build's pages (the PDF's one-pass guess) is trusted."""
    root = make_root(tmp_path, "tiny")
    good = run_build(root, tmp_path / "good", targets=("epub",))
    cache = root / ".cache" / "pagemap"
    (entry,) = [p for p in cache.glob("*.json") if not p.name.startswith("last-pages-")]
    guess = cache / "last-pages-a4.json"
    for damage in (entry.read_bytes()[:100], b'{"labels": ["i"], "words": [], "starts": [5, 1], "anchors": {}}'):
        entry.write_bytes(damage)
        guess.write_bytes(damage)
        again = run_build(root, tmp_path / "again", targets=("epub",))
        assert again.epub.read_bytes() == good.epub.read_bytes()
    guess.write_text('{"ix-1": 40, "ix-2": 0}')  # a wrong guess: the layout must still come out right
    entry.unlink()
    wrong = run_build(root, tmp_path / "wrong", targets=("epub",))
    assert wrong.epub.read_bytes() == good.epub.read_bytes()


def test_the_alignment_finds_the_same_pages_reading_the_book_whole_or_file_by_file():
    """A --watch rebuild keeps each EPUB file's index of its words and looks up runs of words across
    them: the result must be what one list of the book's words gives, runs that cross from one
    file into the next (and files shorter than a run, or empty) included."""
    from book.epub_pages import GRAM, FileText, _positions, _Runs, align

    chapters = sorted((ROOT / "chapters").glob("*.md"))
    a = [w.lower() for path in chapters for w in WORD.findall(path.read_text(encoding="utf-8"))]
    pick = random.Random(9)
    for trial in range(4):
        b = list(a)
        for _ in range(100 * trial):  # text only one side has, text changed
            k = pick.randrange(len(b))
            if pick.random() < .5:
                del b[k:k + pick.randint(1, 30)]
            else:
                b[k:k] = pick.sample(a, pick.randint(1, 12))
        cuts = sorted(pick.sample(range(len(b)), 12) + [5, 5, 7])  # an empty file, one of two words
        parts = [b[i:j] for i, j in zip([0, *cuts], [*cuts, len(b)])]
        firsts = [sum(len(p) for p in parts[:n]) for n in range(len(parts))]
        runs = _Runs([FileText(p, [], 0, _positions(p)) for p in parts], firsts, b)
        crossing = [start for cut in cuts for start in range(max(cut - GRAM + 1, 0), cut)]
        for start in crossing + [pick.randrange(len(b) - GRAM) for _ in range(300)]:
            gram, after = tuple(b[start:start + GRAM]), pick.choice([start, max(start - 50, 0), pick.randrange(len(b))])
            expected = next((k for k in range(after, len(b) - GRAM + 1) if tuple(b[k:k + GRAM]) == gram), None)
            assert runs.next_at(gram, after) == expected
        assert align(a, b, runs) == align(a, b)
