"""The caches of parse, check and render (book/incremental.py): a cached build gives the bytes of a
cold one, an edit shows, a changed source re-checks the quotations that cite it, damage is ignored."""
import io
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from rich.console import Console

from conftest import run_build

from book import cache, convert, incremental, memo, pandoc_worker
from book.build import build, render_view
from book.config import ROOT, BuildOptions
from book.diagnostics import BuildError
from book.html import inner_html
from book.pipeline import gather
from book.snippet_pieces import SEPARATOR
from book.sources import csl_items

CHAPTER = "chapters/01-life.md"


@pytest.fixture
def no_cache():
    """Within the block: what `python build.py --no-cache` does."""

    class Switch:
        def __enter__(self):
            cache.disable()

        def __exit__(self, *exc):
            os.environ.pop(cache.NO_CACHE, None)

    return Switch()


def forget():
    """A fresh process: nothing remembered in memory, only what .cache/ holds."""
    incremental.MEMORY.clear()
    memo.forget_all()  # what the stages remember in memory (book/memo.py)
    for store in cache._STORES.values():
        if store.connection is not None:
            store.connection.close()
    cache._STORES.clear()


def stored(root: Path) -> list[tuple[str, str, bytes]]:
    """The per-snippet entries in the book's SQLite store: (kind, key, value)."""
    with sqlite3.connect(root / ".cache" / cache.EntryStore.NAME) as connection:
        return connection.execute("SELECT kind, key, value FROM entries ORDER BY kind, key").fetchall()


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def edit(root: Path, old: str, new: str, file: str = CHAPTER) -> None:
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_an_edit_built_from_the_cache_gives_the_bytes_of_a_cold_build(tiny, tmp_path, no_cache):
    run_build(tiny, tmp_path / "first", ("epub", "web"))  # fills .cache/
    edit(tiny, "He was executed on 15 March 1938.", "He was shot on 15 March 1938, after the trial.")
    forget()
    cached = run_build(tiny, tmp_path / "cached", ("epub", "web"))
    assert {kind for kind, _, _ in stored(tiny)} == {"parse", "check", "render"}
    with no_cache:
        cold = run_build(tiny, tmp_path / "cold", ("epub", "web"))
    assert cached.epub.read_bytes() == cold.epub.read_bytes()
    assert cached.kepub.read_bytes() == cold.kepub.read_bytes()
    assert files_of(tmp_path / "cached" / "tiny-web") == files_of(tmp_path / "cold" / "tiny-web")
    chapter = cached.epub_files()["EPUB/chapter-1.xhtml"].decode()
    assert "He was shot on 15 March 1938, after the trial." in chapter
    assert "He was executed" not in chapter
    assert cached.report.items == cold.report.items


def rendered(root: Path) -> tuple[dict, dict, list]:
    book = gather(root)
    view = render_view(book)
    parts = {p.slug: p.body for p in view.parts}
    notes = {key: inner_html(note) for key, note in view.notes.items()}
    return parts, notes, [str(item) for item in book.report.items]


def test_a_snippet_rendered_alone_gets_the_notes_of_a_whole_book_run(tmp_path, no_cache):
    """Chicago's shortened notes depend on the citations before them (first, subsequent, Ibid.):
    the real book, one chapter edited and rendered alone, the others taken from the cache."""
    root = tmp_path / "book"
    for name in ("chapters", "sources", "styles"):
        shutil.copytree(ROOT / name, root / name)
    rendered(root)  # fills .cache/
    edit(root, "## The grain crisis of 1927–28\n", "## The grain crisis of 1927–28\n\nA paragraph added.\n",
         "chapters/03-industrialization.md")
    forget()
    misses = []
    original = incremental.convert.render

    def counting(ast, *args):
        misses.append([block["c"][0][0] for block in ast["blocks"] if block["t"] == "Div"])
        return original(ast, *args)

    incremental.convert.render = counting
    try:
        cached = rendered(root)
    finally:
        incremental.convert.render = original
    # One section of one chapter rendered (book/snippet_pieces.py), after citations that prime citeproc.
    assert len(misses) == 1 and len(misses[0]) == 1, misses
    assert misses[0][0].startswith("body-industrialization" + SEPARATOR), misses
    with no_cache:
        cold = rendered(root)
    assert cached == cold
    assert "A paragraph added." in cached[0]["industrialization"]


def check(root: Path):
    options = BuildOptions(root=root, out_dir=root / "dist", targets=(), quiet=True)
    try:
        return build(options, Console(file=io.StringIO()))[0].items
    except BuildError as exc:
        return exc.diagnostics


