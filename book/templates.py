"""The Jinja2 environment shared by the writers, and small helpers that shape template data."""
from __future__ import annotations

from functools import lru_cache
from itertools import groupby
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from .classroom_view import with_pages
from .inline import capfirst, inline_markup

TEMPLATES = Path(__file__).resolve().parent / "templates"
MANY_PAGES = 12  # an index entry with more pages than this gets a sub-entry per chapter


@lru_cache(maxsize=1)
def environment() -> Environment:
    # Plain strings (titles, names from YAML) are escaped; HTML made by pandoc and lxml arrives
    # as Markup and is inserted as it is.
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                      autoescape=True, keep_trailing_newline=True)
    env.filters["md"] = inline_markup
    env.filters["capfirst"] = capfirst
    env.filters["with_pages"] = with_pages
    return env


def index_groups(entries):
    """Index entries grouped under their initial letter."""
    def letter(entry):
        first = entry.sort_key[:1].upper()
        return first if first.isalpha() else "#"

    return [(key, list(group)) for key, group in groupby(entries, key=letter)]
