"""Every file the build reads must lie inside the book's folder, after symlinks are followed."""
from __future__ import annotations

from pathlib import Path


def resolve_inside(root: Path, path: Path) -> Path | None:
    """The real path of `path` if it (and whatever symlink leads to it) stays inside root, else None."""
    try:
        real = Path(path).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    return real if real.is_relative_to(Path(root).resolve()) else None
