"""The flashcards' content, taken from the book model: one card per glossary term, person and
timeline event, as the book renders them (italics, Cyrillic, the notes' Chicago short forms).

A card keeps the stable id of its entry, which is its identity in every flashcard app; its fields
are HTML for the Anki deck, and its front and back are also given as plain text for the CSV files.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from lxml import html
from markupsafe import escape

from .enrich import mark_russian
from .html import inner_html, note_paragraphs, note_refs
from .inline import inline_markup, plain
from .model import BookView

# The sub-decks, in the order a student meets them, with their note type's fields (in order).
# The fields and their order are part of each note type's identity in a student's collection:
# add a field at the end if one is needed, never rename, drop or reorder one.
DECKS = {
    "terms": ("Terms", ["Term", "Abbreviation", "Definition", "Sources", "Id"]),
    "people": ("People", ["Name", "Dates", "Cyrillic", "About", "Variants", "Sources", "Id"]),
    "dates": ("Dates", ["Question", "When", "Event", "Chapter", "Sources", "Date", "Id"]),
}
KEEP_ATTRIBUTES = {"lang", "dir", "title"}
MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
# A date written in an event's text: "1905", "the 1920s", "1929–30", "December 1937", "9 and 11 August
# 1918", "12 March". Blanked on the front of a date card, which asks for it.
YEAR = r"(?:1\d{3}|20\d{2})(?:s|\s*[–-]\s*\d{2,4})?\b"
DAY = r"\d{1,2}(?:\s+and\s+\d{1,2})?"
DATE_IN_TEXT = re.compile(rf"\b(?:{DAY}\s+)?(?:{MONTH}\s+)?{YEAR}|\b{DAY}\s+{MONTH}\b")
BLANK = "[…]"


@dataclass
class Card:
    deck: str  # a key of DECKS
    id: str  # the entry's stable id
    fields: list[str]  # HTML, in the order of DECKS[deck]'s fields
    front: str  # plain text, for the CSV
    back: str  # plain text, for the CSV
    sort: str  # the sort field's text, as Anki keeps it (without HTML): its browser sorts by it
    tags: list[str] = field(default_factory=list)


@dataclass
class Rendered:
    """One entry's text as a card shows it: HTML with note calls numbered 1, 2, … and its notes."""

    html: str
    text: str  # the same as plain text, note calls as [1]
    sources: list[str]  # each note's HTML
    source_texts: list[str]

    @property
    def sources_html(self) -> str:
        items = "".join(f"<li>{s}</li>" for s in self.sources)
        return f'<ol class="sources">{items}</ol>' if items else ""

    @property
    def sources_text(self) -> str:
        return " ".join(f"[{n}] {s}" for n, s in enumerate(self.source_texts, start=1))


def cards_of(view: BookView) -> list[Card]:
    chapters = {part.slug: part for part in view.chapters}
    key_term_tags: dict[str, list[str]] = {}
    for part in view.chapters:
        for term_id, _ in part.key_terms:
            key_term_tags.setdefault(term_id, []).append(chapter_tag(part))
    cards = [term_card(t, view, key_term_tags.get(t.id, [])) for t in view.terms]
    cards += [person_card(p, view) for p in view.people]
    cards += [date_card(e, view, chapters.get(e.chapter_slug)) for e in view.events]
    return cards


def term_card(term, view: BookView, tags: list[str]) -> Card:
    text = render(term.definition, view.notes)
    headword = str(inline_markup(term.term))
    front = text_of(fragment(headword)) + (f" ({term.abbr})" if term.abbr else "")
    return Card("terms", term.id, [headword, term.abbr, text.html, text.sources_html, term.id], front,
                joined(text.text, sources(text)), plain(term.term), tags)


