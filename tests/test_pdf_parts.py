"""The PDF laid out part by part: links between parts, the cache, and the page map.

The book's parts (front matter, chapters, back matter, index) are laid out as documents of
their own and joined (book/pdf_edition.py, book/pdf_join.py). These tests read the joined
file as a reader's software would: every link goes to a page that holds what it names, and a
build from the cache gives the bytes of a build without it.
"""
from __future__ import annotations

import re
from pathlib import Path

import pdfplumber
import pikepdf
import pytest
from pypdf import PdfReader

from book.cache import NO_CACHE
from book.diagnostics import BuildError
from conftest import run_build

# A link whose text is a page number: ", 47", "–49", "Contents . . . v", "Life, p. 3".
PAGE_NUMBER = re.compile(r"^(|.*(?:,|\.|–|p\.)\s?)(\d+|[ivxlc]+)$")


def destinations(pdf: pikepdf.Pdf) -> dict[str, pikepdf.Array]:
    array = pdf.Root.Names.Dests.Names
    return {str(array[i]): array[i + 1] for i in range(0, len(array), 2)}


def links(path: Path):
    """(page index, link text, target page index, target's top in points from the page's top) per
    in-document link, the text read by pdfplumber inside the link's rectangle."""
    with pikepdf.open(path) as pdf, pdfplumber.open(path) as plumber:
        index = {page.objgen: number for number, page in enumerate(pdf.pages)}
        named = destinations(pdf)
        for number, page in enumerate(pdf.pages):
            height = float(page.mediabox[3])
            for annotation in page.get("/Annots", []):
                if "/A" in annotation and annotation.A.get("/S") == "/URI":
                    assert not str(annotation.A.URI).startswith("x-part:"), "an unresolved link between parts"
                    continue
                destination = annotation.get("/Dest")
                assert destination is not None, f"a link on page {number} goes nowhere"
                if isinstance(destination, pikepdf.String):
                    assert str(destination) in named, f"a link to a missing destination #{destination}"
                    destination = named[str(destination)]
                x1, y1, x2, y2 = (float(v) for v in annotation.Rect)
                x1, x2, y1, y2 = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)  # WeasyPrint flips y
                if x2 - x1 < 0.5:
                    continue  # the empty piece of a link that starts at a line's end: nothing to click
                box = (x1 - 1, height - y2 - 1, x2 + 1, height - y1 + 1)
                words = plumber.pages[number].within_bbox(box, strict=False).extract_text()
                target = index[destination[0].objgen]
                yield number, " ".join(words.split()), target, height - float(destination[3])


def test_every_link_lands_on_the_page_that_holds_its_target(book):
    """Links within a part and between parts alike: a link that prints a page number (the
    contents, the index, the who's who, the register) goes to the page with that label; any
    other (a glossary term, a chapter) goes to the top of a line of text, the target's."""
    path = book.pdf("a4")
    labels = PdfReader(path).page_labels
    checked = {"number": 0, "words": 0}
    tops: dict[int, list[float]] = {}
    with pdfplumber.open(path) as plumber:
        for number, text, target, top in links(path):
            printed = PAGE_NUMBER.match(text)
            if printed:
                assert printed.group(2) == labels[target], (number, text, target)
                checked["number"] += 1
                continue
            assert text, f"a link on page {number} shows no text"
            if target not in tops:
                tops[target] = [word["top"] for word in plumber.pages[target].extract_words()]
            below = [word - top for word in tops[target] if word >= top - 3]
            assert below and min(below) < 6, (number, text, target, top)
            checked["words"] += 1
    assert checked["number"] > 500 and checked["words"] > 100, checked


def test_links_between_parts_resolve_to_named_destinations(book):
    with pikepdf.open(book.pdf("a4")) as pdf:
        named = destinations(pdf)
        assert {"contents", "timeline", "people", "glossary", "disagreements", "sources", "index"} <= set(named)
        pages = {page.objgen for page in pdf.pages}
        assert all(destination[0].objgen in pages for destination in named.values())


