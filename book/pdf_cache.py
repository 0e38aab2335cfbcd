"""The cache of laid-out parts, in .cache/pdfparts/ (git-ignored).

Two kinds of entry, both keyed by everything that decides them (the part's HTML, the styles,
the fonts, the paper size, the names kept whole, the layout code and WeasyPrint's version):

- the part's layout (<key>.json): its page count, the page of each id, its page map, its warnings;
- the part's PDF (<key>-<start>.pdf), which depends on the page it starts on as well.

Every entry begins with the SHA-256 of the rest, so a torn or corrupted entry is detected and
ignored (and laid out again); entries are written to a temporary file and renamed into place,
so two builds at once each find a whole entry or none.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import fields
from pathlib import Path

from . import cache
from .pdf_parts import PartLayout

CACHE_VERSION = b"1"
MAX_BYTES = 512 * 1024 * 1024  # beyond this, the entries used longest ago are removed


def inputs_digest(root: Path, paper: str, name_words: frozenset[str], code: bytes, identifier: bytes) -> str:
    """What every part of one edition shares: styles, fonts, paper, names, code."""
    digest = hashlib.sha256(CACHE_VERSION + b"\0" + paper.encode() + b"\0" + identifier + b"\0" + code)
    digest.update("\0".join(sorted(name_words)).encode())
    styles = root / "styles"
    for path in sorted([*styles.glob("*.css"), *(styles / "fonts").glob("*")]):
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


class PartCache:
    def __init__(self, root: Path, shared: str):
        self.folder = root / ".cache" / "pdfparts"
        self.shared = shared
        self.enabled = cache.enabled()

    def key(self, part_key: str) -> str:
        return hashlib.sha256(f"{self.shared}\0{part_key}".encode()).hexdigest()

    def load_layout(self, part_key: str) -> PartLayout | None:
        data = self._read(self.folder / f"{self.key(part_key)}.json")
        if data is None:
            return None
        try:
            fields = json.loads(data)
            return PartLayout(**fields)
        except (ValueError, TypeError):
            return None

    def store_layout(self, part_key: str, layout: PartLayout) -> None:
        if not self.enabled:
            return
        # Its fields as they are (asdict would copy every word of the page map first).
        fields_ = {field.name: getattr(layout, field.name) for field in fields(layout)}
        self._write(self.folder / f"{self.key(part_key)}.json",
                    json.dumps(fields_, ensure_ascii=False, separators=(",", ":")).encode())

    def load_pdf(self, part_key: str, start: int) -> bytes | None:
        return self._read(self.folder / f"{self.key(part_key)}-{start}.pdf")

    def store_pdf(self, part_key: str, start: int, data: bytes) -> None:
        self._write(self.folder / f"{self.key(part_key)}-{start}.pdf", data)

    def subset_font(self, subset, data: bytes, gids: list[int], subsetter: bytes = b"") -> bytes:
        """subset(data, gids), kept: after most edits the join needs the same glyphs again.
        `subsetter` names what subsets (and its version): another one gives other bytes."""
        key = hashlib.sha256(CACHE_VERSION + subsetter + hashlib.sha256(data).digest()
                             + repr(gids).encode()).hexdigest()
        path = self.folder / f"font-{key}.bin"
        cached = self._read(path)
        if cached is None:
            cached = subset(data, gids)
            self._write(path, cached)
        return cached

    def _read(self, path: Path) -> bytes | None:
        if not self.enabled:
            return None
        payload = cache.read_file(path)
        if payload is None:
            return None  # none, torn or corrupt: laid out again, and overwritten
        try:
            os.utime(path)  # used now: pruned last
        except OSError:
            pass
        return payload

    def prune(self, limit: int = MAX_BYTES) -> None:
        """Remove the entries used longest ago while the folder holds more than `limit` bytes."""
        if not self.enabled:
            return
        try:
            entries = [(entry.stat().st_mtime, entry.stat().st_size, entry) for entry in self.folder.iterdir()]
        except OSError:
            return
        total = sum(size for _, size, _ in entries)
        for _, size, entry in sorted(entries, key=lambda e: (e[0], e[2].name)):
            if total <= limit:
                break
            try:
                entry.unlink()
                total -= size
            except OSError:
                pass

    def _write(self, path: Path, payload: bytes) -> None:
        if self.enabled:
            cache.write_file(path, payload)
