"""The cover image, drawn from a template: WeasyPrint lays it out, pdfium turns it into a PNG.

Drawing it takes as long as packing the rest of the EPUB, so the PNG is cached, keyed by what
decides it: the filled-in template, the fonts, this code and the libraries' versions. When it is
not cached, draw_ahead() starts drawing it in a process of its own as the build starts, so that
it is ready, on the other core, by the time the EPUB is packed.
"""
from __future__ import annotations

import io
from importlib.metadata import version
from pathlib import Path

from . import cache
from .config import BookConfig
from .templates import environment


_AHEAD: dict[tuple[Path, str], object] = {}  # (root, key) -> the future of a cover being drawn


def cover_key(markup: str, root: Path) -> str:
    fonts = root / "styles" / "fonts"
    return cache.key("cover", markup, cache.file_key(Path(__file__), root / "styles" / "fonts.css",
                                                     *sorted(fonts.iterdir() if fonts.is_dir() else [])),
                     [version(name) for name in ("weasyprint", "pypdfium2", "pillow")])


def cover_png(config: BookConfig, root: Path) -> bytes:
    markup = environment().get_template("cover.html.j2").render(config=config)
    key = cover_key(markup, root)
    png = cache.read(root, "cover", key)
    if png is None:
        ahead = _AHEAD.pop((root, key), None)
        png = ahead.result() if ahead is not None else draw_cover(markup, root)
        cache.write(root, "cover", key, png)
    return png


def draw_ahead(config: BookConfig, root: Path) -> None:
    """Start drawing the cover in a process of its own, unless it is cached or already started."""
    markup = environment().get_template("cover.html.j2").render(config=config)
    key = cover_key(markup, root)
    if (root, key) in _AHEAD or cache.read(root, "cover", key) is not None:
        return
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from .processes import die_with_parent

    # A fresh interpreter (spawn), not a fork of this one, which runs threads.
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=die_with_parent, initargs=(os.getpid(),))
    _AHEAD[(root, key)] = pool.submit(draw_cover, markup, root)
    pool.shutdown(wait=False)  # the worker ends once the cover is drawn


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
    image.convert("RGB").save(out, format="PNG", optimize=True)  # 1% smaller than without, for 0.2 s
    return out.getvalue()
