"""Hostile and broken input: what a careless editor or an attacker can put into a book.

Every case runs the command line on a copy of the tiny fixture book, with an output folder that
already holds files, and a secret planted beside the book (outside it). Each case asserts the
exact diagnostic (file:line:col, severity and code), the exit status, that the output folder is
byte for byte as it was, that no staging folder is left, and that the secret appears nowhere:
not in what was printed, not in any file written.
"""
from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from book import cli
from book.config import ROOT

SECRET = "SECRET-FROM-OUTSIDE-THE-BOOK-7731"
CHAPTER = "chapters/01-life.md"
BODY_END = "He was executed on 15 March 1938.[@spartacus, para. 39]"


@dataclass
class Run:
    code: int
    stderr: str
    out: Path

    def lines(self) -> list[str]:
        return self.stderr.splitlines()


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def book(tiny: Path) -> Path:
    """The tiny book, with a secret file beside it that no output may ever contain."""
    (tiny.parent / "secret.txt").write_text(f"{SECRET}\n")
    (tiny.parent / "secret.json").write_text(
        '[{"id": "x", "type": "book", "title": "' + SECRET + '", "issued": {"date-parts": [[1999]]}}]\n')
    return tiny


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """An output folder that already holds a previous build's files."""
    out = tmp_path / "dist"
    out.mkdir()
    (out / "tiny.epub").write_bytes(b"previous epub")
    (out / "tiny-a4.pdf").write_bytes(b"previous pdf")
    return out


def run(capsys, *argv: str) -> tuple[int, str]:
    """build.py's main() in this process (the slow imports are paid once for the suite)."""
    capsys.readouterr()
    code = cli.main(list(argv))
    return code, capsys.readouterr().err


def build(capsys, root: Path, out: Path, target: str = "check", *extra: str) -> Run:
    code, err = run(capsys, target, "--root", str(root), "--out", str(out), "--quiet", *extra)
    return Run(code, err, out)


def assert_failed_cleanly(result: Run, before: dict[str, str], *diagnostics: str) -> None:
    """Exit 1; each expected diagnostic printed as a line of its own; dist/ as it was; no secret."""
    assert result.code == 1, result.stderr
    for expected in diagnostics:
        assert any(matches(line, expected) for line in result.lines()), f"{expected!r} not in:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    assert snapshot(result.out) == before
    assert not list(result.out.glob(".building-*"))
    assert_no_secret(result)


def assert_appended_text_fails_at_its_place(capsys, book, dist, markdown, needle, code) -> None:
    """Markdown added to the chapter fails the build with code at the line and column of needle."""
    first = append(book, "\n" + markdown + "\n") + 1
    line, column = next((first + n, text.index(needle) + 1) for n, text in enumerate(markdown.splitlines())
                        if needle in text)
    before = snapshot(dist)
    result = build(capsys, book, dist, "epub")
    assert_failed_cleanly(result, before, f"{CHAPTER}:{line}:{column}: error: … [{code}]")


def matches(line: str, expected: str) -> bool:
    """'FILE:LINE:COL: error: … [code]': the location, severity and code exact, the message a part."""
    head, _, rest = expected.partition(" … ")
    if not rest:
        return line == expected
    return line.startswith(head) and line.endswith(rest)


def assert_no_secret(result: Run) -> None:
    assert SECRET not in result.stderr
    for path in result.out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data, path
            if path.suffix == ".epub" and zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    for name in archive.namelist():
                        assert SECRET.encode() not in archive.read(name), name


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def append(root: Path, text: str, rel: str = CHAPTER) -> int:
    """Add text at the end of a file; returns the line number its first line gets."""
    path = root / rel
    before = path.read_text(encoding="utf-8")
    if not before.endswith("\n"):
        before += "\n"
    path.write_text(before + text, encoding="utf-8")
    return before.count("\n") + 1


