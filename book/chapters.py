"""Reading the book's Markdown parts: front-matter pages and chapters, with their metadata.

Every part keeps the line on which its Markdown body starts, so that problems found later
(in pandoc's output) can be reported at the line the editor wrote.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from .config import BookConfig, slug_of
from .diagnostics import BuildError, Diagnostic
from .yamlsource import describe, line_for, load_with_lines, read_text


class FurtherReading(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str
    why: str


class PartMeta(BaseModel):
    """Front matter of a Markdown part. Chapters carry the study apparatus as well."""

    model_config = ConfigDict(extra="forbid")
    title: str
    aims: list[str] = []
    key_terms: list[str] = []
    summary: str = ""
    questions: list[str] = []
    further_reading: list[FurtherReading] = []


@dataclass
class Part:
    """One Markdown file of the book."""

    kind: str  # "front" or "chapter"
    slug: str  # "life", "how-to-use", ...
    path: str  # relative to the book's root, for messages: "chapters/01-life.md"
    meta: PartMeta
    body: str
    body_line: int  # 1-based line of the body's first line in the file
    meta_lines: dict[tuple, int] = field(default_factory=dict)
    number: int | None = None  # chapter number

    @property
    def source_lines(self) -> list[str]:
        return self.body.splitlines()


FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*\n", re.S)


def read_part(root: Path, rel: str, kind: str) -> Part:
    display = f"chapters/{rel}"
    text = read_text(root / "chapters" / rel, display, root)
    match = FRONT_MATTER.match(text)
    if not match:
        raise BuildError.single(
            "part.front-matter", "no front matter: start the file with a '---' block that gives at least a title",
            file=display, line=1,
        )
    data, lines = load_with_lines(match.group(1), display, line_offset=1)
    try:
        meta = PartMeta.model_validate(data or {})
    except ValidationError as exc:
        raise BuildError([
            Diagnostic("error", "part.meta", describe(e),
                       file=display, line=line_for(lines, e["loc"]) or 1)
            for e in exc.errors()
        ]) from None
    body_line = match.group(0).count("\n") + 1
    return Part(kind, slug_of(rel), display, meta, text[match.end():], body_line, lines)


def read_parts(config: BookConfig, root: Path) -> list[Part]:
    """All Markdown parts in book order. Problems in every file are reported together."""
    parts: list[Part] = []
    problems: list[Diagnostic] = []
    listed = [(rel, "front") for rel in config.front] + [(rel, "chapter") for rel in config.chapters]
    for rel, kind in listed:
        try:
            parts.append(read_part(root, rel, kind))
        except BuildError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise BuildError(problems)
    for number, part in enumerate((p for p in parts if p.kind == "chapter"), start=1):
        part.number = number
    return parts
