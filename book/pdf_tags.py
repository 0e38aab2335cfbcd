"""Tags for screen readers (PDF/UA-1): what WeasyPrint 70's tagger leaves out or gets wrong.

With pdf_variant="pdf/ua-1" WeasyPrint builds the structure tree from its boxes
(weasyprint/pdf/tags.py). For this book it falls short where a reader of the tags notices:

- running heads and folios are tagged as Span and hung nowhere in the tree: here they are
  pagination artifacts, which a screen reader skips, and so are the dot leaders of the contents;
- a link's generated text (an index reference's page number, a contents line's leader and page
  number) gets a second link annotation inside the first: only the outermost is kept;
- a link is described by its target id ("ix-125"): here by what a reader sees ("page 47");
- a footnote is a plain span at the foot of the page: here it is a Note with an ID, placed in the
  reading order right after its call, which becomes a Reference;
- lang attributes (the Russian) are dropped: here they become /Lang;
- a row header's scope is dropped: here it becomes /Scope;
- every run of text gets a Span element of its own, and so does every <span>, <em> or <sup>:
  here what they hold hangs directly from the element they belong to, which keeps the file small;
- a table broken across pages becomes one table per page: here it is one table again.

WeasyPrint has no hook for any of this, so `tagged` wraps three of its private functions while
one document is written. WeasyPrint is pinned (pyproject.toml); tests/test_pdf_tagging.py fails
if an upgrade changes what these wrappers rely on.
"""
from __future__ import annotations

import itertools
import re
from contextlib import contextmanager

import pydyf
from weasyprint import pdf as weasy_pdf
from weasyprint.formatting_structure import boxes
from weasyprint.layout.absolute import AbsolutePlaceholder
from weasyprint.pdf import tags as weasy_tags
from weasyprint.pdf.stream import Stream

PDF_VARIANT = "pdf/ua-1"
PAGE_NUMBER = re.compile(r"(\d+|[ivxlcdm]+)\W*$")
PLAIN_KEYS = {"Type", "S", "K", "Pg", "P"}


@contextmanager
def tagged(document):
    """While writing `document`: WeasyPrint's tagger with this module's corrections."""
    drop_nested_links(document)
    tagger = Tagger(decoration_text(document))
    saved = Stream.marked, weasy_tags._build_box_tree, weasy_pdf.add_tags
    Stream.marked = tagger.marked(saved[0])
    weasy_tags._build_box_tree = tagger.build_box_tree(saved[1])  # it recurses through this name
    weasy_pdf.add_tags = tagger.add_tags(saved[2])
    try:
        yield
    finally:
        Stream.marked, weasy_tags._build_box_tree, weasy_pdf.add_tags = saved


def drop_nested_links(document) -> None:
    """A box inside a link inherits the link: WeasyPrint gives it an annotation of its own."""
    for page in document.pages:
        targets = {id(box): (kind, target) for kind, target, _, box in page.links}
        inner = {id(child) for kind, target, _, box in page.links for child in box.descendants()
                 if child is not box and targets.get(id(child)) == (kind, target)}
        page.links = [link for link in page.links if id(link[3]) not in inner]


def decoration_text(document) -> dict[int, str | None]:
    """The text boxes of running heads ("Header"), folios ("Footer") and dot leaders (None), by id."""
    found = {}
    for page in document.pages:
        for box in page._page_box.descendants():
            if isinstance(box, boxes.MarginBox):
                subtype = "Header" if box.at_keyword.startswith("@top") else "Footer"
            elif box.is_leader:
                subtype = None
            else:
                continue
            found.update((id(text), subtype) for text in box.descendants() if isinstance(text, boxes.TextBox))
    return found


def shown_text(box, generated: bool) -> str:
    """The text a box shows; with `generated`, only what CSS generated (::before, ::after)."""
    return "".join(child.text for child in box.descendants() if isinstance(child, boxes.TextBox)
                   and (not generated or "::" in (child.element_tag or "")))


def describe_link(box) -> str:
    """What a link says to someone who cannot see it: its words, and the page it names."""
    words = " ".join("".join(box.element.itertext()).split()) if box.element is not None else ""
    number = PAGE_NUMBER.search(shown_text(box, generated=True).strip())
    if number:
        return f"{words}, page {number.group(1)}" if words else f"page {number.group(1)}"
    return words or "link"


def classes(element) -> list[str]:
    return (element.get("class") or "").split() if element is not None else []


