"""The web edition's search data: one record per paragraph, shipped as a script.

Search runs in the reader's browser with MiniSearch (styles/web/vendor/), which indexes these
records when the search page opens. The data is a plain <script>, not a file fetched at run time,
so that search works from a site opened from disk (file://) as well as from any host: browsers
refuse fetch() and modules from disk, which is why Pagefind could not search there.
"""
from __future__ import annotations

import json

from lxml import etree, html


# The blocks a result can open at; a block inside another (a <p> in an <li>) is its own record.
# Headings are not results: each paragraph carries its section's heading, to say where it stands.
BLOCKS = ("p", "li", "dd", "dt", "td", "th", "blockquote", "figcaption")
HEADINGS = ("h2", "h3")
# What the text shows but search should not: note calls and margin notes, glossary tooltips,
# the print edition's page numbers.
SKIP = 'contains(@class, "sidenote") or contains(@class, "gloss-tip") or @epub:type="noteref" ' \
       'or contains(@class, "noteref") or contains(@class, "pagebreak")'
NAMESPACES = {"epub": "http://www.idpf.org/2007/ops"}
DATA_FILE = "search-data.js"


SKIPPED = etree.XPath(f"self::*[{SKIP}]", namespaces=NAMESPACES)  # compiled once: called for every element
IN_SKIPPED = etree.XPath(f"ancestor-or-self::*[{SKIP}]", namespaces=NAMESPACES)


def block_text(element: html.HtmlElement, blocks: set) -> str:
    """The words a reader sees in a block, less the parts search skips and the blocks inside it."""
    parts = [element.text or ""]
    for child in element:
        if not isinstance(child.tag, str):
            parts.append(child.tail or "")
            continue
        if child.tag in blocks or child.tag == "br":  # a line or a block of its own: a word boundary
            parts.append(" ")
        elif not SKIPPED(child):
            parts.append(block_text(child, blocks))
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())


def search_records(pages: list[list[dict]]) -> list[dict]:
    """The searchable pages' records (page_records), in reading order, numbered through the book."""
    records = []
    for own in pages:
        records += [{"id": len(records) + number, **record} for number, record in enumerate(own)]
    return records


def page_records(page, tree: html.HtmlElement) -> list[dict]:
    records = []
    blocks = set(BLOCKS)
    section = ""
    for element in tree.iter(*BLOCKS, *HEADINGS):
        if IN_SKIPPED(element):
            continue
        text = block_text(element, blocks)
        if element.tag == "h2":
            section = text
        if element.tag in HEADINGS or not text or not element.get("id"):
            continue
        records.append({"page": page.file_name, "anchor": element.get("id"), "title": page.title,
                        "section": section, "text": text})
    return records


def search_script(records: list[dict]) -> str:
    """The records as a script that sets one global; the same records give the same bytes."""
    data = json.dumps(records, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    # "</" cannot end a script element's text early; JSON allows the escaped form.
    return "window.BOOK_SEARCH = " + data.replace("</", "<\\/") + ";\n"
