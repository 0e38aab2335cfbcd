"""Print page numbers in the EPUB: a page-break marker at the word where each A4 page begins.

The print edition's words (from the page map) are aligned with the EPUB's words, file by file
in reading order; each page's marker goes before the EPUB word matched to the first word of that
page. Alignment, not a search for each page's first words, so that text only one format has (the
printed contents, the EPUB's index page numbers) cannot pull a marker to the wrong place.
"""
from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass

from lxml import html

from .pagemap import WORD, PageMap

# Elements whose text the print edition does not share: the EPUB's notes (the PDF sets them at
# the foot of the page), note calls, the cover and markers already placed.
SKIPPED_CLASSES = {"notes", "cover", "web-only"}  # web-only: the self-check's form, which print lays out otherwise
SKIPPED_TYPES = {"noteref", "pagebreak"}
BLOCKS = {"p", "li", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "tr", "div", "section",
          "header", "blockquote", "ul", "ol", "dl", "table", "nav", "aside", "br"}
# Parents in which a marker may stand between blocks; elsewhere (a list, a table row) it stays
# inside the first block, at its start.
FLOW_PARENTS = {"div", "section", "header", "blockquote", "aside", "body"}


@dataclass
class Marker:
    label: str
    file_name: str

    @property
    def id(self) -> str:
        return f"page-{self.label}"


@dataclass
class _Segment:
    start: int  # offset in the joined text
    element: html.HtmlElement
    where: str  # "text" or "tail"


@dataclass
class FileText:
    """One file's text as the alignment sees it: its words (lower case), where each begins in the
    file's text, the text's length, and where each word stands among its words (see align)."""
    words: list[str]
    starts: list[int]
    length: int
    places: dict[str, list[int]]


def file_text(root) -> tuple[FileText, list[_Segment]]:
    """A body's words, and the pieces of its text (to put markers in). A file's text begins and ends
    with a block boundary's space, so no word runs from one file into the next."""
    texts, pieces = _text_pieces(root)
    starts = list(itertools.accumulate(map(len, texts), initial=0))
    segments = [_Segment(starts[index], element, where) for index, element, where in pieces]
    matches = list(WORD.finditer("".join(texts)))
    words = [m.group().lower() for m in matches]
    return FileText(words, [m.start() for m in matches], starts[-1], _positions(words)), segments


def insert_page_markers(trees: dict[str, html.HtmlElement], page_map: PageMap) -> list[Marker]:
    """Put one marker per printed page into the trees (file name -> body); return them in page order."""
    files = list(trees)
    texts, segments = zip(*(file_text(trees[name]) for name in files)) if files else ((), ())
    markers, places = page_places(files, list(texts), page_map)
    for index, name in enumerate(files):
        insert_markers(trees[name], segments[index], [(m, p[1]) for m, p in zip(markers, places) if p[0] == index])
    return markers


def page_places(files: list[str], texts: list[FileText],
                page_map: PageMap) -> tuple[list[Marker], list[tuple[int, int | None]]]:
    """Where each printed page's marker goes: the markers in page order, and for each a file (its index)
    and an offset in that file's text, or None for the very end of the book."""
    word_starts, count = [], 0  # the index of each file's first word among all the book's words
    for text in texts:
        word_starts.append(count)
        count += len(text.words)
    epub_words = [word for text in texts for word in text.words]

    matched = align(page_map.words, epub_words, _Runs(texts, word_starts, epub_words))
    places: list[tuple[int, int | None]] = []  # per page: a file and an offset in its text
    earliest = 0  # a page begins no earlier than the page before it
    for start in page_map.starts:
        i = next((i for i in range(start, len(matched)) if matched[i] is not None), None)
        if i is None:
            places.append((len(files) - 1, None))  # nothing after this page matched: the end of the book
            continue
        j = matched[i]
        # The page's first words may be ones the aligner paired elsewhere (the half-title and the
        # title page both begin "Nikolai Bukharin"; the EPUB has the words once): where the words
        # just before the match agree, the page begins there.
        while i > start and j > earliest and page_map.words[i - 1] == epub_words[j - 1]:
            i, j = i - 1, j - 1
        earliest = j
        file_index = bisect.bisect_right(word_starts, j) - 1
        places.append((file_index, texts[file_index].starts[j - word_starts[file_index]]))
    markers = [Marker(label, files[file_index]) for label, (file_index, _) in zip(page_map.labels, places)]
    return markers, places


