"""Print page numbers in the EPUB: a page-break marker at the word where each A4 page begins.

The print edition's words (from the page map) are aligned with the EPUB's words, file by file
in reading order; each page's marker goes before the EPUB word matched to the first word of that
page. Alignment, not a search for each page's first words, so that text only one format has (the
printed contents, the EPUB's index page numbers) cannot pull a marker to the wrong place.
"""
from __future__ import annotations

import bisect
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


def insert_page_markers(trees: dict[str, html.HtmlElement], page_map: PageMap) -> list[Marker]:
    """Put one marker per printed page into the trees (file name -> body); return them in page order."""
    files = list(trees)
    texts, segments, file_starts = [], [], []
    length = 0
    for name in files:
        file_starts.append(length)
        for piece, segment in _text_pieces(trees[name]):
            if segment is not None:
                segments.append(_Segment(length, *segment))
            texts.append(piece)
            length += len(piece)
    joined = "".join(texts)
    matches = list(WORD.finditer(joined))
    epub_words = [m.group().lower() for m in matches]

    matched = align(page_map.words, epub_words)
    places = []  # per page: an offset in the joined text
    earliest = 0  # a page begins no earlier than the page before it
    for start in page_map.starts:
        i = next((i for i in range(start, len(matched)) if matched[i] is not None), None)
        if i is None:
            places.append(length)  # nothing after this page matched: the end of the book
            continue
        j = matched[i]
        # The page's first words may be ones the aligner paired elsewhere (the half-title and the
        # title page both begin "Nikolai Bukharin"; the EPUB has the words once): where the words
        # just before the match agree, the page begins there.
        while i > start and j > earliest and page_map.words[i - 1] == epub_words[j - 1]:
            i, j = i - 1, j - 1
        earliest = j
        places.append(matches[j].start())

    markers = []
    for label, offset in zip(page_map.labels, places):
        file_index = bisect.bisect_right(file_starts, offset) - 1 if offset < length else len(files) - 1
        markers.append(Marker(label, files[file_index]))
    segment_starts = [s.start for s in segments]
    # Insert from the last page back, so that earlier offsets still point into unchanged text.
    for marker, offset in reversed(list(zip(markers, places))):
        element = _marker_element(marker)
        if offset >= length:
            trees[files[-1]].append(element)
            continue
        segment = segments[bisect.bisect_right(segment_starts, offset) - 1]
        _insert(element, segment, offset - segment.start)
    return markers


GRAM = 4  # words that must agree for the two texts to count as back in step


def align(a: list[str], b: list[str]) -> list[int | None]:
    """For each word of a, the index of the same word in b, or None where only a has it.

    The two texts are nearly the same (the PDF has a printed contents, the EPUB its index's page
    numbers as text, each has a few words the other lacks), so one walk suffices: where they
    differ, skip ahead in whichever text reaches the other's next GRAM words sooner. Linear,
    where difflib's general matcher takes seconds on a whole book."""
    def positions(words):
        found: dict[tuple, list[int]] = {}
        for index, gram in enumerate(zip(*(words[k:] for k in range(GRAM)))):  # each run of GRAM words
            found.setdefault(gram, []).append(index)
        return found

    def next_at(table, gram, after):
        places = table.get(gram)
        if not places:
            return None
        k = bisect.bisect_left(places, after)
        return places[k] if k < len(places) else None

    known = _POSITIONS.get(id(a))
    if known is None or known[0] is not a:  # the page map's words: the same list through a --watch session
        known = _POSITIONS[id(a)] = (a, positions(a))
        while len(_POSITIONS) > 4:
            del _POSITIONS[next(iter(_POSITIONS))]
    in_a, in_b = known[1], positions(b)
    matched: list[int | None] = [None] * len(a)
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i] == b[j]:
            matched[i] = j
            i, j = i + 1, j + 1
            continue
        skip_b, skip_a = _distance(next_at(in_b, tuple(a[i:i + GRAM]), j), j), \
            _distance(next_at(in_a, tuple(b[j:j + GRAM]), i), i)
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


_POSITIONS: dict[int, tuple[list, dict]] = {}  # id(words) -> (words, where each run of words stands)


def _distance(position, start):
    return None if position is None else position - start


def _nearby(a, i, b, j, reach=40):
    """How far ahead in b the words a[i], a[i + 1] stand together, within reach; or None."""
    for skip in range(1, reach):
        if b[j + skip:j + skip + 2] == a[i:i + 2]:
            return skip
    return None


def _text_pieces(root):
    """The text of a body in reading order, as (piece, (element, "text"|"tail") or None);
    None marks a space standing for a block boundary."""
    def walk(element):
        if element.get("epub:type") in SKIPPED_TYPES or SKIPPED_CLASSES & set(element.get("class", "").split()):
            return
        block = element.tag in BLOCKS
        if block:
            yield " ", None
        if element.text:
            yield element.text, (element, "text")
        for child in element:
            yield from walk(child)
            if child.tail:
                yield child.tail, (child, "tail")
        if block:
            yield " ", None

    yield from walk(root)


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
