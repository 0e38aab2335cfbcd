"""The EPUB's XHTML files worked out one by one, and remembered through a --watch session.

Each file's markup depends only on its own body and the notes it calls, the page-break markers
that fall into it (book/epub_pages.py) and the files its links lead to. So the whole-book steps
that remain are cheap ones over small summaries: the alignment with the print edition's words
(each file's words and runs of words are kept) and the map of ids to files. After an edit, only
the files whose inputs changed are parsed and written again; the others' finished markup comes
from memory, keyed by all of those inputs, so it is the same as a fresh build's. Files with
pictures are always done again (the refusal of an outside picture is reported on every build).
`python build.py --no-cache` (book/cache.enabled()) uses none of it. A build with every file
to do (a cold one, or --no-cache) hands about half of them to a forked process (Helper).
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

from lxml import html

from . import cache
from .memo import Memo
from .epub_pages import FileText, Marker, file_text, insert_markers, page_places

IMAGES = ".//img[not(ancestor::section[@class='cover'])]"  # the pictures embed_images packs


@dataclass
class Prepared:
    """A file (or a web page: book/web_files.py) after its notes are placed: what the whole-book
    steps need of it."""
    key: str  # everything it is made of: its name, its body, the book's notes, ...
    text: FileText | None  # its words, for the print pages; None: the print edition has no text of it
    ids: frozenset[str]  # every id the finished file has, but its page-break markers'
    targets: tuple[str, ...]  # the ids its in-document links ("#id") point to
    images: bool


@dataclass
class Finished:
    """A file's final body markup and its chapter's sections (id, heading) for the contents."""
    content: str
    sections: list[tuple[str, str]]


def work_files(pages, view, page_map, root, report) -> tuple[list[Finished], list[Marker], list[tuple[str, bytes]]]:
    """Per page (in order) its finished markup; the page-break markers in page order; the pictures packed."""
    from .epub import embed_images

    remember = cache.enabled()
    notes = notes_key(view) if remember else ""
    names = [page.file_name for page in pages]
    keys = [cache.key("epub-file", page.file_name, page.body, notes) if remember else "" for page in pages]
    prepared = [_PREPARED.lookup(key) if remember else None for key in keys]
    missing = [index for index, entry in enumerate(prepared) if entry is None]
    helper = Helper.start(pages, keys, view, missing)
    fresh = {}
    for index in missing:
        if index not in helper.indexes:
            prepared[index], fresh[names[index]] = prepare(pages[index], keys[index], view)
    for index, entry in helper.prepared():
        prepared[index] = entry
    for index in missing:
        if prepared[index] is None:  # the helper failed
            prepared[index], fresh[names[index]] = prepare(pages[index], keys[index], view)
        if remember:
            _PREPARED.keep(keys[index], prepared[index])

    markers, places = page_places(names, [entry.text for entry in prepared], page_map)
    placed: list[list] = [[] for _ in names]
    for marker, (index, offset) in zip(markers, places):
        placed[index].append((marker, offset))
    home = homes(names, prepared, placed)
    helper.finish(placed, home)

    finished: dict[str, Finished] = {}
    with_images = {}
    for index, (page, entry, here) in enumerate(zip(pages, prepared, placed)):
        name = page.file_name
        key = finished_key(entry, name, here, home) if remember else ""
        done = _FINISHED.lookup(key) if remember and not entry.images else None
        if done is not None or (index in helper.indexes and not entry.images):
            finished[name] = done  # the helper's, taken below
            continue
        tree, segments = fresh.pop(name, None) or _parsed(page, view)
        if entry.images:
            with_images[name] = place_markers_and_links(tree, segments, name, here, home)
            continue
        finished[name] = finish_tree(tree, segments, name, here, home)
        if remember:
            _FINISHED.keep(key, finished[name])
    theirs = dict(helper.finished())
    for index in helper.indexes:
        name, entry = names[index], prepared[index]
        if entry.images or finished[name] is not None:
            continue
        finished[name] = theirs.get(index) or finish_tree(*_parsed(pages[index], view), name, placed[index], home)
        if remember:
            _FINISHED.keep(finished_key(entry, name, placed[index], home), finished[name])
    images = embed_images(with_images, root, view, report)
    for name, tree in with_images.items():
        finished[name] = _finish(tree)
    return [finished[name] for name in names], markers, images


def prepare(page, key: str, view) -> tuple[Prepared, tuple]:
    """A file with its notes placed: what the whole-book steps need of it, and its tree and text's pieces."""
    from .epub import place_notes

    tree = place_notes([page], view)[page.file_name]
    text, segments = file_text(tree)
    entry = Prepared(key, text, frozenset(e.get("id") for e in tree.xpath(".//*[@id]")),
                     tuple(a.get("href")[1:] for a in tree.xpath(".//a[starts-with(@href, '#')]")),
                     bool(tree.xpath(IMAGES)))
    return entry, (tree, segments)


def place_markers_and_links(tree, segments, name: str, here: list, home: dict[str, str]):
    """A prepared file with its page markers, its semantics and its links into other files."""
    from .epub import link_across, mark_back_matter_of

    insert_markers(tree, segments, here)
    mark_back_matter_of(name, tree)
    link_across(tree, name, home)
    return tree


def finish_tree(tree, segments, name: str, here: list, home: dict[str, str]) -> Finished:
    return _finish(place_markers_and_links(tree, segments, name, here, home))


