"""The structured reference data kept beside the chapters: glossary, who's who, timeline."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from .diagnostics import BuildError, Diagnostic
from .yamlsource import describe, line_for, load_with_lines, read_text


class Term(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    term: str
    abbr: str = ""
    match: list[str] = []
    definition: str


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str
    sort: str
    cyrillic: str = ""
    dates: str = ""
    variants: list[str] = []
    about: str
    index: bool = True  # false for the book's subject, who is on every page

    @property
    def forms(self) -> list[str]:
        return [self.name, *self.variants]


class Subject(BaseModel):
    """An index entry that is neither a person nor a glossary term (a book, say)."""

    model_config = ConfigDict(extra="forbid")
    heading: str
    match: list[str] = Field(min_length=1)


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9-]+$")  # the event's name for good: flashcards know it by this
    date: str
    when: str
    event: str
    chapter: str

    @field_validator("date", mode="before")
    @classmethod
    def _iso(cls, value) -> str:
        value = value.isoformat() if isinstance(value, dt.date) else str(value)
        if not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", value):
            raise ValueError("date must be YYYY, YYYY-MM or YYYY-MM-DD")
        return value


@dataclass
class Apparatus:
    terms: list[Term]
    people: list[Person]
    events: list[Event]
    subjects: list[Subject]
    lines: dict[str, dict[tuple, int]]  # file -> key path -> line

    def line(self, file: str, *path) -> int | None:
        return line_for(self.lines.get(file, {}), path)


FILES = {"glossary": ("chapters/glossary.yaml", Term),
         "people": ("chapters/people.yaml", Person),
         "timeline": ("chapters/timeline.yaml", Event),
         "subjects": ("chapters/subjects.yaml", Subject)}


OPTIONAL = {"subjects"}


def load_apparatus(root: Path) -> Apparatus:
    loaded, lines, problems = {}, {}, []
    for key, (rel, model) in FILES.items():
        if key in OPTIONAL and not (root / rel).exists():
            loaded[key], lines[rel] = [], {}
            continue
        try:
            data, file_lines = load_with_lines(read_text(root / rel, rel, root), rel)
        except BuildError as exc:
            problems.extend(exc.diagnostics)
            continue
        lines[rel] = file_lines
        try:
            loaded[key] = TypeAdapter(list[model]).validate_python(data or [])
        except ValidationError as exc:
            problems.extend(
                Diagnostic("error", "apparatus.invalid", describe(e),
                           file=rel, line=line_for(file_lines, e["loc"]))
                for e in exc.errors()
            )
    if problems:
        raise BuildError(problems)
    for key, (rel, _) in FILES.items():
        ids = [getattr(item, "id", None) for item in loaded[key]]
        seen = set()
        for index, item_id in enumerate(ids):
            if item_id is not None and item_id in seen:
                problems.append(Diagnostic("error", "apparatus.duplicate-id", f"id {item_id!r} is used twice",
                                           file=rel, line=line_for(lines[rel], (index, "id"))))
            seen.add(item_id)
    if problems:
        raise BuildError(problems)
    return Apparatus(loaded["glossary"], loaded["people"], loaded["timeline"], loaded["subjects"], lines)
