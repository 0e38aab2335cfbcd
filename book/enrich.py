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

from . import cache
from .apparatus import Apparatus
from .html import append_inline, inner_html, note_paragraphs, note_refs, remove_keeping_tail
from .inline import inline_markup, plain
from .memo import Memo
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
                if form[:1].islower():  # also at the start of a sentence
                    self.entry_of.setdefault(form[:1].upper() + form[1:], (term.term, term.id))
        for subject in apparatus.subjects:
            for form in subject.match:
                self.entry_of.setdefault(form, (subject.heading, ""))
        forms = sorted(self.entry_of, key=len, reverse=True)
        self.pattern = re.compile(r"(?<![\w-])(" + alternatives(forms) + r")(?![\w-])") if forms else None
        self.signature = cache.key(sorted(self.entry_of.items()))  # all that marking reads of the apparatus


def alternatives(forms: list[str]) -> str:
    """A regular expression that matches what "form1|form2|…" matches, the forms grouped by their
    first character: at a place in the text, only the forms that begin with its letter are tried
    (hundreds of alternatives, each tried at every character, were most of the index's cost). Within
    a group the forms keep their order, which decides the match; between groups it cannot matter."""
    groups: dict[str, list[str]] = {}
    for form in forms:
        groups.setdefault(form[0], []).append(form[1:])
    return "|".join(re.escape(first) + "(?:" + "|".join(re.escape(rest) for rest in rests) + ")"
                    for first, rests in groups.items())


class Counter:
    """The numbers of the index anchors, across the book; `last` is the last one given."""

    def __init__(self) -> None:
        self.last = 0

    def __next__(self) -> int:
        self.last += 1
        return self.last


def enrich(view: BookView, apparatus: Apparatus) -> None:
    marker = Marker(apparatus)
    places: dict[str, list[tuple[str, PartView]]] = defaultdict(list)  # (anchor, part)
    counter = Counter()
    discussed: dict[str, list[tuple[str, str]]] = defaultdict(list)  # conflict id -> [(anchor, part title)]
    for part in view.parts:
        start = counter.last
        root = html.fragment_fromstring(part.body or "<p></p>", create_parent="div")
        make_boxes(root)
        prefix_heading_ids(root, part.slug)
        mark_conflicts(root, part, discussed, counter)
        join_adjacent_notes(root, view.notes)
        for ref in note_refs(root):  # a note may discuss a disagreement too: its anchor travels with the note
            note_id = ref.get("href").lstrip("#")
            if view.notes[note_id].xpath(".//*[@data-conflict]"):  # a copy: the rendering's notes are shared
                view.notes[note_id] = copy.deepcopy(view.notes[note_id])  # from build to build (incremental.assemble)
                mark_conflicts(view.notes[note_id], part, discussed, counter)
        mark_explicit(root, part, places, counter)
        part.body = Markup(marked_text(root, marker, part, places, counter, start))
    for conflict in view.conflicts:
        conflict.places = discussed.get(conflict.id, [])
    view.index = sorted(build_index(places) + cross_references(apparatus, places) + disagreements_entry(discussed),
                        key=lambda e: e.sort_key)


def mark_conflicts(root, part: PartView, discussed, counter) -> None:
    """A box or passage that names a disagreement of the register (conflict="id") gets an anchor,
    so that the register's page can point to it."""
    for element in root.xpath(".//*[@data-conflict]"):
        anchor = element.get("id") or anchor_id(part, counter)
        element.set("id", anchor)
        for conflict_id in element.get("data-conflict").split():
            discussed[conflict_id].append((anchor, part.title))


DISAGREEMENTS = "disagreements between sources"


def disagreements_entry(discussed) -> list[IndexEntry]:
    """The index points to every place the guide discusses a disagreement, and to the register's page."""
    if not discussed:
        return []
    # Anchors are numbered in book order, so every place appears once, in the order a reader meets it.
    marks = sorted({place for places in discussed.values() for place in places}, key=lambda p: anchor_order(p[0]))
    marks.append(("disagreements", "Where the Sources Disagree"))
    titles = list(dict.fromkeys(title for _, title in marks))
    groups = [(title, [anchor for anchor, t in marks if t == title]) for title in titles]
    return [IndexEntry(DISAGREEMENTS, sort_key(DISAGREEMENTS), [anchor for anchor, _ in marks], groups)]


