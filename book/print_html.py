"""The book as one HTML document for print: notes set where they are called, calls kept with their word.

Kept apart from book/pdf.py, which imports WeasyPrint (a second to import), so that the EPUB and
the web edition can find the print edition's cached page map without loading the layout engine.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from lxml import html

from . import pagemap
from .html import append_inline, note_paragraphs, note_refs
from .model import BACK_MATTER, BookView, IndexEntry
from .pagemap import PAGE_SOURCE
from .pdf_parts import layout_code
from .templates import MANY_PAGES, environment, index_groups


def print_html(view: BookView, index: list[IndexEntry], edition: str = "student") -> str:
    """The book as one HTML document, notes moved to where they are called. The teacher's edition
    is the student's book followed by the teacher's notes, so that its pages are the student's."""
    markup = environment().get_template("print.html.j2").render(
        config=view.config, year=view.year, front=view.front, chapters=view.chapters, back=BACK_MATTER,
        events=view.events, people=view.people, terms=view.terms, sources=view.sources, conflicts=view.conflicts,
        index_groups=index_groups(index), index_by_heading={e.heading: e for e in index},
        paged=True, many=MANY_PAGES, edition=edition, teacher=view.teacher)
    root = html.document_fromstring(markup)
    for ref in note_refs(root):
        span = html.Element("span", {"class": "footnote"})  # a float must hold inline content only
        for number, paragraph in enumerate(note_paragraphs(view.notes[ref.get("href").lstrip("#")])):
            append_inline(span, paragraph, " " if number else "")
        span.tail = ref.tail
        ref.getparent().replace(ref, span)
        parent = span.getparent()
        keep_call_with_word(parent if "citation" in (parent.get("class") or "") else span)
    return html.tostring(root, encoding="unicode", doctype="<!DOCTYPE html>")


def keep_call_with_word(holder) -> None:
    """Wrap a note call with the word before it, so that no line starts with a note number."""
    parent, previous = holder.getparent(), holder.getprevious()
    text = previous.tail if previous is not None else parent.text
    match = re.match(r"(.*?)(\S+)$", text or "", re.S)
    if not match:
        return
    head, word = match.groups()
    if previous is not None:
        previous.tail = head
    else:
        parent.text = head
    position, tail = parent.index(holder), holder.tail
    holder.tail = None
    parent.remove(holder)
    wrapper = html.Element("span", {"class": "nobreak"})
    wrapper.text = word
    wrapper.append(holder)
    wrapper.tail = tail
    parent.insert(position, wrapper)


# What the print edition's HTML is made from, besides the code: the book's text and data, the
# citation style, and the print styles and fonts (the web's and the e-book's styles are not).
PRINT_INPUTS = ("chapters", "sources", "styles/csl", "styles/fonts", "styles/print.css", "styles/fonts.css")
LIBRARIES = ("pypandoc-binary", "weasyprint", "lxml", "jinja2", "markupsafe", "pyphen")


def page_map_key(view: BookView, root: Path) -> str:
    """The key of the print edition's page map: everything its HTML and its layout are made of.

    Not the HTML itself, which takes a Jinja render and an lxml pass over the whole book: a hash
    of the files it comes from, the builder's code and the libraries' versions is as exact (a
    change to any of them is a new key) and a tenth of the work. `view` is not read; it is the
    book those files make."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256(b"page-map\0" + PAGE_SOURCE.encode() + b"\0" + layout_code())
    for name in LIBRARIES:
        try:
            digest.update(f"{name}={version(name)}\0".encode())
        except PackageNotFoundError:
            digest.update(f"{name}=none\0".encode())
    code = Path(__file__).parent
    files = [*code.rglob("*.py"), *(code / "templates").rglob("*")]
    for name in PRINT_INPUTS:
        top = root / name
        files += [top] if top.is_file() else sorted(top.rglob("*")) if top.is_dir() else []
    named = {str(path.relative_to(code.parent if path.is_relative_to(code) else root)): path
             for path in files if path.is_file()}
    for where in sorted(named):  # by the name inside the book, so that a copy elsewhere has the same key
        digest.update(where.encode() + b"\0" + hashlib.sha256(named[where].read_bytes()).digest())
    return pagemap.cache_key(digest.hexdigest(), root, PAGE_SOURCE, code=b"")  # with the styles, as before