def test_a_changed_source_paragraph_fails_the_quotation_in_an_unchanged_chapter(tiny):
    assert not [d for d in check(tiny) if d.severity == "error"]
    seed = next((tiny / "sources" / "seeds").glob("001_*.txt"))
    text = seed.read_text(encoding="utf-8")
    seed.write_text(text.replace("favourite of the whole Party", "darling of the whole Party"), encoding="utf-8")
    forget()
    problems = [str(d) for d in check(tiny) if d.code == "quote.mismatch"]
    assert any(p.startswith(f"{CHAPTER}:36:") and "favourite of the whole Party" in p for p in problems), problems


def damage(data: bytes, number: int) -> bytes:
    """Torn, flipped or emptied, by turns."""
    return (data[: len(data) // 2] if number % 3 == 0 else
            data[:-2] + bytes([data[-2] ^ 1]) + data[-1:] if number % 3 == 1 else b"")


def test_a_damaged_cache_entry_is_ignored_and_rebuilt(tiny, tmp_path):
    first = run_build(tiny, tmp_path / "first", ("epub",))
    files = [p for kind in ("cover", "fonts") for p in (tiny / ".cache" / kind).iterdir()]
    rows = stored(tiny)
    assert files and {kind for kind, _, _ in rows} == {"parse", "check", "render"}
    forget()
    for number, entry in enumerate(files):
        entry.write_bytes(damage(entry.read_bytes(), number))
    with sqlite3.connect(tiny / ".cache" / cache.EntryStore.NAME) as connection:
        connection.executemany("UPDATE entries SET value = ? WHERE kind = ? AND key = ?",
                               [(damage(value, number), kind, key) for number, (kind, key, value) in enumerate(rows)])
    again = run_build(tiny, tmp_path / "again", ("epub",))
    assert again.epub.read_bytes() == first.epub.read_bytes()
    assert again.report.items == first.report.items
    assert all(cache.read(tiny, entry.parent.name, entry.name) is not None for entry in files)
    assert stored(tiny) == rows  # every damaged entry written again, whole


def test_an_unreadable_store_is_set_aside_and_started_afresh(tiny, tmp_path):
    first = run_build(tiny, tmp_path / "first", ("epub",))
    forget()
    database = tiny / ".cache" / cache.EntryStore.NAME
    for suffix in ("-wal", "-shm"):
        Path(str(database) + suffix).unlink(missing_ok=True)
    database.write_bytes(b"not a database" * 100)
    again = run_build(tiny, tmp_path / "again", ("epub",))
    assert again.epub.read_bytes() == first.epub.read_bytes()
    assert again.report.items == first.report.items
    forget()
    third = run_build(tiny, tmp_path / "third", ("epub",))  # the store works again
    assert third.epub.read_bytes() == first.epub.read_bytes()
    assert {kind for kind, _, _ in stored(tiny)} == {"parse", "check", "render"}

def test_the_pandoc_a_session_keeps_running_renders_what_pandoc_renders():
    """--watch and serve render small edits with a pandoc that stays running (book/pandoc_worker.py):
    its HTML must be the command line's, for the whole book, and it must decline what pandoc warns of."""
    book = gather(ROOT)
    references, lang = csl_items(book.sources), book.config.citation_locale
    convert.keep_citeproc_warm(book.ast["pandoc-api-version"], references, ROOT, lang)
    try:
        assert pandoc_worker.running()
        chapter = {**book.ast, "blocks": [b for b in book.ast["blocks"] if b["c"][0][0] == "body-industrialization"]}
        for ast in (chapter, book.ast):
            kept = pandoc_worker.render(convert.worker_document(ast, references, ROOT, lang))
            assert kept is not None and "footnote-ref" in kept
            assert kept == convert.render(ast, references, ROOT, lang)[0]
        # Its parse too: what pandoc reads of the Markdown, and a warning declined.
        chapter_snippets = [s for s in book.snippets if s.id == "body-industrialization"]
        assert convert.parse(chapter_snippets, warm=True) == convert.parse(chapter_snippets)
        assert pandoc_worker.parse(convert.join_snippets(chapter_snippets), convert.MARKDOWN) is not None
        twice = "Text.[^a]\n\n[^a]: One.\n\n[^a]: Two.\n"  # pandoc warns of the label defined twice
        assert pandoc_worker.parse(twice, convert.MARKDOWN) is None
        unknown = {**book.ast, "blocks": [{"t": "Para", "c": [{"t": "Cite", "c": [[{
            "citationId": "no-such-source", "citationPrefix": [], "citationSuffix": [],
            "citationMode": {"t": "NormalCitation"}, "citationNoteNum": 0, "citationHash": 0}],
            [{"t": "Str", "c": "@no-such-source"}]]}]}]}
        assert pandoc_worker.render(convert.worker_document(unknown, references, ROOT, lang)) is None
        _, warnings = convert.render(unknown, references, ROOT, lang, warm=True)  # pandoc run as usual
        assert any("no-such-source" in line for line in warnings), warnings
    finally:
        pandoc_worker.stop()


def test_a_cold_build_parses_and_renders_each_half_in_one_pandoc_as_one_shot_runs_do(no_cache):
    """A cold build's two pandoc processes (book/cold_pass.py) parse half of the book each and go
    on to render it, the second half primed with the first half's citations: the AST, the stored
    parse entries and the HTML must be those of one-shot `pandoc` runs, and a warning falls back to them."""
    with no_cache:  # nothing cached: parsed and rendered anew each time
        from book.pipeline import PANDOC_NOTE_WARNINGS

        book = gather(ROOT)  # without render_ahead: parsed by one-shot runs
        references, lang = csl_items(book.sources), book.config.citation_locale
        one_shot = incremental.render(book.ast, book.parsed, references, ROOT, lang)
        ast, warnings, parsed, ahead = incremental.parse_ahead(book.snippets, ROOT, PANDOC_NOTE_WARNINGS,
                                                               (references, lang))
        assert ahead is not None and len(ahead.workers) == 2, "a cold build of the book runs two halves"
        assert ast == book.ast and parsed == book.parsed and warnings == []
        by_pass = incremental.render(ast, parsed, references, ROOT, lang, ahead)
        assert by_pass[1] == [] and by_pass[0].snippets.keys() == one_shot[0].snippets.keys()
        assert {k: inner_html(v) for k, v in by_pass[0].snippets.items()} == \
            {k: inner_html(v) for k, v in one_shot[0].snippets.items()}
        assert {k: inner_html(v) for k, v in by_pass[0].notes.items()} == \
            {k: inner_html(v) for k, v in one_shot[0].notes.items()}
        # The parse entries are stored as pandoc wrote their JSON: they read back as the entries.
        from book.snippet_pieces import cut

        units = [unit for snippet in book.snippets for unit in cut(snippet)]
        keys = dict(zip([unit.id for unit in units], incremental.parse_keys(units)))
        groups = incremental.halves(units, [len(unit.markdown) for unit in units], incremental.PARSE_ITEM_COST)
        entries, written = {}, {}
        run = incremental.parse_rendering_ahead(groups, keys, entries, written, (references, ROOT, lang),
                                                PANDOC_NOTE_WARNINGS)
        run.close()
        assert len(written) == len(units) and all(written.values())
        assert all(json.loads(written[unit_id]) == entry for unit_id, entry in entries.items())
        # A warning (a source nobody registered) is said as pandoc says it: the usual runs take over.
        body = next(s for s in book.snippets if s.id == "body-industrialization")
        unknown = [convert.Snippet(body.id, body.markdown + "\n\nAnd [@no-such-source].\n", body.file, body.line)
                   if s is body else s for s in book.snippets]
        ast, _, parsed, ahead = incremental.parse_ahead(unknown, ROOT, PANDOC_NOTE_WARNINGS, (references, lang))
        assert ahead is not None  # the parse does not warn; the render does
        _, warnings = incremental.render(ast, parsed, references, ROOT, lang, ahead)
        assert any("no-such-source" in line for line in warnings), warnings


def test_a_watch_session_renders_edits_as_a_cold_build_does(tmp_path, no_cache):
    """What --watch keeps between builds (the pandoc kept running, the joined snippets, the index
    marks, the keys) gives, edit after edit, what a build that remembers nothing gives."""
    root = tmp_path / "book"
    for name in ("chapters", "sources", "styles"):
        shutil.copytree(ROOT / name, root / name)
    book = gather(root)
    render_view(book)
    convert.keep_citeproc_warm(book.ast["pandoc-api-version"], csl_items(book.sources), root,
                               book.config.citation_locale)
    answered = []
    real = pandoc_worker.render
    pandoc_worker.render = lambda document: answered.append(real(document)) or answered[-1]
    try:
        chapter = "chapters/03-industrialization.md"
        for old, new in (("## The grain crisis of 1927–28\n", "## The grain crisis of 1927–28\n\nA paragraph added.\n"),
                         ("A paragraph added.", "A paragraph added, and changed."),
                         ("## The grain crisis of 1927–28\n", "## The grain crisis of 1927–28\n\nOne more [@spartacus, para. 11].\n")):
            edit(root, old, new, chapter)
            watched = rendered(root)
            with no_cache:
                assert watched == rendered(root)
    finally:
        pandoc_worker.render = real
        pandoc_worker.stop()
    assert len(answered) == 3 and all(answered), "each edit went to the pandoc kept running"
    assert "A paragraph added, and changed." in watched[0]["industrialization"]
