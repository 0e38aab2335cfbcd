"""The cover image, drawn from a template: WeasyPrint lays it out, pdfium turns it into a PNG."""
from __future__ import annotations

import io
from pathlib import Path

import pypdfium2
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from .config import BookConfig
from .fetch import BookFetcher
from .templates import environment


def cover_png(config: BookConfig, root: Path) -> bytes:
    fonts = FontConfiguration()
    fetcher = BookFetcher(root)
    markup = environment().get_template("cover.html.j2").render(config=config)
    fonts_css = CSS(filename=str(root / "styles" / "fonts.css"), font_config=fonts, url_fetcher=fetcher)
    pdf = HTML(string=markup, base_url=str(root / "styles") + "/", url_fetcher=fetcher).write_pdf(
        stylesheets=[fonts_css], font_config=fonts)
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=1600 / page.get_width()).to_pil()
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()
