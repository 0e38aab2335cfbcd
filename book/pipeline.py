"""Gather the whole book, check it, and hand one BookContent to the PDF and EPUB writers."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import convert, incremental
from .apparatus import Apparatus, load_apparatus
from .chapters import Part, read_parts
from .classroom import (Classroom, check_classroom, check_guide_links, classroom_snippets, load_classroom,
                        template_ids, text_ids)
from .cold_pass import ColdPass
from .config import BookConfig, load_book_config
from .conflicts import Register, check_register, load_register, register_snippets
from .convert import Snippet
from .diagnostics import BuildError, Report
from .paths import files_leading_outside
from .sources import Source, check_registry, csl_items, load_registry

REGISTRY = "sources/registry.yaml"
# Pandoc's warnings about notes give lines in its own joined input; the check reports these itself.
PANDOC_NOTE_WARNINGS = ("Duplicate note reference", "defined at line")


@dataclass
class Gathered:
    """Everything read from disk and parsed, before any output is written."""

    config: BookConfig
    parts: list[Part]
    apparatus: Apparatus
    sources: dict[str, Source]
    snippets: list[Snippet]
    ast: dict
    report: Report
    config_root: Path
    register: Register
    parsed: dict = field(default_factory=dict)  # snippet id -> its parse key and citations (book/incremental.py)
    classroom: Classroom = field(default_factory=Classroom)
    rendering: Background | None = None  # pandoc's HTML, when gather() started it (render_ahead)
    ahead: ColdPass | None = None  # a cold build's pandoc processes, rendering (book/cold_pass.py)

    @property
    def chapters(self) -> list[Part]:
        return [p for p in self.parts if p.kind == "chapter"]


def make_snippets(parts: list[Part], apparatus: Apparatus, sources: dict[str, Source]) -> list[Snippet]:
    """Every piece of Markdown in the book, each with the id its HTML will carry."""
    snippets = []
    for part in parts:
        meta, slug = part.meta, part.slug
        line = lambda *path, lines=part.meta_lines: lines.get(path, 1)  # noqa: E731 - local shorthand
        snippets += [Snippet(f"aim-{slug}-{i}", text, part.path, line("aims", i), False)
                     for i, text in enumerate(meta.aims)]
        snippets.append(Snippet(f"body-{slug}", convert.prefix_note_labels(part.body, slug),
                                part.path, part.body_line, written=part.body))
        if meta.summary:
            snippets.append(Snippet(f"summary-{slug}", meta.summary, part.path, line("summary"), False))
        snippets += [Snippet(f"question-{slug}-{i}", text, part.path, line("questions", i), False)
                     for i, text in enumerate(meta.questions)]
        snippets += [Snippet(f"reading-{slug}-{i}", item.why, part.path, line("further_reading", i), False)
                     for i, item in enumerate(meta.further_reading)]
    glossary, people, timeline = (f"chapters/{name}.yaml" for name in ("glossary", "people", "timeline"))
    snippets += [Snippet(f"term-{t.id}", t.definition, glossary, apparatus.line(glossary, i, "definition"), False)
                 for i, t in enumerate(apparatus.terms)]
    snippets += [Snippet(f"person-{p.id}", p.about, people, apparatus.line(people, i, "about"), False)
                 for i, p in enumerate(apparatus.people)]
    snippets += [Snippet(f"event-{e.id}", e.event, timeline, apparatus.line(timeline, i, "event"), False)
                 for i, e in enumerate(apparatus.events)]
    snippets += [Snippet(f"srcnote-{sid}", src.meta.get("note", ""), REGISTRY, 1, False)
                 for sid, src in sources.items() if src.meta.get("note")]
    snippets.append(Snippet("bibliography", "::: {#refs}\n:::", REGISTRY, 1, False))
    return snippets


def gather(root: Path, render_ahead: bool = False) -> Gathered:
    """Read and parse everything, then run the checks. Raises BuildError on unreadable input.

    With render_ahead, pandoc renders the HTML (book/incremental.py) in a thread while the checks
    run: the checks are Python, pandoc is a process of its own, and the two together take the
    time of the longer. A cold build's pandoc goes on to render what it parsed (book/cold_pass.py)."""
    config = load_book_config(root)
    parts = read_parts(config, root)
    apparatus = load_apparatus(root)
    register = load_register(root)
    classroom = load_classroom(root, parts)
    report = Report()
    for path in files_leading_outside(root, "styles"):
        report.error("path.outside", "this file (or the symlink it is) leads outside the book's folder; "
                     "the build reads only files inside the book: copy the file into the book", file=path)
    for problem in check_registry(root / "sources"):
        report.error("sources.registry", problem, file=REGISTRY)
    sources = load_registry(root / "sources")
    snippets = make_snippets(parts, apparatus, sources) + register_snippets(register) + classroom_snippets(classroom)
    references = csl_items(sources)
    ast, warnings, parsed, ahead = incremental.parse_ahead(snippets, root, PANDOC_NOTE_WARNINGS,
                                                           (references, config.citation_locale) if render_ahead else None)
    for line in warnings:
        if not any(known in line for known in PANDOC_NOTE_WARNINGS):  # the check names file and line itself
            report.warning("pandoc.warning", line)
    gathered = Gathered(config, parts, apparatus, sources, snippets, ast, report, root, register, parsed, classroom)
    if render_ahead:
        gathered.rendering = Background(incremental.render, ast, parsed, references, root,
                                        config.citation_locale, ahead)
        gathered.ahead = ahead
    run_checks(gathered)
    return gathered