def test_the_structure_tree_is_one_tree_over_all_parts(book):
    """Each page's and each annotation's key in the parent tree is its own, and names elements of
    that page; every ID is unique and in the IDTree."""
    with pikepdf.open(book.pdf("a4")) as pdf:
        root = pdf.Root.StructTreeRoot
        nums = root.ParentTree.Nums
        keys = [int(nums[i]) for i in range(0, len(nums), 2)]
        assert keys == sorted(set(keys)), "parent tree keys are unique and in order"
        values = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}
        assert int(root.ParentTreeNextKey) > max(keys)
        used = []
        for page in pdf.pages:
            if "/StructParents" not in page.obj:
                assert not page.get("/Contents") or not page.Contents.read_bytes().strip(), "a blank page"
                continue
            used.append(int(page.obj.StructParents))
            for element in values[int(page.obj.StructParents)]:
                assert "/Pg" not in element or element.Pg.objgen == page.obj.objgen
            for annotation in page.get("/Annots", []):
                used.append(int(annotation.StructParent))
                assert values[int(annotation.StructParent)].S == "/Link"
        assert len(used) == len(set(used))
        ids = root.IDTree.Names
        names = [str(ids[i]) for i in range(0, len(ids), 2)]
        assert len(names) == len(set(names)) and any(name.startswith("note-") for name in names)
        assert all(str(ids[i + 1].ID) == str(ids[i]) for i in range(0, len(ids), 2))


def build_tiny(root: Path, out: Path, monkeypatch, cache: bool) -> dict[str, bytes]:
    if cache:
        monkeypatch.delenv(NO_CACHE, raising=False)
    else:
        monkeypatch.setenv(NO_CACHE, "1")
    run_build(root, out, targets=("pdf",))
    pdfs = {path.name: path.read_bytes() for path in sorted(out.glob("*.pdf"))}
    assert pdfs
    return pdfs


def test_a_cached_build_after_an_edit_is_byte_identical_to_a_cold_one(tiny, tmp_path, monkeypatch):
    build_tiny(tiny, tmp_path / "first", monkeypatch, cache=True)
    parts = sorted((tiny / ".cache" / "pdfparts").iterdir())
    assert parts, "the first build cached its parts"
    chapter = tiny / "chapters" / "01-life.md"
    text = chapter.read_text(encoding="utf-8")
    assert "An opening that needs no citation." in text
    chapter.write_text(text.replace("An opening that needs no citation.",
                                    "An opening, edited, that needs no citation at all."), encoding="utf-8")
    warm = build_tiny(tiny, tmp_path / "warm", monkeypatch, cache=True)
    cold = build_tiny(tiny, tmp_path / "cold", monkeypatch, cache=False)
    assert warm == cold
    with pdfplumber.open(tmp_path / "warm" / "tiny-a4.pdf") as pdf:
        assert any("edited" in (page.extract_text() or "") for page in pdf.pages)


