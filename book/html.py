"""Surgery on pandoc's HTML with lxml: cut it into snippets, collect notes and the bibliography.

Pandoc renders the whole book as one HTML string whose notes are numbered across the book and
collected at its end. Here the notes are taken out and kept by id; each output format puts them
back in its own way (the PDF as footnotes at the foot of the page, the EPUB as pop-up asides)
and numbers them per part.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from lxml import html
from markupsafe import Markup

@dataclass
class RenderedHTML:
    snippets: dict[str, html.HtmlElement]  # snippet id -> its div
    notes: dict[str, html.HtmlElement]  # "fn12" -> the note's content, back-link removed
    bibliography: dict[str, html.HtmlElement] = field(default_factory=dict)  # source id -> entry

    # snippet id -> its inner() and inline() once written out, by inline; book/incremental.py's
    # assemble hands in the dicts of snippets it remembers, so that each is written out once
    markup: dict[str, dict[bool, Markup]] = field(default_factory=dict)

    def inner(self, snippet_id: str) -> Markup:
        """A snippet's content as HTML (its div removed)."""
        return self._markup(snippet_id, False)

    def inline(self, snippet_id: str) -> Markup:
        """A one-paragraph snippet's content without its <p>, for use inside a line of text."""
        return self._markup(snippet_id, True)

    def _markup(self, snippet_id: str, inline: bool) -> Markup:
        div = self.snippets.get(snippet_id)
        if div is None:
            return Markup("")
        known = self.markup.setdefault(snippet_id, {})
        if inline not in known:
            children = list(div)
            only_paragraph = inline and len(children) == 1 and children[0].tag == "p"
            known[inline] = Markup(inner_html(children[0] if only_paragraph else div))
        return known[inline]


def inner_html(element) -> str:
    text = element.text or ""
    return text + "".join(html.tostring(child, encoding="unicode") for child in element)


def split_pandoc_html(markup: str) -> RenderedHTML:
    root = html.fragment_fromstring(markup, create_parent="div")
    notes = {item.get("id"): item for item in root.xpath('.//section[@id="footnotes"]/ol/li')}
    for section in root.xpath('.//section[@id="footnotes"]'):
        section.getparent().remove(section)
    snippets = {div.get("id"): div for div in root.xpath('./div[contains(@class, "snippet")]')}
    return finish_notes(snippets, notes)


def finish_notes(snippets: dict[str, html.HtmlElement], notes: dict[str, html.HtmlElement]) -> RenderedHTML:
    """Pandoc's snippets and notes as the outputs take them: back-links gone, the bibliography found."""
    for note in notes.values():
        finish_note(note)
    return RenderedHTML(snippets, notes, bibliography_of(snippets))


def finish_note(note) -> None:
    """A note as the outputs take it: no back-link (each output makes its own), spaced citations."""
    for back in note.xpath('.//a[contains(@class, "footnote-back")]'):
        remove_keeping_tail(back)
    space_before_citations(note)


def bibliography_of(snippets: dict[str, html.HtmlElement]) -> dict[str, html.HtmlElement]:
    """The bibliography's entries by source id, from the snippet that holds citeproc's list."""
    bibliography = {}
    for div in snippets.values():
        for entry in div.xpath('.//div[@id="refs"]/div[contains(@class, "csl-entry")]'):
            bibliography[entry.get("id").removeprefix("ref-")] = entry
    return bibliography


def space_before_citations(note) -> None:
    """Inside a note, citeproc prints a citation in parentheses right after the text before it
    ("party".(Simkin …)); give it the space a reader expects."""
    for citation in note.xpath('.//span[contains(@class, "citation")]'):
        previous = citation.getprevious()
        text = previous.tail if previous is not None else citation.getparent().text
        if text and not text[-1].isspace() and text[-1] not in "([“‘":
            if previous is not None:
                previous.tail = text + " "
            else:
                citation.getparent().text = text + " "


def remove_keeping_tail(element) -> None:
    """Remove an element but keep the text that follows it."""
    parent = element.getparent()
    tail = element.tail or ""
    previous = element.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(element)


def append_inline(target, source, separator: str = "") -> None:
    """Append the inline content (text and children) of source to the end of target."""
    text = separator + (source.text or "")
    if len(target):
        target[-1].tail = (target[-1].tail or "") + text
    else:
        target.text = (target.text or "") + text
    for child in source:
        target.append(copy.deepcopy(child))


def note_paragraphs(note) -> list:
    """A note's paragraphs (pandoc puts each note's text in <p>s inside its <li>)."""
    return note.findall("p") or [note]


def note_refs(root) -> list:
    """Pandoc's note calls in document order: <a class="footnote-ref" href="#fnN">."""
    return root.xpath('.//a[contains(concat(" ", @class, " "), " footnote-ref ")]')


def note_content(notes: dict[str, html.HtmlElement], ref) -> html.HtmlElement:
    return copy.deepcopy(notes[ref.get("href").lstrip("#")])
