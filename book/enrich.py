"""HTML surgery on the parts of the book: boxes, unique heading ids, joined note calls, glossary
links and index marks.

Runs once on the shared BookView, before either writer, so the PDF and the EPUB agree.
"""
from __future__ import annotations

import copy
import re
from collections import defaultdict

from lxml import html
from markupsafe import Markup

from .apparatus import Apparatus
from .html import inner_html, note_refs, remove_keeping_tail
from .inline import inline_markup, plain
from .model import BookView, IndexEntry, PartView

SKIP_TAGS = {"a", "sup", "code"}
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}


class Marker:
    """Finds the names, terms and works of the apparatus in running text."""

    def __init__(self, apparatus: Apparatus):
        self.entry_of: dict[str, tuple[str, str]] = {}  # form -> (index heading, glossary id or "")
        for person in apparatus.people:
            if person.index:
                for form in person.forms:
                    self.entry_of.setdefault(form, (person.sort, ""))
        for term in apparatus.terms:
            for form in [plain(term.term), *term.match]:
                self.entry_of.setdefault(form, (term.term, term.id))
        for subject in apparatus.subjects:
            for form in subject.match:
                self.entry_of.setdefault(form, (subject.heading, ""))
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
        join_adjacent_notes(root, view.notes)
        linked: set[str] = set()
        mark_explicit(root, part, places, counter)
        if marker.pattern is not None:
            mark_text(root, marker, part, linked, places, counter)
        part.body = Markup(inner_html(root))
    view.index = build_index(places)


def make_boxes(root) -> None:
    """::: {.disagree title="…"} -> a titled box that both formats style."""
    for div in root.xpath('.//div[contains(concat(" ", @class, " "), " disagree ")]'):
        title = div.attrib.pop("title", "") or div.attrib.pop("data-title", "")
        heading = html.fragment_fromstring(
            f'<p class="box-title"><span class="box-label">Sources disagree</span>'
            f'{": " + inline_markup(title) if title else ""}</p>')
        div.insert(0, heading)
        div.set("role", "note")


def prefix_heading_ids(root, slug: str) -> None:
    for heading in root.xpath(".//h1|.//h2|.//h3|.//h4|.//*[@id][self::section or self::div]"):
        if heading.get("id") and not heading.get("id").startswith(slug + "-"):
            heading.set("id", f"{slug}-{heading.get('id')}")


def join_adjacent_notes(root, notes: dict) -> None:
    """Two note calls side by side (a citation and an explanatory note) become one note.

    Printed together they would read as one large number (²³), so the second note's text is
    added to the first, as Chicago style asks: one note at one place.
    """
    previous = None
    for ref in note_refs(root):
        holder = ref.getparent() if "citation" in (ref.getparent().get("class") or "") else ref
        lead = holder.text if holder is not ref else ""
        if previous is not None and holder.getprevious() is previous and not (previous.tail or "").strip() \
                and not (lead or "").strip():
            first_ref = note_refs(previous)[0] if previous.tag != "a" else previous
            first_id, second_id = first_ref.get("href")[1:], ref.get("href")[1:]
            joined = copy.deepcopy(notes[first_id])
            last = joined.findall("p")[-1] if joined.findall("p") else joined
            for paragraph in notes[second_id].findall("p") or [notes[second_id]]:
                if len(last):
                    last[-1].tail = (last[-1].tail or "") + " " + (paragraph.text or "")
                else:
                    last.text = (last.text or "") + " " + (paragraph.text or "")
                for child in paragraph:
                    last.append(copy.deepcopy(child))
            joined_id = f"{first_id}-{second_id}"
            notes[joined_id] = joined
            first_ref.set("href", f"#{joined_id}")
            remove_keeping_tail(holder)
            continue
        previous = holder


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
    def split(text: str, in_heading: bool):
        pieces, last, lead = [], 0, None
        for match in marker.pattern.finditer(text):
            heading, term_id = marker.entry_of[match.group(1)]
            anchor = anchor_id(part, counter)
            places[heading].append((anchor, part))
            if term_id and part.kind == "chapter" and term_id not in linked and not in_heading:
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

    def visit(element, in_heading: bool) -> None:
        if element.tag in SKIP_TAGS or "ix" in (element.get("class") or "").split():
            return
        in_heading = in_heading or element.tag in HEADINGS or "box-title" in (element.get("class") or "")
        children = list(element)
        if element.text:
            element.text, new = split(element.text, in_heading)
            for offset, node in enumerate(new):
                element.insert(offset, node)
        for child in children:
            visit(child, in_heading)
            if child.tail:
                child.tail, new = split(child.tail, in_heading)
                position = element.index(child)
                for offset, node in enumerate(new):
                    element.insert(position + 1 + offset, node)

    visit(root, False)


def build_index(places) -> list[IndexEntry]:
    entries = []
    for heading, marks in places.items():
        groups = [(title, [anchor for anchor, part in marks if part.title == title])
                  for title in dict.fromkeys(part.title for _, part in marks)]
        entries.append(IndexEntry(heading, sort_key(heading), [anchor for anchor, _ in marks], groups))
    return sorted(entries, key=lambda e: e.sort_key)


def sort_key(heading: str) -> str:
    text = re.sub(r"[^\w ,]", "", plain(heading))
    return re.sub(r"^(The|A|An) ", "", text).casefold()  # works sort by their first significant word
