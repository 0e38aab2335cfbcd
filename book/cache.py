"""The build's caches: one switch, content keys, atomic writes and reads that refuse damaged entries.

An entry lives in <book>/.cache/<kind>/<key> (the folder is git-ignored). Its key is a hash of
everything its value depends on, so an entry is never stale, only unused. Each file starts with
the SHA-256 of its payload: a torn or corrupted entry fails the check and is rebuilt, never used.
Writes go to a temporary file renamed into place, so two builds writing one entry both leave a
whole one. `python build.py --no-cache` sets BOOK_NO_CACHE: nothing is read or written. It is an
environment variable so that the PDF's worker processes and `--watch` rebuilds see it too.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

NO_CACHE = "BOOK_NO_CACHE"  # set to 1: every stage computes everything anew (python build.py --no-cache)
VERSION = "1"  # bump when the layout of entries changes


def enabled() -> bool:
    return os.environ.get(NO_CACHE, "") in ("", "0")


def disable() -> None:
    os.environ[NO_CACHE] = "1"


def key(*parts) -> str:
    """A hash of the parts (str, bytes or JSON-able data), each length-prefixed so none can run into the next."""
    digest = hashlib.sha256(VERSION.encode())
    for part in parts:
        if isinstance(part, str):
            data = part.encode("utf-8")
        elif isinstance(part, bytes):
            data = part
        else:
            data = json.dumps(part, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def file_key(*paths: Path) -> str:
    """A hash of some files' names and bytes (a missing file counts as empty)."""
    return key(*[p.name + "\0" + hashlib.sha256(p.read_bytes() if p.is_file() else b"").hexdigest() for p in paths])


def path(root: Path, kind: str, entry: str) -> Path:
    return root / ".cache" / kind / entry


def read(root: Path, kind: str, entry: str) -> bytes | None:
    """The payload stored under this key, or None: none stored, cache off, or the entry is damaged."""
    return read_file(path(root, kind, entry))


def write(root: Path, kind: str, entry: str, payload: bytes) -> None:
    """Store a payload; a folder we cannot write only costs the next build time."""
    write_file(path(root, kind, entry), payload)


def read_file(target: Path) -> bytes | None:
    """An entry's payload, or None: none stored, cache off, or the entry is damaged."""
    if not enabled():
        return None
    try:
        data = target.read_bytes()
    except OSError:
        return None
    checksum, newline, payload = data.partition(b"\n")
    if not newline or checksum != hashlib.sha256(payload).hexdigest().encode():
        return None
    return payload


def write_file(target: Path, payload: bytes) -> None:
    """An entry written whole: a temporary file renamed into place."""
    if not enabled():
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError:
        pass


def read_json(root: Path, kind: str, entry: str):
    payload = read(root, kind, entry)
    if payload is None:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return None


def write_json(root: Path, kind: str, entry: str, value) -> None:
    write(root, kind, entry, json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
