"""WeasyPrint's native libraries (Pango, HarfBuzz, fontconfig), loaded without a compiler's help.

WeasyPrint tries several names for each library, one per platform, and cffi hands every name that
dlopen() does not know to ctypes.util.find_library, which on Linux runs ldconfig, gcc and ld for
it: some twenty processes and a third of a second of CPU, after which a later name in WeasyPrint's
list, the library's soname (libpango-1.0.so.0, ...), loads directly anyway. So on Linux the search
is left out while WeasyPrint loads: the same libraries load, found by dlopen() itself.
"""
from __future__ import annotations

import ctypes.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def without_library_search() -> Iterator[None]:
    """Within: ctypes.util.find_library finds nothing (on Linux), so cffi's dlopen() of a name the
    loader does not know fails at once. Wrap the first import of WeasyPrint in it."""
    if not sys.platform.startswith("linux"):
        yield
        return
    search = ctypes.util.find_library
    ctypes.util.find_library = lambda name: None
    try:
        yield
    finally:
        ctypes.util.find_library = search
