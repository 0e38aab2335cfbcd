"""The book as plain data for the templates: parts, apparatus and sources with their HTML.

Built once from the gathered input and pandoc's HTML, then shared by the PDF and EPUB writers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup, escape

from .config import BookConfig
from .html import RenderedHTML
from .inline import plain
from .pipeline import Gathered


# The generated back matter, in book order: (anchor id, title).
BACK_MATTER = [{"id": "answers", "title": "Answers to the Self-Check Questions"},
               {"id": "timeline", "title": "Timeline"}, {"id": "people", "title": "Who’s Who"},
               {"id": "glossary", "title": "Glossary"},
               {"id": "disagreements", "title": "Where the Sources Disagree"},
               {"id": "sources", "title": "Sources"}, {"id": "index", "title": "Index"}]


@dataclass
class ReadingView:
    source_id: str
    label: str
    why: str  # HTML


@dataclass
class PartView:
    kind: str  # "front" or "chapter"
    slug: str
    title: str
    number: int | None
    body: str  # HTML
    aims: list[str] = field(default_factory=list)  # HTML
    key_terms: list[tuple[str, str]] = field(default_factory=list)  # (term id, headword)
    summary: str = ""
    questions: list[str] = field(default_factory=list)
    further_reading: list[ReadingView] = field(default_factory=list)
    selfcheck: list = field(default_factory=list)  # [SelfCheckView] (book/classroom_view.py)

    @property
    def anchor(self) -> str:
        return f"{'ch' if self.kind == 'chapter' else 'part'}-{self.slug}"

    @property
    def label(self) -> str:
        return f"Chapter {self.number}" if self.number else ""


@dataclass
class TermView:
    id: str
    term: str
    abbr: str
    definition: str


@dataclass
class PersonView:
    id: str
    name: str
    sort: str
    cyrillic: str
    dates: str
    variants: list[str]
    about: str


@dataclass
class EventView:
    date: str
    when: str
    event: str
    chapter_slug: str
    chapter_title: str
    year: str
    id: str = ""  # the timeline entry's stable id


@dataclass
class SourceView:
    id: str
    entry: str  # the Chicago bibliography entry, HTML
    note: str  # our annotation, HTML
    kind: str
    spans: str  # "001_….txt, lines 1–99"
    uncertain: list[str]


@dataclass
class SideView:
    cite: Markup  # "Lenin, quoted in Simkin, “Nikolay Bukharin,” para. 14"
    says: str  # HTML
    quote: str


@dataclass
class ConflictView:
    id: str
    question: str  # HTML
    sides: list[SideView]
    conclusion: str  # HTML
    places: list = field(default_factory=list)  # [(anchor, part title)]: where the guide discusses it

    @property
    def anchor(self) -> str:
        return f"conflict-{self.id}"


@dataclass
class IndexEntry:
    heading: str
    sort_key: str
    anchors: list[str]  # ids of the marked places, in book order
    groups: list = field(default_factory=list)  # [(part title, [anchors])], in book order
    # The page references to print in every format, as (anchor, css class): one per page, with runs
    # of three or more consecutive pages printed as ranges (first, then "range-end").
    refs: list = field(default_factory=list)
    group_refs: list = field(default_factory=list)  # [(part title, refs)]
    see: str = ""  # a cross-reference instead of places: "NEP, see New Economic Policy"


@dataclass
class BookView:
    config: BookConfig
    front: list[PartView]
    chapters: list[PartView]
    events: list[EventView]
    people: list[PersonView]
    terms: list[TermView]
    sources: list[SourceView]
    notes: dict  # note id -> lxml element (from RenderedHTML)
    markdown: dict[str, str] = field(default_factory=dict)  # file -> text, to locate problems
    index: list[IndexEntry] = field(default_factory=list)
    conflicts: list[ConflictView] = field(default_factory=list)  # the register, in its own order
    teacher: list = field(default_factory=list)  # [TeacherView]: only the teacher's edition prints them

    def locate(self, needle: str) -> dict:
        """File and line where an editor wrote something (a URL, say), for a diagnostic."""
        for path, text in self.markdown.items():
            position = text.find(needle)
            if position >= 0:
                return {"file": path, "line": text.count("\n", 0, position) + 1}
        return {}

    @property
    def year(self) -> int:
        return self.config.date.year

    @property
    def parts(self) -> list[PartView]:
        return self.front + self.chapters


def build_view(book: Gathered, rendered: RenderedHTML) -> BookView:
    from .classroom_view import selfcheck_views, teacher_views

    terms = {t.id: t for t in book.apparatus.terms}
    selfcheck = selfcheck_views(book, rendered)
    parts = []
    for part in book.parts:
        slug, meta = part.slug, part.meta
        parts.append(PartView(
            kind=part.kind, slug=slug, title=meta.title, number=part.number,
            body=rendered.inner(f"body-{slug}"),
            aims=[rendered.inline(f"aim-{slug}-{i}") for i in range(len(meta.aims))],
            key_terms=[(t, terms[t].term) for t in meta.key_terms if t in terms],
            summary=rendered.inner(f"summary-{slug}") if meta.summary else "",
            questions=[rendered.inline(f"question-{slug}-{i}") for i in range(len(meta.questions))],
            further_reading=[ReadingView(item.source, book.sources[item.source].meta.get("label", item.source),
                                         rendered.inline(f"reading-{slug}-{i}"))
                             for i, item in enumerate(meta.further_reading)],
            selfcheck=selfcheck.get(slug, []),
        ))
    titles = {p.slug: p.title for p in parts}
    events = [EventView(e.date, e.when, rendered.inline(f"event-{e.id}"), e.chapter, titles.get(e.chapter, ""),
                        e.date[:4], e.id) for e in book.apparatus.events]
    people = sorted((PersonView(p.id, p.name, p.sort, p.cyrillic, p.dates, spelled_otherwise(p.name, p.variants),
                                rendered.inline(f"person-{p.id}")) for p in book.apparatus.people),
                    key=lambda p: p.sort.casefold())
    glossary = sorted((TermView(t.id, t.term, t.abbr, rendered.inline(f"term-{t.id}"))
                       for t in book.apparatus.terms), key=lambda t: plain(t.term).casefold())
    sources = []
    for sid, src in sorted(book.sources.items(), key=lambda kv: bibliography_sort_key(rendered, kv[0])):
        spans = describe_spans(src.spans)
        entry = rendered.bibliography.get(sid)
        sources.append(SourceView(sid, inner_or_empty(entry), rendered.inner(f"srcnote-{sid}"),
                                  src.meta.get("kind", ""), spans, list(src.meta.get("uncertain", []))))
    markdown = {p.path: "\n" * (p.body_line - 1) + p.body for p in book.parts}
    conflicts = [ConflictView(c.id, rendered.inline(f"conflict-{c.id}-question"),
                              [SideView(side_citation(book.sources[side.source].meta, side.speaker, side.paragraphs),
                                        rendered.inline(f"conflict-{c.id}-side-{j}"), side.quote)
                               for j, side in enumerate(c.sides)],
                              rendered.inline(f"conflict-{c.id}-conclusion"))
                 for c in book.register.entries]
    chapters = [p for p in parts if p.kind == "chapter"]
    return BookView(book.config, [p for p in parts if p.kind == "front"], chapters,
                    events, people, glossary, sources, rendered.notes, markdown, conflicts=conflicts,
                    teacher=teacher_views(book, rendered, chapters))


def side_citation(meta: dict, speaker: str, paragraphs: list[int]) -> Markup:
    """A short note in the guide's Chicago style: Author, “Short Title,” para. N (books in italics)."""
    authors = meta.get("author") or []
    title = escape(meta.get("title-short") or meta.get("title", ""))
    locator = f"para. {paragraphs[0]}" if len(paragraphs) == 1 else f"paras. {', '.join(map(str, paragraphs))}"
    titled = Markup(f"<em>{title}</em>, ") if meta.get("type") == "book" else Markup(f"“{title},” ")
    lead = escape(f"{speaker}, quoted in ") if speaker else Markup("")
    author = escape(authors[0].get("family", "") + ", ") if authors else Markup("")
    return lead + author + titled + escape(locator)


SAVED_PAGES = {"000": "1", "001": "2", "003": "3"}  # the seed files in the order the notes name them


def describe_spans(spans: list[tuple[str, int, int]]) -> str:
    """[("001_….txt", 267, 268), ("001_….txt", 303, 441)] -> "2, lines 267–268, 303–441"."""
    by_file: dict[str, list[str]] = {}
    for file, first, last in spans:
        by_file.setdefault(SAVED_PAGES.get(file[:3], file), []).append(f"{first}–{last}")
    return "; ".join(f"{page}, lines {', '.join(ranges)}" for page, ranges in by_file.items())


def spelled_otherwise(name: str, variants: list[str]) -> list[str]:
    """The variants worth showing a reader: not the surname alone or another part of the name."""
    return [v for v in variants if v not in name]


def inner_or_empty(element) -> Markup:
    from .html import inner_html

    return Markup(inner_html(element).strip()) if element is not None else Markup("")


def bibliography_sort_key(rendered: RenderedHTML, sid: str) -> int:
    """Keep citeproc's own bibliography order (by author, then title)."""
    order = list(rendered.bibliography)
    return order.index(sid) if sid in order else len(order)

