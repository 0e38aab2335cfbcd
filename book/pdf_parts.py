"""The print edition as an ordered list of parts, each laid out by WeasyPrint as a document of its own.

A part is the front matter, one chapter, one page of the back matter, or the index. Each part
starts on a right-hand page, so its line and page breaking does not depend on where it starts:
only its folios do, and its references to pages in other parts. Those references are printed as
literal text (a `data-page` attribute that PAGE_REF_CSS prints with attr(), the very glyphs that
target-counter() would give), taken from the other parts' layouts; a part is laid out with its
page counter starting at 1 and its folios are renumbered to its real start afterwards
(`renumber`), which re-makes only the margin boxes.

Links to other parts cannot be resolved by WeasyPrint: they are written as URI links to
XPART + id, which book/pdf_join.py turns into in-document destinations.
"""
from __future__ import annotations

import copy
import hashlib
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lxml import html

XPART = "x-part:"  # the URI scheme of a link to another part, until the join resolves it
PAGE_REF_CSS = """
.toc a[data-page]::after { content: leader(". ") attr(data-page); }
.index-ref[data-page]::before { content: ", " attr(data-page); }
.index-ref.range-end[data-page]::before { content: "\\2013" attr(data-page); }
.appears .index-ref[data-page]:first-of-type::before { content: " " attr(data-page); }
.conflict-ref[data-page]::after { content: ", p.\\00a0" attr(data-page); font-style: normal; }
.key-ref[data-page]::after, .question-ref[data-page]::after { content: ", p.\\00a0" attr(data-page); }
.answer-list .question-ref[data-page]::after { content: ", p.\\00a0" attr(data-page) " "; }
.selfcheck-intro .key-ref[data-page]::after { content: " (p.\\00a0" attr(data-page) ")"; }
.guide-ref[data-page]::after { content: " (p.\\00a0" attr(data-page) ")"; font-style: normal; }
.guide-ref[data-page]:empty::after { content: "\\00a0(p.\\00a0" attr(data-page) ")"; }
"""
# The links whose text is a page number: the contents, the index and who's who, the register,
# the self-check questions and their key, and the links to the guide (teacher's notes, answers).
PAGE_REF_CLASSES = ("index-ref", "conflict-ref", "key-ref", "question-ref", "guide-ref")
PAGE_REF_XPATH = " | ".join(["//nav[contains(concat(' ', @class, ' '), ' toc ')]//a"] +
                            [f"//a[contains(concat(' ', @class, ' '), ' {name} ')]" for name in PAGE_REF_CLASSES])


@dataclass
class Part:
    """One part of an edition: its name, its HTML, whether its pages count in arabic (main matter)."""
    name: str
    markup: str
    main: bool
    anchors: frozenset[str] = frozenset()  # the ids it holds
    targets: frozenset[str] = frozenset()  # the ids its links point to in other parts
    page_refs: frozenset[str] = frozenset()  # the ids whose page numbers it prints
    numbered: bool = False  # it prints page numbers (its HTML depends on other parts' pages)

    @property
    def key(self) -> str:
        return hashlib.sha256(self.markup.encode("utf-8")).hexdigest()


@dataclass
class PartLayout:
    """What the rest of the build needs from a part's layout, whatever its start page."""
    pages: int
    anchors: dict[str, int]  # id -> index of the page (in this part) on which it starts
    words: list[str] = field(default_factory=list)  # the page map's pieces (book/pagemap.py)
    starts: list[int] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # WeasyPrint's warnings
    refused: list[str] = field(default_factory=list)  # URLs the fetcher refused


def split_book(markup: str) -> list[tuple[str, object, bool]]:
    """The whole book's HTML cut into parts: (name, HTML tree of the part, main matter?).

    Each part keeps the document's head and the wrappers (front-matter, main-matter) of what
    it holds, so that every rule of print.css applies to it as it does in the whole book."""
    root = html.document_fromstring(markup)
    body = root.find("body")
    front_names = {"half-title", "title-page", "copyright-page", "front-matter"}
    front = [child for child in body if set((child.get("class") or "").split()) & front_names]
    main = next((child for child in body if "main-matter" in (child.get("class") or "").split()), None)
    parts = [("front", keep_only(root, body, front, None), False)] if front else []
    for section in [child for child in main if child.tag == "section"] if main is not None else []:
        parts.append((section.get("id"), keep_only(root, body, [main], section), True))
    return parts


