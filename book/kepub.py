"""The Kobo edition (kepub): the finished EPUB with the markup Kobo's reader expects.

Kobo's reader locates, highlights and times the reader by spans of class koboSpan, one per
sentence, with ids kobo.P.S (P counts blocks, S the sentences within one); without them a book
gets no reading statistics. Official kepubs also wrap each body in div#book-columns >
div#book-inner, the reader's hook for its pagination styles. Kobo's reader does not act on
"noteref"; a call that also says "endnote" opens its note as a pop-up (Standard Ebooks' kepubs do
the same), so calls get that word as well.

This is a transform of the EPUB archive's bytes, so it knows nothing of how the EPUB was made:
whatever else is in the documents (page-break markers, ARIA roles, fonts, metadata) passes
through untouched, and the text a reader sees stays exactly the same.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import posixpath
import re
import zipfile
from urllib.parse import unquote

from lxml import etree

from . import cache
from .epub import packed_files, repack
from .memo import Memo

XHTML = "http://www.w3.org/1999/xhtml"
OPS = "http://www.idpf.org/2007/ops"
EPUB_TYPE = f"{{{OPS}}}type"

# A new block starts a new paragraph number.
BLOCKS = {"address", "article", "aside", "blockquote", "caption", "dd", "details", "div", "dl", "dt",
          "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "li", "main",
          "ol", "p", "section", "summary", "table", "td", "th", "tr", "ul"}
# Text left as it is: not prose, or an element whose content may not hold a span.
UNSPANNED = {"head", "math", "nav", "pre", "ruby", "script", "select", "style", "svg", "template",
             "textarea", "title"}

# Words ending in a full stop that do not end a sentence when a capital follows.
ABBREVIATIONS = {"al.", "approx.", "art.", "c.", "ca.", "capt.", "cf.", "ch.", "chap.", "col.", "comp.",
                 "dr.", "e.g.", "ed.", "eds.", "esp.", "ff.", "fig.", "gen.", "i.e.", "jr.", "lt.", "mr.",
                 "mrs.", "ms.", "mt.", "n.", "nn.", "no.", "nos.", "op.", "p.", "para.", "paras.", "pp.",
                 "prof.", "rev.", "sr.", "st.", "tr.", "trans.", "v.", "viz.", "vol.", "vols.", "vs.",
                 "jan.", "feb.", "mar.", "apr.", "aug.", "sept.", "sep.", "oct.", "nov.", "dec."}
# Sentence-ending punctuation, closing quotes or brackets, then ordinary spaces (a no-break
# space deliberately joins, as in "p. 213"); whether a sentence starts after it is decided below.
SENTENCE_END = re.compile(r"[.!?][.!?…]*([’”\"'»)\]]*)[ \t\r\n]+")
OPENERS = "“‘\"'«(["


def split_sentences(text: str, before: str = "") -> list[str]:
    """The text cut after each sentence, each piece keeping its trailing space; "".join gives it back.

    `before` is the text of the same block that precedes this piece, so that "St" + "." across
    an element boundary is still known for an abbreviation.
    """
    pieces, start = [], 0
    for end in SENTENCE_END.finditer(text):
        following = text[end.end():].lstrip(OPENERS)
        if not following or not following[0].isupper():
            continue
        full_stop = end.group(0).rstrip(" \t\r\n").rstrip("’”\"'»)]") == "."
        if full_stop and not_a_sentence_end(before + text[:end.start()]):
            continue
        pieces.append(text[start:end.end()])
        start = end.end()
    pieces.append(text[start:])
    return [piece for piece in pieces if piece]


def not_a_sentence_end(preceding: str) -> bool:
    """True when the word before a full stop is an abbreviation or an initial ("N. I. Bukharin")."""
    word = preceding.split()[-1].lstrip(OPENERS) if preceding.split() else ""
    return (word.lower() + "." in ABBREVIATIONS or (len(word) == 1 and word.isalpha())
            or re.fullmatch(r"(\w\.)+\w", word) is not None)


def local(element) -> str:
    return element.tag.rpartition("}")[2] if isinstance(element.tag, str) else ""


class Spanner:
    """Walks one document's body in reading order, numbering blocks and sentences."""

    def __init__(self) -> None:
        self.paragraph = 0
        self.sentence = 0
        self.new_block = True
        self.recent = ""  # the current block's text so far, for abbreviations across elements
        self.count = 0

    def span(self, text: str | None = None):
        if self.new_block:
            self.paragraph, self.sentence, self.new_block = self.paragraph + 1, 0, False
        self.sentence += 1
        self.count += 1
        span = etree.Element(f"{{{XHTML}}}span", {"class": "koboSpan", "id": f"kobo.{self.paragraph}.{self.sentence}"})
        span.text = text
        return span

    def spans_for(self, text: str) -> list:
        spans = [self.span(piece) for piece in split_sentences(text, self.recent)]
        self.recent = (self.recent + text)[-60:]
        return spans

    def walk(self, element, name: str | None = None) -> None:
        name = local(element) if name is None else name
        block = name in BLOCKS
        if block:
            self.new_block, self.recent = True, ""
        children = list(element)
        if element.text and element.text.strip():
            for index, span in enumerate(self.spans_for(element.text)):
                element.insert(index, span)
            element.text = None
        for child in children:
            child_name = local(child)
            if child_name == "img" and name != "picture":
                self.new_block = True  # a picture is a stop of its own, as in Kobo's kepubs
                tail, child.tail = child.tail, None
                holder = self.span()
                element.replace(child, holder)
                holder.append(child)
                holder.tail, child = tail, holder
            elif not left_alone(child, child_name):
                self.walk(child, child_name)
            if child.tail and child.tail.strip():
                position = element.index(child) + 1
                for offset, span in enumerate(self.spans_for(child.tail)):
                    element.insert(position + offset, span)
                child.tail = None
        if block:
            self.new_block, self.recent = True, ""


