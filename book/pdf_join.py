"""Join the PDFs of an edition's parts into one book with pikepdf.

What WeasyPrint wrote per part is made whole again: the pages (with a blank verso after a part
that ends on a right-hand page, as break-before: right gives in one document), the named
destinations, the links between parts (written as x-part: URIs, see book/pdf_parts.py; here
in-document destinations, like WeasyPrint's own), the outline, the page labels, the metadata,
the tag structure (PDF/UA-1) and the fonts (book/pdf_fonts.py: one subset per face, not one per
part).
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import pikepdf

from .pdf_fonts import merge_fonts
from .pdf_parts import XPART


class BrokenLinks(Exception):
    def __init__(self, targets: list[str]):
        super().__init__(", ".join(targets))
        self.targets = targets


@dataclass
class PartPdf:
    name: str
    data: bytes
    blank_after: bool  # a blank verso follows, so that the next part starts on a right-hand page


def join(parts: list[PartPdf], first_main: int, language: str, font_folder: Path, cache=None) -> bytes:
    """The book: `parts` in order, arabic page labels from page index `first_main`."""
    out = pikepdf.new()
    sources = [pikepdf.open(io.BytesIO(part.data)) for part in parts]
    try:
        first = sources[0]
        version = max(source.pdf_version for source in sources)
        for key in ("/MarkInfo", "/ViewerPreferences", "/Metadata"):
            if key in first.Root:
                out.Root[key] = foreign(out, first, first.Root[key])
        out.trailer.Info = foreign(out, first, first.trailer.Info)
        destinations: dict[str, pikepdf.Array] = {}
        outlines: list[pikepdf.Dictionary] = []
        tree = StructureMerger(out)
        for part, source in zip(parts, sources):
            start = len(out.pages)
            with warnings.catch_warnings():  # named destinations: copied below, with the links
                warnings.simplefilter("ignore", pikepdf.PageCopyWarning if hasattr(pikepdf, "PageCopyWarning") else UserWarning)
                out.pages.extend(source.pages)
            for name, destination in named_destinations(source):
                destinations.setdefault(name, foreign(out, source, destination))
            if "/Outlines" in source.Root and "/First" in source.Root.Outlines:
                outlines.append(foreign(out, source, source.Root.Outlines))
            tree.add(source, out.pages[start:len(out.pages)])
            if part.blank_after:
                box = out.pages[-1].mediabox
                out.add_blank_page(page_size=(float(box[2]) - float(box[0]), float(box[3]) - float(box[1])))
        resolve_links(out, destinations)
        write_destinations(out, destinations)
        write_outline(out, outlines)
        tree.finish()
        nums = [0, pikepdf.Dictionary(S=pikepdf.Name.r)] if first_main else []
        nums += [first_main, pikepdf.Dictionary(S=pikepdf.Name.D, St=1)]
        out.Root.PageLabels = pikepdf.Dictionary(Nums=pikepdf.Array(nums))
        out.Root.Lang = pikepdf.String(language)
        merge_fonts(out, font_folder, cache)
        result = io.BytesIO()
        # Object streams: the structure tree's many small objects compress well together.
        out.save(result, deterministic_id=True, compress_streams=True, min_version=version,
                 object_stream_mode=pikepdf.ObjectStreamMode.generate)
        return result.getvalue()
    finally:
        for source in sources:
            source.close()
        out.close()


def foreign(out: pikepdf.Pdf, source: pikepdf.Pdf, obj):
    """A copy in `out` of an object of `source` (pikepdf copies only indirect objects)."""
    if not obj.is_indirect:
        obj = source.make_indirect(obj)
    return out.copy_foreign(obj)


def named_destinations(pdf: pikepdf.Pdf):
    """(name, destination) for each id WeasyPrint made a destination (a flat /Names array)."""
    names = pdf.Root.get("/Names")
    dests = names.get("/Dests") if names is not None else None
    if dests is None:
        return
    array = dests.get("/Names", [])
    for i in range(0, len(array), 2):
        yield str(array[i]), array[i + 1]


def resolve_links(out: pikepdf.Pdf, destinations: dict) -> None:
    """Each link to another part becomes a link to its named destination, as WeasyPrint writes
    links inside one document; a link to an id that no part holds stops the build."""
    broken = []
    for page in out.pages:
        for annotation in page.get("/Annots", []):
            action = annotation.get("/A")
            if action is None or action.get("/S") != "/URI" or not str(action.URI).startswith(XPART):
                continue
            target = str(action.URI)[len(XPART):]
            if target not in destinations:
                broken.append(target)
                continue
            del annotation["/A"]
            annotation.Dest = pikepdf.String(target)
    if broken:
        raise BrokenLinks(sorted(set(broken)))


def write_destinations(out: pikepdf.Pdf, destinations: dict) -> None:
    array = pikepdf.Array()
    for name in sorted(destinations, key=lambda n: n.encode("utf-8")):  # a name tree is sorted
        array.append(pikepdf.String(name))
        array.append(destinations[name])
    out.Root.Names = pikepdf.Dictionary(Dests=out.make_indirect(pikepdf.Dictionary(Names=array)))


def write_outline(out: pikepdf.Pdf, outlines: list[pikepdf.Dictionary]) -> None:
    """The parts' outlines, one after the other, under one root."""
    root = out.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Outlines))
    items = []
    count = 0
    for outline in outlines:
        item = outline.get("/First")
        while item is not None:
            items.append(item)
            item = item.get("/Next")
        count += int(outline.get("/Count", 0))
    if not items:
        return
    for number, item in enumerate(items):
        item.Parent = root
        for key in ("/Prev", "/Next"):
            if key in item:
                del item[key]
        if number:
            item.Prev = items[number - 1]
            items[number - 1].Next = item
    root.First, root.Last, root.Count = items[0], items[-1], count
    out.Root.Outlines = root


