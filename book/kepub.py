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
import multiprocessing
import os
import posixpath
import re
import zipfile
from urllib.parse import unquote

from lxml import etree

from . import cache
from .epub import packed_files, repack
from .epub_files import share_of
from .memo import Memo, collections_paused

XHTML = "http://www.w3.org/1999/xhtml"
OPS = "http://www.idpf.org/2007/ops"
EPUB_TYPE = f"{{{OPS}}}type"
SPAN = f"{{{XHTML}}}span"

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
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


class Spanner:
    """Walks one document's body in reading order, numbering blocks and sentences."""

    def __init__(self) -> None:
        self.paragraph = 0
        self.sentence = 0
        self.new_block = True
        self.recent = ""  # the current block's text so far, for abbreviations across elements
        self.count = 0

    def span(self, parent, text: str | None = None):
        """A new span, made in parent's document (an element made on its own would bring a
        document of its own, to be merged when it is inserted: most of the cost)."""
        if self.new_block:
            self.paragraph, self.sentence, self.new_block = self.paragraph + 1, 0, False
        self.sentence += 1
        self.count += 1
        span = parent.makeelement(SPAN, {"class": "koboSpan", "id": f"kobo.{self.paragraph}.{self.sentence}"})
        span.text = text
        return span

    def spans_for(self, parent, text: str) -> list:
        spans = [self.span(parent, piece) for piece in split_sentences(text, self.recent)]
        self.recent = (self.recent + text)[-60:]
        return spans

    def walk(self, element, name: str | None = None) -> None:
        name = local(element) if name is None else name
        block = name in BLOCKS
        if block:
            self.new_block, self.recent = True, ""
        children = list(element)
        text = element.text  # read once: each read decodes the text anew
        if text and not text.isspace():
            element[0:0] = self.spans_for(element, text)
            element.text = None
        for child in children:
            child_name = local(child)
            if child_name == "img" and name != "picture":
                self.new_block = True  # a picture is a stop of its own, as in Kobo's kepubs
                tail, child.tail = child.tail, None
                holder = self.span(element)
                element.replace(child, holder)
                holder.append(child)
                holder.tail, child = tail, holder
            elif not left_alone(child, child_name):
                self.walk(child, child_name)
            tail = child.tail
            if tail and not tail.isspace():
                position = element.index(child) + 1
                element[position:position] = self.spans_for(element, tail)
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
    # Words the markup cannot hold unless its bytes do (or a character reference spells them):
    # a search of the bytes spares a search of the tree.
    spelled = b"&#" in data
    if body is None or ((b"koboSpan" in data or spelled)
                        and body.xpath(".//*[contains(concat(' ', @class, ' '), ' koboSpan ')]")):
        return data, 0
    typed = body.xpath(".//*[@epub:type]", namespaces={"epub": OPS})  # the walk adds no epub:type
    if any(has_token(element.get(EPUB_TYPE), "cover") for element in typed):
        return data, 0  # a picture: nothing to read
    spanner = Spanner()
    spanner.walk(body)
    if not spanner.count:
        return data, 0
    for call in [element for element in typed if has_token(element.get(EPUB_TYPE), "noteref")]:
        call.set(EPUB_TYPE, call.get(EPUB_TYPE) + " endnote")
    if not ((b"book-columns" in data or b"book-inner" in data or spelled)  # the walk adds only kobo.* ids
            and body.xpath(".//*[@id = 'book-columns' or @id = 'book-inner']")):
        wrap_body(body)
    return etree.tostring(root.getroottree(), encoding="utf-8", xml_declaration=True), spanner.count


def has_token(value: str, token: str) -> bool:
    """XPath's contains(concat(' ', value, ' '), ' token '): the token between spaces."""
    return f" {token} " in f" {value} "


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


@collections_paused()
def kepub_from_epub(data: bytes) -> tuple[bytes, int]:
    """The kepub made from an EPUB archive's bytes, and the number of sentence spans in it."""
    files, stamp = unpacked(data)
    documents = content_documents(files)
    names = [name for name in files if name in documents]
    spans = 0
    for name, (done, count) in zip(names, kobo_documents([files[name] for name in names])):
        files[name] = done
        spans += count
    return repack(files, dt.date(*stamp[:3])), spans  # the EPUB's own fixed date, so both carry the same


