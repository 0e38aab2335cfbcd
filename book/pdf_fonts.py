"""Fonts of a joined PDF: one embedded subset per face, not one per part.

WeasyPrint embeds, in each part, a subset of each face with the glyphs that part uses, keeping
the font's own glyph ids (HarfBuzz's retain-gids), so that the text of every part refers to
glyphs by the same ids. The join therefore needs one font per face: the book's font file cut
down to the union of the parts' glyphs (HarfBuzz's subsetter, with WeasyPrint's options), the
union of their widths and of their ToUnicode maps; every part's resources then name that one font.
"""
from __future__ import annotations

import io
import re
from importlib.metadata import version
from pathlib import Path

import pikepdf
import uharfbuzz as hb
from fontTools.ttLib import TTFont

BFCHAR = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>")
SUBSETTER = f"uharfbuzz {version('uharfbuzz')}".encode()  # part of the cached subsets' key
DROPPED_TABLES = ["GSUB", "GPOS", "SVG ", "BASE", "DSIG", "EBDT", "EBLC", "EBSC", "JSTF", "LTSH", "PCLT"]


def merge_fonts(out: pikepdf.Pdf, font_folder: Path, cache=None) -> None:
    """`cache`: a PartCache that keeps the subsets made (or None)."""
    faces: dict[str, dict[tuple, pikepdf.Dictionary]] = {}
    holders = list(font_holders(out))
    for holder in holders:
        for font in holder.values():
            if font.get("/Subtype") == "/Type0":
                faces.setdefault(str(font.BaseFont), {})[font.objgen] = font
    originals = None
    merged: dict[str, pikepdf.Dictionary] = {}
    for name, fonts in faces.items():
        fonts = list(fonts.values())
        if len(fonts) < 2:
            continue
        if originals is None:
            originals = original_fonts(font_folder)
        font = merge_face(out, fonts, originals, cache)
        if font is not None:
            merged[name] = font
    for holder in holders:
        for key, font in list(holder.items()):
            replacement = merged.get(str(font.get("/BaseFont")))
            if replacement is not None and font.get("/Subtype") == "/Type0":
                holder[key] = replacement


def font_holders(out: pikepdf.Pdf):
    """Every /Font resource dictionary: of each page, and of the forms its pages draw."""
    seen = set()
    stack = [page.obj.get("/Resources") for page in out.pages]
    while stack:
        resources = stack.pop()
        if not isinstance(resources, pikepdf.Dictionary):
            continue
        marker = resources.objgen if resources.is_indirect else id(resources)
        if marker in seen:
            continue
        seen.add(marker)
        fonts = resources.get("/Font")
        if isinstance(fonts, pikepdf.Dictionary):
            yield fonts
        for xobject in (resources.get("/XObject") or {}).values():
            stack.append(xobject.get("/Resources"))
        for pattern in (resources.get("/Pattern") or {}).values():
            stack.append(pattern.get("/Resources"))


def original_fonts(folder: Path) -> dict[str, bytes]:
    """The book's font files by PostScript name."""
    found = {}
    for path in sorted(folder.glob("*")):
        if path.suffix.lower() not in (".otf", ".ttf"):
            continue
        data = path.read_bytes()
        try:
            name = TTFont(io.BytesIO(data), lazy=True)["name"].getDebugName(6)
        except Exception:  # noqa: BLE001 - not a font we can read: it is simply not merged
            continue
        if name:
            found.setdefault(name, data)
    return found


def embedded_program(font: pikepdf.Dictionary):
    descriptor = font.DescendantFonts[0].FontDescriptor
    for key in ("/FontFile3", "/FontFile2"):
        if key in descriptor:
            return key, descriptor[key]
    return None, None