class StructureMerger:
    """One structure tree for the book: each part's Document element's kids under one Document,
    its parent-tree keys renumbered after the previous parts' (on pages: StructParents; on
    annotations: StructParent), and the IDs of elements made unique (the notes numbered anew)."""

    def __init__(self, out: pikepdf.Pdf):
        self.out = out
        self.document = None
        self.nums = pikepdf.Array()
        self.next_key = 0
        self.ids: dict[str, pikepdf.Dictionary] = {}  # for the IDTree
        self.notes = 0
        self.roles = pikepdf.Dictionary()

    def add(self, source: pikepdf.Pdf, pages) -> None:
        if "/StructTreeRoot" not in source.Root:
            return
        root = foreign(self.out, source, source.Root.StructTreeRoot)
        offset = self.next_key
        highest = -1
        nums = root.ParentTree.get("/Nums", pikepdf.Array())
        for i in range(0, len(nums), 2):
            key = int(nums[i])
            highest = max(highest, key)
            self.nums.append(key + offset)
            self.nums.append(nums[i + 1])
        self.next_key = max(self.next_key, offset + highest + 1, offset + int(root.get("/ParentTreeNextKey", 0)))
        for page in pages:
            if "/StructParents" in page.obj:
                page.obj.StructParents = int(page.obj.StructParents) + offset
            for annotation in page.obj.get("/Annots", []):
                if "/StructParent" in annotation:
                    annotation.StructParent = int(annotation.StructParent) + offset
        for role, mapped in (root.get("/RoleMap") or {}).items():
            self.roles[role] = mapped
        document = root.K[0] if isinstance(root.K, pikepdf.Array) else root.K
        self.rename_ids(document)
        if self.document is None:
            self.document = document
            return
        for kid in list(document.K):
            if isinstance(kid, pikepdf.Dictionary) and "/P" in kid:
                kid.P = self.document
            self.document.K.append(kid)

    def rename_ids(self, document) -> None:
        renamed: dict[str, str] = {}
        elements = list(walk(document))
        for element in elements:
            if "/ID" not in element:
                continue
            old = str(element.ID)
            if old.startswith("note-"):
                self.notes += 1
                new = f"note-{self.notes}"
            else:
                new, suffix = old, 1
                while new in self.ids:
                    suffix += 1
                    new = f"{old}-{suffix}"
            self.ids[new] = element
            if new != old:
                renamed[old] = new
                element.ID = pikepdf.String(new)
        if not renamed:
            return
        for element in elements:
            attributes = element.get("/A")
            for attribute in (attributes if isinstance(attributes, pikepdf.Array) else [attributes]):
                if isinstance(attribute, pikepdf.Dictionary) and "/Headers" in attribute:
                    attribute.Headers = pikepdf.Array(
                        [pikepdf.String(renamed.get(str(h), str(h))) for h in attribute.Headers])

    def finish(self) -> None:
        if self.document is None:
            return
        root = self.out.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.StructTreeRoot, K=pikepdf.Array([self.document]),
            ParentTree=self.out.make_indirect(pikepdf.Dictionary(Nums=self.nums)),
            ParentTreeNextKey=self.next_key))
        if len(self.roles):
            root.RoleMap = self.roles
        if self.ids:  # required where elements have IDs (ISO 32000-1, 14.7.2)
            names = pikepdf.Array()
            for name in sorted(self.ids, key=lambda n: n.encode("utf-8")):
                names.append(pikepdf.String(name))
                names.append(self.ids[name])
            root.IDTree = self.out.make_indirect(pikepdf.Dictionary(Names=names))
        self.document.P = root
        self.out.Root.StructTreeRoot = root


def walk(element):
    """Every structure element under `element`, itself included (not marked content, not OBJRs)."""
    stack = [element]
    while stack:
        element = stack.pop()
        yield element
        kids = element.get("/K")
        if kids is None:
            continue
        kids = [kid for kid in (kids if isinstance(kids, pikepdf.Array) else [kids])
                if isinstance(kid, pikepdf.Dictionary) and kid.get("/Type") not in ("/MCR", "/OBJR") and "/S" in kid]
        stack.extend(reversed(kids))  # in document order
