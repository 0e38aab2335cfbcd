"""Embedded fonts cut down to the characters the EPUB uses, so that they weigh kilobytes, not megabytes.

A reader who highlights or annotates still gets the book's face for basic Latin, Latin-1 and common
punctuation, which are always kept. Subsetting is deterministic: no timestamps are recalculated, so
the same text and fonts give the same bytes.
"""
from __future__ import annotations

import io
import re
import unicodedata

from fontTools import subset
from lxml import etree

# Basic Latin, Latin-1 and the common punctuation of English text (dashes, quotes, ellipsis, primes).
ALWAYS_KEPT = {*range(0x20, 0x7F), *range(0xA0, 0x100), *range(0x2010, 0x2028), *range(0x2030, 0x203B),
               0x2212, 0x20AC}


def characters_used(xhtml_documents: list[bytes], css: str) -> set[int]:
    """Every character in the documents' text and in the stylesheet's generated content, in both cases
    (the stylesheet upper-cases some labels), plus the characters that are always kept."""
    text = []
    for data in xhtml_documents:
        text.extend(etree.fromstring(data).itertext())
    text.extend(re.findall(r'content:\s*"([^"]*)"', css))  # CSS, not HTML: "→ ", "· "
    joined = "".join(text)
    return ALWAYS_KEPT | {ord(c) for c in joined + joined.upper() + joined.lower() if unicodedata.category(c) != "Cc"}


def subset_font(data: bytes, codepoints: set[int]) -> bytes:
    options = subset.Options()
    options.name_IDs = ["*"]  # keep the copyright, licence and designer names
    options.drop_tables += ["FFTM", "MATH"]  # FontForge's timestamps; maths layout the book never uses
    options.recalc_timestamp = False
    font = subset.load_font(io.BytesIO(data), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)
    out = io.BytesIO()
    subset.save_font(font, out, options)
    return out.getvalue()