def person_card(person, view: BookView) -> Card:
    text = render(person.about, view.notes)
    variants = ", ".join(person.variants)
    lead = " ".join(filter(None, [person.cyrillic, f"({person.dates})" if person.dates else ""]))
    back = joined(sentence(lead) if lead else "", text.text, f"Also written: {variants}." if variants else "",
                  sources(text))
    return Card("people", person.id, [str(escape(person.name)), str(escape(person.dates)),
                                      str(escape(person.cyrillic)), text.html, str(escape(variants)),
                                      text.sources_html, person.id], person.name, back, person.name)


def date_card(event, view: BookView, chapter) -> Card:
    text = render(event.event, view.notes)
    question = blank_dates(event.event)
    where = f"Chapter {chapter.number}, {chapter.title}" if chapter else ""
    when = str(inline_markup(event.when))
    back = joined(sentence(text_of(fragment(when))), text.text, f"({where}.)" if where else "", sources(text))
    return Card("dates", event.id, [question.html, when, text.html, str(escape(where)),
                                    text.sources_html, event.date, event.id],
                f"When? {question.text}", back, event.date, [chapter_tag(chapter)] if chapter else [])


def chapter_tag(part) -> str:
    """An Anki tag (no spaces) that lets a teacher set the cards of one chapter: "ch1-life"."""
    return f"ch{part.number}-{part.slug}"


def render(markup, notes: dict) -> Rendered:
    """The book's HTML for an entry, cut down to what a card needs: note calls become superscript
    numbers of the card's own, the notes its list of sources; links and the book's internal
    attributes go; Russian in Cyrillic is marked lang="ru"."""
    root = fragment(markup)
    found = []
    for ref in note_refs(root):
        note = notes[ref.get("href").lstrip("#")]
        found.append(" ".join(inner_html(clean(copy.deepcopy(p))).strip() for p in note_paragraphs(note)))
        parent = ref.getparent()
        holder = parent if "citation" in (parent.get("class") or "").split() and len(parent) == 1 else ref
        call = html.Element("sup", {"class": "ref"})
        call.text = str(len(found))
        call.tail = holder.tail
        holder.getparent().replace(holder, call)
    clean(root)
    return Rendered(inner_html(root).strip(), text_of(root), found, [text_of(fragment(s)) for s in found])


def blank_dates(markup) -> Rendered:
    """The event without its note calls and with every date in it blanked: the front of a date card."""
    root = fragment(markup)
    for ref in note_refs(root):
        parent = ref.getparent()
        holder = parent if "citation" in (parent.get("class") or "").split() and len(parent) == 1 else ref
        holder.drop_tree()  # keeps its tail
    clean(root)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.text:
            element.text = DATE_IN_TEXT.sub(BLANK, element.text)
        if element is not root and element.tail:
            element.tail = DATE_IN_TEXT.sub(BLANK, element.tail)
    return Rendered(inner_html(root).strip(), text_of(root), [], [])


def fragment(markup) -> html.HtmlElement:
    return html.fragment_fromstring(str(markup), create_parent="div")


def clean(root):
    """Keep the text's own markup (emphasis, superscripts, lang); drop links, which lead nowhere
    on a card, and the spans and attributes that only the book's pages use."""
    for element in list(root.iter()):
        if element is root or not isinstance(element.tag, str):
            continue
        if element.tag == "a" or (element.tag == "span" and not element.get("lang")):
            element.drop_tag()
            continue
        for name in list(element.attrib):
            if name not in KEEP_ATTRIBUTES and not (name == "class" and element.get("class") == "ref"):
                del element.attrib[name]
    mark_russian(root)
    return root


def text_of(root) -> str:
    """Plain text, a note call as "[1]"."""
    root = copy.deepcopy(root)
    for call in root.xpath('.//sup[@class="ref"]'):
        call.text = f"[{call.text}]"
    return " ".join(root.text_content().split())


def sources(text: Rendered) -> str:
    return f"Sources: {text.sources_text}" if text.sources else ""


def sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else f"{text}."


def joined(*pieces: str) -> str:
    return " ".join(p for p in pieces if p)
