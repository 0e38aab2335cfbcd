"""The source corpus: seed files, the registry of sources inside them, and their paragraphs.

A source's paragraphs are its non-blank lines, numbered from 1 in file order across all of its
spans. Citations locate quotations by these numbers (``[@gray-2022, para. 7]``).
"""
from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import BuildError, Diagnostic
from .paths import resolve_inside
from .yamlsource import line_for, load_with_lines, read_text

SOURCES_DIR = Path(__file__).resolve().parent.parent / "sources"


@dataclass(frozen=True)
class Paragraph:
    number: int
    file: str
    line: int
    text: str


@dataclass
class Source:
    id: str
    meta: dict
    spans: list[tuple[str, int, int]] = field(default_factory=list)
    paragraphs: list[Paragraph] = field(default_factory=list)

    def paragraph(self, number: int) -> Paragraph | None:
        if 1 <= number <= len(self.paragraphs):
            return self.paragraphs[number - 1]
        return None


def parse_lines(spec: str) -> tuple[int, int]:
    first, _, last = str(spec).partition("-")
    return int(first), int(last or first)


REGISTRY = "sources/registry.yaml"
LINE_SPAN = re.compile(r"\d+(-\d+)?")


def read_registry(sources_dir: Path = SOURCES_DIR) -> dict:
    """registry.yaml, checked for the shape the rest of the code relies on (errors name the line)."""
    root = sources_dir.parent
    data, lines = load_with_lines(read_text(sources_dir / "registry.yaml", REGISTRY, root), REGISTRY)
    problems = []

    def problem(message: str, *path) -> None:
        problems.append(Diagnostic("error", "sources.registry", message, file=REGISTRY,
                                   line=line_for(lines, path) or 1))

    if not isinstance(data, dict):
        raise BuildError.single("sources.registry", "the registry must be a YAML mapping with 'files:' and "
                                "'sources:'", file=REGISTRY, line=1)
    for key in ("files", "sources"):
        if not isinstance(data.get(key), dict):
            problem(f"the registry needs a '{key}:' mapping" + (" (it is missing)" if key not in data else ""),
                    *((key,) if key in data else ()))
    if problems:
        raise BuildError(problems)
    for sid, meta in data["sources"].items():
        if meta is not None and not isinstance(meta, dict):
            problem(f"source {sid!r} must be a mapping of its fields", "sources", sid)
    for filename, entry in data["files"].items():
        seed = sources_dir / "seeds" / str(filename)
        if resolve_inside(root, seed) is None:
            problem(f"seed file {filename!r} leads outside the book's folder; seeds live in sources/seeds/",
                    "files", filename)
        elif not seed.is_file():
            problem(f"seed file {filename!r} is not in sources/seeds/", "files", filename)
        if not isinstance(entry, dict) or not isinstance(entry.get("spans"), list):
            problem(f"{filename}: needs 'sha256:' and a list of 'spans:'", "files", filename)
            continue
        if not isinstance(entry.get("sha256"), str):
            problem(f"{filename}: needs its 'sha256:'", "files", filename)
        for index, span in enumerate(entry["spans"]):
            if not isinstance(span, dict) or not LINE_SPAN.fullmatch(str(span.get("lines", ""))):
                problem(f"{filename}: span {index + 1} needs 'lines: FIRST-LAST'", "files", filename, "spans", index)
    if problems:
        raise BuildError(problems)
    return data


def seed_lines(sources_dir: Path, filename: str) -> list[str]:
    return read_text(sources_dir / "seeds" / filename, f"sources/seeds/{filename}", sources_dir.parent).splitlines()


def load_registry(sources_dir: Path = SOURCES_DIR) -> dict[str, Source]:
    """Read registry.yaml and cut every source's paragraphs out of its seed files."""
    data = read_registry(sources_dir)
    sources = {sid: Source(sid, meta or {}) for sid, meta in data["sources"].items()}
    for filename, entry in data["files"].items():
        lines = seed_lines(sources_dir, filename)
        for span in entry["spans"]:
            if span.get("source") not in sources:
                continue  # noise, or an unknown source, which check_registry reports
            first, last = parse_lines(span["lines"])
            source = sources[span["source"]]
            source.spans.append((filename, first, last))
            for lineno in range(first, min(last, len(lines)) + 1):
                text = lines[lineno - 1].strip()
                if text:
                    source.paragraphs.append(
                        Paragraph(len(source.paragraphs) + 1, filename, lineno, text)
                    )
    return sources


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The registry's bibliographic keys that are CSL variables; the rest (label, kind, note,
# uncertain) are ours and stay out of the bibliography pandoc formats.
CSL_KEYS = {
    "type", "author", "editor", "translator", "title", "container-title", "collection-title",
    "publisher", "publisher-place", "issued", "original-date", "accessed", "URL", "DOI",
    "volume", "issue", "page", "number", "edition", "genre", "medium", "reviewed-title", "title-short",
    "reviewed-author", "event-place", "event-date", "authority", "archive", "section",
}


def csl_items(sources: dict[str, Source]) -> list[dict]:
    """The registry as a CSL-JSON bibliography, in registry order."""
    return [{"id": sid, **{k: v for k, v in src.meta.items() if k in CSL_KEYS}}
            for sid, src in sources.items()]


def check_registry(sources_dir: Path = SOURCES_DIR) -> list[str]:
    """Problems with the registry itself: seed hashes, and spans that leave gaps or overlap."""
    data = read_registry(sources_dir)
    problems = []
    for filename, entry in data["files"].items():
        path = sources_dir / "seeds" / filename
        if file_sha256(path) != entry["sha256"]:
            problems.append(f"{filename}: content differs from the recorded sha256; seeds are never edited")
        count = len(seed_lines(sources_dir, filename))
        expected = 1
        for span in entry["spans"]:
            first, last = parse_lines(span["lines"])
            if first != expected:
                kind = "gap before" if first > expected else "overlap at"
                problems.append(f"{filename}: {kind} line {min(first, expected)} (span {span['lines']})")
            if ("source" in span) == ("noise" in span):
                problems.append(f"{filename}: span {span['lines']} must name either a source or noise")
            if span.get("source") and span["source"] not in data["sources"]:
                problems.append(f"{filename}: span {span['lines']} names unknown source {span['source']!r}")
            expected = last + 1
        if expected != count + 1:
            problems.append(f"{filename}: spans end at line {expected - 1} but the file has {count} lines")
    return problems


def main(argv: list[str], sources_dir: Path = SOURCES_DIR) -> int:
    """Print a source's numbered paragraphs: ``python -m book.sources ID [PARA …]``."""
    try:
        sources = load_registry(sources_dir)
    except BuildError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic, file=sys.stderr)
        return 1
    if not argv:
        for sid, src in sources.items():
            print(f"{sid:26} {len(src.paragraphs):4} paragraphs  {src.meta.get('title', '')}")
        return 0
    if argv[0] not in sources:
        print(f"error: no source {argv[0]!r}; known: {', '.join(sources)}", file=sys.stderr)
        return 1
    src = sources[argv[0]]
    wanted = set()
    for arg in argv[1:]:
        if not arg.isdecimal() or src.paragraph(int(arg)) is None:
            print(f"error: {arg!r} is not a paragraph of {argv[0]!r}: give numbers from 1 to "
                  f"{len(src.paragraphs)}", file=sys.stderr)
            return 1
        wanted.add(int(arg))
    for para in src.paragraphs:
        if not wanted or para.number in wanted:
            print(f"[para. {para.number}] ({para.file}:{para.line})\n{para.text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