def keep_only(root, body, children, section):
    """A document with the head of `root` and only `children` of its body (of main-matter, only
    `section`): copies of those alone, since the book is large and the parts are many."""
    copied = html.Element("html", dict(root.attrib))
    copied.text = root.text
    copied.append(copy.deepcopy(root.find("head")))
    copied_body = html.Element("body", dict(body.attrib))
    copied_body.text = body.text
    copied.append(copied_body)
    for child in children:
        if section is None:
            copied_body.append(copy.deepcopy(child))
            continue
        wrapper = html.Element(child.tag, dict(child.attrib))
        wrapper.text, wrapper.tail = child.text, child.tail
        wrapper.append(copy.deepcopy(section))
        copied_body.append(wrapper)
    return copied


def make_parts(markup: str, labels: dict[str, str], missing: str = "0") -> list[Part]:
    """The parts of the book, each with literal page numbers for the ids in other parts (from
    `labels`; `missing` where a number is not known yet). Another edition's extra parts (a
    teacher's part) come from a document shaped the same way: each <section> of its
    <div class="main-matter"> is a part."""
    trees = split_book(markup)
    held = {name: {e.get("id") for e in tree.iter() if e.get("id")} for name, tree, _ in trees}
    parts = []
    for name, tree, main in trees:
        own = held[name]
        targets, page_refs = set(), set()
        numbered = set(tree.xpath(PAGE_REF_XPATH))  # held, so that each element keeps its proxy
        for link in tree.iter("a"):
            href = link.get("href") or ""
            if not href.startswith("#") or href[1:] in own:
                continue
            targets.add(href[1:])
            if link in numbered:
                page_refs.add(href[1:])
                link.set("data-page", labels.get(href[1:], missing))
        parts.append(Part(name, html.tostring(tree, encoding="unicode", doctype="<!DOCTYPE html>"), main,
                          frozenset(own), frozenset(targets), frozenset(page_refs), bool(numbered)))
    return parts


# --- laying out one part, and renumbering its folios ---------------------------------------------

class MarginRecorder:
    """Keeps what WeasyPrint used to make each page's margin boxes, so that they can be made
    again with another page number (WeasyPrint makes them last, from the page counter alone)."""

    def __init__(self):
        self.pages: list[tuple[object, object, object]] = []  # (layout context, page box, page state)

    @contextmanager
    def recording(self):
        from weasyprint import layout as weasy_layout

        original = weasy_layout.make_margin_boxes

        def make_margin_boxes(context, page, state):
            self.pages.append((context, page, copy.deepcopy(state)))
            return original(context, page, state)

        weasy_layout.make_margin_boxes = make_margin_boxes
        try:
            yield self
        finally:
            weasy_layout.make_margin_boxes = original

    def renumber(self, delta: int) -> None:
        """Add `delta` to the page counter of every page, and make its margin boxes again."""
        if not delta:
            return
        from weasyprint.formatting_structure import boxes
        from weasyprint.layout.background import layout_backgrounds
        from weasyprint.layout.page import make_margin_boxes

        for number, (context, page, state) in enumerate(self.pages, start=1):
            state = copy.deepcopy(state)
            counters = state[1]
            if counters.get("page"):
                counters["page"][-1] += delta
            context.current_page = number
            kept = [child for child in page.children if not isinstance(child, boxes.MarginBox)]
            page.children = tuple(kept + list(make_margin_boxes(context, page, state)))
            layout_backgrounds(page, context.get_image_from_uri)


def external_links(document, own: set[str]) -> list[str]:
    """Make each link to an id of another part a URI link to XPART + id; return those ids."""
    targets = []
    for page in document.pages:
        links = []
        for kind, target, rectangle, box in page.links:
            if kind == "internal" and target not in own:
                targets.append(target)
                kind, target = "external", XPART + target
            links.append((kind, target, rectangle, box))
        page.links = links
    return targets


class LogCapture(logging.Handler):
    """WeasyPrint logs problems (a missing font, bad CSS) and carries on: make them diagnostics."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextmanager
def captured_logs():
    capture = LogCapture()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(capture)
    try:
        yield capture.messages
    finally:
        logger.removeHandler(capture)


def layout_code() -> bytes:
    """The code that decides a part's layout and bytes, for cache keys."""
    from importlib.metadata import version  # not the module itself: WeasyPrint is slow to import

    here = Path(__file__).parent
    names = ("pdf.py", "print_html.py", "pdf_parts.py", "pdf_workers.py", "pdf_tags.py", "names.py", "pagemap.py")
    return version("weasyprint").encode() + b"".join((here / name).read_bytes() for name in names)
