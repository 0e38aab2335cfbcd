"""People's names are never hyphenated in the PDF.

A name broken at a line end (Bukhar-in) is missed by search, by copy and paste and by a screen
reader. enrich() marks most names for the index (class "ix", which print.css keeps whole), but not
the book's subject, who is not indexed, nor the names in links, notes and the back matter.

Wrapping every other name in a span of its own (class "name", hyphens: manual) works too, but
WeasyPrint then lays out over a thousand more inline boxes, and layout took 45 % longer. So the
hyphenation dictionary itself leaves names alone: while the PDF is laid out, WeasyPrint's
dictionaries (pyphen) find no hyphenation point in a word of a person's name.
"""
from __future__ import annotations

import re
import types
from contextlib import contextmanager

import pyphen
from weasyprint.text import line_break

from .model import PersonView

LETTERS = re.compile(r"[^\W\d_]+")  # a word without the possessive or punctuation around it


def name_words(people: list[PersonView]) -> frozenset[str]:
    """The capitalised words of every form of every person's name, Cyrillic included."""
    return frozenset(word for p in people for form in (p.name, p.sort, p.cyrillic, *p.variants)
                     for word in LETTERS.findall(form) if word[:1].isupper())


def names_kept_whole(people: list[PersonView]):
    """While laying out: no line ends inside a person's name (WeasyPrint's pyphen, wrapped)."""
    return words_kept_whole(name_words(people))


@contextmanager
def words_kept_whole(words: frozenset[str]):
    """While laying out: no line ends inside one of these words."""

    class Dictionary(pyphen.Pyphen):
        def positions(self, word):
            core = LETTERS.match(word.strip("\u2018\u201c\"'([«„"))
            return [] if core and core.group() in words else super().positions(word)

    saved = line_break.pyphen
    line_break.pyphen = types.SimpleNamespace(Pyphen=Dictionary, language_fallback=pyphen.language_fallback)
    try:
        yield
    finally:
        line_break.pyphen = saved
