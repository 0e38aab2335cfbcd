"""The print edition's page map: where each page of the A4 PDF begins, and on which page each anchor lies.

The EPUB (and any other reflowable output) carries the page numbers of one printed edition, so
that a class whose students use different formats can say "turn to page 47". The map is read
from WeasyPrint's laid-out pages: for every page, the words of its body text in reading order
(running heads, folios and footnotes aside), and the page of every id.

It is cached in .cache/pagemap/, keyed by everything that decides the layout, so that an EPUB
built alone gets the very same map as a full build without laying out the book again.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from . import cache
from .model import IndexEntry

PAGE_SOURCE = "a4"  # the printed edition whose page numbers the EPUB carries
WORD = re.compile(r"\w+")
CACHE_VERSION = "1"  # bump when the map's format or how it is read changes


@dataclass
class PageMap:
    labels: list[str]  # the printed folio of each page: "i", "ii", …, "1", "2", …
    words: list[str]  # the body text of the whole edition, word by word, lower case
    starts: list[int]  # for each page, the index in words of its first word
    anchors: dict[str, int]  # id -> index of the page on which it starts

    def label_of(self, anchor: str) -> str | None:
        page = self.anchors.get(anchor)
        return self.labels[page] if page is not None else None


def roman(number: int) -> str:
    numerals = [(1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
                (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")]
    out = ""
    for value, letters in numerals:
        while number >= value:
            out += letters
            number -= value
    return out


def page_labels(pages: int, first_main: int) -> list[str]:
    """The labels the PDF's /PageLabels give: roman before the first chapter, then 1, 2, …"""
    return [roman(n + 1) if n < first_main else str(n - first_main + 1) for n in range(pages)]


def read_page_map(document, first_main: int) -> PageMap:
    words: list[str] = []
    starts: list[int] = []
    anchors: dict[str, int] = {}
    carried = False  # the previous page ended inside a hyphenated word
    for number, page in enumerate(document.pages):
        for anchor in page.anchors:
            anchors.setdefault(anchor, number)
        text = body_text(page._page_box)  # noqa: SLF001 - WeasyPrint exposes no public box walk
        found = [word.lower() for word in WORD.findall(re.sub(HYPHENATED + r"\s*", "", text))]
        if carried and found and words:
            # The word began on the previous page: it counts there, and this page starts after it.
            words[-1] += found.pop(0)
        starts.append(len(words))
        words += found
        carried = text.rstrip().endswith(HYPHENATED)
    return PageMap(page_labels(len(document.pages), first_main), words, starts, anchors)


HYPHENATED = "\u00ad"  # stands for the hyphen layout added where it broke a word


def body_text(page_box) -> str:
    """A page's body text in reading order, lines and blocks separated by spaces, and HYPHENATED
    where layout broke a word. Margin boxes (running heads, folios), footnotes, note calls and
    list numbers are left out; text generated before and after elements (the index's page
    numbers) stays, since the EPUB prints it too."""
    from weasyprint.formatting_structure import boxes  # only when laying out: slow to import

    parts: list[str] = []

    def walk(box) -> None:
        pseudo = (box.element_tag or "").partition("::")[2]
        if isinstance(box, (boxes.MarginBox, boxes.FootnoteAreaBox)) or pseudo not in ("", "before", "after"):
            return
        if isinstance(box, boxes.TextBox):
            hyphen, text = box.style["hyphenate_character"], box.text
            if hyphen and text.endswith(hyphen) and text[:-len(hyphen)][-1:].isalpha():
                text = text[:-len(hyphen)] + HYPHENATED  # the source has no hyphen there
            parts.append(text)
            return
        block = isinstance(box, (boxes.LineBox, boxes.BlockLevelBox, boxes.TableCellBox))
        if block:
            parts.append(" ")
        for child in box.all_children() if isinstance(box, boxes.ParentBox) else ():
            walk(child)
        if block:
            parts.append(" ")

    walk(page_box)
    return "".join(parts)


def one_per_page(entries: list[IndexEntry], pages: dict[str, int]) -> list[IndexEntry]:
    """Page references for the index: each page once, consecutive pages as ranges (12–15)."""
    def refs(anchors: list[str]) -> list[tuple[str, str]]:
        first_on_page: dict[int, str] = {}
        for anchor in anchors:
            if anchor in pages:
                first_on_page.setdefault(pages[anchor], anchor)
        numbers = sorted(first_on_page)
        runs: list[list[int]] = []
        for number in numbers:
            if runs and number == runs[-1][-1] + 1:
                runs[-1].append(number)
            else:
                runs.append([number])
        result = []
        for run in runs:
            if len(run) >= 3:
                result += [(first_on_page[run[0]], ""), (first_on_page[run[-1]], "range-end")]
            else:
                result += [(first_on_page[number], "") for number in run]
        return result

    return [IndexEntry(e.heading, e.sort_key, e.anchors, e.groups, refs(e.anchors),
                       [(title, refs(anchors)) for title, anchors in e.groups], e.see)
            for e in entries]


# --- the cache ----------------------------------------------------------------------------------

def cache_key(markup: str, root: Path, paper: str, code: bytes) -> str:
    """Everything that decides the layout: the HTML, the styles, the fonts, the paper, the code
    that lays it out (code) and this module."""
    digest = hashlib.sha256()
    digest.update(f"{CACHE_VERSION}\0{paper}\0".encode())
    digest.update(code)
    digest.update(markup.encode("utf-8"))
    styles = root / "styles"
    for path in sorted([*styles.glob("*.css"), *(styles / "fonts").glob("*")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


def cache_path(root: Path, key: str) -> Path:
    return root / ".cache" / "pagemap" / f"{key}.json"


def load_cached(root: Path, key: str) -> PageMap | None:
    """The cached map for this key, or None if there is none or it is torn or corrupt."""
    if not cache.enabled():
        return None
    try:
        data = json.loads(cache_path(root, key).read_text(encoding="utf-8"))
        page_map = PageMap(**{name: data[name] for name in ("labels", "words", "starts", "anchors")})
    except (OSError, ValueError, KeyError, TypeError):
        return None
    starts = page_map.starts
    if len(page_map.labels) != len(starts) or starts != sorted(starts) or (starts and starts[-1] > len(page_map.words)):
        return None
    return page_map


def _write_atomically(path: Path, text: str) -> None:
    """A temporary file renamed into place: a killed build leaves no torn entry, and two builds
    writing the same entry both leave a whole one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def store(root: Path, key: str, page_map: PageMap) -> None:
    """Keep the map for the next build; a folder we cannot write only costs that build time."""
    if not cache.enabled():
        return
    try:
        _write_atomically(cache_path(root, key), json.dumps(asdict(page_map), ensure_ascii=False,
                                                            separators=(",", ":")))
    except OSError:
        pass


def guess_path(root: Path, paper: str) -> Path:
    return root / ".cache" / "pagemap" / f"last-pages-{paper}.json"


def load_guess(root: Path, paper: str) -> dict[str, int] | None:
    """The pages of the index marks in the last build of this paper size: a guess, to be checked."""
    if not cache.enabled():
        return None
    try:
        data = json.loads(guess_path(root, paper).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not all(isinstance(v, int) for v in data.values()):
        return None
    return data


def store_guess(root: Path, paper: str, pages: dict[str, int]) -> None:
    if not cache.enabled():
        return
    try:
        _write_atomically(guess_path(root, paper), json.dumps(pages, sort_keys=True, separators=(",", ":")))
    except OSError:
        pass