def insert_markers(root, segments: list[_Segment], placed: list[tuple[Marker, int | None]]) -> None:
    """One file's markers, in page order, each at its offset in the file's text (None: at the end)."""
    segment_starts = [s.start for s in segments]
    # Insert from the last page back, so that earlier offsets still point into unchanged text.
    for marker, offset in reversed(placed):
        element = _marker_element(marker)
        if offset is None:
            root.append(element)
            continue
        segment = segments[bisect.bisect_right(segment_starts, offset) - 1]
        _insert(element, segment, offset - segment.start)


GRAM = 4  # words that must agree for the two texts to count as back in step
RUN = 32  # words compared at once where the two texts agree


def _positions(words: list[str]) -> dict[str, list[int]]:
    """Where each word stands, in order."""
    found: dict[str, list[int]] = {}
    for index, word in enumerate(words):
        found.setdefault(word, []).append(index)
    return found


class _Runs:
    """Finds runs of GRAM words in a list of words, kept in parts (the book's files: a --watch
    rebuild keeps each file's index of its words for the files an edit did not touch)."""

    def __init__(self, parts: list[FileText], firsts: list[int], words: list[str]) -> None:
        self.parts, self.firsts, self.words = parts, firsts, words  # firsts: each part's first word's index

    def next_at(self, gram: tuple, after: int) -> int | None:
        """The first place at or after `after` where the run of words `gram` begins."""
        if len(gram) < GRAM:
            return None
        # Candidates are the places of one of its words, the longest (long words are the rare ones);
        # a run that begins at k has that word at k + offset, in whichever part that falls.
        offset = max(range(GRAM), key=lambda k: len(gram[k]))
        word, wanted, words = gram[offset], list(gram), self.words
        first = max(bisect.bisect_right(self.firsts, after + offset) - 1, 0)
        for index in range(first, len(self.parts)):
            places, start = self.parts[index].places.get(word), self.firsts[index]
            if not places:
                continue
            for k in range(bisect.bisect_left(places, after + offset - start), len(places)):
                begin = start + places[k] - offset
                if words[begin:begin + GRAM] == wanted:
                    return begin
        return None


def align(a: list[str], b: list[str], in_b: _Runs | None = None) -> list[int | None]:
    """For each word of a, the index of the same word in b, or None where only a has it.

    The two texts are nearly the same (the PDF has a printed contents, the EPUB its index's page
    numbers as text, each has a few words the other lacks), so one walk suffices: where they
    differ, skip ahead in whichever text reaches the other's next GRAM words sooner. Linear,
    where difflib's general matcher takes seconds on a whole book."""
    known = _POSITIONS.get(id(a))
    if known is None or known[0] is not a:  # the page map's words: the same list through a --watch session
        known = _POSITIONS[id(a)] = (a, _Runs([FileText(a, [], 0, _positions(a))], [0], a))
        while len(_POSITIONS) > 4:
            del _POSITIONS[next(iter(_POSITIONS))]
    in_a = known[1]
    if in_b is None:
        in_b = _Runs([FileText(b, [], 0, _positions(b))], [0], b)
    matched: list[int | None] = [None] * len(a)
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i] == b[j]:
            while a[i:i + RUN] == b[j:j + RUN] and i + RUN <= len(a):  # a run that agrees, matched at once
                matched[i:i + RUN] = range(j, j + RUN)
                i, j = i + RUN, j + RUN
            if i < len(a) and j < len(b) and a[i] == b[j]:
                matched[i] = j
                i, j = i + 1, j + 1
            continue
        skip_b, skip_a = _distance(in_b.next_at(tuple(a[i:i + GRAM]), j), j), \
            _distance(in_a.next_at(tuple(b[j:j + GRAM]), i), i)
        if skip_b is None and skip_a is None:
            # Differences close together: find the next pair of words both have, nearby.
            skip_b, skip_a = _nearby(a, i, b, j), _nearby(b, j, a, i)
        if skip_b is None and skip_a is None:
            i, j = i + 1, j + 1  # a word each side that the other lacks
        elif skip_a is None or (skip_b is not None and skip_b <= skip_a):
            j += skip_b  # text only the EPUB has
        else:
            i += skip_a  # text only the PDF has
    return matched


