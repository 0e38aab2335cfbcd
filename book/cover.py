"""The cover image, drawn from a template: WeasyPrint lays it out, pdfium turns it into a PNG.

Drawing it takes as long as packing the rest of the EPUB, so the PNG is cached, keyed by what
decides it: the filled-in template, the fonts, this code and the libraries' versions. When it is
not cached, a process of its own starts as the build starts (start_early, draw_ahead), before
the builder loads pydantic (book/cli.py): it loads WeasyPrint (book/native_libraries.py) while
this process loads its own modules and reads the book (one core is idle then), and waits;
release() hands it the cover when pandoc no longer needs both cores (book/build.py), so that it
draws beside the packing of the EPUB, and the PNG is ready by the time the EPUB needs it (last:
book/epub.py).
"""
from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import cache

if TYPE_CHECKING:  # the drawing process (python -m book.cover) loads no more of the builder than it needs
    from .config import BookConfig


_AHEAD: dict[tuple[Path, str], subprocess.Popen] = {}  # (root, key) -> the process drawing that cover
_WAITING: dict[subprocess.Popen, str] = {}  # a process of _AHEAD not yet given its markup -> the markup
_EARLY: dict[Path, subprocess.Popen] = {}  # a process start_early() started, for draw_ahead() to take


def cover_key(markup: str, root: Path) -> str:
    from importlib.metadata import version

    fonts = root / "styles" / "fonts"
    return cache.key("cover", markup, cache.file_key(Path(__file__), root / "styles" / "fonts.css",
                                                     *sorted(fonts.iterdir() if fonts.is_dir() else [])),
                     [version(name) for name in ("weasyprint", "pypdfium2", "pillow")])


def cover_markup(config: BookConfig) -> str:
    from .templates import environment

    return environment().get_template("cover.html.j2").render(config=config)


def cover_png(config: BookConfig, root: Path) -> bytes:
    markup = cover_markup(config)
    key = cover_key(markup, root)
    png = cache.read(root, "cover", key)
    if png is None:
        ahead = _AHEAD.pop((root, key), None)
        if ahead is not None:
            release(ahead)
        png = drawn(ahead) if ahead is not None else None
        png = png or draw_cover(markup, root)  # drawn here if the process failed
        cache.write(root, "cover", key, png)
    return png


def draw_ahead(config: BookConfig, root: Path) -> None:
    """Start a process that will draw the cover, unless it is cached or already started; it
    loads its libraries now and draws once release() (or cover_png) gives it the markup."""
    markup = cover_markup(config)
    key = cover_key(markup, root)
    if (root, key) in _AHEAD or cache.read(root, "cover", key) is not None:
        early = _EARLY.pop(root, None)
        if early is not None:  # not needed (it is still loading its libraries)
            early.kill()
            early.wait()
        return
    for stale in [k for k in _AHEAD if k[0] == root]:  # --watch: a cover the book no longer has
        process = _AHEAD.pop(stale)
        _WAITING.pop(process, None)
        process.kill()
    _AHEAD[(root, key)] = process = _EARLY.pop(root, None) or drawing_process(root)
    _WAITING[process] = markup


def start_early(root: Path) -> None:
    """As a build starts, before it loads its own modules: start draw_ahead()'s process already
    when the book has no cover cached at all (a first build), so that it loads its libraries while
    this process loads its own, on a core that is idle then."""
    folder = root / ".cache" / "cover"
    if root in _EARLY or (cache.enabled() and folder.is_dir() and any(folder.iterdir())):
        return
    _EARLY[root] = drawing_process(root)


def drawing_process(root: Path) -> subprocess.Popen:
    # A fresh interpreter running this module (see the end), not a fork of this process, which
    # may run threads: it reads the markup on stdin and writes the PNG on stdout; it stops,
    # drawing nothing, when its stdin closes empty (the build stopped before it was needed).
    return subprocess.Popen([sys.executable, "-m", "book.cover", str(root.resolve())], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=Path(__file__).resolve().parent.parent)


def release(process: subprocess.Popen | None = None) -> None:
    """Let a process started by draw_ahead() draw (every waiting one, without an argument)."""
    for waiting in [process] if process is not None else list(_WAITING):
        markup = _WAITING.pop(waiting, None)
        if markup is None:
            continue
        try:
            waiting.stdin.write(markup.encode("utf-8"))  # a few kilobytes: within the pipe's buffer
            waiting.stdin.close()
        except OSError:  # it died: drawn() finds no PNG, and cover_png() draws the cover itself
            pass


def stop_unused(root: Path) -> None:
    """Stop the processes started for this book whose PNG the build never took (it stopped on an
    error first). A process that runs one build stops them as it ends (their stdin closes); one
    that runs many (the tests) would keep one for each book, with WeasyPrint loaded (80 MB)."""
    unused = [_EARLY.pop(root)] if root in _EARLY else []
    for key in [key for key in _AHEAD if key[0] == root]:
        unused.append(_AHEAD.pop(key))
        _WAITING.pop(unused[-1], None)
    for process in unused:
        process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()


def drawn(process: subprocess.Popen) -> bytes | None:
    """The PNG a process started by draw_ahead() drew, or None if it failed."""
    png = process.stdout.read()
    process.stdout.close()
    return png if process.wait() == 0 and png.startswith(b"\x89PNG") else None


def draw_cover(markup: str, root: Path) -> bytes:
    import pypdfium2  # WeasyPrint and pdfium are slow to import: only when the cover is drawn
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from .fetch import BookFetcher

    fonts = FontConfiguration()
    fetcher = BookFetcher(root)
    fonts_css = CSS(filename=str(root / "styles" / "fonts.css"), font_config=fonts, url_fetcher=fetcher)
    pdf = HTML(string=markup, base_url=str(root / "styles") + "/", url_fetcher=fetcher).write_pdf(
        stylesheets=[fonts_css], font_config=fonts)
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=1600 / page.get_width()).to_pil()
    out = io.BytesIO()
    # zlib's default level: optimize=True (its best) makes the PNG 1% smaller for 0.2 s more of CPU
    image.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def draw_when_given(root: Path) -> None:
    """draw_ahead()'s process: load the libraries, then wait for the markup (none: not needed).
    If WeasyPrint fails to load without the library search, this process fails, and cover_png()
    draws the cover itself, with it."""
    from .native_libraries import without_library_search

    with without_library_search():  # loaded while the build reads the book, before the markup comes
        import pypdfium2  # noqa: F401
        import weasyprint  # noqa: F401

    markup = sys.stdin.buffer.read().decode("utf-8")
    if markup:
        sys.stdout.buffer.write(draw_cover(markup, root))


if __name__ == "__main__":  # draw_ahead(): python -m book.cover ROOT < markup > png
    draw_when_given(Path(sys.argv[1]))
