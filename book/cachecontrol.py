"""One switch for every cache of the build: `python build.py --no-cache` sets it (book/cli.py).

It is an environment variable so that worker processes and `--watch` rebuilds see it too. A
stage that caches asks cache_enabled() before it reads or writes its cache.
"""
from __future__ import annotations

import os

NO_CACHE = "BOOK_NO_CACHE"  # set to 1: no cache is read or written


def cache_enabled() -> bool:
    return os.environ.get(NO_CACHE, "") in ("", "0")


def disable_caches() -> None:
    os.environ[NO_CACHE] = "1"
