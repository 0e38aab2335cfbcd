"""A chapter's body cut into pieces at its level-2 headings, for pandoc and the per-snippet caches.

A chapter's body is one snippet of some 30,000 characters; pandoc takes a third of a second to
parse one and more to render it with citeproc. Cut at its sections, an edit to one paragraph
costs pandoc one section. Only book/incremental.py sees the pieces: it parses and renders them,
caches them one by one, and joins them back (blocks after parsing, HTML after rendering), so
the checks and the writers see the whole snippet as before. A cold build cuts the same way, so
cached and cold builds still give the same bytes.

A piece must parse as it does inside the whole. The chapters define their notes at the end, so
a piece gets a copy of each note definition it calls from another piece (the copy in the piece
that holds the original is unused there, which pandoc only mentions). A snippet is left whole
where a piece could depend on another in ways that copying does not cover: link definitions,
example lists, a bracketed heading text (an implicit link to a heading), a label defined twice.
"""
from __future__ import annotations

import re
from dataclasses import replace

from .convert import CODE_FENCE, DIV_CLOSE, DIV_OPEN, Snippet

MIN_LENGTH = 6000  # shorter snippets cost pandoc little: not worth cutting
SEPARATOR = "--piece-"  # a piece's id: the snippet's id, this, and its number
HEADING = re.compile(r"^## \S")
NOTE_DEFINITION = re.compile(r"^ {0,3}\[\^([^\]\s]+)\]:")
NOTE_CALL = re.compile(r"\[\^([^\]\s]+)\](?!:)")
LINK_DEFINITION = re.compile(r"^ {0,3}\[(?!\^)[^\]]+\]:")


def cut(snippet: Snippet) -> list[Snippet]:
    """The snippet's pieces, each a snippet of its own; [snippet] itself when it is not cut."""
    text = snippet.markdown
    if len(text) < MIN_LENGTH or not snippet.verbatim or "(@" in text:
        return [snippet]
    lines = text.split("\n")
    if any(LINK_DEFINITION.match(line) for line in lines):
        return [snippet]
    starts = section_starts(lines)
    if len(starts) < 2:
        return [snippet]
    headings = [lines[i][3:].strip() for i in starts if i > 0 or HEADING.match(lines[0])]
    if any(f"[{heading}]" in text for heading in headings):
        return [snippet]
    bounds = list(zip(starts, starts[1:] + [len(lines)]))
    texts = ["\n".join(lines[start:end]) for start, end in bounds]
    definitions = note_definitions(lines)
    if definitions is None:
        return [snippet]
    pieces = []
    for number, ((start, _), piece) in enumerate(zip(bounds, texts)):
        defined_here = {label for label, (begin, _) in definitions.items() if start <= begin < bounds[number][1]}
        borrowed = [definitions[label][1] for label in dict.fromkeys(NOTE_CALL.findall(piece))
                    if label in definitions and label not in defined_here]
        markdown = "\n\n".join([piece.rstrip("\n"), *borrowed]) if borrowed else piece
        pieces.append(replace(snippet, id=f"{snippet.id}{SEPARATOR}{number}", markdown=markdown,
                              line=snippet.line + start, written=None))
    return pieces


def section_starts(lines: list[str]) -> list[int]:
    """Line 0 and every '## ' heading outside code blocks and ':::' divs, after a blank line."""
    starts, fence, depth = [0], None, 0
    for number, line in enumerate(lines):
        marker = CODE_FENCE.match(line)
        if marker:
            if fence is None:
                fence = marker.group(1)
            elif marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence):
                fence = None
            continue
        if fence:
            continue
        if DIV_OPEN.match(line):
            depth += 1
        elif DIV_CLOSE.match(line):
            depth = max(0, depth - 1)
        elif depth == 0 and number > 0 and HEADING.match(line) and not lines[number - 1].strip():
            starts.append(number)
    return starts


def note_definitions(lines: list[str]) -> dict[str, tuple[int, str]] | None:
    """Each note label's definition: (its first line, its text). None if a label is defined twice."""
    found: dict[str, tuple[int, str]] = {}
    number = 0
    while number < len(lines):
        match = NOTE_DEFINITION.match(lines[number])
        if not match:
            number += 1
            continue
        end = number + 1
        # A definition goes on through indented lines, blank lines followed by indented ones, and
        # lines that continue its paragraph.
        while end < len(lines) and (lines[end].startswith(("    ", "\t"))
                                    or (lines[end].strip() and lines[end - 1].strip()
                                        and not NOTE_DEFINITION.match(lines[end]))
                                    or (not lines[end].strip() and end + 1 < len(lines)
                                        and lines[end + 1].startswith(("    ", "\t")))):
            end += 1
        if match.group(1) in found:
            return None
        found[match.group(1)] = (number, "\n".join(lines[number:end]).rstrip())
        number = end
    return found


def is_piece(snippet_id: str) -> bool:
    return SEPARATOR in snippet_id