class Background:
    """A function run in a thread of its own; result() waits for it (and raises what it raised).
    The thread is a daemon: a build that stops on an error does not wait for it."""

    def __init__(self, function, *args) -> None:
        self._outcome: tuple = ()
        self._thread = threading.Thread(target=self._run, args=(function, args), daemon=True)
        self._thread.start()

    def _run(self, function, args) -> None:
        try:
            self._outcome = (function(*args), None)
        except BaseException as exc:  # handed to the caller of result()
            self._outcome = (None, exc)

    def result(self):
        self._thread.join()
        value, error = self._outcome
        if error is not None:
            raise error
        return value


def snippet_blocks(ast: dict) -> dict[str, list]:
    """The parsed blocks of each snippet, by snippet id."""
    return {block["c"][0][0]: block["c"][1] for block in ast["blocks"]
            if block["t"] == "Div" and "snippet" in block["c"][0][1]}


def run_checks(book: Gathered) -> None:
    blocks = snippet_blocks(book.ast)
    report = book.report
    counts = incremental.check_snippets(book.snippets, blocks, book.parsed, book.sources, report, book.config_root)
    terms = {t.id for t in book.apparatus.terms}
    slugs = {p.slug for p in book.chapters}
    for part in book.chapters:
        check_chapter_apparatus(part, terms, book.sources, report)
        words, quoted_words = counts[f"body-{part.slug}"]
        if not 3000 <= words <= 5000:
            report.warning("chapter.length", f"chapter has {words} words; a chapter needs 3,000 to 5,000",
                           file=part.path, line=1)
        if words and quoted_words / words > 0.2:
            report.warning("chapter.quoted-share", f"{quoted_words} of {words} words are quoted; "
                           "keep quotation under a fifth", file=part.path, line=1)
    for index, event in enumerate(book.apparatus.events):
        if event.chapter not in slugs:
            report.error("timeline.chapter", f"chapter {event.chapter!r} does not exist; use one of {sorted(slugs)}",
                         file="chapters/timeline.yaml", line=book.apparatus.line("chapters/timeline.yaml", index, "chapter"))
    check_register(book.register, book.sources, book.apparatus, book.snippets, report)
    check_classroom(book.classroom, book.chapters, book.sources, report)
    known = template_ids(book.parts, book.apparatus, book.sources, book.register) | text_ids(book.parts, book.parsed)
    check_guide_links(book.snippets, book.parsed, known, report)
    dates = [e.date for e in book.apparatus.events]
    for index in range(1, len(dates)):
        if dates[index] < dates[index - 1]:
            report.error("timeline.order", f"{dates[index]} comes after {dates[index - 1]}; keep the timeline in date order",
                         file="chapters/timeline.yaml", line=book.apparatus.line("chapters/timeline.yaml", index, "date"))


def check_chapter_apparatus(part: Part, terms: set[str], sources: dict, report: Report) -> None:
    meta = part.meta
    where = {"file": part.path}
    if not 3 <= len(meta.aims) <= 5:
        report.error("chapter.aims", f"a chapter needs 3 to 5 learning aims, not {len(meta.aims)}",
                     line=part.meta_lines.get(("aims",), 1), **where)
    summary_words = len(meta.summary.split())
    if not 150 <= summary_words <= 250:
        report.error("chapter.summary", f"the summary has {summary_words} words; it needs 150 to 250",
                     line=part.meta_lines.get(("summary",), 1), **where)
    if len(meta.questions) < 6:
        report.error("chapter.questions", f"a chapter needs at least 6 discussion questions, not {len(meta.questions)}",
                     line=part.meta_lines.get(("questions",), 1), **where)
    for index, term in enumerate(meta.key_terms):
        if term not in terms:
            report.error("chapter.key-term", f"key term {term!r} is not in chapters/glossary.yaml",
                         line=part.meta_lines.get(("key_terms", index), 1), **where)
    for index, item in enumerate(meta.further_reading):
        if item.source not in sources:
            report.error("chapter.reading", f"further reading names unknown source {item.source!r}",
                         line=part.meta_lines.get(("further_reading", index, "source"), 1), **where)


def require_clean(report: Report, strict: bool) -> None:
    if report.failed(strict):
        raise BuildError(report.items)
