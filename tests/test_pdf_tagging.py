"""The PDF's tags as a screen reader meets them (PDF/UA-1), in both paper sizes.

page-validation checks the machine-checkable rules of PDF/UA-1 (the rules veraPDF checks); the
tests after it check what no validator can: that the tree says what the book says. Text is read
per marked-content id with pypdfium2, so each element's words can be compared with the book's.
"""
from __future__ import annotations

import collections
import ctypes
import re
from dataclasses import dataclass, field

import page as page_validation  # the PDF/UA-1 validator (PyPI: page-validation)
import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest
from pypdf import PdfReader

from book.apparatus import load_apparatus
from book.config import ROOT

CYRILLIC = re.compile(r"[\u0400-\u04FF]")
PAINTING = {"Tj", "TJ", "'", '"', "S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "sh", "Do", "BI"}


@dataclass(eq=False)
class Element:
    tag: str
    obj: pikepdf.Dictionary
    parent: Element | None
    kids: list[Element] = field(default_factory=list)
    content: list[tuple[int, int]] = field(default_factory=list)  # (page index, MCID), in order
    annotations: list[pikepdf.Dictionary] = field(default_factory=list)

    def walk(self):
        yield self
        for kid in self.kids:
            yield from kid.walk()

    def ancestors(self):
        element = self.parent
        while element is not None:
            yield element
            element = element.parent


class Tagged:
    """One PDF: its structure tree, and the text of each marked-content sequence."""

    def __init__(self, path):
        self.path = path
        self.pdf = pikepdf.open(path)
        self.page_index = {page.objgen: number for number, page in enumerate(self.pdf.pages)}
        self.labels = PdfReader(path).page_labels
        root = self.pdf.Root.StructTreeRoot
        self.roots = [self.element(kid, None, None) for kid in as_list(root.K)]
        self.elements = [element for top in self.roots for element in top.walk()]
        self.owner = {place: element for element in self.elements for place in element.content}
        self.text, self.artifact_text = page_texts(path)

    def element(self, obj, parent, page) -> Element:
        page = self.page_index[obj.Pg.objgen] if "/Pg" in obj else page
        element = Element(str(obj.S)[1:], obj, parent)
        for kid in as_list(obj.get("/K")):
            if isinstance(kid, int):
                element.content.append((page, kid))
            elif kid.get("/Type") == "/MCR":
                element.content.append((self.page_index[kid.Pg.objgen] if "/Pg" in kid else page, int(kid.MCID)))
            elif kid.get("/Type") == "/OBJR":
                element.annotations.append(kid.Obj)
            else:
                element.kids.append(self.element(kid, element, page))
        return element

    def words(self, element: Element) -> str:
        """The text of an element and everything under it, in the order of the tree."""
        return "".join(self.text[page].get(mcid, "") for e in element.walk() for page, mcid in e.content)

    def tagged(self, name: str) -> list[Element]:
        return [e for e in self.elements if e.tag == name]


def as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, pikepdf.Array) else [value]


