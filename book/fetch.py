"""The only way WeasyPrint may load anything: files inside the book's folder, never the network."""
from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlparse

from weasyprint.urls import URLFetcher, URLFetcherResponse, URLFetchingError

from .paths import resolve_inside


class BookFetcher(URLFetcher):
    """Serves file: URLs below the book's root; refuses everything else and remembers it."""

    def __init__(self, root: Path):
        super().__init__()
        self.root = root.resolve()
        self.refused: list[str] = []

    def fetch(self, url: str, headers=None):
        parsed = urlparse(url)
        if parsed.scheme == "file":
            path = resolve_inside(self.root, Path(unquote(parsed.path)))
            if path is not None and path.is_file():
                mime, _ = mimetypes.guess_type(path.name)
                return URLFetcherResponse(url, path.read_bytes(),
                                          {"Content-Type": mime or "application/octet-stream"})
        if parsed.scheme != "data":
            self.refused.append(url)
            raise URLFetchingError(f"refused: {url} is outside the book's folder")
        return super().fetch(url, headers)
