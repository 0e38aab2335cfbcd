"""Every file the build reads must lie inside the book's folder, after symlinks are followed."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

IMAGE_TYPES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}


def resolve_inside(root: Path, path: Path) -> Path | None:
    """The real path of `path` if it (and whatever symlink leads to it) stays inside root and
    passes through no hidden folder or file (.git, .env, …), else None."""
    root = Path(root).resolve()
    try:
        real = Path(path).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    if not real.is_relative_to(root) or any(p.startswith(".") for p in real.relative_to(root).parts):
        return None
    return real


def image_file(root: Path, src: str) -> Path | None:
    """The file an image reference in a chapter names, if it is an image inside the book; else None.

    References are relative to chapters/; URLs with a scheme and absolute paths are refused."""
    parsed = urlparse(src)
    if parsed.scheme or parsed.netloc or src.startswith("/") or not parsed.path:
        return None
    path = resolve_inside(root, Path(root) / "chapters" / unquote(parsed.path))
    if path is None or path.suffix.lower() not in IMAGE_TYPES or not path.is_file():
        return None
    return path


def files_leading_outside(root: Path, folder: str) -> list[str]:
    """The files under root/folder (the folder itself included) that lead outside the book
    through a symlink, as paths relative to root: the writers read styles and fonts by name."""
    root = Path(root).resolve()
    base = root / folder
    if not base.exists():
        return []
    if resolve_inside(root, base) is None:
        return [folder]
    return sorted(str(path.relative_to(root)) for path in base.rglob("*")
                  if (path.is_symlink() or path.is_file()) and resolve_inside(root, path) is None)
