"""The project's folder and the options of one run of the builder: what the command line needs
before anything else, so that it loads without pydantic (book/config.py reads the book file)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class BuildOptions:
    """How one run of the builder was asked to behave."""

    root: Path = ROOT
    out_dir: Path = ROOT / "dist"
    targets: tuple[str, ...] = ("pdf", "epub")  # which outputs to write; () for check only
    strict: bool = False  # warnings fail the build
    quiet: bool = False
    preview: bool = False  # serve, --watch: the EPUB and web edition may use the last page map, not lay out anew
