"""The EPUB's XHTML files worked out one by one, and remembered through a --watch session.

Each file's markup depends only on its own body and the notes it calls, the page-break markers
that fall into it (book/epub_pages.py) and the files its links lead to. So the whole-book steps
that remain are cheap ones over small summaries: the alignment with the print edition's words
(each file's words and runs of words are kept) and the map of ids to files. After an edit, only
the files whose inputs changed are parsed and written again; the others' finished markup comes
from memory, keyed by all of those inputs, so it is the same as a fresh build's. Files with
pictures are always done again (the refusal of an outside picture is reported on every build).
`python build.py --no-cache` (book/cache.enabled()) uses none of it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

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
    from .epub import embed_images, link_across, mark_back_matter_of, place_notes

    remember = cache.enabled()
    notes = notes_key(view) if remember else ""
    names = [page.file_name for page in pages]
    prepared, fresh = [], {}
    for page in pages:
        key = cache.key("epub-file", page.file_name, page.body, notes) if remember else ""
        entry = _PREPARED.lookup(key) if remember else None
        if entry is None:
            tree = place_notes([page], view)[page.file_name]
            text, segments = file_text(tree)
            entry = Prepared(key, text, frozenset(e.get("id") for e in tree.xpath(".//*[@id]")),
                             tuple(a.get("href")[1:] for a in tree.xpath(".//a[starts-with(@href, '#')]")),
                             bool(tree.xpath(IMAGES)))
            fresh[page.file_name] = (tree, segments)
            if remember:
                _PREPARED.keep(key, entry)
        prepared.append(entry)

    markers, places = page_places(names, [entry.text for entry in prepared], page_map)
    placed: list[list] = [[] for _ in names]
    for marker, (index, offset) in zip(markers, places):
        placed[index].append((marker, offset))
    home = homes(names, prepared, placed)

    finished: dict[str, Finished] = {}
    with_images = {}
    for page, entry, here in zip(pages, prepared, placed):
        name = page.file_name
        key = finished_key(entry, name, here, home) if remember else ""
        done = _FINISHED.lookup(key) if remember and not entry.images else None
        if done is not None:
            finished[name] = done
            continue
        tree, segments = fresh.pop(name, None) or _parsed(page, view, place_notes)
        insert_markers(tree, segments, here)
        mark_back_matter_of(name, tree)
        link_across(tree, name, home)
        if entry.images:
            with_images[name] = tree
            continue
        finished[name] = _finish(tree)
        if remember:
            _FINISHED.keep(key, finished[name])
    images = embed_images(with_images, root, view, report)
    for name, tree in with_images.items():
        finished[name] = _finish(tree)
    return [finished[name] for name in names], markers, images


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


def _parsed(page, view, place_notes):
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
