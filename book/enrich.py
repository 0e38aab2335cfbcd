"""HTML surgery on the parts of the book: boxes, unique heading ids, glossary links, index marks.

Runs once on the shared BookView, before either writer, so the PDF and the EPUB agree.
"""
from __future__ import annotations

import re
from collections import defaultdict

from lxml import html
from markupsafe import Markup

from .apparatus import Apparatus
from .html import inner_html
from .model import BookView, IndexEntry, PartView

SKIP_TAGS = {"a", "sup", "h1", "h2", "h3", "h4", "h5", "h6", "code"}


class Marker:
    """Finds the names and terms of the apparatus in running text."""

    def __init__(self, apparatus: Apparatus):
        self.entry_of: dict[str, tuple[str, str]] = {}  # form -> (index heading, glossary id or "")
        for person in apparatus.people:
            for form in person.forms:
                self.entry_of.setdefault(form, (person.sort, ""))
        for term in apparatus.terms:
            for form in [term.term, *term.match]:
                self.entry_of.setdefault(form, (term.term, term.id))
        forms = sorted(self.entry_of, key=len, reverse=True)
        self.pattern = re.compile(r"(?<![\w-])(" + "|".join(re.escape(f) for f in forms) + r")(?![\w-])") if forms else None


def enrich(view: BookView, apparatus: Apparatus) -> None:
    marker = Marker(apparatus)
    places: dict[str, list[tuple[str, PartView]]] = defaultdict(list)
    counter = iter(range(1, 10**9))
    for part in view.parts:
        root = html.fragment_fromstring(part.body or "<p></p>", create_parent="div")
        make_boxes(root)
        prefix_heading_ids(root, part.slug)
        linked: set[str] = set()
        mark_explicit(root, part, places, counter)
        if marker.pattern is not None:
            mark_text(root, marker, part, linked, places, counter)
        part.body = Markup(inner_html(root))
    view.index = build_index(places, {p.slug: p.title for p in view.parts})


def make_boxes(root) -> None:
    """::: {.disagree title="…"} -> a titled box that both formats style."""
    for div in root.xpath('.//div[contains(concat(" ", @class, " "), " disagree ")]'):
        title = div.attrib.pop("title", "") or div.attrib.pop("data-title", "")
        heading = html.Element("p", {"class": "box-title"})
        label = html.Element("span", {"class": "box-label"})
        label.text = "Sources disagree"
        heading.append(label)
        label.tail = f": {title}" if title else ""
        div.insert(0, heading)
        div.set("role", "note")


def prefix_heading_ids(root, slug: str) -> None:
    for heading in root.xpath(".//h1|.//h2|.//h3|.//h4|.//*[@id][self::section or self::div]"):
        if heading.get("id") and not heading.get("id").startswith(slug + "-"):
            heading.set("id", f"{slug}-{heading.get('id')}")


def anchor_id(part: PartView, counter) -> str:
    """Index anchors in the front matter say so, so the PDF can print their pages in roman."""
    return f"{'ixf' if part.kind == 'front' else 'ix'}-{next(counter)}"


def mark_explicit(root, part: PartView, places, counter) -> None:
    """[the Lubyanka]{ix="Lubyanka prison"}: an editor's own index entry."""
    for span in root.xpath(".//span[@data-ix]"):
        anchor = anchor_id(part, counter)
        places[span.attrib.pop("data-ix")].append((anchor, part))
        span.set("id", anchor)
        span.set("class", "ix")


def mark_text(root, marker: Marker, part: PartView, linked: set, places, counter) -> None:
    def split(text: str):
        pieces, last, lead = [], 0, None
        for match in marker.pattern.finditer(text):
            heading, term_id = marker.entry_of[match.group(1)]
            anchor = anchor_id(part, counter)
            places[heading].append((anchor, part))
            if term_id and part.kind == "chapter" and term_id not in linked:
                linked.add(term_id)
                element = html.Element("a", {"class": "ix gloss", "id": anchor, "href": f"#term-{term_id}"})
            else:
                element = html.Element("span", {"class": "ix", "id": anchor})
            element.text = match.group(1)
            if lead is None:
                lead = text[last:match.start()]
            else:
                pieces[-1].tail = text[last:match.start()]
            pieces.append(element)
            last = match.end()
        if not pieces:
            return text, []
        pieces[-1].tail = text[last:]
        return lead, pieces

    def visit(element) -> None:
        if element.tag in SKIP_TAGS or {"box-title", "ix"} & set((element.get("class") or "").split()):
            return
        children = list(element)
        if element.text:
            element.text, new = split(element.text)
            for offset, node in enumerate(new):
                element.insert(offset, node)
        for child in children:
            visit(child)
            if child.tail:
                child.tail, new = split(child.tail)
                position = element.index(child)
                for offset, node in enumerate(new):
                    element.insert(position + 1 + offset, node)

    visit(root)


def build_index(places, titles: dict[str, str]) -> list[IndexEntry]:
    entries = []
    for heading, marks in places.items():
        groups = [(title, [anchor for anchor, part in marks if part.title == title])
                  for title in dict.fromkeys(part.title for _, part in marks)]
        entries.append(IndexEntry(heading, sort_key(heading), [anchor for anchor, _ in marks], groups))
    return sorted(entries, key=lambda e: e.sort_key)


def sort_key(heading: str) -> str:
    return re.sub(r"[^\w ,]", "", heading).casefold()
