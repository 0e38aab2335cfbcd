"""The book file (chapters/book.yaml) as a typed, validated value."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .diagnostics import BuildError, Diagnostic
from .options import ROOT, BuildOptions  # noqa: F401 - known by these names here too
from .paths import resolve_inside
from .yamlsource import describe, line_for, load_with_lines, read_text

BOOK_FILE = "chapters/book.yaml"

PAPER_SIZES = {"a4": "A4", "letter": "letter"}


class Paper(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["a4", "letter"]


class BookConfig(BaseModel):
    """What chapters/book.yaml may say. Unknown keys are errors, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    subtitle: str = ""
    author: str
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    language: str = "en-GB"  # the text's language: hyphenation, metadata, e-reader voices
    citation_locale: str = "en-US"  # citeproc's terms and quotation marks ("…", as in the text)
    identifier: str = Field(pattern=r"^urn:uuid:[0-9a-f-]{36}$")
    date: dt.date
    description: str
    subject: str = ""
    publisher: str = ""
    licence: str
    papers: list[Literal["a4", "letter"]] = Field(["a4", "letter"], min_length=1)
    front: list[str] = []
    chapters: list[str] = Field(min_length=1)

    @field_validator("front", "chapters")
    @classmethod
    def _markdown_paths(cls, paths: list[str]) -> list[str]:
        for p in paths:
            if not p.endswith(".md") or p.startswith("/") or ".." in Path(p).parts:
                raise ValueError(f"{p!r} must be a .md path inside chapters/")
        return paths

    @field_validator("date")
    @classmethod
    def _zip_era(cls, value: dt.date) -> dt.date:
        # The EPUB is a zip archive, whose timestamps (taken from this date) cannot go before 1980.
        if value.year < 1980:
            raise ValueError("the date is the edition's date and must be 1980 or later "
                             "(the EPUB's zip timestamps cannot go earlier)")
        return value

    @property
    def build_epoch(self) -> int:
        """Seconds since 1970 for the book's date: fixes every timestamp for reproducible files."""
        return int(dt.datetime.combine(self.date, dt.time(12), dt.timezone.utc).timestamp())


def load_book_config(root: Path = ROOT) -> BookConfig:
    text = read_text(root / BOOK_FILE, BOOK_FILE, root)
    data, lines = load_with_lines(text, BOOK_FILE)
    if not isinstance(data, dict):
        raise BuildError.single("config.shape", "the book file must be a YAML mapping", file=BOOK_FILE, line=1)
    try:
        config = BookConfig.model_validate(data)
    except ValidationError as exc:
        raise BuildError([
            Diagnostic("error", "config.invalid",
                       describe(err),
                       file=BOOK_FILE, line=line_for(lines, err["loc"]))
            for err in exc.errors()
        ]) from None
    problems = []
    seen: dict[str, str] = {}  # slug -> the path that gave it
    for key in ("front", "chapters"):
        for index, path in enumerate(getattr(config, key)):
            where = {"file": BOOK_FILE, "line": line_for(lines, (key, index))}
            if resolve_inside(root, root / "chapters" / path) is None:
                problems.append(Diagnostic("error", "path.outside", f"{path} leads outside the book's folder "
                                           "(through a symlink); the build reads only files inside the book",
                                           **where))
            elif not (root / "chapters" / path).is_file():
                problems.append(Diagnostic("error", "config.missing-file", f"{path} is listed but does not "
                                           "exist; create it or remove it from the list", **where))
            slug = slug_of(path)
            if slug in seen:
                what = "is listed twice" if seen[slug] == path else f"has the same name ('{slug}') as {seen[slug]}"
                problems.append(Diagnostic("error", "config.duplicate-part", f"{path} {what}; every part needs "
                                           "its own file name, which becomes its id in the outputs", **where))
            seen.setdefault(slug, path)
    if problems:
        raise BuildError(problems)
    return config


def slug_of(path: str) -> str:
    """'01-life.md' -> 'life'; 'front/how-to-use.md' -> 'how-to-use'."""
    return re.sub(r"^\d+-", "", Path(path).stem)