_POSITIONS: dict[int, tuple[list, _Runs]] = {}  # id(words) -> (words, where each of them stands)


def _distance(position, start):
    return None if position is None else position - start


def _nearby(a, i, b, j, reach=40):
    """How far ahead in b the words a[i], a[i + 1] stand together, within reach; or None."""
    for skip in range(1, reach):
        if b[j + skip:j + skip + 2] == a[i:i + 2]:
            return skip
    return None


def _text_pieces(root) -> tuple[list[str], list[tuple[int, html.HtmlElement, str]]]:
    """The text of a body in reading order, as pieces (a space stands for a block boundary), and
    which pieces are an element's text or tail: (index of the piece, element, "text"|"tail")."""
    texts: list[str] = []
    pieces: list[tuple[int, html.HtmlElement, str]] = []

    def walk(element):
        classes = element.get("class")
        if element.get("epub:type") in SKIPPED_TYPES or (classes and not SKIPPED_CLASSES.isdisjoint(classes.split())):
            return
        block = element.tag in BLOCKS
        if block:
            texts.append(" ")
        if element.text:
            pieces.append((len(texts), element, "text"))
            texts.append(element.text)
        for child in element:
            walk(child)
            if child.tail:
                pieces.append((len(texts), child, "tail"))
                texts.append(child.tail)
        if block:
            texts.append(" ")

    walk(root)
    return texts, pieces


def _marker_element(marker: Marker):
    return html.Element("span", {"id": marker.id, "epub:type": "pagebreak", "role": "doc-pagebreak",
                                 "aria-label": marker.label})


def _insert(marker, segment: _Segment, offset: int) -> None:
    element = segment.element
    if segment.where == "tail":
        text = element.tail
        element.tail = text[:offset]
        marker.tail = text[offset:]
        element.addnext(marker)
        return
    text = element.text
    if offset == 0:
        # At the very start of a block: stand before it (and before the blocks it opens), not
        # inside a heading, whose spoken name would then include the page number.
        chain, target = [element], element
        while (target.getprevious() is None and target.getparent() is not None
               and target.getparent().getparent() is not None and not (target.getparent().text or "").strip()):
            target = target.getparent()
            chain.append(target)
        outer = [e for e in chain if e.getparent() is not None and e.getparent().tag in FLOW_PARENTS]
        if outer:
            target = outer[-1]
            while target.getprevious() is not None and target.getprevious().get("epub:type") == "pagebreak":
                target = target.getprevious()  # a later page's marker at the same place stays after
            target.addprevious(marker)
            return
    element.text = text[:offset]
    marker.tail = text[offset:]
    element.insert(0, marker)


XHTML = "http://www.w3.org/1999/xhtml"
OPS = "http://www.idpf.org/2007/ops"


def add_page_list(nav_xhtml: bytes, markers: list[Marker]) -> bytes:
    """nav.xhtml with a page-list: reading systems offer "go to page" with it. Hidden, since it
    is for navigation, not for reading through."""
    from lxml import etree

    tree = etree.fromstring(nav_xhtml)
    body = tree.find(f"{{{XHTML}}}body")
    nav = etree.SubElement(body, f"{{{XHTML}}}nav", {f"{{{OPS}}}type": "page-list", "id": "page-list",
                                                     "hidden": "hidden"})
    etree.SubElement(nav, f"{{{XHTML}}}h2").text = "Pages of the A4 print edition"
    ordered = etree.SubElement(nav, f"{{{XHTML}}}ol")
    for marker in markers:
        item = etree.SubElement(ordered, f"{{{XHTML}}}li")
        etree.SubElement(item, f"{{{XHTML}}}a", {"href": f"{marker.file_name}#{marker.id}"}).text = marker.label
    return etree.tostring(tree.getroottree(), xml_declaration=True, encoding="utf-8")