PARALLEL_FROM = 300_000  # bytes of XHTML to transform below which a second process does not pay
AHEAD_SHARE = 2 / 3  # of the documents, for a worker started while the EPUB is finished (transform_ahead)


def transform_ahead(documents: list[bytes]) -> None:
    """Start on the kepub while the EPUB is being finished: a cold build has the whole book to do,
    and nothing else for the other core by then. A forked process transforms about two thirds of
    the EPUB's content documents (this one, meanwhile, finishes the EPUB: fonts, archive), and
    kobo_documents takes its results."""
    global _AHEAD
    if _AHEAD is not None:
        _AHEAD.stop()  # a kepub never asked for
        _AHEAD = None
    keys = [hashlib.sha256(data).digest() for data in documents]
    missing = [index for index, key in enumerate(keys) if _DONE.lookup(key) is None]
    theirs = share_of(missing, [len(documents[index]) for index in missing], AHEAD_SHARE, PARALLEL_FROM)
    if theirs:
        _AHEAD = Worker([documents[index] for index in theirs], [keys[index] for index in theirs])


_AHEAD: Worker | None = None  # the worker transform_ahead started, until kobo_documents takes it


def kobo_documents(documents: list[bytes]) -> list[tuple[bytes, int]]:
    """kobo_document_once of each document: those of a worker started ahead, or else about half of
    them, are done by a forked process (a cold build has nothing else for the other core to do)."""
    keys = [hashlib.sha256(data).digest() for data in documents]
    done: list = [_DONE.lookup(key) for key in keys]
    missing = [index for index, value in enumerate(done) if value is None]
    worker = worker_for({keys[index] for index in missing})
    if worker is None:
        theirs = share_of(missing, [len(documents[index]) for index in missing], 1 / 2, PARALLEL_FROM)
        worker = Worker([documents[index] for index in theirs], [keys[index] for index in theirs]) if theirs else None
    theirs_keys = set(worker.keys) if worker else set()
    for index in missing:
        if keys[index] not in theirs_keys:
            done[index] = kobo_document(documents[index])
    results = dict(zip(worker.keys, worker.results())) if worker else {}
    for index in missing:
        # Ours, the worker's, or (the worker failed) done here.
        done[index] = done[index] or results.get(keys[index]) or kobo_document(documents[index])
        _DONE.keep(keys[index], done[index])
    return done


def worker_for(wanted: set[bytes]) -> Worker | None:
    """The worker started ahead, if what it does is wanted (else it is stopped)."""
    global _AHEAD
    worker, _AHEAD = _AHEAD, None
    if worker is not None and not set(worker.keys) <= wanted:
        worker.stop()
        return None
    return worker


class Worker:
    """kobo_document of some documents (keys: their SHA-256) in a forked process (no start-up: it
    has this one's modules)."""

    def __init__(self, documents: list[bytes], keys: list[bytes]) -> None:
        self.keys = keys
        context = multiprocessing.get_context("fork")
        self.connection, theirs = context.Pipe(duplex=False)
        self.process = context.Process(target=_transform, args=(theirs, os.getpid(), documents), daemon=True)
        self.process.start()
        theirs.close()

    def results(self) -> list[tuple[bytes, int]]:
        """Its results, or [] if it failed (the caller then does the documents itself)."""
        try:
            results = self.connection.recv()
        except (EOFError, OSError):
            results = []
        self.connection.close()
        self.process.join()
        return results

    def stop(self) -> None:
        self.process.kill()
        self.connection.close()
        self.process.join()


def _transform(connection, parent: int, documents: list[bytes]) -> None:
    from .processes import die_with_parent

    die_with_parent(parent)
    connection.send([kobo_document(data) for data in documents])
    connection.close()


def unpacked(data: bytes) -> tuple[dict[str, bytes], tuple]:
    """An archive's files in its order, and its first file's time stamp."""
    known = packed_files(data)
    if known is not None:  # the EPUB this process just packed: its files, not unpacked again
        return known
    source = zipfile.ZipFile(io.BytesIO(data))
    return {name: source.read(name) for name in source.namelist()}, source.infolist()[0].date_time