def page_texts(path) -> tuple[list[dict[int, str]], list[str]]:
    """For each page: the text of each MCID, and the text of its artifacts."""
    texts, artifacts = [], []
    document = pdfium.PdfDocument(str(path))
    try:
        for page in document:
            textpage = page.get_textpage()
            by_mcid, artifact = collections.defaultdict(str), []
            for obj in page.get_objects(max_depth=5):
                if obj.type != pdfium_raw.FPDF_PAGEOBJ_TEXT:
                    continue
                size = pdfium_raw.FPDFTextObj_GetText(obj.raw, textpage.raw, None, 0)
                buffer = (ctypes.c_ushort * (size // 2))()
                pdfium_raw.FPDFTextObj_GetText(obj.raw, textpage.raw, buffer, size)
                text = bytes(buffer)[:size - 2].decode("utf-16-le", "replace")
                mcid = pdfium_raw.FPDFPageObj_GetMarkedContentID(obj.raw)
                if mcid >= 0:
                    by_mcid[mcid] += text
                else:
                    artifact.append(text)
            texts.append(dict(by_mcid))
            artifacts.append(" ".join(artifact))
    finally:
        document.close()
    return texts, artifacts


@pytest.fixture(scope="module", params=["a4", "letter"])
def tagged(request, book) -> Tagged:
    return Tagged(book.pdf(request.param))


def test_pdfua1_validator_finds_nothing(tagged):
    report = page_validation.validate_pdf(str(tagged.path), profile="ua1")
    failures = collections.Counter(f"{f.rule_id}: {f.message}" for f in report.failures)
    assert report.is_compliant and not failures, failures.most_common(20)


def test_the_catalog_claims_pdfua1_and_names_the_book(tagged):
    pdf = tagged.pdf
    assert pdf.Root.MarkInfo.Marked is True
    assert pdf.Root.ViewerPreferences.DisplayDocTitle is True
    assert str(pdf.Root.Lang) == "en-GB"
    meta = pdf.open_metadata()
    assert meta["pdfuaid:part"] == "1"
    assert meta["dc:title"] == str(pdf.docinfo.Title)
    assert "The Bukharin Study Guide Project" in meta["dc:creator"]


def test_every_mark_on_every_page_is_tagged_or_an_artifact(tagged):
    """What a screen reader can reach: each MCID in a page's content belongs to one element of
    the tree (and the ParentTree says so), and nothing is painted outside marked content."""
    parent_tree = pikepdf.NumberTree(tagged.pdf.Root.StructTreeRoot.ParentTree)
    for number, page in enumerate(tagged.pdf.pages):
        stack, seen = [], set()
        for operands, operator in pikepdf.parse_content_stream(page):
            op = str(operator)
            if op in ("BMC", "BDC"):
                mcid = int(operands[1].MCID) if op == "BDC" and isinstance(operands[1], pikepdf.Dictionary) \
                    and "/MCID" in operands[1] else None
                stack.append((str(operands[0]), mcid))
                if mcid is not None:
                    seen.add(mcid)
            elif op == "EMC":
                stack.pop()
            elif op in PAINTING:
                assert any(tag == "/Artifact" or mcid is not None for tag, mcid in stack), \
                    f"page {number + 1}: {op} outside tagged content and artifacts"
        in_tree = {mcid for page_number, mcid in tagged.owner if page_number == number}
        assert seen == in_tree, f"page {number + 1}: content {sorted(seen - in_tree)} not in the tree, " \
                                f"tree {sorted(in_tree - seen)} not in the content"
        if seen:
            row = parent_tree[int(page.StructParents)]
            for mcid in seen:
                assert row[mcid].objgen == tagged.owner[(number, mcid)].obj.objgen


def test_running_heads_and_folios_are_artifacts(tagged):
    first_chapter = tagged.labels.index("1")
    with_folio = [n for n in range(first_chapter, len(tagged.pdf.pages))
                  if tagged.labels[n] in tagged.artifact_text[n].split()]
    assert len(with_folio) >= 0.8 * (len(tagged.pdf.pages) - first_chapter)
    assert any("The Industrialisation Debate" in text for text in tagged.artifact_text)  # a running head


def test_headings_run_from_h1_and_skip_no_level(tagged):
    headings = [e for e in tagged.elements if re.fullmatch(r"H[1-6]", e.tag)]
    levels = [int(e.tag[1]) for e in headings]
    assert levels[0] == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:]))
    titles = {tagged.words(e).strip() for e in headings if e.tag == "H1"}
    for title in ["Contents", "Life", "Koestler and the Reception", "Timeline", "Who’s Who", "Glossary",
                  "Sources", "Index"]:
        assert title in titles
    assert levels.count(2) >= 40  # sections, chapter ends and index letters


def test_lists_have_items_with_labels_and_bodies(tagged):
    lists = tagged.tagged("L")
    assert len(lists) >= 20
    for element in lists:
        assert element.kids and all(kid.tag in ("LI", "L", "Caption") for kid in element.kids), element.obj.objgen
    items = tagged.tagged("LI")
    assert all(any(kid.tag == "LBody" for kid in item.kids) for item in items)
    labels = [tagged.words(kid).strip() for item in items for kid in item.kids if kid.tag == "Lbl"]
    assert {"1.", "2.", "6."} <= set(labels)  # the numbered discussion questions


