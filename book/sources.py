"""The source corpus: seed files, the registry of sources inside them, and their paragraphs.

A source's paragraphs are its non-blank lines, numbered from 1 in file order across all of its
spans. Citations locate quotations by these numbers (``[@gray-2022, para. 7]``).
"""
from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

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


def load_registry(sources_dir: Path = SOURCES_DIR) -> dict[str, Source]:
    """Read registry.yaml and cut every source's paragraphs out of its seed files."""
    registry_path = sources_dir / "registry.yaml"
    data = yaml.safe_load(registry_path.read_text(encoding="utf-8"))
    sources = {sid: Source(sid, meta or {}) for sid, meta in data["sources"].items()}
    for filename, entry in data["files"].items():
        lines = (sources_dir / "seeds" / filename).read_text(encoding="utf-8").splitlines()
        for span in entry["spans"]:
            if "source" not in span:
                continue
            first, last = parse_lines(span["lines"])
            source = sources[span["source"]]
            source.spans.append((filename, first, last))
            for lineno in range(first, last + 1):
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
    data = yaml.safe_load((sources_dir / "registry.yaml").read_text(encoding="utf-8"))
    problems = []
    for filename, entry in data["files"].items():
        path = sources_dir / "seeds" / filename
        if file_sha256(path) != entry["sha256"]:
            problems.append(f"{filename}: content differs from the recorded sha256; seeds are never edited")
        count = len(path.read_text(encoding="utf-8").splitlines())
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


def main(argv: list[str]) -> int:
    """Print a source's numbered paragraphs: ``python -m book.sources ID [PARA]``."""
    sources = load_registry()
    if not argv:
        for sid, src in sources.items():
            print(f"{sid:26} {len(src.paragraphs):4} paragraphs  {src.meta.get('title', '')}")
        return 0
    if argv[0] not in sources:
        print(f"error: no source {argv[0]!r}; known: {', '.join(sources)}", file=sys.stderr)
        return 1
    src = sources[argv[0]]
    wanted = {int(a) for a in argv[1:] if a.isdigit()}
    for para in src.paragraphs:
        if not wanted or para.number in wanted:
            print(f"[para. {para.number}] ({para.file}:{para.line})\n{para.text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
