"""The pandoc the build runs: the one pypandoc-binary ships, never one found elsewhere on the machine.

Found without importing pypandoc, whose import (urllib, http.client, ...) and search (it runs
`pandoc --version` on every candidate) cost a cold build more than a tenth of a second.
"""
from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

from .diagnostics import BuildError


@lru_cache(maxsize=1)
def pandoc_path() -> str:
    spec = importlib.util.find_spec("pypandoc")
    name = "pandoc.exe" if os.name == "nt" else "pandoc"
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "files" / name
        if candidate.is_file():
            return str(candidate)
    raise BuildError.single("pandoc.missing", "pandoc is not installed here: run ./setup.sh, which installs "
                            "pypandoc-binary (it ships pandoc)")


@lru_cache(maxsize=1)
def pandoc_identity() -> str:
    """Which pandoc, for the caches' keys: its path, size and time (another pandoc differs in these)."""
    status = Path(pandoc_path()).stat()
    return f"{pandoc_path()}\0{status.st_size}\0{status.st_mtime_ns}"