def line_of(root: Path, needle: str, rel: str = CHAPTER) -> int:
    for number, line in enumerate((root / rel).read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


# --- Reading outside the book, and the network -------------------------------------------------

def test_metadata_block_in_a_chapter_body_is_refused(capsys, book, dist):
    first = append(book, "\nMore text.\n\n---\nbibliography: ../secret.json\n---\n\nAs [@x] says.\n")
    before = snapshot(dist)
    result = build(capsys, book, dist, "epub")
    assert_failed_cleanly(result, before, f"{CHAPTER}:{first + 3}:1: error: … [markdown.metadata]")


def test_metadata_block_in_a_yaml_value_is_refused(capsys, book, dist):
    edit(book, "chapters/glossary.yaml", "definition: ", "definition: |\n    Text.\n\n    ---\n    csl: ../secret.txt\n    ---\n\n    ")
    result = build(capsys, book, dist)
    assert result.code == 1
    assert any(line.startswith("chapters/glossary.yaml:") and line.endswith("[markdown.metadata]")
               for line in result.lines()), result.stderr


def test_pandoc_runs_sandboxed_and_reads_no_metadata(monkeypatch, book, tmp_path):
    """Even a metadata block that slipped past the check could not make pandoc read a file."""
    from book import convert

    seen = []
    convert.pandoc_path()  # found first (the Popen watched below is for the runs)
    real = convert.subprocess.Popen
    monkeypatch.setattr(convert.subprocess, "Popen", lambda args, **kw: seen.append(args) or real(args, **kw))
    text = f"Text.\n\n---\nbibliography: {book.parent / 'secret.json'}\nnocite: '@*'\n---\n\n::: {{#refs}}\n:::\n"
    output, _ = convert.run_pandoc(["-f", convert.MARKDOWN, "-t", "html5", "--citeproc"], text, "a test")
    assert all("--sandbox" in args for args in seen) and seen
    assert SECRET not in output and "Text." in output
    # The sandbox alone would not do: citeproc reads a bibliography named in metadata even then.
    unguarded, _ = convert.run_pandoc(["-f", "markdown", "-t", "html5", "--citeproc"], text, "a test")
    assert SECRET in unguarded  # the trap is real


def outside_chapter(book: Path) -> Path:
    """A valid chapter file beside the book (outside it) that carries the secret."""
    path = book.parent / "outside.md"
    path.write_text(f"---\ntitle: Outside\n---\n\n{SECRET}\n")
    return path


def link_to_secret_copy(book: Path, rel: str, secret_line: str) -> None:
    """Replace a file of the book by a symlink to a copy beside the book that carries the secret."""
    path = book / rel
    copy = book.parent / path.name
    copy.write_text(path.read_text() + secret_line)
    path.unlink()
    path.symlink_to(copy)


def test_chapter_symlinked_outside_the_book_is_refused(capsys, book, dist):
    chapter = book / CHAPTER
    chapter.unlink()
    chapter.symlink_to(outside_chapter(book))
    before = snapshot(dist)
    result = build(capsys, book, dist, "epub")
    assert_failed_cleanly(result, before, "chapters/book.yaml:14: error: … [path.outside]")


def test_chapters_folder_symlinked_outside_the_book_is_refused(capsys, book, dist, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (book / "chapters").rename(elsewhere)
    (book / "chapters").symlink_to(elsewhere)
    before = snapshot(dist)
    result = build(capsys, book, dist)
    assert_failed_cleanly(result, before, "chapters/book.yaml: error: … [path.outside]")


def test_stylesheet_symlinked_outside_the_book_is_refused(capsys, book, dist):
    """The EPUB packs its stylesheet's text: a symlinked one would carry any file into it."""
    link_to_secret_copy(book, "styles/epub.css", f"/* {SECRET} */\n")
    before = snapshot(dist)
    assert_failed_cleanly(build(capsys, book, dist, "epub"), before, "styles/epub.css: error: … [path.outside]")


def test_apparatus_file_symlinked_outside_the_book_is_refused(capsys, book, dist):
    link_to_secret_copy(book, "chapters/glossary.yaml", f"# {SECRET}\n")
    before = snapshot(dist)
    assert_failed_cleanly(build(capsys, book, dist), before, "chapters/glossary.yaml: error: … [path.outside]")


def test_chapter_in_a_hidden_folder_is_refused(capsys, book, dist):
    (book / "chapters/.hidden").mkdir()
    (book / "chapters/.hidden/x.md").write_text(f"---\ntitle: Hidden\n---\n\n{SECRET}\n")
    edit(book, "chapters/book.yaml", "  - front/intro.md", "  - front/intro.md\n  - .hidden/x.md")
    before = snapshot(dist)
    assert_failed_cleanly(build(capsys, book, dist), before, "chapters/book.yaml:13: error: … [path.outside]")


def registry_line(book: Path, needle: str) -> int:
    return line_of(book, needle, "sources/registry.yaml")


def test_registry_seed_path_outside_the_book_is_refused(capsys, book, dist):
    edit(book, "sources/registry.yaml", "\nsources:\n",
         "  ../../secret.txt:\n    sha256: x\n    spans:\n      - {lines: 1, source: spartacus}\n\nsources:\n")
    before = snapshot(dist)
    line = registry_line(book, "../../secret.txt")
    assert_failed_cleanly(build(capsys, book, dist), before, f"sources/registry.yaml:{line}: error: … [sources.registry]")


def test_registry_seed_symlinked_outside_the_book_is_refused(capsys, book, dist):
    seed = next((book / "sources/seeds").glob("003_*.txt"))
    copy = book.parent / "seed.txt"
    copy.write_bytes(seed.read_bytes())
    seed.unlink()
    seed.symlink_to(copy)
    before = snapshot(dist)
    line = registry_line(book, seed.name)
    assert_failed_cleanly(build(capsys, book, dist), before, f"sources/registry.yaml:{line}: error: … [sources.registry]")


def test_images_outside_the_book_or_hidden_are_not_packed(capsys, book, dist):
    (book / ".git").mkdir()
    (book / ".git/config.png").write_text(f"[core]\n\t{SECRET}\n")
    (book / "chapters/pic.png").symlink_to(book.parent / "secret.txt")
    (book.parent / "secret.png").write_text(SECRET)
    refs = ["../.git/config.png", "../../secret.png", "pic.png", "/etc/passwd.png", "file:///etc/passwd.png",
            "http://127.0.0.1:9/x.png"]
    first = append(book, "\n" + "".join(f"![image {n}]({ref})\n\n" for n, ref in enumerate(refs)))
    result = build(capsys, book, dist, "epub")
    assert result.code == 0, result.stderr
    for number, ref in enumerate(refs):
        assert any(matches(line, f"{CHAPTER}:{first + 1 + 2 * number}: warning: refused to load {ref}: … [fetch.refused]")
                   for line in result.lines()), (ref, result.stderr)
    assert_no_secret(result)
    with zipfile.ZipFile(dist / "tiny.epub") as archive:
        assert not [n for n in archive.namelist() if n.startswith("EPUB/images/") and "cover" not in n]


# --- Raw HTML and what else the Markdown may carry into the outputs ---------------------------

RAW = [
    # (id, a line of Markdown, where the diagnostic points in it, its code)
    ("script", "<script>alert(1)</script>", "<script>", "html.not-allowed"),
    ("iframe", '<iframe src="http://127.0.0.1:9/"></iframe>', "<iframe", "html.not-allowed"),
    ("form", 'Text <form action="http://127.0.0.1:9/"><input name="q"></form> more.', "<form", "html.not-allowed"),
    ("link", 'Text <link rel="stylesheet" href="../../secret.txt"> more.', "<link", "html.not-allowed"),
    ("style-element", "<style>body { background: url(../../secret.png) }</style>", "<style>", "html.not-allowed"),
    ("img-onerror", 'Text <img src="x.png" onerror="alert(1)"> more.', "<img", "html.not-allowed"),
    ("object", '<object data="../../secret.txt"></object>', "<object", "html.not-allowed"),
    ("meta-refresh", '<meta http-equiv="refresh" content="0;url=http://127.0.0.1:9/">', "<meta", "html.not-allowed"),
    ("anchor-javascript", 'Text <a href="javascript:alert(1)">x</a> more.', "<a ", "html.not-allowed"),
    ("base", '<base href="http://127.0.0.1:9/">', "<base", "html.not-allowed"),
    ("span-onclick", 'Text <em onclick="alert(1)">x</em> more.', "<em ", "html.not-allowed"),
    ("span-style-url", 'Text <span style="background: url(../../secret.png)">x</span> more.', "style=",
     "markdown.attribute"),
    ("div-style", '<div style="background: url(../../secret.png)">\n\nx\n\n</div>', "style=", "markdown.attribute"),
    ("markdown-attribute", "::: {.note style=\"color: red\"}\nx\n:::", "style=", "markdown.attribute"),
    ("raw-attribute", "Text `<script>alert(1)</script>`{=html} more.", "<script>", "html.not-allowed"),
    ("raw-tex", "Text \\newpage more.", "\\newpage", "markdown.raw"),
    ("link-javascript", "Text [click](javascript:alert(1)) more.", "javascript:", "link.scheme"),
    ("link-file", "Text [click](file:///etc/passwd) more.", "file:", "link.scheme"),
    ("image-not-an-image", "![notes](../../secret.txt)", "../../secret.txt", "image.type"),
]


@pytest.mark.parametrize("markdown, needle, code", [case[1:] for case in RAW], ids=[case[0] for case in RAW])
def test_raw_html_outside_the_allow_list_is_an_error_at_its_line(capsys, book, dist, markdown, needle, code):
    assert_appended_text_fails_at_its_place(capsys, book, dist, markdown, needle, code)


def test_raw_html_in_a_yaml_value_is_an_error_at_its_entry(capsys, book, dist):
    edit(book, "chapters/people.yaml", "about: ", "about: <script>alert(1)</script> ")
    line = line_of(book, "<script>", "chapters/people.yaml")
    before = snapshot(dist)
    assert_failed_cleanly(build(capsys, book, dist), before, f"chapters/people.yaml:{line}: error: … [html.not-allowed]")


def test_allowed_inline_html_reaches_the_epub_and_it_stays_valid(capsys, book, dist):
    append(book, '\nWater is H<sub>2</sub>O; the <abbr title="New Economic Policy">NEP</abbr> '
           'came<br>later, <span lang="ru">нэп</span>.\n')
    result = build(capsys, book, dist, "epub")
    assert result.code == 0, result.stderr
    chapter = zipfile.ZipFile(dist / "tiny.epub").read("EPUB/chapter-1.xhtml").decode()
    assert "H<sub>2</sub>O" in chapter and '<abbr title="New Economic Policy">' in chapter
    assert '<span lang="ru">нэп</span>' in chapter and "came<br/>later" in chapter


# --- YAML: aliases, depth, syntax, shape ---------------------------------------------------------

BOMB = "".join(f"x{n}: &x{n} [" + ", ".join([f"*x{n - 1}"] * 9) + "]\n" for n in range(1, 9))


@pytest.mark.parametrize("rel, text, where", [
    ("chapters/book.yaml", "x0: &x0 [lol]\n" + BOMB, "15:5"),
    ("chapters/book.yaml", "loop: &loop [*loop]\n", "15:7"),
    ("chapters/glossary.yaml", "- &term {id: t, term: T, definition: D}\n- *term\n", None),
    ("sources/registry.yaml", "extra: &e {a: 1}\nmore: *e\n", None),
], ids=["alias-bomb-in-book-file", "recursive-alias", "alias-in-glossary", "alias-in-registry"])
def test_yaml_aliases_are_refused(capsys, book, dist, rel, text, where):
    first = append(book, text, rel)
    where = where or f"{first}:{3 if rel.endswith('glossary.yaml') else 8}"
    before = snapshot(dist)
    assert_failed_cleanly(build(capsys, book, dist), before, f"{rel}:{where}: error: … [yaml.alias]")


def test_yaml_alias_in_front_matter_is_refused_at_its_line(capsys, book, dist):
    edit(book, CHAPTER, "key_terms: [nep]", "key_terms: &k [nep]\nextra: *k")
    before = snapshot(dist)
    assert_failed_cleanly(build(capsys, book, dist), before, f"{CHAPTER}:7:12: error: … [yaml.alias]")


def test_deeply_nested_yaml_is_refused(capsys, book, dist):
    append(book, "deep: " + "[" * 20000 + "]" * 20000 + "\n", "chapters/book.yaml")
    before = snapshot(dist)
    assert_failed_cleanly(build(capsys, book, dist), before,
                          "chapters/book.yaml:15:1006: error: invalid YAML: exceeded maximum nesting depth; … [yaml.syntax]")


def test_registry_syntax_error_names_its_line(capsys, book, dist):
    edit(book, "sources/registry.yaml", "    type: review", "    type: [review")
    line = registry_line(book, "type: [review")
    before = snapshot(dist)
    result = build(capsys, book, dist)
    assert_failed_cleanly(result, before)
    assert any(re.fullmatch(rf"sources/registry.yaml:{line + 1}:\d+: error: .* \[yaml.syntax\]", x)
               for x in result.lines()), result.stderr


def test_registry_without_files_is_an_error(capsys, book, dist):
    registry = book / "sources/registry.yaml"
    text = registry.read_text()
    registry.write_text(text[text.index("\nsources:") + 1:])
    before = snapshot(dist)
    assert_failed_cleanly(build(capsys, book, dist), before, "sources/registry.yaml:1: error: … [sources.registry]")


# --- Encodings and control characters --------------------------------------------------------------

@pytest.mark.parametrize("char", ["\x0c", "\x1b", "\x07", "\x00", "\x7f", "\u0085", "\ufeff"],
                         ids=["form-feed", "escape", "bell", "nul", "delete", "c1-next-line", "bom-mid-file"])
def test_control_characters_are_errors_at_their_column(capsys, book, dist, char):
    edit(book, CHAPTER, "He was executed", f"He was{char} executed")
    before = snapshot(dist)
    line = line_of(book, "He was")
    assert_failed_cleanly(build(capsys, book, dist, "epub"), before,
                          f"{CHAPTER}:{line}:7: error: invisible control character U+{ord(char):04X} … [text.control]")


def test_control_character_in_yaml_is_an_error_at_its_column(capsys, book, dist):
    edit(book, "chapters/glossary.yaml", "definition: ", "definition: \x1b[31m")
    line = line_of(book, "\x1b[31m", "chapters/glossary.yaml")
    before = snapshot(dist)
    assert_failed_cleanly(build(capsys, book, dist), before, f"chapters/glossary.yaml:{line}:15: error: … [text.control]")


def test_byte_order_mark_at_the_start_keeps_the_front_matter(capsys, book, dist):
    chapter = book / CHAPTER
    chapter.write_bytes(b"\xef\xbb\xbf" + chapter.read_bytes())
    result = build(capsys, book, dist)
    assert result.code == 0, result.stderr
    assert "front-matter" not in result.stderr


@pytest.mark.parametrize("rel", [CHAPTER, "chapters/book.yaml", "chapters/people.yaml"])
def test_non_utf8_bytes_are_reported_at_their_line_and_column(capsys, book, dist, rel):
    path = book / rel
    lines = path.read_bytes().split(b"\n")
    lines[4] = lines[4][:3] + b"\xe9" + lines[4][3:]  # Latin-1 é
    path.write_bytes(b"\n".join(lines))
    before = snapshot(dist)
    assert_failed_cleanly(build(capsys, book, dist), before, f"{rel}:5:4: error: not valid UTF-8 (byte 0xe9: … [file.encoding]")


# --- The command line: no tracebacks ------------------------------------------------------------------

def test_out_naming_a_file(capsys, book, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    code, err = run(capsys, "epub", "--root", str(book), "--out", str(target))
    assert code == 1 and matches(err.strip(), f"error: --out {target}: is a file, … [cli.out]"), err
    assert target.read_text() == "x"


def test_root_naming_a_file(capsys, book, tmp_path):
    code, err = run(capsys, "check", "--root", str(book / "chapters/book.yaml"))
    assert code == 1 and matches(err.strip(), f"error: --root {book / 'chapters/book.yaml'}: not a folder; … [cli.root]")


@pytest.mark.parametrize("failure, message", [
    (PermissionError(13, "Permission denied"), "Permission denied"),
    (OSError(28, "No space left on device"), "No space left on device"),
], ids=["read-only-folder", "full-disk"])
def test_unwritable_output_folder(capsys, book, dist, monkeypatch, failure, message):
    """As root no folder is read-only, so the failure is injected where the build writes."""
    from book import build as build_module

    def refuse(*args, **kwargs):
        raise failure
    monkeypatch.setattr(build_module, "install", refuse)
    before = snapshot(dist)
    assert_failed_cleanly(build(capsys, book, dist, "epub"), before,
                          f"error: cannot write into {dist}: {message} [out.write]")


@pytest.mark.parametrize("old, new, expected", [
    ("date: 2026-01-01", "date: 1979-12-31", "chapters/book.yaml:7: error: date: Value error, the date is … [config.invalid]"),
    ("papers: [a4]", "papers: []", "chapters/book.yaml:10: error: papers: List should have at least 1 item … [config.invalid]"),
    ("  - front/intro.md", "  - front/intro.md\n  - 01-life.md", "chapters/book.yaml:15: error: 01-life.md is listed twice; … [config.duplicate-part]"),
    ("  - 01-life.md", "  - 01-life.md\n  - 01-life.md", "chapters/book.yaml:15: error: 01-life.md is listed twice; … [config.duplicate-part]"),
], ids=["date-before-1980", "no-papers", "front-and-chapter-one-file", "chapter-listed-twice"])
def test_book_file_values_that_used_to_crash_or_pass(capsys, book, dist, old, new, expected):
    edit(book, "chapters/book.yaml", old, new)
    before = snapshot(dist)
    assert_failed_cleanly(build(capsys, book, dist, "pdf"), before, expected)


def test_front_part_and_chapter_with_one_slug(capsys, book, dist):
    (book / "chapters/front/life.md").write_text("---\ntitle: Other life\n---\n\nText.\n")
    edit(book, "chapters/book.yaml", "  - front/intro.md", "  - front/intro.md\n  - front/life.md")
    before = snapshot(dist)
    assert_failed_cleanly(build(capsys, book, dist, "epub"), before,
                          "chapters/book.yaml:15: error: 01-life.md has the same name ('life') as front/life.md; … "
                          "[config.duplicate-part]")


@pytest.mark.parametrize("args, expected", [
    (["spartacus", "99999"], "error: '99999' is not a paragraph of 'spartacus': give numbers from 1 to 49"),
    (["spartacus", "abc"], "error: 'abc' is not a paragraph of 'spartacus': give numbers from 1 to 49"),
    (["spartacus", "0"], "error: '0' is not a paragraph of 'spartacus': give numbers from 1 to 49"),
], ids=["out-of-range", "not-a-number", "zero"])
def test_source_command_refuses_bad_paragraphs(capsys, args, expected):
    code, err = run(capsys, "source", *args)
    assert code == 1 and err.strip() == expected and "Traceback" not in err


def test_internal_error_is_one_line_and_debug_shows_the_traceback(capsys, book, monkeypatch):
    from book import pipeline

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")
    monkeypatch.setattr(pipeline, "run_checks", broken)
    code, err = run(capsys, "check", "--root", str(book))
    assert code == 70 and "Traceback" not in err
    [line] = err.strip().splitlines()
    assert line.startswith("internal error: ZeroDivisionError at test_hostile.py:") and "--debug" in line
    code, err = run(capsys, "check", "--root", str(book), "--debug")
    assert code == 70 and "Traceback (most recent call last)" in err


# --- Processes: killed builds, stale staging, concurrent builds ----------------------------------

def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def forked_workers(pid: int) -> list[int]:
    """Children that are forks of the build (same command line): not pandoc, not helpers."""
    def cmdline(p: int) -> bytes:
        try:
            return Path(f"/proc/{p}/cmdline").read_bytes()
        except OSError:
            return b""
    return [child for child in children(pid) if cmdline(child) == cmdline(pid)]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition, seconds: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def start_build(root: Path, out: Path, target: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "build.py"), target, "--root", str(root), "--out", str(out),
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_pdf_workers_die_with_a_killed_build(book, dist, how):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the PDFs are laid out in the build's own process")
    edit(book, "chapters/book.yaml", "papers: [a4]", "papers: [a4, letter]")
    # Enough text that the layout outlasts the test by far: workers that survive would be seen.
    append(book, "\n::: no-cite\n" + "".join(f"Filler paragraph {n} of many, with words to lay out.\n\n"
                                             for n in range(1500)) + ":::\n")
    before = snapshot(dist)
    process = start_build(book, dist, "pdf")
    wait_until(lambda: len(forked_workers(process.pid)) >= 2 or process.poll() is not None,
               what="the layout workers")
    workers = forked_workers(process.pid)
    assert len(workers) >= 2, process.stderr.read()
    os.kill(process.pid, how)
    process.wait(timeout=60)
    wait_until(lambda: not any(alive(pid) for pid in workers), seconds=10, what="the workers to die")
    if how == signal.SIGTERM:
        assert process.returncode == 143
        assert not list(dist.glob(".building-*"))  # a terminated build cleans up after itself
    assert {k: v for k, v in snapshot(dist).items() if not k.startswith(".building-")} == before


def test_a_new_build_removes_staging_folders_that_no_live_build_owns(capsys, book, dist):
    import fcntl

    stale = dist / ".building-stale"
    (stale / "scratch").mkdir(parents=True)
    (stale / "tiny.epub").write_bytes(b"half-written")
    live = dist / ".building-live"
    live.mkdir()
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a build that is still running holds it
    try:
        result = build(capsys, book, dist, "epub")
        assert result.code == 0, result.stderr
        assert not stale.exists() and live.is_dir()
    finally:
        os.close(fd)
    assert zipfile.is_zipfile(dist / "tiny.epub")


def waiting_for_a_lock(pid: int) -> bool:
    """/proc/locks lists a process blocked on a flock with '->' before the lock's type."""
    return any("->" in line and f" {pid} " in f" {line.split()[5].split(':')[0]} "
               for line in Path("/proc/locks").read_text().splitlines() if "->" in line)


def test_two_builds_into_one_folder_take_turns(book, dist):
    """While one build holds the output folder's lock, another waits: outputs never interleave."""
    from book.processes import folder_lock

    with folder_lock(dist):
        process = start_build(book, dist, "epub")
        wait_until(lambda: waiting_for_a_lock(process.pid) or process.poll() is not None,
                   what="the second build to wait for the lock")
        assert process.poll() is None, process.stderr.read()
        assert (dist / "tiny.epub").read_bytes() == b"previous epub"
    assert process.wait(timeout=120) == 0, process.stderr.read()
    assert zipfile.is_zipfile(dist / "tiny.epub") and not list(dist.glob(".building-*"))


# --- The check covers every construct that can hold a citation, a quotation or a note ------------

INVENTED = '"the favourite of the entire Party"'  # the source says "whole"
CONSTRUCTS = [
    # (id, Markdown appended to the chapter, the text the diagnostic points at, its code)
    ("heading-citation", "## Last days [@spartacus, para. 39]", "Last days", "heading.note"),
    ("heading-unknown-key", "## Last days [@nosuchkey]", "@nosuchkey", "cite.unknown-key"),
    ("heading-note", "## Last days[^d]\n\n[^d]: A note.", "Last days", "heading.note"),
    ("heading-undefined-note", "## Last days[^nothere]", "nothere", "note.undefined"),
    ("heading-invented-quotation", f"## He was {INVENTED}", "the favourite", "quote.uncited"),
    ("table-unknown-key", "| a | b |\n|---|---|\n| x [@nosuchkey, para. 1] | y |", "@nosuchkey", "cite.unknown-key"),
    ("table-invented-quotation", f"| a | b |\n|---|---|\n| {INVENTED}[@spartacus, para. 14] | y |",
     "the favourite", "quote.mismatch"),
    ("table-note-unknown-key", "| a | b |\n|---|---|\n| x[^t] | y |\n\n[^t]: See [@nosuchkey].", "@nosuchkey",
     "cite.unknown-key"),
    ("table-caption-unknown-key", "| a | b |\n|---|---|\n| x | y |\n\n: Caption [@nosuchkey]", "@nosuchkey",
     "cite.unknown-key"),
    ("definition-term-unknown-key", "Term [@nosuchkey]\n:   Definition.", "@nosuchkey", "cite.unknown-key"),
    ("definition-invented-quotation", f"Term\n:   Lenin said {INVENTED}.[@spartacus, para. 14]", "the favourite",
     "quote.mismatch"),
    ("line-block-invented-quotation", f"| Lenin said {INVENTED}.[@spartacus, para. 14]\n| And more.",
     "the favourite", "quote.mismatch"),
    ("line-block-unknown-key", "| A line.[@nosuchkey]\n| Another.", "@nosuchkey", "cite.unknown-key"),
    ("box-title-citation", '::: {.disagree title="Born when? [@nosuchkey]"}\nText.[@spartacus, para. 1]\n:::',
     "Born when", "box.title"),
    ("box-title-note", '::: {.disagree title="Born when?[^b]"}\nText.[@spartacus, para. 1]\n:::\n\n[^b]: Note.',
     "Born when", "box.title"),
    ("box-title-quotation", "::: {.disagree title='He was \"the favourite\"'}\nText.[@spartacus, para. 1]\n:::",
     "He was", "box.title"),
    ("block-quote-undefined-note",
     "> I am kneeling before the country, before the Party.[@trial-record, para. 27][^nothere]",
     "nothere", "note.undefined"),
    ("block-quote-note-unknown-key",
     "> I am kneeling before the country, before the Party.[@trial-record, para. 27][^q]\n\n[^q]: See [@nosuchkey].",
     "@nosuchkey", "cite.unknown-key"),
    ("block-quote-list-unknown-key", "> - an item [@nosuchkey]\n> - another", "@nosuchkey", "cite.unknown-key"),
    ("figure-caption-unknown-key", "![A caption [@nosuchkey]](pic.png)", "@nosuchkey", "cite.unknown-key"),
    ("inline-note-unknown-key", "Text.^[An inline note citing [@nosuchkey].]", "@nosuchkey", "cite.unknown-key"),
    ("list-in-note-invented-quotation", f"Text.[^l]\n\n[^l]: A list:\n\n    - Lenin said {INVENTED}.[@spartacus, para. 14]",
     "the favourite", "quote.mismatch"),
    # Locators: checked where they are wrong, and only well-formed ones accepted.
    ("locator-out-of-range-second-citation", "Later.[@spartacus, para. 999]", "@spartacus", "cite.bad-locator"),
    ("locator-word", "Later.[@spartacus, para. two]", "@spartacus", "cite.locator-syntax"),
    ("locator-page", "Later.[@spartacus, p. 2]", "@spartacus", "cite.locator-syntax"),
    ("locator-open-range", "Later.[@spartacus, para. 3-]", "@spartacus", "cite.locator-syntax"),
    ("locator-reversed-range", "Later.[@spartacus, paras. 5-3]", "@spartacus", "cite.locator-syntax"),
    ("locator-zero", "Later.[@spartacus, para. 0]", "@spartacus", "cite.locator-syntax"),
    ("locator-second-of-a-group", "Later.[@spartacus, para. 2; @gray-2022, para. 999]", "@gray-2022",
     "cite.bad-locator"),
    # Notes.
    ("duplicate-note-label", "Text.[^calendar]\n\n[^calendar]: A second note with the same label.", "[^calendar]:",
     "note.duplicate"),
    # Degenerate nesting.
    ("nested-list-200", "\n".join("  " * n + f"- item{n}" for n in range(200)), "item12", "markdown.depth"),
    ("nested-quote-200", ">" * 200 + " deep", "deep", "markdown.depth"),
]


@pytest.mark.parametrize("markdown, needle, code", [c[1:] for c in CONSTRUCTS], ids=[c[0] for c in CONSTRUCTS])
def test_every_construct_is_checked(capsys, book, dist, markdown, needle, code):
    assert_appended_text_fails_at_its_place(capsys, book, dist, markdown, needle, code)


def test_a_long_word_and_a_long_url_are_warned_of_and_stay_on_the_page(capsys, book, dist):
    import pdfplumber

    word, url = "x" * 2000, "https://example.org/" + "a" * 1500
    first = append(book, f"\n::: no-cite\nA word {word} here.\n\nA link {url} here.\n:::\n")
    result = build(capsys, book, dist, "pdf")
    assert result.code == 0, result.stderr
    assert any(matches(x, f"{CHAPTER}:{first + 2}:8: warning: a word of 2,000 characters … [text.long-word]")
               for x in result.lines()), result.stderr
    assert any(matches(x, f"{CHAPTER}:{first + 4}:8: warning: a URL of 1,520 characters … [text.long-word]")
               for x in result.lines()), result.stderr
    with pdfplumber.open(dist / "tiny-a4.pdf") as pdf:
        for page in pdf.pages:
            assert all(0 <= char["x1"] <= page.width + 0.5 for char in page.chars), page.page_number


# --- Watch ---------------------------------------------------------------------------------------

class Watcher:
    """build.py --watch as an editor runs it; a thread reads its lines (select() on a buffered
    pipe can miss lines already read into the buffer)."""

    def __init__(self, root: Path, out: Path, target: str):
        import queue
        import threading

        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "build.py"), target, "--watch", "--root", str(root), "--out", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "300"})
        self.lines: list[str] = []
        self.queue: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [self.queue.put(x) for x in self.process.stderr] + [self.queue.put(None)],
                         daemon=True).start()

    def wait_for(self, text: str, seconds: float = 120) -> None:
        import queue

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self.queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the watcher stopped: {self.lines}")
            self.lines.append(line)
            if text in line:
                return
        raise AssertionError(f"no {text!r} in {self.lines}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def watcher():
    started = []

    def start(root: Path, out: Path, target: str = "check") -> Watcher:
        started.append(Watcher(root, out, target))
        return started[-1]
    yield start
    for w in started:
        w.stop()


def test_watch_with_out_inside_the_watched_tree_does_not_loop(book, watcher):
    out = book / "chapters" / "out"
    w = watcher(book, out, "epub")
    w.wait_for("watching")
    for n in range(2):
        append(book, f"\nEdit {n}.\n")
        w.wait_for("rebuilt in")
    changed = [line for line in w.lines if line.startswith("changed:")]
    assert changed and all(line.strip() == f"changed: {CHAPTER}" for line in changed), changed


def test_watch_survives_a_broken_registry(book, watcher, tmp_path):
    w = watcher(book, tmp_path / "out")
    w.wait_for("watching")
    edit(book, "sources/registry.yaml", "    type: review", "    type: [review")
    w.wait_for("build failed in")
    assert any("[yaml.syntax]" in line for line in w.lines) and not any("Traceback" in x for x in w.lines)
    edit(book, "sources/registry.yaml", "    type: [review", "    type: review")
    w.wait_for("rebuilt in")


def test_watch_sees_edits_to_a_book_inside_a_folder_named_dist(book, watcher, tmp_path):
    inside = tmp_path / "dist" / "book"
    inside.parent.mkdir()
    book.rename(inside)
    w = watcher(inside, tmp_path / "out")
    w.wait_for("watching")
    edit(inside, CHAPTER, "He was executed", "He was shot")
    w.wait_for("rebuilt in")
    assert any(line.strip() == f"changed: {CHAPTER}" for line in w.lines), w.lines


def test_a_note_never_called_is_warned_of_at_its_line(capsys, book, dist):
    first = append(book, "\n[^unused]: Never called.\n")
    result = build(capsys, book, dist)
    assert result.code == 0
    assert f"{CHAPTER}:{first + 1}:1: warning: footnote [^unused] is defined but never called; add [^unused] " \
           "where it belongs, or delete the note [note.unused]" in result.lines()
    assert not any("pandoc.warning" in line for line in result.lines())


def test_a_stopped_build_does_not_wait_for_its_pandoc(monkeypatch, tmp_path):
    """`kill` (or Ctrl+C in serve) reaches the builder, not the pandoc it runs: stop_running()
    ends that pandoc, so the build stops now, not when pandoc is done."""
    import threading

    from book import convert
    from book.diagnostics import BuildError

    slow = tmp_path / "pandoc"
    slow.write_text("#!/bin/sh\nexec sleep 600\n")
    slow.chmod(0o755)
    monkeypatch.setattr(convert, "pandoc_path", lambda: str(slow))
    outcome = []

    def run():
        try:
            outcome.append(convert.run_pandoc(["-f", "markdown", "-t", "json"], "Text.", "a test"))
        except BuildError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    for _ in range(500):  # until the fake pandoc has started
        if convert._RUNNING:
            break
        time.sleep(0.01)
    running = list(convert._RUNNING)
    assert running, "the fake pandoc never started"
    convert.stop_running()
    thread.join(60)
    assert not thread.is_alive()
    assert running[0].returncode is not None and running[0].returncode < 0  # killed, not finished
    assert isinstance(outcome[0], BuildError) and "pandoc failed" in str(outcome[0])
