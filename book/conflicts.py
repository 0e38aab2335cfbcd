"""The register of disagreements (sources/conflicts.yaml): every point on which sources disagree.

The build holds the guide to it: each side's paragraph exists and its quotation is there; each
entry is discussed in the guide, in a box or passage that names its id (conflict="id"), and
the guide names no id the register lacks; and the timeline, the who's who and the glossary do
not state a disputed point as fact: an entry that touches one cites every side or names the id.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .apparatus import Apparatus
from .check import LOCATOR
from .convert import Snippet
from .diagnostics import BuildError, Diagnostic, Report
from .quotes import nearest, occurs_in
from .sources import Source
from .yamlsource import describe, line_for, load_with_lines, read_text

REGISTER = "sources/conflicts.yaml"
# conflict="id" or conflict="id other": in a box's attributes or a [span]{…}. Read from the
# Markdown the editor wrote, so that a diagnostic can give the line and column.
NAMED = re.compile(r'\bconflict="([^"]*)"')
CITATION = re.compile(r"\[([^\[\]]*@[^\[\]]*)\]")  # a pandoc citation group: [@a, para. 3; @b, paras. 1, 2]
CITED_KEY = re.compile(r"(?<![\w.])@([A-Za-z0-9][\w-]*)")
DISCUSSING = ("body-",)  # the snippets whose mention counts as discussion: chapters and front matter


class Side(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str
    para: int | list[int]
    says: str  # our summary, Markdown
    quote: str = ""  # exact words that must occur in the paragraph(s)
    speaker: str = ""  # who is quoted, when the source quotes someone

    @property
    def paragraphs(self) -> list[int]:
        return [self.para] if isinstance(self.para, int) else list(self.para)


class Touches(BaseModel):
    model_config = ConfigDict(extra="forbid")
    people: list[str] = []
    terms: list[str] = []
    events: list[str] = []  # timeline `date` keys: every event with that date


class Conflict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    question: str
    sides: list[Side] = Field(min_length=2)
    conclusion: str
    touches: Touches = Touches()
    phrases: list[str] = []  # any apparatus entry containing one of these touches the point too


@dataclass
class Register:
    entries: list[Conflict]
    lines: dict[tuple, int]

    def line(self, *path) -> int | None:
        return line_for(self.lines, path)

    def by_id(self) -> dict[str, Conflict]:
        return {entry.id: entry for entry in self.entries}


def load_register(root: Path) -> Register:
    """The register, or an empty one if the book has none."""
    path = root / REGISTER
    if not path.exists():
        return Register([], {})
    data, lines = load_with_lines(read_text(path, REGISTER), REGISTER)
    try:
        entries = TypeAdapter(list[Conflict]).validate_python(data or [])
    except ValidationError as exc:
        raise BuildError([Diagnostic("error", "conflicts.invalid", describe(e), file=REGISTER,
                                     line=line_for(lines, e["loc"])) for e in exc.errors()]) from None
    seen: set[str] = set()
    problems = []
    for index, entry in enumerate(entries):
        if entry.id in seen:
            problems.append(Diagnostic("error", "conflicts.duplicate-id", f"id {entry.id!r} is used twice",
                                       file=REGISTER, line=line_for(lines, (index, "id"))))
        seen.add(entry.id)
    if problems:
        raise BuildError(problems)
    return Register(entries, lines)


def register_snippets(register: Register) -> list[Snippet]:
    """The register's Markdown (questions, sides, conclusions), rendered for the back matter."""
    snippets = []
    for i, entry in enumerate(register.entries):
        snippets.append(Snippet(f"conflict-{entry.id}-question", entry.question, REGISTER,
                                register.line(i, "question") or 1, False))
        snippets += [Snippet(f"conflict-{entry.id}-side-{j}", side.says, REGISTER,
                             register.line(i, "sides", j, "says") or 1, False)
                     for j, side in enumerate(entry.sides)]
        snippets.append(Snippet(f"conflict-{entry.id}-conclusion", entry.conclusion, REGISTER,
                                register.line(i, "conclusion") or 1, False))
    return snippets


def check_register(register: Register, sources: dict[str, Source], apparatus: Apparatus,
                   snippets: list[Snippet], report: Report) -> None:
    check_sides(register, sources, report)
    check_discussion(register, snippets, report)
    check_apparatus(register, apparatus, snippets, report)


def check_sides(register: Register, sources: dict[str, Source], report: Report) -> None:
    for i, entry in enumerate(register.entries):
        for j, side in enumerate(entry.sides):
            source = sources.get(side.source)
            if source is None:
                report.error("conflicts.unknown-source", f"{entry.id}: source {side.source!r} is not in "
                             f"sources/registry.yaml", file=REGISTER, line=register.line(i, "sides", j, "source"))
                continue
            missing = [n for n in side.paragraphs if source.paragraph(n) is None]
            if missing:
                report.error("conflicts.bad-paragraph", f"{entry.id}: '{side.source}' has no paragraph {missing[0]} "
                             f"(it has {len(source.paragraphs)}); see python -m book.sources {side.source}",
                             file=REGISTER, line=register.line(i, "sides", j, "para"))
                continue
            texts = [(n, source.paragraph(n).text) for n in side.paragraphs]
            if side.quote and not any(occurs_in(side.quote, text) for _, text in texts):
                found = nearest(side.quote, texts)
                hint = f"nearest text in '{side.source}', para. {found[0]}: “{found[1]}”" if found else None
                report.error("conflicts.quote-mismatch", f"{entry.id}: quote “{side.quote}” is not in "
                             f"'{side.source}', para. {', '.join(map(str, side.paragraphs))}",
                             file=REGISTER, line=register.line(i, "sides", j, "quote"), hint=hint)


