"""Builds and their helpers, as processes: workers die with the build, and builds that share an
output folder neither delete each other's work nor mix their files.

Locks are flock()s on folders: the kernel drops them when a process dies however it dies, so a
staging folder whose lock can be taken belongs to no live build.
"""
from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

PR_SET_PDEATHSIG = 1
STAGING_PREFIX = ".building-"


def die_with_parent(parent: int) -> None:
    """Pool initializer: the kernel kills this worker when the build that started it dies (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the pool's own checks remain
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def kill_workers(pool) -> None:
    """Stop a process pool's workers now (a failed or interrupted build does not wait for them)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()


@contextmanager
def folder_lock(folder: Path, blocking: bool = True):
    """Hold an exclusive flock on a folder; yields False if not blocking and someone else holds it."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def remove_stale_staging(out_dir: Path) -> list[Path]:
    """Staging folders left by builds that were killed: those whose lock no live build holds."""
    removed = []
    for folder in sorted(out_dir.glob(STAGING_PREFIX + "*")):
        if not folder.is_dir() or folder.is_symlink():
            continue
        with folder_lock(folder, blocking=False) as free:
            if free:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    return removed


@contextmanager
def staging_folder(out_dir: Path):
    """A fresh staging folder in out_dir, locked for as long as the build lives, removed after.

    Made under the output folder's lock, after removing the folders that killed builds left, so
    that no other build can find it unlocked in between."""
    with folder_lock(out_dir):
        remove_stale_staging(out_dir)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
        fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        os.close(fd)
