"""People's names are never hyphenated in the PDF.

A name broken at a line end (Bukhar-in) is missed by search, by copy and paste and by a screen
reader. enrich() marks most names for the index (class "ix", which print.css keeps whole), but not
the book's subject, who is not indexed, nor names in links, notes or the back matter. This wraps
every other occurrence of a word of a person's name in <span class="name">, which print.css also
keeps whole.
"""
from __future__ import annotations

import re

from lxml import html

from .model import PersonView

KEPT_WHOLE = {"ix", "name"}  # classes whose text print.css already keeps from hyphenation


def name_words(people: list[PersonView]) -> list[str]:
    """The capitalised words of every form of every name, longest first (short ones never break)."""
    words = {word for p in people for form in (p.name, p.sort, p.cyrillic, *p.variants)
             for word in re.findall(r"\w+", form) if word[:1].isupper() and len(word) >= 4}
    return sorted(words, key=lambda w: (-len(w), w))


def keep_names_whole(root, people: list[PersonView]) -> None:
    words = name_words(people)
    if not words:
        return
    pattern = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, words)) + r")(?!\w)")

    def split(text: str):
        """The text before the first name, and the spans (each with the text after it as tail)."""
        pieces, lead, last = [], None, 0
        for match in pattern.finditer(text):
            if lead is None:
                lead = text[:match.start()]
            else:
                pieces[-1].tail = text[last:match.start()]
            span = html.Element("span", {"class": "name"})
            span.text = match.group(1)
            pieces.append(span)
            last = match.end()
        if pieces:
            pieces[-1].tail = text[last:]
        return (text if lead is None else lead), pieces

    def visit(element) -> None:
        if not isinstance(element.tag, str) or KEPT_WHOLE & set((element.get("class") or "").split()) \
                or element.tag in ("head", "style", "script"):
            return
        children = list(element)
        if element.text:
            element.text, new = split(element.text)
            for offset, span in enumerate(new):
                element.insert(offset, span)
        for child in children:
            visit(child)
            if child.tail:
                child.tail, new = split(child.tail)
                position = element.index(child)
                for offset, span in enumerate(new):
                    element.insert(position + 1 + offset, span)

    visit(root)
