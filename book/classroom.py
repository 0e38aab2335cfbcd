"""The classroom material: self-check questions and teacher's notes, read, turned into snippets
and checked like the chapters.

- chapters/selfcheck/<chapter file stem>.yaml: a chapter's self-check questions (printed at the
  chapter's end, answered in a key at the back; interactive on the web).
- chapters/teacher/<chapter file stem>.yaml: a chapter's teacher's notes (the teacher's edition only).

Every text value is Markdown, so it becomes a Snippet: citations, quotations and the link policy
are checked as in the chapters. Links to the guide (`[words](#id)`) must name an id the guide has.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .chapters import Part
from .convert import Snippet
from .diagnostics import BuildError, Diagnostic, Report
from .sources import Source
from .yamlsource import describe, line_for, load_with_lines, read_text

SELFCHECK_DIR = "chapters/selfcheck"
TEACHER_DIR = "chapters/teacher"
SEMINAR_MINUTES = 50
QUESTIONS_PER_CHAPTER = (8, 12)


class SelfCheckQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["choice", "order", "who"]
    question: str
    options: list[str] = Field(min_length=2, max_length=5)
    answer: int  # the right option, counted from 1
    explanation: str


class SelfCheckFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chapter: str
    questions: list[SelfCheckQuestion]


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minutes: int = Field(gt=0)
    activity: str


class ReadAloud(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str
    paras: str
    why: str

    @property
    def paragraphs(self) -> list[int]:
        """"27" -> [27]; "27–28" -> [27, 28]; "3, 5–6" -> [3, 5, 6]; [] when malformed."""
        numbers: list[int] = []
        for item in str(self.paras).split(","):
            match = re.fullmatch(r"\s*(\d+)\s*(?:[-–]\s*(\d+))?\s*", item)
            if not match:
                return []
            first, last = int(match.group(1)), int(match.group(2) or match.group(1))
            if last < first:
                return []
            numbers += range(first, last + 1)
        return numbers


class Seminar(BaseModel):
    model_config = ConfigDict(extra="forbid")
    aim: str
    steps: list[Step] = Field(min_length=1)
    read_aloud: ReadAloud


class Guidance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: list[str] = Field(min_length=1)
    open: str = ""


class TeacherFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chapter: str
    seminar: Seminar
    questions: list[Guidance]


@dataclass
class Loaded:
    """One classroom file of a chapter: where it is, what it says, and the line of each value."""

    path: str  # "chapters/selfcheck/01-life.yaml"
    part: Part
    data: SelfCheckFile | TeacherFile
    lines: dict[tuple, int]

    def line(self, *path) -> int:
        return line_for(self.lines, path) or 1


@dataclass
class Classroom:
    selfcheck: dict[str, Loaded] = field(default_factory=dict)  # chapter slug -> its questions
    teacher: dict[str, Loaded] = field(default_factory=dict)  # chapter slug -> its notes
    teacher_folder: bool = False  # the book has a teacher's edition at all


def load_classroom(root: Path, parts: list[Part]) -> Classroom:
    """Read chapters/selfcheck/ and chapters/teacher/; a file that names no chapter is an error."""
    classroom = Classroom(teacher_folder=(root / TEACHER_DIR).is_dir())
    chapters = {Path(p.path).stem: p for p in parts if p.kind == "chapter"}
    problems: list[Diagnostic] = []
    for folder, model, into in ((SELFCHECK_DIR, SelfCheckFile, classroom.selfcheck),
                                (TEACHER_DIR, TeacherFile, classroom.teacher)):
        if not (root / folder).is_dir():
            continue
        for path in sorted((root / folder).glob("*.yaml")):
            display = f"{folder}/{path.name}"
            part = chapters.get(path.stem)
            if part is None:
                problems.append(Diagnostic("error", "classroom.file", f"no chapter is called {path.stem}.md; name "
                                           f"the file after its chapter: {', '.join(f'{s}.yaml' for s in chapters)}",
                                           file=display, line=1))
                continue
            try:
                data, lines = load_with_lines(read_text(path, display, root), display)
                loaded = Loaded(display, part, model.model_validate(data or {}), lines)
            except BuildError as exc:
                problems += exc.diagnostics
                continue
            except ValidationError as exc:
                problems += [Diagnostic("error", "classroom.invalid", describe(e), file=display,
                                        line=line_for(lines, e["loc"]) or 1) for e in exc.errors()]
                continue
            into[part.slug] = loaded
    if problems:
        raise BuildError(problems)
    return classroom


def classroom_snippets(classroom: Classroom) -> list[Snippet]:
    """Every text value of the classroom files, each with the id its HTML will carry."""
    snippets = []
    for slug, loaded in classroom.selfcheck.items():
        for n, q in enumerate(loaded.data.questions):
            at = ("questions", n)
            snippets.append(Snippet(f"selfq-{slug}-{n}", q.question, loaded.path, loaded.line(*at, "question"), False))
            snippets += [Snippet(f"selfopt-{slug}-{n}-{j}", option, loaded.path, loaded.line(*at, "options", j), False)
                         for j, option in enumerate(q.options)]
            snippets.append(Snippet(f"selfexp-{slug}-{n}", q.explanation, loaded.path,
                                    loaded.line(*at, "explanation"), False))
    for slug, loaded in classroom.teacher.items():
        seminar = loaded.data.seminar
        snippets.append(Snippet(f"teachplan-{slug}-aim", seminar.aim, loaded.path, loaded.line("seminar", "aim"), False))
        snippets += [Snippet(f"teachplan-{slug}-step-{k}", step.activity, loaded.path,
                             loaded.line("seminar", "steps", k, "activity"), False)
                     for k, step in enumerate(seminar.steps)]
        snippets.append(Snippet(f"teachplan-{slug}-why", seminar.read_aloud.why, loaded.path,
                                loaded.line("seminar", "read_aloud", "why"), False))
        for i, guidance in enumerate(loaded.data.questions):
            snippets += [Snippet(f"teachpoint-{slug}-{i}-{j}", point, loaded.path,
                                 loaded.line("questions", i, "points", j), False)
                         for j, point in enumerate(guidance.points)]
            if guidance.open:
                snippets.append(Snippet(f"teachopen-{slug}-{i}", guidance.open, loaded.path,
                                        loaded.line("questions", i, "open"), False))
    return snippets


def check_classroom(classroom: Classroom, chapters: list[Part], sources: dict[str, Source], report: Report) -> None:
    """What the schema cannot say: the right chapter, the counts, the answer, the minutes, the sources."""
    for slug, loaded in classroom.selfcheck.items():
        data = loaded.data
        check_chapter_named(loaded, report)
        low, high = QUESTIONS_PER_CHAPTER
        if not low <= len(data.questions) <= high:
            report.error("selfcheck.count", f"a chapter needs {low} to {high} self-check questions, not "
                         f"{len(data.questions)}", file=loaded.path, line=loaded.line("questions"))
        for n, q in enumerate(data.questions):
            if not 1 <= q.answer <= len(q.options):
                report.error("selfcheck.answer", f"answer {q.answer} is not one of the {len(q.options)} options; "
                             "give the number of the right option, counting from 1",
                             file=loaded.path, line=loaded.line("questions", n, "answer"))
            if len(set(q.options)) != len(q.options):
                report.error("selfcheck.options", "two options are the same; each option must differ",
                             file=loaded.path, line=loaded.line("questions", n, "options"))
    for part in chapters:
        loaded = classroom.teacher.get(part.slug)
        if loaded is None:
            if classroom.teacher_folder:
                report.warning("teacher.missing", f"no teacher's notes for this chapter ({TEACHER_DIR}/"
                               f"{Path(part.path).stem}.yaml): the teacher's edition leaves it out",
                               file=part.path, line=1)
            continue
        check_teacher(loaded, part, sources, report)


def check_chapter_named(loaded: Loaded, report: Report) -> None:
    if loaded.data.chapter != loaded.part.slug:
        report.error("classroom.chapter", f"chapter: {loaded.data.chapter!r} does not match the file's chapter; "
                     f"write chapter: {loaded.part.slug}", file=loaded.path, line=loaded.line("chapter"))


def check_teacher(loaded: Loaded, part: Part, sources: dict[str, Source], report: Report) -> None:
    data = loaded.data
    check_chapter_named(loaded, report)
    asked, guided = len(part.meta.questions), len(data.questions)
    if asked != guided:
        report.error("teacher.questions", f"{guided} entries under questions, but the chapter has {asked} discussion "
                     f"questions ({part.path}); write one entry per question, in the same order",
                     file=loaded.path, line=loaded.line("questions"))
    minutes = sum(step.minutes for step in data.seminar.steps)
    if minutes != SEMINAR_MINUTES:
        report.error("teacher.minutes", f"the seminar's steps add up to {minutes} minutes; a seminar has "
                     f"{SEMINAR_MINUTES}", file=loaded.path, line=loaded.line("seminar", "steps"))
    extract = data.seminar.read_aloud
    source = sources.get(extract.source)
    if source is None:
        report.error("teacher.source", f"source {extract.source!r} is not in sources/registry.yaml",
                     file=loaded.path, line=loaded.line("seminar", "read_aloud", "source"))
        return
    numbers = extract.paragraphs
    if not numbers:
        report.error("teacher.paras", f"paras: {extract.paras!r} is not a locator; write \"27\" or \"27–28\"",
                     file=loaded.path, line=loaded.line("seminar", "read_aloud", "paras"))
    for number in numbers:
        if source.paragraph(number) is None:
            report.error("teacher.paras", f"{extract.source!r} has no paragraph {number} (it has "
                         f"{len(source.paragraphs)}); see python build.py source {extract.source}",
                         file=loaded.path, line=loaded.line("seminar", "read_aloud", "paras"))
            break


# Ids the templates give every chapter and the back matter, besides those written in the text.
def template_ids(parts: list[Part], apparatus, sources: dict[str, Source], register) -> set[str]:
    from .model import BACK_MATTER

    ids = {item["id"] for item in BACK_MATTER} | {"contents"}
    for part in parts:
        ids.add(f"{'ch' if part.kind == 'chapter' else 'part'}-{part.slug}")
        if part.kind == "chapter":
            ids |= {f"{part.slug}-{end}" for end in ("summary", "questions", "reading", "selfcheck")}
    ids |= {f"term-{t.id}" for t in apparatus.terms} | {f"person-{p.id}" for p in apparatus.people}
    ids |= {f"source-{sid}" for sid in sources} | {f"conflict-{c.id}" for c in register.entries}
    return ids


def text_ids(parts: list[Part], parsed: dict[str, dict]) -> set[str]:
    """The ids written in the parts' text, as the outputs carry them: headings (pandoc's automatic
    ids too) and divs get the part's slug in front (enrich.prefix_heading_ids); spans keep theirs.
    `parsed` is what book/incremental.py found in each snippet."""
    ids = set()
    for part in parts:
        for kind, anchor in parsed.get(f"body-{part.slug}", {}).get("anchors", []):
            prefixed = kind != "Span" and not anchor.startswith(part.slug + "-")
            ids.add(f"{part.slug}-{anchor}" if prefixed else anchor)
    return ids


def check_guide_links(snippets: list[Snippet], parsed: dict[str, dict], known: set[str], report: Report) -> None:
    """A link to #id must land somewhere: a heading, a passage anchor or a page of the book."""
    from .policy import locate

    for snippet in snippets:
        for target in parsed.get(snippet.id, {}).get("links", []):
            if target[1:] not in known:
                report.error("link.target", f"no place in the guide has the id '{target[1:]}'; link to a "
                             "heading's id (the chapter's slug, a hyphen, the heading's automatic id) or to a "
                             "passage anchor written as []{#id} at the start of its paragraph",
                             **locate(snippet, target))