def anchor_order(anchor: str) -> int:
    number = anchor.rpartition("-")[2]
    return int(number) if number.isdigit() else 0


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
            last = note_paragraphs(joined)[-1]
            for paragraph in note_paragraphs(notes[second_id]):
                append_inline(last, paragraph, " ")
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


def marked_text(root, marker: Marker, part: PartView, places, counter, start: int) -> str:
    """The part's markup with the index marks and glossary links of mark_text, and Russian marked.
    The slowest step of enrich. The tree it works on is a function of the part's markup as
    rendered, its slug and the number of the anchor before the part (the steps before give anchors
    and join note calls by the markup alone); what it adds, of that tree, the apparatus, the part's
    kind and title. In a --watch session an edit elsewhere (that does not move the numbers) finds
    it remembered: the key is made of strings that are the same objects from build to build, so
    looking it up costs no hashing of the text."""
    key = ("marked", part.body, part.slug, part.kind, part.title, start, marker.signature)
    done = _MARKED.lookup(key)
    if done is None:
        marks: list[tuple[str, str]] = []
        if marker.pattern is not None:
            mark_text(root, marker, part, marks, counter)
        mark_russian(root)
        done = (inner_html(root), marks, counter.last)
        _MARKED.keep(key, done)
    markup, marks, counter.last = done
    for heading, anchor in marks:
        places[heading].append((anchor, part))
    return markup


_MARKED = Memo(16 << 20, lambda done: len(done[0]) + 100 * len(done[1]))  # key -> (markup, marks, last anchor)


def mark_text(root, marker: Marker, part: PartView, marks: list[tuple[str, str]], counter) -> None:
    """Every name, term and work of the apparatus in the text becomes an index mark (its index
    heading and anchor added to marks, in order); a term's first mark in a chapter links to the
    glossary."""
    linked: set[str] = set()

    def split(text: str, in_heading: bool):
        pieces, last, lead = [], 0, None
        for match in marker.pattern.finditer(text):
            heading, term_id = marker.entry_of[match.group(1)]
            anchor = anchor_id(part, counter)
            marks.append((heading, anchor))
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


def cross_references(apparatus: Apparatus, places) -> list[IndexEntry]:
    """"NEP, see New Economic Policy": a reader looks a term up under its short name too."""
    entries = []
    for term in apparatus.terms:
        if term.term not in places:
            continue
        shorts = [term.abbr] if term.abbr else []
        shorts += [m for m in term.match if " " not in m and m[:1].isupper() and m.lower() not in plain(term.term).lower()]
        for short in dict.fromkeys(shorts):
            if short and short != plain(term.term):
                entries.append(IndexEntry(short, sort_key(short), [], see=term.term))
    return entries


CYRILLIC = re.compile(r"[\u0400-\u04FF]+(?:[\s-]+[\u0400-\u04FF]+)*")


def mark_russian(root) -> None:
    """Russian in Cyrillic gets lang="ru": e-readers then choose the right voice and hyphenation."""
    def wrapped(text: str):
        matches = list(CYRILLIC.finditer(text))
        pieces = []
        for number, match in enumerate(matches):
            span = html.Element("span", {"lang": "ru"})
            span.text = match.group(0)
            end = matches[number + 1].start() if number + 1 < len(matches) else len(text)
            span.tail = text[match.end():end]
            pieces.append(span)
        return (text[:matches[0].start()] if matches else text), pieces

    for element in list(root.iter()):
        if element.get("lang") == "ru" or not isinstance(element.tag, str):
            continue
        if element.text and CYRILLIC.search(element.text):
            element.text, new = wrapped(element.text)
            for offset, node in enumerate(new):
                element.insert(offset, node)
        if element is not root and element.tail and CYRILLIC.search(element.tail):
            element.tail, new = wrapped(element.tail)
            parent = element.getparent()
            position = parent.index(element)
            for offset, node in enumerate(new):
                parent.insert(position + 1 + offset, node)


def build_index(places) -> list[IndexEntry]:
    entries = []
    for heading, marks in places.items():
        titles = list(dict.fromkeys(part.title for _, part in marks))
        groups = [(title, [anchor for anchor, part in marks if part.title == title]) for title in titles]
        entries.append(IndexEntry(heading, sort_key(heading), [anchor for anchor, _ in marks], groups))
    return sorted(entries, key=lambda e: e.sort_key)


def sort_key(heading: str) -> str:
    text = re.sub(r"[^\w ,]", "", plain(heading))
    return re.sub(r"^(The|A|An) ", "", text).casefold()  # works sort by their first significant word