PARALLEL_FROM = 200_000  # characters of the files' bodies to prepare below which a second process does not pay


def share_of(indexes: list[int], sizes: list[int], share: float, least: int) -> list[int]:
    """The indexes (about `share` of the sizes) another process should do; none if it would not pay:
    the sizes come to less than `least`, there is only one, or no core is idle."""
    if sum(sizes) < least or len(indexes) < 2 or not spare_core():
        return []
    target, theirs, theirs_size = share * sum(sizes), [], 0
    for index, size in sorted(zip(indexes, sizes), key=lambda pair: -pair[1]):  # largest first
        if theirs_size + size / 2 <= target:  # nearer the target with it than without
            theirs.append(index)
            theirs_size += size
    return sorted(theirs)


def spare_core() -> bool:
    """Whether a core is idle now: fewer tasks ready to run (the kernel's count in /proc/loadavg,
    this process included) than cores. A forked process pays only then: on a machine that others
    keep busy it takes turns with this one, and the two finish later than this one alone would."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        running = int(Path("/proc/loadavg").read_text().split()[3].partition("/")[0])
    except (OSError, ValueError, IndexError):
        return cores > 1  # not Linux: the cores alone
    return running < cores


class Helper:
    """A forked process that prepares some of the files (none: see start), then finishes them once
    the whole-book steps have placed the page markers; this process does the others meanwhile. A
    cold build has every file to do and nothing else for the other core by then. Files with
    pictures it prepares only: this process packs the pictures and reports those it refuses."""

    indexes: frozenset[int] = frozenset()

    @classmethod
    def start(cls, pages, keys: list[str], view, missing: list[int]) -> Helper:
        theirs = share_of(missing, [len(pages[index].body) for index in missing], 1 / 2, PARALLEL_FROM)
        if not theirs:
            return cls()
        helper = cls()
        helper.indexes = frozenset(theirs)
        helper.order = theirs
        context = multiprocessing.get_context("fork")
        helper.connection, end = context.Pipe()
        helper.process = context.Process(target=_help, daemon=True, args=(
            end, os.getpid(), [pages[index] for index in helper.order], [keys[index] for index in helper.order], view))
        helper.process.start()
        end.close()
        return helper

    def prepared(self) -> list[tuple[int, Prepared]]:
        """(index, its prepared entry) of the helper's files; [] if it failed."""
        return list(zip(self.order, self._receive() or [])) if self.indexes else []

    def finish(self, placed: list[list], home: dict[str, str]) -> None:
        if self.indexes:
            try:
                self.connection.send(([placed[index] for index in self.order], home))
            except OSError:
                pass

    def finished(self) -> list[tuple[int, Finished]]:
        """(index, its finished markup) of the helper's files without pictures; [] if it failed."""
        if not self.indexes:
            return []
        results = self._receive() or []
        self.connection.close()
        self.process.join()
        return [(index, done) for index, done in zip(self.order, results) if done is not None]

    def _receive(self):
        try:
            return self.connection.recv()
        except (EOFError, OSError):
            return None


def _help(connection, parent: int, pages, keys: list[str], view) -> None:
    from .processes import die_with_parent

    die_with_parent(parent)
    done = [prepare(page, key, view) for page, key in zip(pages, keys)]
    connection.send([entry for entry, _ in done])
    placed, home = connection.recv()
    connection.send([None if entry.images else finish_tree(tree, segments, page.file_name, here, home)
                     for (entry, (tree, segments)), page, here in zip(done, pages, placed)])
    connection.close()


def homes(names: list[str], prepared: list, placed: list[list]) -> dict[str, str]:
    """id -> the first file that has it (its own ids and the page markers placed in it), as
    resolve_links finds it. The EPUB's files and the web edition's pages alike."""
    home: dict[str, str] = {}
    for name, entry, here in zip(names, prepared, placed):
        for element_id in entry.ids | {marker.id for marker, _ in here}:
            home.setdefault(element_id, name)
    return home


def finished_key(entry, name: str, here: list, home: dict[str, str]) -> str:
    """The key of a file's finished markup: its prepared key, the page markers placed in it and the
    files its links lead to."""
    links = sorted({(t, home[t]) for t in entry.targets if home.get(t, name) != name})
    return cache.key(entry.key, [(marker.label, offset) for marker, offset in here], links)


def notes_key(view) -> str:
    """A hash of the book's notes: a file's markup holds the notes it calls."""
    digest = hashlib.sha256()
    for note_id, note in sorted(view.notes.items()):
        data = note_id.encode() + b"\0" + html.tostring(note)
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def _parsed(page, view):
    from .epub import place_notes

    tree = place_notes([page], view)[page.file_name]
    return tree, file_text(tree)[1]


def _finish(tree) -> Finished:
    from .html import inner_html

    sections = [(h.get("id"), h.text_content().strip()) for h in tree.xpath('.//div[@class="chapter-body"]/h2[@id]')]
    return Finished(f"<html><body>{inner_html(tree)}</body></html>", sections)


# Within 32 MB each, roughly (a word, its place and its index entry: some 200 bytes): a 10x book's
# files fit several times over.
_PREPARED = Memo(32 << 20, lambda entry: 200 * len(entry.text.words) + 1000)
_FINISHED = Memo(32 << 20, lambda done: len(done.content) + 1000)
