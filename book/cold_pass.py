"""A cold build's pandoc: each half of the book parsed and rendered by one process.

A cold build parses every unit (Markdown -> AST, which the checks read) and renders every unit
(AST -> HTML with citeproc). Done as two one-shot runs per half, pandoc writes the AST out as JSON
and reads it back, and starts a second time to render. Here one `pandoc lua` process per half
(book/pandoc_worker.lua: "parse", then "render-parsed") keeps the AST it parsed and renders it,
starting the moment the build has read the parse. A half's render must begin in the state the
halves before it leave citeproc in (book/incremental.py, priming): the build sends that with the
request, as soon as those halves are parsed.

The HTML and the JSON are those of the one-shot runs, byte for byte (tests/test_cache.py). Anything
unusual (pandoc failed, or warned of anything but what the parse's callers ignore) gives None, and
the build runs pandoc the usual way, which reports it in its own words.
"""
from __future__ import annotations

from collections.abc import Callable
import threading
from concurrent.futures import Future, ThreadPoolExecutor, as_completed

from . import convert, pandoc_worker
from .convert import Snippet


# Pandoc's garbage collector, for a run that reads and renders half a book: a larger allocation
# area, and no full collection before the heap reaches 256 MB (pandoc keeps little alive between its
# passes), save about a tenth of its time; the process stays under 300 MB for this book.
RUNTIME = ("-A32m", "-O256m")


class ColdPass:
    """One process per group of snippets (units), each asked to parse at once and to render when told."""

    def __init__(self, groups: list[list[Snippet]]) -> None:
        self.unit_ids = [snippet.id for group in groups for snippet in group]  # in the order of the HTML
        self.workers = [pandoc_worker.Worker(RUNTIME) for _ in groups]
        convert.track(*[worker.process for worker in self.workers])  # stop_running() kills them
        self.pool = ThreadPoolExecutor(len(groups))
        self.parses = [self.pool.submit(worker.answer, f"parse {convert.MARKDOWN}",
                                        convert.join_snippets(group).encode("utf-8"))
                       for worker, group in zip(self.workers, groups)]
        self.renders: list[Future | None] = [None] * len(groups)
        self.one_done = threading.Event()  # a process has rendered its group (or the pass ended): a core is free

    def parsed(self, index: int) -> tuple[str, list[str]] | None:
        """The JSON of `pandoc -f MARKDOWN -t json` for group `index` and pandoc's warnings, once
        pandoc is done; None if it failed."""
        return self.parses[index].result()

    def render(self, index: int, document: bytes) -> None:
        """Have group `index` rendered after the document's blocks, with its metadata
        (convert.worker_document); its parse must be done (parsed())."""
        self.renders[index] = self.pool.submit(self.workers[index].answer, "render-parsed", document)
        self.renders[index].add_done_callback(lambda _: self.one_done.set())

    def rendered(self, each: Callable[[str], object]) -> list[str] | None:
        """Each group's HTML, as `pandoc -f json -t html5 --citeproc --wrap=none` writes it, or None
        if any group failed or warned; then the processes are ended. each(markup) is called on each
        group's HTML as it comes (in the order they finish), while the others may still be rendering."""
        try:
            if None in self.renders:
                return None
            markups = {}
            for future in as_completed(self.renders):
                markup = pandoc_worker.unless_warned(future.result())
                if markup is None:
                    return None
                each(markup)
                markups[self.renders.index(future)] = markup
            return [markups[index] for index in range(len(self.renders))]
        finally:
            self.close()

    def close(self) -> None:
        self.one_done.set()
        for worker in self.workers:
            worker.close(wait=False)
        convert.untrack(*[worker.process for worker in self.workers])
        self.pool.shutdown(wait=False, cancel_futures=True)
