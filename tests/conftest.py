"""Shared fixtures: one real build of the book per test session, and small fixture books.

Fixture books live in tests/roots/<name>/chapters and borrow the real sources/ and styles/,
so that each test names the book it needs (after Sphinx's tests/roots/test-<name>).
"""
from __future__ import annotations

import io
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from book.build import build
from book.config import ROOT, BuildOptions, load_book_config
from book.diagnostics import Report

ROOTS = Path(__file__).parent / "roots"


@dataclass
class Built:
    out: Path
    report: Report
    slug: str

    @property
    def epub(self) -> Path:
        return self.out / f"{self.slug}.epub"

    @property
    def kepub(self) -> Path:
        return self.out / f"{self.slug}.kepub.epub"

    def pdf(self, paper: str = "a4") -> Path:
        return self.out / f"{self.slug}-{paper}.pdf"

    def epub_files(self) -> dict[str, bytes]:
        with zipfile.ZipFile(self.epub) as archive:
            return {name: archive.read(name) for name in archive.namelist()}


def run_build(root: Path, out: Path, targets=("pdf", "epub")) -> Built:
    options = BuildOptions(root=root, out_dir=out, targets=targets, quiet=True)
    report, _ = build(options, Console(file=io.StringIO()))
    return Built(out, report, load_book_config(root).slug)


@pytest.fixture(scope="session")
def book(tmp_path_factory) -> Built:
    """The real book, built once for the whole session."""
    return run_build(ROOT, tmp_path_factory.mktemp("dist"))


def make_root(tmp_path: Path, name: str) -> Path:
    """A fixture book: tests/roots/<name>/chapters with the project's sources and styles."""
    root = tmp_path / name
    shutil.copytree(ROOTS / name / "chapters", root / "chapters")
    # The real register of disagreements names places in the real chapters: a fixture book starts
    # without one, and a test that needs one writes its own.
    shutil.copytree(ROOT / "sources", root / "sources", ignore=shutil.ignore_patterns("conflicts.yaml"))
    shutil.copytree(ROOT / "styles", root / "styles")
    return root


@pytest.fixture
def tiny(tmp_path) -> Path:
    return make_root(tmp_path, "tiny")
