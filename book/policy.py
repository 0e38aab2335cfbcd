"""What the text may hold beyond plain Markdown, checked on pandoc's AST before any output.

Raw HTML passes into every output, so only a short allow-list of harmless inline elements is
accepted (no scripts, frames, forms, links to style sheets, no style or event attributes):
anything else is an error at the line where the editor wrote it. The same goes for attributes
written in Markdown ({style=…}), for images that are not image files (pandoc would embed them)
and for link targets other than the web, mail and the book's own anchors.
"""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import urlparse

from .convert import Snippet
from .diagnostics import Report
from .paths import IMAGE_TYPES

INLINE_TAGS = {"br", "wbr", "span", "em", "strong", "i", "b", "sub", "sup", "small", "abbr", "cite",
               "s", "u", "mark", "bdi", "bdo", "dfn", "kbd", "var", "samp"}
HTML_ATTRIBUTES = {"class", "lang", "dir", "title"}
# The book's own attributes too: ix (an index mark) and conflict (names a register entry).
MARKDOWN_ATTRIBUTES = {"title", "lang", "dir", "width", "height", "ix", "conflict"}
LINK_SCHEMES = {"http", "https", "mailto"}
# Where each kind of node keeps its attributes (id, classes, key-value pairs).
ATTR_AT = {"Div": 0, "Span": 0, "CodeBlock": 0, "Code": 0, "Link": 0, "Image": 0, "Figure": 0, "Table": 0,
           "Header": 1}


class RawHTML(HTMLParser):
    """Tokenises a piece of raw HTML; collects what the allow-list does not allow."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in INLINE_TAGS:
            self.problems.append(f"<{tag}> is not allowed in the text")
            return
        for name, _ in attrs:
            if name not in HTML_ATTRIBUTES:
                self.problems.append(f"the attribute '{name}' on <{tag}> is not allowed "
                                     f"(allowed: {', '.join(sorted(HTML_ATTRIBUTES))})")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag not in INLINE_TAGS:
            self.problems.append(f"</{tag}> is not allowed in the text")

    def handle_decl(self, decl):
        self.problems.append(f"<!{decl}> is not allowed in the text")

    def handle_pi(self, data):
        self.problems.append(f"<?{data}> is not allowed in the text")

    unknown_decl = handle_decl


def html_problems(raw: str) -> list[str]:
    parser = RawHTML()
    parser.feed(raw)
    parser.close()
    return parser.problems


LEAVES = {"Str", "Space", "SoftBreak", "LineBreak"}  # most of the nodes, and nothing to check in them


def check_policy(snippet: Snippet, blocks: list, report: Report) -> None:
    """Every node of a snippet's AST, wherever it sits (tables, notes, headings, …)."""
    def error(code: str, message: str, needle: str) -> None:
        report.error(code, message, **locate(snippet, needle))

    stack = [blocks]  # a stack, not recursion: the AST of hostile input can be very deep
    pop, extend = stack.pop, stack.extend
    while stack:
        node = pop()
        if isinstance(node, list):  # JSON's lists: most of them hold inlines, mostly leaves, skipped here
            extend([item for item in reversed(node) if type(item) is not dict or item.get("t") not in LEAVES])
            continue
        if not isinstance(node, dict) or "t" not in node:
            continue
        kind, content = node["t"], node.get("c")
        if kind in LEAVES:
            continue
        if kind in ("RawInline", "RawBlock"):
            fmt, raw = content
            if fmt != "html":
                error("markdown.raw", f"raw {fmt} ('{short(raw)}') would be dropped from every output; "
                      "write it in Markdown", raw)
            for problem in html_problems(raw):
                error("html.not-allowed", f"{problem}: raw HTML is limited to simple inline elements "
                      f"({', '.join(sorted(INLINE_TAGS))}); write the rest in Markdown", raw)
            continue
        if kind in ATTR_AT:
            for key, _ in content[ATTR_AT[kind]][2]:
                if key not in MARKDOWN_ATTRIBUTES:
                    error("markdown.attribute", f"the attribute '{key}' is not allowed (allowed: "
                          f"{', '.join(sorted(MARKDOWN_ATTRIBUTES))})", key + "=")
        if kind == "Image":
            target = content[2][0]
            # Pandoc makes <embed>, <video> or <audio> of a file whose extension is not an image's
            # (without an extension it makes an <img>, which the writers check like any image).
            suffix = PurePosixPath(urlparse(target).path).suffix.lower()
            if suffix and suffix not in IMAGE_TYPES:
                error("image.type", f"'{target}' is not an image file ({', '.join(sorted(IMAGE_TYPES))}); "
                      "only images can be shown", target)
        if kind == "Link":
            target = content[2][0]
            scheme = urlparse(target).scheme.lower()
            if scheme and scheme not in LINK_SCHEMES:
                error("link.scheme", f"a '{scheme}:' link is not allowed; link to http(s), mailto or a "
                      "heading in the book", target)
        if isinstance(content, (list, dict)):
            stack.append(content)


def locate(snippet: Snippet, needle: str) -> dict:
    """The line and column where the editor wrote needle (the snippet's first line if not found)."""
    where = {"file": snippet.file, "line": snippet.line}
    position = snippet.as_written.find(needle) if snippet.verbatim and needle else -1
    if position >= 0:
        before = snippet.as_written[:position]
        where["line"] = snippet.line + before.count("\n")
        where["column"] = position - (before.rfind("\n") + 1) + 1
    return where


def short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
