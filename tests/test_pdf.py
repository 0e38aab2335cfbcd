"""The PDF as a reader sees it: pages, footnotes at the foot, contents, labels, fonts, index."""
import re

import pdfplumber
import pikepdf
import pytest
from pypdf import PdfReader

CHAPTERS = ["Life", "The Permanent-Revolution Polemic", "The Industrialization Debate",
            "The Prison Manuscripts", "Koestler and the Reception"]


@pytest.fixture(scope="module")
def reader(book):
    return PdfReader(book.pdf("a4"))


@pytest.fixture(scope="module")
def plumber(book):
    with pdfplumber.open(book.pdf("a4")) as pdf:
        yield pdf


def page_of(reader, destination) -> int:
    return reader.get_destination_page_number(destination)


def test_both_paper_sizes_are_built(book):
    a4 = PdfReader(book.pdf("a4")).pages[0].mediabox
    letter = PdfReader(book.pdf("letter")).pages[0].mediabox
    assert (round(float(a4.width)), round(float(a4.height))) == (595, 842)
    assert (round(float(letter.width)), round(float(letter.height))) == (612, 792)


def test_outline_lists_every_chapter_with_its_sections(reader):
    titles = [item.title for item in reader.outline if not isinstance(item, list)]
    for title in CHAPTERS + ["Contents", "Timeline", "Who’s Who", "Glossary", "Sources", "Index"]:
        assert title in titles
    nested = [item for item in reader.outline if isinstance(item, list)]
    assert len(nested) >= 5  # each chapter's sections hang below it


def test_metadata(reader, book):
    info = reader.metadata
    assert info.title == "Nikolai Bukharin: A Study Guide to His Life, His Polemics and His Afterlife"
    assert info.author == "The Bukharin Study Guide Project"
    assert info.subject.startswith("A study guide to Nikolai Bukharin")
    with pikepdf.open(book.pdf("a4")) as pdf:
        assert str(pdf.Root.Lang) == "en-US"


def test_every_font_is_embedded(reader):
    fonts = {}
    for page in reader.pages:
        for font in (page.get("/Resources", {}).get("/Font", {}) or {}).values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor") or font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            descriptor = descriptor.get_object()
            fonts[font["/BaseFont"]] = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    assert fonts and all(fonts.values()), fonts
    assert any("Libertine" in name for name in fonts)


def test_page_labels_run_roman_then_arabic(reader, book):
    labels = reader.page_labels
    first_chapter = page_of(reader, next(o for o in reader.outline if not isinstance(o, list) and o.title == "Life"))
    assert labels[:4] == ["i", "ii", "iii", "iv"]
    assert labels[first_chapter - 1] in ("x", "xi", "xii", "xiii", "xiv", "xv", "xvi") or labels[first_chapter - 1].isalpha()
    assert labels[first_chapter] == "1" and labels[first_chapter + 1] == "2"
    assert labels[-1] == str(len(labels) - first_chapter)


def test_contents_page_numbers_match_where_chapters_begin(reader, plumber):
    labels = reader.page_labels
    contents = next(p for p in plumber.pages if p.extract_text().startswith("Contents"))
    lines = contents.extract_text().splitlines()
    for number, title in enumerate(CHAPTERS, start=1):
        [line] = [l for l in lines if re.match(rf"{number} {re.escape(title)}\b", l)]
        printed = line.rsplit(" ", 1)[1]
        outline_item = next(o for o in reader.outline if not isinstance(o, list) and o.title == title)
        assert printed == labels[page_of(reader, outline_item)], title


def test_chapters_start_on_right_hand_pages(reader):
    for title in CHAPTERS:
        item = next(o for o in reader.outline if not isinstance(o, list) and o.title == title)
        assert page_of(reader, item) % 2 == 0  # page index 0 is the first right-hand page


def test_footnotes_sit_at_the_foot_of_the_page_that_calls_them(plumber):
    checked = 0
    for page in plumber.pages[10:40]:
        words = page.extract_words(extra_attrs=["size"])
        body = [w for w in words if w["size"] > 9.5]
        notes = [w for w in words if w["size"] < 8.5 and w["top"] > page.height * 0.3]
        calls = [w for w in page.chars if w["size"] < 7.5 and w["top"] < min((n["top"] for n in notes), default=0)]
        if not notes or not calls:
            continue
        checked += 1
        lowest_body = max(w["bottom"] for w in body if w["bottom"] < page.height - 40)
        first_note = min(n["top"] for n in notes)
        assert first_note > lowest_body, f"page {page.page_number}: a note sits above the body text"
        assert first_note > page.height / 2
        # The call's number starts one of the notes on this same page.
        call_numbers = {c["text"] for c in calls if c["text"].isdigit()}
        note_lines = page.crop((0, first_note - 2, page.width, page.height)).extract_text().splitlines()
        note_numbers = {line.split(".")[0] for line in note_lines if re.match(r"\d+\.", line)}
        assert call_numbers & {n[-1:] for n in note_numbers} or call_numbers & note_numbers
    assert checked >= 10


def test_index_page_numbers_point_at_pages_that_name_the_entry(reader, plumber):
    labels = reader.page_labels
    index_start = page_of(reader, next(o for o in reader.outline if not isinstance(o, list) and o.title == "Index"))
    text = "\n".join(p.extract_text() for p in plumber.pages[index_start:])
    checks = {"Preobrazhensky": "Preobrazhensky", "Koestler": "Koestler", "Kamenev": "Kamenev"}
    found = 0
    for heading, name in checks.items():
        match = re.search(rf"^{heading}, [A-Z][^\d\n]*?((?:,? ?\d+)+)$", text, re.M)
        if not match:
            continue
        for label in re.findall(r"\d+", match.group(1)):
            page = plumber.pages[labels.index(label)]
            assert name in page.extract_text().replace("-\n", ""), f"{heading}: page {label}"
            found += 1
    assert found >= 3


def test_timeline_is_in_date_order(book):
    from book.apparatus import load_apparatus
    from book.config import ROOT

    dates = [event.date for event in load_apparatus(ROOT).events]
    assert dates == sorted(dates) and len(dates) >= 40