@dataclass(frozen=True)
class Mention:
    id: str
    snippet: Snippet
    line: int
    column: int | None


def mentions(snippets: list[Snippet]) -> list[Mention]:
    """Every conflict="…" in the book's Markdown, with where it was written."""
    found = []
    for snippet in snippets:
        if 'conflict="' not in snippet.markdown:  # most: a plain search is many times quicker than the pattern's
            continue
        for match in NAMED.finditer(snippet.markdown):
            before = snippet.markdown[:match.start()]
            line = snippet.line + before.count("\n") if snippet.verbatim else snippet.line
            column = match.start() - (before.rfind("\n") + 1) + 1 if snippet.verbatim else None
            found += [Mention(name, snippet, line, column) for name in match.group(1).split()]
    return found


def check_discussion(register: Register, snippets: list[Snippet], report: Report) -> None:
    known = register.by_id()
    discussed = set()
    for mention in mentions(snippets):
        if mention.id not in known:
            report.error("conflicts.unknown-id", f"conflict {mention.id!r} is not in {REGISTER}; add an entry "
                         "or correct the id", file=mention.snippet.file, line=mention.line, column=mention.column)
        elif mention.snippet.id.startswith(DISCUSSING):
            discussed.add(mention.id)
    for i, entry in enumerate(register.entries):
        if entry.id not in discussed:
            report.error("conflicts.undiscussed", f"{entry.id}: no chapter or front-matter page discusses this "
                         f"disagreement; name it in a box (::: {{.disagree conflict=\"{entry.id}\"}}) or a passage "
                         f"([…]{{conflict=\"{entry.id}\"}})", file=REGISTER, line=register.line(i, "id"))


APPARATUS_PREFIX = {"people": "person-", "terms": "term-"}


def check_apparatus(register: Register, apparatus: Apparatus, snippets: list[Snippet], report: Report) -> None:
    """An apparatus entry that touches a disputed point must cite two of its sides or name the id."""
    by_id = {s.id: s for s in snippets}
    people = {p.id for p in apparatus.people}
    terms = {t.id for t in apparatus.terms}
    events: dict[str, list[str]] = {}
    for event in apparatus.events:
        events.setdefault(event.date, []).append(f"event-{event.id}")
    entries = [(s.id, s.markdown.casefold()) for s in snippets if s.id.startswith(("person-", "term-", "event-"))]
    for i, entry in enumerate(register.entries):
        touched: list[str] = []
        for key, ids, known in (("people", entry.touches.people, people), ("terms", entry.touches.terms, terms)):
            for j, item in enumerate(ids):
                if item not in known:
                    report.error("conflicts.unknown-touch", f"{entry.id}: {key} has no entry {item!r}",
                                 file=REGISTER, line=register.line(i, "touches", key, j))
                touched.append(APPARATUS_PREFIX[key] + item)
        for j, date in enumerate(entry.touches.events):
            if date not in events:
                report.error("conflicts.unknown-touch", f"{entry.id}: the timeline has no event dated {date!r}",
                             file=REGISTER, line=register.line(i, "touches", "events", j))
            touched += events.get(date, [])
        phrases = [p.casefold() for p in entry.phrases]
        touched += [snippet_id for snippet_id, folded in entries if any(p in folded for p in phrases)]
        for snippet_id in dict.fromkeys(touched):
            snippet = by_id.get(snippet_id)
            if snippet is None:
                continue
            if entry.id in named_in(snippet.markdown):
                continue
            cited = cited_paragraphs(snippet.markdown)
            shown = [j for j, side in enumerate(entry.sides)
                     if (side.source, None) in cited or any((side.source, n) in cited for n in side.paragraphs)]
            if len(shown) >= 2:
                continue
            sides = ", ".join(f"{side.source}, para. {'/'.join(map(str, side.paragraphs))}" for side in entry.sides)
            report.error("conflicts.unhedged", f"this entry states a point the register records as disputed "
                         f"({entry.id}: {entry.question}) but cites only {len(shown)} of its sides ({sides}); cite "
                         f"at least two sides, or name the dispute with [words]{{conflict=\"{entry.id}\"}}",
                         file=snippet.file, line=snippet.line)


@lru_cache(maxsize=4096)  # a snippet is looked at for every disagreement that touches it
def named_in(markdown: str) -> frozenset[str]:
    """The disagreements a piece of Markdown names (conflict="id ...")."""
    return frozenset(name for match in NAMED.finditer(markdown) for name in match.group(1).split())


@lru_cache(maxsize=4096)
def cited_paragraphs(markdown: str) -> frozenset[tuple[str, int | None]]:
    """(source, paragraph) for every citation in a piece of Markdown; None when it has no locator."""
    cited: set[tuple[str, int | None]] = set()
    for group in CITATION.finditer(markdown):
        for piece in group.group(1).split(";"):
            key = CITED_KEY.search(piece)
            if not key:
                continue
            locator = LOCATOR.search(piece[key.end():])
            if not locator:
                cited.add((key.group(1), None))
                continue
            for item in locator.group(1).split(","):
                first, _, last = item.replace("–", "-").partition("-")
                first, last = int(first), int(last or first)
                cited.update((key.group(1), n) for n in range(first, max(first, last) + 1))
    return frozenset(cited)
