"""The build's caches: one switch, content keys, atomic writes and reads that refuse damaged entries.

An entry lives in <book>/.cache/<kind>/<key> (the folder is git-ignored), or, for the small and
numerous entries of the per-snippet stages, in one SQLite file (EntryStore). Its key is a hash of
everything its value depends on, so an entry is never stale, only unused. Each entry carries
the SHA-256 of its payload: a torn or corrupted entry fails the check and is rebuilt, never used.
Files are written to a temporary file renamed into place, so two builds writing one entry both
leave a whole one. `python build.py --no-cache` sets BOOK_NO_CACHE: nothing is read or written. It is an
environment variable so that the PDF's worker processes and `--watch` rebuilds see it too.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import threading
import time
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
    return key(*[p.name + "\0" + file_digest(p) for p in paths])


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's bytes (of none, for a missing file). In a --watch session the fonts,
    the style and the code are hashed on every build: a file whose size, times and inode are those
    of the last time is not read again. An edit changes the change time, which no program can set
    back; a file changed within the last two seconds is read every time, since a second change
    within the clock's tick would leave its times as they were (git's "racy clean" files)."""
    try:
        status = path.stat()
    except OSError:
        return hashlib.sha256(b"").hexdigest()
    if not stat.S_ISREG(status.st_mode):
        return hashlib.sha256(b"").hexdigest()
    seen = (status.st_size, status.st_ctime_ns, status.st_mtime_ns, status.st_ino)
    known = _DIGESTS.get(path)
    if known is not None and known[0] == seen:
        return known[1]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if time.time_ns() - max(status.st_ctime_ns, status.st_mtime_ns) > 2_000_000_000:
        _DIGESTS[path] = (seen, digest)  # not a file changed just now: another change would show in its times
    return digest


_DIGESTS: dict[Path, tuple[tuple, str]] = {}  # path -> (its size, times and inode, the digest of its bytes)


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


# --- small entries, many of them: one SQLite file ------------------------------------------------

class EntryStore:
    """The small JSON entries of the per-snippet stages (parse, check, render: thousands per build),
    in one SQLite database, <book>/.cache/entries.sqlite, rather than a file each: a cold build
    writes them in one transaction per stage instead of creating thousands of files.

    Each value keeps its SHA-256, so a damaged entry is refused like a damaged file. SQLite makes
    every flush whole or absent (a killed build leaves the last flush) and serialises two builds'
    writes (WAL). A database that cannot be read at all is set aside and started afresh. The store
    is pruned, oldest use first, when it grows past MAX_BYTES."""

    MAX_BYTES = 256 * 1024 * 1024
    NAME = "entries.sqlite"

    def __init__(self, root: Path) -> None:
        self.path = root / ".cache" / self.NAME
        self.pending: dict[tuple[str, str], bytes] = {}
        self.used: set[tuple[str, str]] = set()
        self.connection = None
        self.broken = False
        self.lock = threading.RLock()  # the render runs in a thread while the checks run (book/pipeline.py)

    def _connect(self):
        if self.connection is None and not self.broken:
            import sqlite3

            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.connection = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                                  check_same_thread=False)
                self.connection.execute("PRAGMA journal_mode=WAL")
                self.connection.execute("PRAGMA synchronous=NORMAL")
                self.connection.execute("CREATE TABLE IF NOT EXISTS entries (kind TEXT, key TEXT, value BLOB, "
                                        "used INTEGER, PRIMARY KEY (kind, key)) WITHOUT ROWID")
            except (OSError, sqlite3.Error):
                self._set_aside()
        return self.connection

    def _set_aside(self) -> None:
        """An unreadable database costs this build its cache, and the next build starts afresh."""
        if self.connection is not None:
            self.connection.close()
        self.connection, self.broken = None, True
        for suffix in ("", "-wal", "-shm"):
            try:
                Path(str(self.path) + suffix).unlink()
            except OSError:
                pass

    def read_many(self, kind: str, entries: list[str]) -> dict[str, bytes]:
        """The payloads stored under these keys that are there and whole: a query per few hundred
        keys, not one each (a cold build looks up thousands and finds none)."""
        with self.lock:
            found = {entry: self.pending[(kind, entry)] for entry in entries if (kind, entry) in self.pending}
            wanted = [entry for entry in entries if entry not in found]
            import sqlite3

            connection = self._connect() if wanted else None
            if connection is None:
                return found
            for start in range(0, len(wanted), 500):  # SQLite allows some hundreds of parameters
                chunk = wanted[start:start + 500]
                try:
                    rows = connection.execute("SELECT key, value FROM entries WHERE kind = ? AND key IN "
                                              f"({','.join('?' * len(chunk))})", (kind, *chunk)).fetchall()
                except sqlite3.Error:
                    self._set_aside()
                    break
                for entry, value in rows:
                    if len(value) >= 32 and hashlib.sha256(value[32:]).digest() == value[:32]:
                        found[entry] = value[32:]
                        self.used.add((kind, entry))
            return found

    def write(self, kind: str, entry: str, payload: bytes) -> None:
        with self.lock:
            self.pending[(kind, entry)] = payload

    def flush(self) -> None:
        """Write what this build added, in one transaction, and mark what it used."""
        with self.lock:
            self._flush()

    def _flush(self) -> None:
        import sqlite3
        import time

        if not (self.pending or self.used) or self._connect() is None:
            self.pending.clear()
            return
        now = int(time.time())
        try:
            with self.connection:  # under isolation_level=None: one explicit transaction
                self.connection.execute("BEGIN IMMEDIATE")
                self.connection.executemany(
                    "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)",
                    [(kind, entry, hashlib.sha256(payload).digest() + payload, now)
                     for (kind, entry), payload in self.pending.items()])
                self.connection.executemany("UPDATE entries SET used = ? WHERE kind = ? AND key = ?",
                                            [(now, kind, entry) for kind, entry in self.used - self.pending.keys()])
            self.pending.clear()
            self.used.clear()
            self._prune()
        except sqlite3.Error:
            self.pending.clear()
            self._set_aside()

    def _prune(self) -> None:
        pages = self.connection.execute("PRAGMA page_count").fetchone()[0]
        size = self.connection.execute("PRAGMA page_size").fetchone()[0]
        if pages * size > self.MAX_BYTES:
            with self.connection:
                self.connection.execute("BEGIN IMMEDIATE")
                self.connection.execute("DELETE FROM entries WHERE used <= (SELECT used FROM entries ORDER BY used "
                                        "LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM entries))")
            self.connection.execute("VACUUM")


_STORES: dict[Path, EntryStore] = {}


def store(root: Path) -> EntryStore:
    if root not in _STORES:
        _STORES[root] = EntryStore(root)
    return _STORES[root]


def read_json_many(root: Path, kind: str, entries: list[str]) -> dict:
    """The JSON entries of the store that are there and whole, by key."""
    if not enabled():
        return {}
    found = {}
    for entry, payload in store(root).read_many(kind, entries).items():
        try:
            found[entry] = json.loads(payload)
        except ValueError:
            pass
    return found


def write_json(root: Path, kind: str, entry: str, value, written: str | None = None) -> None:
    """Store a JSON entry (written: the value as JSON already); it reaches the disk at the next flush()."""
    if enabled():
        text = written if written is not None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        store(root).write(kind, entry, text.encode("utf-8"))


def flush(root: Path) -> None:
    if enabled():
        store(root).flush()