def left_alone(element, name: str | None = None) -> bool:
    """Comments, code, navigation, page-break markers and spans already made stay as they are.
    name: the element's local name, if known ("" for a comment)."""
    name = local(element) if name is None else name
    if not name or name in UNSPANNED:
        return True
    types = (element.get(EPUB_TYPE) or "").split()
    return ("pagebreak" in types or element.get("role") == "doc-pagebreak"
            or "koboSpan" in (element.get("class") or "").split()
            or (name == "time" and element.get("datetime") is None))


def kobo_document(data: bytes) -> tuple[bytes, int]:
    """One XHTML content document made Kobo's way, and its number of spans; as it was if it has no prose."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    body = root.find(f"{{{XHTML}}}body")
    if body is None or body.xpath(".//*[contains(concat(' ', @class, ' '), ' koboSpan ')]"):
        return data, 0
    if body.xpath(".//*[contains(concat(' ', @epub:type, ' '), ' cover ')]", namespaces={"epub": OPS}):
        return data, 0  # a picture: nothing to read
    spanner = Spanner()
    spanner.walk(body)
    if not spanner.count:
        return data, 0
    for call in body.xpath(".//*[contains(concat(' ', @epub:type, ' '), ' noteref ')]", namespaces={"epub": OPS}):
        call.set(EPUB_TYPE, call.get(EPUB_TYPE) + " endnote")
    if not body.xpath(".//*[@id = 'book-columns' or @id = 'book-inner']"):
        wrap_body(body)
    return etree.tostring(root.getroottree(), encoding="utf-8", xml_declaration=True), spanner.count


_DONE = Memo(32 << 20, lambda done: len(done[0]))  # --watch: an edit changes one document; the others are done


def kobo_document_once(data: bytes) -> tuple[bytes, int]:
    if not cache.enabled():
        return kobo_document(data)
    return _DONE.get(hashlib.sha256(data).digest(), lambda: kobo_document(data))


def wrap_body(body) -> None:
    inner = etree.Element(f"{{{XHTML}}}div", {"id": "book-inner"})
    inner.text, body.text = body.text, None
    inner.extend(list(body))
    columns = etree.SubElement(body, f"{{{XHTML}}}div", {"id": "book-columns"})
    columns.append(inner)


def content_documents(files: dict[str, bytes]) -> set[str]:
    """The XHTML documents the package lists, as paths inside the archive; not the contents (links only)."""
    container = etree.fromstring(files["META-INF/container.xml"])
    opf_path = container.xpath("//*[local-name() = 'rootfile']/@full-path")[0]
    opf = etree.fromstring(files[opf_path])
    folder = posixpath.dirname(opf_path)
    return {posixpath.normpath(posixpath.join(folder, unquote(item.get("href"))))
            for item in opf.xpath("//*[local-name() = 'manifest']/*[local-name() = 'item']")
            if item.get("media-type") == "application/xhtml+xml"
            and "nav" not in (item.get("properties") or "").split()}


def kepub_from_epub(data: bytes) -> tuple[bytes, int]:
    """The kepub made from an EPUB archive's bytes, and the number of sentence spans in it."""
    files, stamp = unpacked(data)
    documents = content_documents(files)
    spans = 0
    for name in files:
        if name in documents:
            files[name], count = kobo_document_once(files[name])
            spans += count
    return repack(files, dt.date(*stamp[:3])), spans  # the EPUB's own fixed date, so both carry the same


def unpacked(data: bytes) -> tuple[dict[str, bytes], tuple]:
    """An archive's files in its order, and its first file's time stamp."""
    known = packed_files(data)
    if known is not None:  # the EPUB this process just packed: its files, not unpacked again
        return known
    source = zipfile.ZipFile(io.BytesIO(data))
    return {name: source.read(name) for name in source.namelist()}, source.infolist()[0].date_time