class Tagger:
    def __init__(self, artifacts: dict[int, str]):
        self.artifacts = artifacts
        self.notes: list[tuple[object, pydyf.Dictionary]] = []  # (HTML element, Note)
        self.calls: dict[object, pydyf.Dictionary] = {}  # HTML element of the note -> Reference
        self.note_ids = itertools.count(1)
        self.tables: dict[object, pydyf.Dictionary] = {}  # HTML table -> its first Table element

    def marked(self, original):
        tagger = self

        def marked(stream, box, tag):
            if id(box) not in tagger.artifacts or stream._tags is None:
                return original(stream, box, tag)
            subtype = tagger.artifacts[id(box)]
            return pagination_artifact(stream, subtype) if subtype else stream.artifact()
        return marked

    def build_box_tree(self, original):
        def build_box_tree(box, parent, pdf, page_number, nums, annotations, tags):
            if isinstance(box, boxes.MarginBox) or box.is_leader:
                return  # drawn as artifacts: nothing of it in the tree
            real = box._box if isinstance(box, AbsolutePlaceholder) else box
            if real.element_tag in ("html", "body") or isinstance(real, boxes.PageBox):
                yield from original(box, parent, pdf, page_number, nums, annotations, tags)
                return  # WeasyPrint hangs the children of these on the parent
            for element in original(box, parent, pdf, page_number, nums, annotations, tags):
                self.refine(element, real, pdf, nums)
                if not self.continues_table(element, real, pdf):
                    yield element
        return build_box_tree

    def add_tags(self, original):
        def add_tags(pdf, document, pdf_version, page_streams):
            original(pdf, document, pdf_version, page_streams)
            self.place_notes(pdf)
        return add_tags

    def refine(self, element, box, pdf, nums) -> None:
        html = box.element
        tag = box.element_tag or ""
        if html is not None and "::" not in tag and html.get("lang"):
            element["Lang"] = pydyf.String(html.get("lang"))
        if element["S"] == "/LI":
            wrap_list_body(element, pdf)  # an item of blocks (a self-check question and its options)
        elif tag.endswith("::footnote-call"):
            element["S"] = "/Reference"
            self.calls[html] = element
        elif tag.endswith("::footnote-marker"):
            element["S"] = "/Lbl"
        elif "footnote" in classes(html) and "::" not in tag:
            element["S"] = "/Note"
            element["ID"] = pydyf.String(f"note-{next(self.note_ids)}")
            self.notes.append((html, element))
        elif element["S"] == "/TH" and html.get("scope") in ("row", "col"):
            element["A"]["Scope"] = "/Row" if html.get("scope") == "row" else "/Column"
        elif element["S"] == "/Link":
            if box.link_annotation is None:
                element["S"] = "/Span"  # inside a link that has the annotation
            else:
                box.link_annotation["Contents"] = pydyf.String(describe_link(box))
        dissolve_plain_kids(element, pdf, nums)

    def continues_table(self, element, box, pdf) -> bool:
        """Whether this is the rest of a table begun on an earlier page; if so, its rows (and any
        other parts) are moved to the table's first element."""
        if element["S"] != "/Table":
            return False
        first = self.tables.setdefault(box.element, element)
        if first is element:
            return False
        for part in [pdf.objects[number_of(kid)] for kid in element["K"] if isinstance(kid, bytes)]:
            last = pdf.objects[number_of(first["K"][-1])] if first["K"] else None
            if last is not None and last.get("S") == part.get("S") == "/TBody":
                for row in part["K"]:
                    pdf.objects[number_of(row)]["P"] = last.reference
                    last["K"].append(row)
            else:
                part["P"] = first.reference
                first["K"].append(part.reference)
        return True

    def place_notes(self, pdf) -> None:
        """Move each Note from the foot of the page to just after its call, in reading order."""
        for html, note in self.notes:
            call = self.calls.get(html)
            if call is None:
                continue
            old_parent = pdf.objects[number_of(note["P"])]
            old_parent["K"].remove(note.reference)
            new_parent = pdf.objects[number_of(call["P"])]
            position = new_parent["K"].index(call.reference) + 1
            while position < len(new_parent["K"]) and is_note(pdf, new_parent["K"][position]):
                position += 1  # after the notes already placed there (a note in two pieces)
            new_parent["K"].insert(position, note.reference)
            note["P"] = new_parent.reference
            if not old_parent["K"] and old_parent["S"] == "/NonStruct":  # the emptied footnote area
                pdf.objects[number_of(old_parent["P"])]["K"].remove(old_parent.reference)


def dissolve_plain_kids(element, pdf, nums) -> None:
    """Replace each kid that only groups (WeasyPrint's Span around one run of text; a Span or
    NonStruct without attributes for <span>, <em>, <sup>) by its own kids: a screen reader meets
    the same words in the same order, and the tree has thousands of elements fewer."""
    kids = []
    for kid in element["K"]:
        plain = pdf.objects[number_of(kid)] if isinstance(kid, bytes) else None
        if plain is None or plain.get("S") not in ("/Span", "/NonStruct") or not set(plain) <= PLAIN_KEYS \
                or plain["Pg"] != element["Pg"] or any(is_annotation(pdf, k) for k in plain["K"]):
            kids.append(kid)
            continue
        for grandkid in plain["K"]:
            if isinstance(grandkid, int):
                nums[grandkid] = element.reference
            else:
                pdf.objects[number_of(grandkid)]["P"] = element.reference
        kids += plain["K"]
    element["K"][:] = kids


def wrap_list_body(element, pdf) -> None:
    """WeasyPrint hangs the blocks of a list item (paragraphs, a nested list) straight on its LI;
    PDF/UA wants an LI to hold only its label and an LBody: put the blocks in one."""
    kids = list(element["K"])
    loose = [kid for kid in kids if isinstance(kid, bytes) and pdf.objects[number_of(kid)].get("S") not in ("/Lbl", "/LBody")]
    if not loose or any(not isinstance(kid, bytes) for kid in kids):
        return
    body = pydyf.Dictionary({"Type": "/StructElem", "S": "/LBody", "P": element.reference,
                             "K": pydyf.Array(loose)})
    if "Pg" in element:
        body["Pg"] = element["Pg"]
    pdf.add_object(body)
    for kid in loose:
        pdf.objects[number_of(kid)]["P"] = body.reference
    element["K"][:] = [kid for kid in kids if kid not in loose] + [body.reference]


def number_of(reference: bytes) -> int:
    return int(reference.split()[0])


def is_annotation(pdf, kid) -> bool:
    return isinstance(kid, bytes) and pdf.objects[number_of(kid)].get("Type") == "/OBJR"


def is_note(pdf, kid) -> bool:
    return isinstance(kid, bytes) and pdf.objects[number_of(kid)].get("S") == "/Note"


@contextmanager
def pagination_artifact(stream, subtype: str):
    pydyf.Stream.begin_marked_content(stream, "Artifact", pydyf.Dictionary(
        {"Type": "/Pagination", "Subtype": f"/{subtype}"}))
    try:
        yield
    finally:
        pydyf.Stream.end_marked_content(stream)
