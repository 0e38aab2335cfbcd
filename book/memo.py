"""Results remembered in memory through a --watch session, within a budget.

A Memo maps a key (a hash of everything its value depends on, so an entry is never stale, only
unused) to a value. Once the values it holds pass its budget (bytes, as its size function
reckons them), it forgets them all and starts again: an edit adds a few entries, so this happens
seldom, and memory stays bounded however long the session. With the cache off
(`python build.py --no-cache`, book/cache.enabled()) nothing is looked up or kept.
"""
from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from . import cache


class Memo:
    def __init__(self, budget: int, size: Callable[[Any], int] = len) -> None:
        self.budget, self.size = budget, size
        self.values: dict = {}
        self.used = 0
        _ALL.append(self)

    def forget(self) -> None:
        self.values.clear()
        self.used = 0

    def lookup(self, key):
        return self.values.get(key) if cache.enabled() else None

    def keep(self, key, value) -> None:
        if not cache.enabled():
            return
        cost = self.size(value)
        if self.used + cost > self.budget:
            self.forget()
        self.values[key] = value
        self.used += cost

    def get(self, key, make: Callable[[], Any]):
        """The value kept under key, or make()'s, kept."""
        value = self.lookup(key)
        if value is None:
            value = make()
            self.keep(key, value)
        return value


_ALL: list[Memo] = []


def forget_all() -> None:
    """Everything every Memo holds: what a fresh process starts from (the tests use it)."""
    for memo in _ALL:
        memo.forget()


def settle() -> None:
    """Between two builds of a --watch or serve session: collect now, while the editor reads, then
    freeze what survives (the caches above, the modules), so that the garbage collector's passes
    during the next build skip it. A full pass over the cached ASTs costs ~0.1 s; in the middle of a
    rebuild that is a fifth of the time an edit may take."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@contextmanager
def collections_paused() -> Iterator[None]:
    """No garbage collection while a writer makes tens of thousands of short-lived objects (words,
    elements): each full pass would walk the whole book held in memory, a fifth of the EPUB's
    time. Cycles made meanwhile are collected once it runs again. A process forked meanwhile
    (the kepub's worker) does not collect either, so it copies none of the parent's pages only to
    scan them. Also a decorator."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

