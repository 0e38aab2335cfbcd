"""The cover image, drawn from a template: WeasyPrint lays it out, pdfium turns it into a PNG.

Drawing it takes as long as packing the rest of the EPUB, so the PNG is cached, keyed by what
decides it: the filled-in template, the fonts, this code and the libraries' versions.
"""
from __future__ import annotations

import io
from importlib.metadata import version
from pathlib import Path

from . import cache
from .config import BookConfig
from .templates import environment


def cover_png(config: BookConfig, root: Path) -> bytes:
    markup = environment().get_template("cover.html.j2").render(config=config)
    fonts = root / "styles" / "fonts"
    key = cache.key("cover", markup, cache.file_key(Path(__file__), root / "styles" / "fonts.css",
                                                    *sorted(fonts.iterdir() if fonts.is_dir() else [])),
                    [version(name) for name in ("weasyprint", "pypdfium2", "pillow")])
    png = cache.read(root, "cover", key)
    if png is None:
        png = draw_cover(markup, root)
        cache.write(root, "cover", key, png)
    return png


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
    image.convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()
