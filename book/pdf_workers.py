"""Laying out parts: in this process, or in worker processes across the cores.

A worker keeps each document it laid out until the build knows the page the part starts on and
asks for its PDF (the folios are renumbered then, see book/pdf_parts.py), or drops it. Jobs go
to idle workers; a request for a document's PDF goes to the worker that holds it, before any new
layout, so that a worker holds few documents at once: that, and one part's layout, is what
bounds its memory.
"""
from __future__ import annotations

import multiprocessing
import os
import traceback
from collections import deque
from multiprocessing.connection import wait
from pathlib import Path

from .fetch import BookFetcher
from .names import words_kept_whole
from .pagemap import read_page_map
from .pdf_parts import MarginRecorder, PartLayout, captured_logs, external_links
from .pdf_tags import PDF_VARIANT, tagged
from .processes import die_with_parent


class Layouter:
    """Lays out parts and writes their PDFs, in the process it lives in."""

    def __init__(self, root: Path, paper: str, name_words: frozenset[str], identifier: bytes):
        from weasyprint.text.fonts import FontConfiguration

        self.root, self.paper, self.name_words, self.identifier = root, paper, name_words, identifier
        self.fetcher = BookFetcher(root)
        self.fonts = FontConfiguration()
        self.held: dict[str, tuple[object, MarginRecorder, frozenset[str]]] = {}
        self.sheets, self.sheet_messages = None, []

    def lay_out(self, name: str, markup: str, own: frozenset[str]) -> PartLayout:
        from .pdf import layout, stylesheets

        recorder = MarginRecorder()
        if self.sheets is None:  # what the styles log is reported with every part, as if read for each
            with captured_logs() as self.sheet_messages:
                self.sheets = stylesheets(self.root, self.paper, self.fetcher, self.fonts, parts=True)
            self.sheet_refused = list(self.fetcher.refused)
        refused_before = len(self.fetcher.refused)
        with captured_logs() as messages, words_kept_whole(self.name_words), recorder.recording():
            document = layout(markup, self.root, self.paper, self.fetcher, self.fonts, self.sheets)
        anchors: dict[str, int] = {}
        for number, page in enumerate(document.pages):
            for anchor in page.anchors:
                anchors.setdefault(anchor, number)
        page_map = read_page_map(document, 0)
        self.held[name] = (document, recorder, own)
        return PartLayout(len(document.pages), anchors, page_map.words, page_map.starts,
                          [m for m in self.sheet_messages + messages if "No anchor #" not in m],
                          self.sheet_refused + self.fetcher.refused[refused_before:])

    def write(self, name: str, start: int) -> bytes:
        """The part's PDF, its folios counting from `start` (the number its first page shows)."""
        document, recorder, own = self.held.pop(name)
        recorder.renumber(start - 1)
        external_links(document, set(own))
        with captured_logs(), tagged(document):
            return document.write_pdf(pdf_identifier=self.identifier, pdf_variant=PDF_VARIANT)

    def drop(self, name: str) -> None:
        self.held.pop(name, None)

    def run(self, kind: str, name: str, *args):
        if kind == "layout":
            return self.lay_out(name, *args)
        if kind == "write":
            return self.write(name, *args)
        if kind == "layout+write":
            markup, own, start = args
            layout = self.lay_out(name, markup, own)
            return layout, self.write(name, start)
        self.drop(name)
        return None


class Layouters:
    """One Layouter per paper size, made when first needed. A job: (kind, paper, part name, …)."""

    def __init__(self, root: Path, name_words: frozenset[str], identifier: bytes):
        self.settings = root, name_words, identifier
        self.papers: dict[str, Layouter] = {}

    def run(self, job: tuple):
        kind, paper, name, *args = job
        if paper not in self.papers:
            root, name_words, identifier = self.settings
            self.papers[paper] = Layouter(root, paper, name_words, identifier)
        return self.papers[paper].run(kind, name, *args)


class WorkerFailed(Exception):
    pass


def _serve(connection, parent: int, settings: tuple) -> None:
    die_with_parent(parent)
    layouters = Layouters(*settings)
    while True:
        job = connection.recv()
        if job is None:
            return
        try:
            result = ("ok", layouters.run(job))
        except BaseException:  # noqa: BLE001 - sent to the build, which raises it
            result = ("error", traceback.format_exc())
        connection.send(result)


class Pool:
    """Parts laid out by `count` workers (processes, or this process when count is 1).

    run(jobs) runs a batch and yields (job, result) as each is done; `then(job, result)` may
    return more jobs, which join the batch."""

    def __init__(self, count: int, settings: tuple):
        self.inline = Layouters(*settings) if count <= 1 else None
        self.workers = []
        self.holder: dict[tuple, int] = {}  # (paper, part name) -> the worker that holds its document
        if self.inline is None:
            context = multiprocessing.get_context("fork")
            for _ in range(count):
                ours, theirs = context.Pipe()
                process = context.Process(target=_serve, args=(theirs, os.getpid(), settings), daemon=True)
                process.start()
                theirs.close()
                self.workers.append((process, ours))

    def run(self, jobs, then=None):
        queue, pinned = deque(jobs), [deque() for _ in self.workers]
        if self.inline is not None:
            while queue:
                job = queue.popleft()
                result = self.inline.run(job)
                yield job, result
                queue.extend(then(job, result) if then else ())
            return
        busy: dict[int, tuple] = {}

        def dispatch():
            for number, (_, connection) in enumerate(self.workers):
                if number in busy:
                    continue
                if pinned[number]:
                    job = pinned[number].popleft()
                elif queue:
                    job = queue.popleft()
                else:
                    continue
                busy[number] = job
                connection.send(job)

        def place(job):
            if job[0] in ("write", "drop"):
                pinned[self.holder.pop(job[1:3])].append(job)
            else:
                queue.append(job)

        queue = deque()
        for job in jobs:
            place(job)
        dispatch()
        while busy:
            ready = wait([self.workers[number][1] for number in busy])
            for number in [n for n in list(busy) if self.workers[n][1] in ready]:
                job = busy.pop(number)
                try:
                    status, result = self.workers[number][1].recv()
                except EOFError:
                    raise WorkerFailed(f"a layout worker died while laying out {job[2]} ({job[1]})") from None
                if status == "error":
                    raise WorkerFailed(f"laying out {job[2]} ({job[1]}) failed:\n{result}")
                if job[0] == "layout":
                    self.holder[job[1:3]] = number
                yield job, result
                for more in (then(job, result) if then else ()):
                    place(more)
            dispatch()

    def close(self) -> None:
        for process, connection in self.workers:
            try:
                connection.send(None)
            except OSError:
                pass
        for process, connection in self.workers:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
            connection.close()
        self.workers = []

    def kill(self) -> None:
        for process, _ in self.workers:
            process.kill()
        self.close()
