"""Embedded fonts cut down to the characters the EPUB uses, so that they weigh kilobytes, not megabytes.

A reader who highlights or annotates still gets the book's face for basic Latin, Latin-1 and common
punctuation, which are always kept. HarfBuzz's subsetter (uharfbuzz) cuts the six faces in
milliseconds where fontTools took seconds, keeping the same glyphs, the same ligatures and kerning
and the same names. It is deterministic and never touches the timestamps, so the same text and
fonts give the same bytes.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from importlib.metadata import version
from pathlib import Path

from lxml import etree

from . import cache

# Basic Latin, Latin-1 and the common punctuation of English text (dashes, quotes, ellipsis, primes).
ALWAYS_KEPT = {*range(0x20, 0x7F), *range(0xA0, 0x100), *range(0x2010, 0x2028), *range(0x2030, 0x203B),
               0x2212, 0x20AC}


def characters_used(xhtml_documents: list[bytes], css: str) -> set[int]:
    """Every character in the documents' text and in the stylesheet's generated content, in both cases
    (the stylesheet upper-cases some labels), plus the characters that are always kept."""
    text = [document_text(data) for data in xhtml_documents]
    text.extend(re.findall(r'content:\s*"([^"]*)"', css))  # CSS, not HTML: "→ ", "· "
    joined = "".join(text)
    characters = set(joined)
    # Each character's capital and small letter, not the whole text's: the same, but for a capital
    # sigma, whose small letter depends on the letters around it.
    distinct = "".join(characters)
    characters |= set(distinct.upper()) | set((joined if "Σ" in characters else distinct).lower())
    return ALWAYS_KEPT | {ord(c) for c in characters if unicodedata.category(c) != "Cc"}


_TEXTS: dict[bytes, str] = {}  # --watch: an edit changes one document; the others' text is known


def document_text(data: bytes) -> str:
    key = hashlib.sha256(data).digest()
    if key not in _TEXTS or not cache.enabled():
        if len(_TEXTS) > 2000:
            _TEXTS.clear()
        _TEXTS[key] = etree.fromstring(data).xpath("string()")  # its text nodes, as itertext() gives them
    return _TEXTS[key]


def subset_font(data: bytes, codepoints: set[int], root: Path | None = None) -> bytes:
    """The font cut down to the codepoints; cached in root's .cache/ (an edit seldom adds a character)."""
    key = cache.key("font", data, sorted(codepoints), Path(__file__).read_bytes(), version("uharfbuzz"))
    cached = cache.read(root, "fonts", key) if root is not None else None
    if cached is not None:
        return cached
    subsetted = _subset(data, codepoints)
    if root is not None:
        cache.write(root, "fonts", key, subsetted)
    return subsetted


def _subset(data: bytes, codepoints: set[int]) -> bytes:
    import uharfbuzz as hb  # only when a subset is not cached: --watch starts faster

    subset = hb.SubsetInput()  # its default layout features are fontTools': ligatures, kerning, marks...
    subset.unicode_set.update(codepoints)
    subset.name_id_set.clear()
    subset.name_id_set.invert()  # every name id: the copyright, licence and designer names
    for table in (b"FFTM", b"MATH"):  # FontForge's timestamps; maths layout the book never uses
        subset.drop_table_tag_set.add(int.from_bytes(table, "big"))
    return hb.subset(hb.Face(data), subset).blob.data
