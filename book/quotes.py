"""Finding a quotation in its source: typographic folding, fragments, and the nearest miss.

Folding removes only differences of typography: quotation marks (curly or straight, single or
double, since a quotation turns the source's double marks into single ones), dash styles, white
space (and white space around dashes, which scraped pages often lost or added). Ellipses and
[bracketed insertions] split a quotation into fragments that must occur in order.
"""
from __future__ import annotations

import difflib
import re
from functools import lru_cache

# All quotation marks fold to one: a quotation nests the source's double quotes as single ones.
QUOTE_FOLD = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'",
                            "“": "'", "”": "'", "„": "'", "‟": "'", "″": "'", '"': "'",
                            "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
                            "\u00a0": " ", "\u2009": " ", "\u202f": " "})
SPACE = re.compile(r"\s+")
DASH_SPACE = re.compile(r"\s*-+\s*")
SPLITTERS = re.compile(r"…|\.\s?\.\s?\.|\[[^\]]*\]")
EDGE = " ,.;:!?'"


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    text = text.translate(QUOTE_FOLD)
    text = DASH_SPACE.sub("-", text)
    return SPACE.sub(" ", text).strip()


def fragments(quotation: str) -> list[str]:
    """The pieces of a quotation that must appear verbatim (after folding), in order."""
    pieces = (fold(p).strip(EDGE) for p in SPLITTERS.split(quotation))
    return [p for p in pieces if len(p) >= 2]


def occurs_in(quotation: str, paragraph: str) -> bool:
    folded = fold(paragraph)
    position = 0
    pieces = fragments(quotation)
    if not pieces:
        return True
    for piece in pieces:
        found = find_words(folded, piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def find_words(text: str, piece: str, start: int) -> int:
    """Like str.find, but a piece must not begin or end in the middle of a word."""
    found = text.find(piece, start)
    while found >= 0:
        before = text[found - 1] if found else " "
        after = text[found + len(piece)] if found + len(piece) < len(text) else " "
        if not (piece[0].isalnum() and before.isalnum()) and not (piece[-1].isalnum() and after.isalnum()):
            return found
        found = text.find(piece, found + 1)
    return -1


def nearest(quotation: str, paragraphs: list[tuple[int, str]]) -> tuple[int, str, float] | None:
    """The window of text most like the quotation: (the key it came with, the text, similarity)."""
    target = " ".join(fragments(quotation))
    if not target:
        return None
    size = len(target.split())
    best = None
    for number, text in paragraphs:
        words = fold(text).split()
        for start in range(0, max(1, len(words) - size + 1)):
            window = " ".join(words[start:start + size])
            matcher = difflib.SequenceMatcher(None, target, window, autojunk=False)
            if best and matcher.quick_ratio() <= best[2]:
                continue
            ratio = matcher.ratio()
            if not best or ratio > best[2]:
                best = (number, window, ratio)
    return best
