"""Short strings that do not pass through pandoc (headwords, labels, dates, box titles):
escaped, with *italics* and typographic quotes, so they look like the text around them."""
from __future__ import annotations

import html
import re

from markupsafe import Markup

EMPHASIS = re.compile(r"\*([^*]+)\*")


def smarten(text: str) -> str:
    text = re.sub(r"(?<=\w)'", "’", text)  # apostrophes and closing quotes after a letter
    text = re.sub(r"'(?=\w)", "‘", text)
    text = re.sub(r'"(?=\w)', "“", text)
    return text.replace('"', "”").replace("'", "’")


def inline_markup(text: str) -> Markup:
    return Markup(EMPHASIS.sub(r"<em>\1</em>", html.escape(smarten(text), quote=False)))


def plain(text: str) -> str:
    """The text without its *emphasis* marks: what a reader sees, for matching and sorting."""
    return EMPHASIS.sub(r"\1", text)


def capfirst(text: str) -> Markup:
    """Capitalise the first letter of (possibly marked-up) text: list items start with a capital."""
    return Markup(re.sub(r"^((?:<[^>]+>)*)(\w)", lambda m: m.group(1) + m.group(2).upper(), str(text), count=1))