def test_the_timeline_is_a_table_with_row_headers(tagged):
    [table] = tagged.tagged("Table")
    rows = [e for e in table.walk() if e.tag == "TR"]
    assert len(rows) == len(load_apparatus(ROOT).events)
    for row in rows:
        [header] = [kid for kid in row.kids if kid.tag == "TH"]
        [cell] = [kid for kid in row.kids if kid.tag == "TD"]
        assert header.obj.A.Scope == pikepdf.Name.Row
        assert header.obj.ID in list(cell.obj.A.Headers)
        assert re.search(r"\b(1[89]|20)\d\d", tagged.words(header))  # a date: "1905", "early 1920s"


def test_footnotes_are_notes_read_right_after_their_calls(tagged):
    notes, calls = tagged.tagged("Note"), tagged.tagged("Reference")
    assert len(notes) >= 100
    # WeasyPrint sometimes carries a note over to the next page when the page's note area is full
    # (see test_pdf.py); such a note is not yet tagged as a Note after its call, leaving its call a
    # Reference without one. A known gap, held to one call in a hundred.
    assert len(notes) <= len(calls) <= len(notes) + len(notes) // 100, (len(notes), len(calls))
    assert len({str(note.obj.ID) for note in notes}) == len(notes)
    for note in notes:
        siblings = [kid for kid in note.parent.kids if kid.tag != "Note"]
        before = note.parent.kids[:note.parent.kids.index(note)]
        call = next(kid for kid in reversed(before) if kid.tag != "Note")
        assert call.tag == "Reference" and call in siblings
        [label] = [kid for kid in note.kids if kid.tag == "Lbl"]
        assert tagged.words(label).strip().rstrip(".") == tagged.words(call).strip()
        assert len(tagged.words(note)) > len(tagged.words(label)) + 3


def test_russian_is_tagged_as_russian(tagged):
    russian = [e for e in tagged.elements if str(e.obj.get("/Lang", "")) == "ru"]
    assert len(russian) >= 30
    for element in russian:
        words = tagged.words(element)
        assert CYRILLIC.search(words) and not re.search("[A-Za-z]", words), words
    for (page, mcid), element in tagged.owner.items():
        if CYRILLIC.search(tagged.text[page].get(mcid, "")):
            assert any(str(e.obj.get("/Lang", "")) == "ru" for e in [element, *element.ancestors()]), \
                tagged.text[page][mcid]


def test_figures_have_alternative_text(tagged):
    for figure in tagged.tagged("Figure"):
        assert str(figure.obj.get("/Alt", "")).strip()


def link_annotations(pdf):
    for number, page in enumerate(pdf.pages):
        for annotation in page.obj.get("/Annots", []):
            if annotation.get("/Subtype") == "/Link":
                yield number, annotation


def test_links_are_described_in_words_and_tied_to_the_tree(tagged):
    pdf = tagged.pdf
    parent_tree = pikepdf.NumberTree(pdf.Root.StructTreeRoot.ParentTree)
    destinations = pikepdf.NameTree(pdf.Root.Names.Dests)
    links = {a.objgen: e for e in tagged.tagged("Link") for a in e.annotations}
    page_refs = 0
    for _, annotation in link_annotations(pdf):
        description = str(annotation.Contents)
        assert description.strip() and description != str(annotation.get("/Dest", "")), description
        owner = parent_tree[int(annotation.StructParent)]
        assert owner.S == pikepdf.Name.Link and links[annotation.objgen].obj.objgen == owner.objgen
        match = re.fullmatch(r"(?:.+, )?page (\w+)", description)
        if match and "/Dest" in annotation:  # "page 47" names the page the link leads to
            target = destinations[str(annotation.Dest)][0]
            assert match.group(1) == tagged.labels[tagged.page_index[target.objgen]], description
            page_refs += 1
    assert page_refs >= 500  # the index, the who's who and the contents
    assert not any(ancestor.tag == "Link" for link in tagged.tagged("Link") for ancestor in link.ancestors())


def test_no_link_annotation_is_duplicated(tagged):
    seen = collections.Counter()
    for number, annotation in link_annotations(tagged.pdf):
        target = str(annotation.get("/Dest", "")) or str(annotation.A.URI)
        seen[number, tuple(round(float(x), 1) for x in annotation.Rect), target] += 1
    assert seen and max(seen.values()) == 1, [key for key, count in seen.items() if count > 1][:5]
