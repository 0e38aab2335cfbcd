"""What the EPUB tells reading systems and readers about its accessibility, in one place.

The package's accessibility metadata (EPUB Accessibility 1.1, schema.org terms) claims only what the
build guarantees and tests/test_epub_accessibility.py checks: text throughout (the cover picture has
alternative text), headings and roles on every part, a contents list and an index, links that are
underlined and take the reader's text colour, no fixed sizes. The other functions finish what
ebooklib writes: the package's language and a landmarks list that stays out of the reading order.
"""
from __future__ import annotations

from ebooklib import epub
from lxml import etree

# Page features: the A4 edition's page-break markers and page list (book/epub_pages.py).
ACCESSIBILITY_FEATURES = ["structuralNavigation", "tableOfContents", "index", "readingOrder",
                          "alternativeText", "ARIA", "displayTransformability", "pageBreakMarkers",
                          "pageNavigation"]

ACCESSIBILITY_SUMMARY = (
    "This publication is text throughout; its only image, the cover, has a text alternative. Every part "
    "has headings in order and is marked as a chapter, preface, glossary, bibliography, index or appendix, "
    "and a contents list and an index lead to each chapter and section. Notes are linked both ways and "
    "open as pop-ups where the reading system supports them. Links are underlined and take the colour of "
    "the surrounding text, so they can be told apart without colour and keep their contrast in any "
    "reading theme; sizes are relative, so the reader's font size, theme and margins apply. Russian names "
    "in Cyrillic are marked as Russian. The page numbers of the A4 print edition are marked where each "
    "page begins and listed for page navigation, and the index gives those page numbers. The project's "
    "own tests check every build with Ace by DAISY and EPUBCheck.")

# The level the tests verify: Ace by DAISY reports no critical or serious issue, links keep a 4.5:1
# contrast in a dark theme, headings are in order and every part has its role (see the tests).
CONFORMS_TO = "EPUB Accessibility 1.1 - WCAG 2.1 Level AA"

# Apple Books uses the book's own fonts only when the book asks for them.
APPLE_DISPLAY_OPTIONS = b"""<?xml version="1.0" encoding="UTF-8"?>
<display_options>
  <platform name="*">
    <option name="specified-fonts">true</option>
  </platform>
</display_options>
"""
APPLE_DISPLAY_OPTIONS_PATH = "META-INF/com.apple.ibooks.display-options.xml"

XHTML = "http://www.w3.org/1999/xhtml"
OPS = "http://www.idpf.org/2007/ops"
OPF = "http://www.idpf.org/2007/opf"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def accessibility_metadata(certified_by: str) -> list[tuple[str, str]]:
    """(property, value) pairs for the package's <meta> elements, in a fixed order."""
    return [("schema:accessMode", "textual"),
            ("schema:accessModeSufficient", "textual"),
            *(("schema:accessibilityFeature", feature) for feature in ACCESSIBILITY_FEATURES),
            ("schema:accessibilityHazard", "none"),
            ("schema:accessibilitySummary", ACCESSIBILITY_SUMMARY),
            ("dcterms:conformsTo", CONFORMS_TO),
            ("a11y:certifiedBy", certified_by)]


def add_accessibility_metadata(book: epub.EpubBook, certified_by: str) -> None:
    for prop, value in accessibility_metadata(certified_by):
        book.add_metadata(None, "meta", value, {"property": prop})


def finish_package(opf: bytes, language: str) -> bytes:
    """xml:lang on <package>, which ebooklib does not write, so that every string in it has a language."""
    root = etree.fromstring(opf)
    root.set(XML_LANG, language)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def finish_nav(nav: bytes) -> bytes:
    """The landmarks list is for the reading system, not for reading: hidden. The contents' heading is
    the document's first heading, so it becomes an h1 (ebooklib writes h2)."""
    root = etree.fromstring(nav)
    ns = {"x": XHTML, "epub": OPS}
    for landmarks in root.xpath('//x:nav[@epub:type="landmarks"]', namespaces=ns):
        landmarks.set("hidden", "")
    for heading in root.xpath('//x:nav[@epub:type="toc"]/x:h2', namespaces=ns):
        heading.tag = f"{{{XHTML}}}h1"
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", doctype="<!DOCTYPE html>")