def test_torn_or_corrupt_part_entries_are_never_used(tiny, tmp_path, monkeypatch):
    first = build_tiny(tiny, tmp_path / "first", monkeypatch, cache=True)
    entries = sorted(p for p in (tiny / ".cache" / "pdfparts").iterdir() if not p.name.startswith("."))
    for number, entry in enumerate(entries):
        data = entry.read_bytes()
        # a build killed halfway through a write, or a flipped byte
        entry.write_bytes(data[: len(data) // 2] if number % 2 else data[:-20] + b"X" * 20)
    again = build_tiny(tiny, tmp_path / "again", monkeypatch, cache=True)
    assert again == first


def test_no_cache_neither_reads_nor_writes_the_cache(tiny, tmp_path, monkeypatch):
    build_tiny(tiny, tmp_path / "out", monkeypatch, cache=False)
    assert not (tiny / ".cache" / "pdfparts").exists()


def test_the_page_map_of_the_parts_is_that_of_one_document(tiny, monkeypatch):
    """The EPUB's page markers come from the parts' page maps: they must be what WeasyPrint
    gives for the book laid out as one document (same words on each page, same ids)."""
    from book.build import render_view
    from book.diagnostics import Report
    from book.pdf import write_pdf, write_pdf_single
    from book.pipeline import gather

    monkeypatch.setenv(NO_CACHE, "1")
    view = render_view(gather(tiny))
    single = write_pdf_single(view, tiny, "a4", Report())
    parts = write_pdf(view, tiny, "a4", Report())
    assert parts.page_map == single.page_map
    assert parts.pages == single.pages


def test_a_link_to_a_missing_id_stops_the_build(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv(NO_CACHE, "1")
    chapter = tiny / "chapters" / "01-life.md"
    chapter.write_text(chapter.read_text(encoding="utf-8").replace(
        "An opening that needs no citation.", "An opening that needs no [citation](#nowhere-at-all)."),
        encoding="utf-8")
    with pytest.raises(BuildError) as failure:
        run_build(tiny, tmp_path / "out", targets=("pdf",))
    assert any("nowhere-at-all" in d.message for d in failure.value.diagnostics)
    assert not (tmp_path / "out" / "tiny-a4.pdf").exists()


class CountingPool:
    """Runs an edition's jobs in this process, as the workers would, with made-up layouts (two
    pages each): counts the layouts of each part, and the documents held at once. As in
    book/pdf_workers.py, the jobs a result brings (writes, drops) run before the next layout."""

    def __init__(self):
        self.layouts: dict[str, int] = {}
        self.held: set[str] = set()
        self.most_held = 0

    def run(self, jobs, then=None):
        from collections import deque

        from book.pdf_parts import PartLayout

        queue = deque(jobs)
        while queue:
            job = queue.popleft()
            kind, name = job[0], job[2]
            result = None
            if kind in ("layout", "layout+write"):
                self.layouts[name] = self.layouts.get(name, 0) + 1
                result = PartLayout(2, {anchor: 0 for anchor in job[4]})
                if kind == "layout":
                    self.held.add(name)
                    self.most_held = max(self.most_held, len(self.held))
                else:
                    result = (result, b"%PDF")
            elif kind == "write":
                self.held.remove(name)
                result = b"%PDF"
            else:
                self.held.discard(name)
            yield job, result
            queue.extendleft(reversed(list(then(job, result) if then else [])))


def test_layouts_and_held_documents_do_not_grow_with_the_book(tmp_path, monkeypatch):
    """A long book: the contents prints every chapter's page, each chapter a page of the back
    matter, which prints a chapter's. The contents is not laid out again after each chapter (a
    cost that grows with the square of the book), and a worker does not hold every chapter's
    document until the end (memory that grows with the book)."""
    from book.pdf_cache import PartCache
    from book.pdf_edition import EditionLayout, EditionSpec, lay_out_editions
    from book.pdf_parts import Part

    monkeypatch.setenv(NO_CACHE, "1")
    chapters = [f"ch-{number}" for number in range(12)]

    def parts_for(labels, pages):
        def part(name, main, refs):
            markup = name + "".join(f" {ref}={labels.get(ref, '0')}" for ref in refs)
            return Part(name, markup, main, frozenset([name]), frozenset(refs), frozenset(refs), True)
        return ([part("front", False, chapters + ["back"])] + [part(name, True, ["back"]) for name in chapters]
                + [part("back", True, ["ch-0"])])

    edition = EditionLayout(EditionSpec("a4", parts_for, PartCache(tmp_path, "shared")))
    pool = CountingPool()
    lay_out_editions([edition], pool)
    assert pool.layouts["a4|front"] <= 2
    assert all(pool.layouts[f"a4|{name}"] <= 2 for name in chapters)
    assert pool.most_held <= 2
    pdfs = edition.part_pdfs()
    assert [pdf.name for pdf in pdfs] == ["front"] + chapters + ["back"]
    assert edition.placement().total == 2 * len(pdfs)