def merge_face(out: pikepdf.Pdf, fonts: list[pikepdf.Dictionary], originals: dict[str, bytes],
               cache=None) -> pikepdf.Dictionary | None:
    """One Type0 font for all of `fonts` (the same face, as each part embedded it), or None if
    the face is not one of the book's font files (then each part keeps its own)."""
    key, program = embedded_program(fonts[0])
    if program is None:
        return None
    try:
        name = TTFont(io.BytesIO(program.read_bytes()), lazy=True)["name"].getDebugName(6)
    except Exception:  # noqa: BLE001
        return None
    original = originals.get(name)
    if original is None:
        return None
    widths: dict[int, float] = {}
    texts: dict[int, bytes] = {}
    for font in fonts:
        widths.update(read_widths(font.DescendantFonts[0].get("/W", [])))
        if "/ToUnicode" in font:
            texts.update(read_to_unicode(font.ToUnicode.read_bytes()))
    first = fonts[0]
    descendant = first.DescendantFonts[0]
    descriptor = descendant.FontDescriptor
    gids = sorted(set(widths) | set(texts) | {0})
    if cache is not None:
        data = cache.subset_font(subset_font, original, gids, SUBSETTER)
    else:
        data = subset_font(original, gids)
    stream_dict = {k: v for k, v in program.items() if k not in ("/Length", "/Filter", "/DecodeParms", "/Length1")}
    new_program = pikepdf.Stream(out, data)
    for k, v in stream_dict.items():
        new_program[k] = v
    if key == "/FontFile2":
        new_program.Length1 = len(data)
    descriptor[key] = new_program
    bbox = list(descriptor.FontBBox)
    descriptor.FontBBox = pikepdf.Array([bbox[0], bbox[1], max(widths.values(), default=0), bbox[3]])
    descendant.W = write_widths(widths)
    first.ToUnicode = pikepdf.Stream(out, write_to_unicode(texts))
    return first


def read_widths(array) -> dict[int, float]:
    widths: dict[int, float] = {}
    items = list(array)
    i = 0
    while i < len(items):
        first = int(items[i])
        if isinstance(items[i + 1], pikepdf.Array):
            for offset, width in enumerate(items[i + 1]):
                widths[first + offset] = float(width)
            i += 2
        else:
            for gid in range(first, int(items[i + 1]) + 1):
                widths[gid] = float(items[i + 2])
            i += 3
    return widths


def write_widths(widths: dict[int, float]) -> pikepdf.Array:
    array, run = [], None
    for gid in sorted(widths):
        if run is None or gid - 1 not in widths:
            run = []
            array += [gid, run]
        width = widths[gid]
        run.append(int(width) if width == int(width) else width)
    return pikepdf.Array([pikepdf.Array(item) if isinstance(item, list) else item for item in array])


def read_to_unicode(data: bytes) -> dict[int, bytes]:
    texts = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for glyph, text in BFCHAR.findall(block):
            texts[int(glyph, 16)] = text.lower()
    return texts


def write_to_unicode(texts: dict[int, bytes]) -> bytes:
    """A ToUnicode CMap as WeasyPrint writes one."""
    lines = [b"/CIDInit /ProcSet findresource begin", b"12 dict begin", b"begincmap", b"/CIDSystemInfo",
             b"<< /Registry (Adobe)", b"/Ordering (UCS)", b"/Supplement 0", b">> def",
             b"/CMapName /Adobe-Identity-UCS def", b"/CMapType 2 def", b"1 begincodespacerange",
             b"<0000> <ffff>", b"endcodespacerange"]
    items = sorted(texts.items())
    for start in range(0, len(items), 100):
        batch = items[start:start + 100]
        lines.append(f"{len(batch)} beginbfchar".encode())
        lines += [b"<%04x> <%s>" % (glyph, text) for glyph, text in batch]
        lines.append(b"endbfchar")
    lines += [b"endcmap", b"CMapName currentdict /CMap defineresource pop", b"end", b"end"]
    return b"\n".join(lines)


def subset_font(data: bytes, gids: list[int]) -> bytes:
    """The font cut down to these glyphs, each keeping its id, with the options WeasyPrint gives
    HarfBuzz's subsetter (no hinting, an outline for .notdef); HarfBuzz leaves the timestamp
    alone, so the bytes repeat. Milliseconds a face, where fontTools took most of a second."""
    flags = hb.SubsetFlags
    subset = hb.SubsetInput()
    subset.glyph_set.update(gids)
    subset.flags = (flags.RETAIN_GIDS | flags.PASSTHROUGH_UNRECOGNIZED | flags.DESUBROUTINIZE | flags.NO_HINTING
                    | flags.NOTDEF_OUTLINE)
    for table in DROPPED_TABLES:
        subset.drop_table_tag_set.add(int.from_bytes(table.encode(), "big"))
    return hb.subset(hb.Face(data), subset).blob.data
