"""The build as an editor meets it: reproducible files, clear errors, dist/ safe on failure."""
import hashlib
import subprocess
import sys
from pathlib import Path

from conftest import make_root, run_build

from book.config import ROOT


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_builds_give_identical_bytes(book, tmp_path):
    again = run_build(ROOT, tmp_path / "again")
    assert digest(again.epub) == digest(book.epub)
    assert digest(again.kepub) == digest(book.kepub)
    for paper in ("a4", "letter"):
        assert digest(again.pdf(paper)) == digest(book.pdf(paper))


def cli(root: Path, *args: str, out: Path):
    # build.py is run as an editor runs it, pointed at a fixture book.
    return subprocess.run([sys.executable, str(ROOT / "build.py"), *args, "--root", str(root), "--out", str(out)],
                          capture_output=True, text=True)


def test_bad_input_stops_the_build_and_leaves_dist_alone(tiny, tmp_path):
    out = tmp_path / "dist"
    ok = cli(tiny, "epub", out=out)
    assert ok.returncode == 0, ok.stderr
    before = digest(out / "tiny.epub"), digest(out / "tiny.kepub.epub")
    chapter = tiny / "chapters" / "01-life.md"
    chapter.write_text(chapter.read_text().replace("[@spartacus, para. 39]", "[@nobody, para. 1]"))
    failed = cli(tiny, "epub", out=out)
    assert failed.returncode == 1
    assert "chapters/01-life.md:50:" in failed.stderr and "[cite.unknown-key]" in failed.stderr
    assert (digest(out / "tiny.epub"), digest(out / "tiny.kepub.epub")) == before
    assert sorted(p.name for p in out.iterdir()) == ["tiny.epub", "tiny.kepub.epub"]


def test_broken_yaml_names_file_and_line(tiny, tmp_path):
    book_file = tiny / "chapters" / "book.yaml"
    book_file.write_text(book_file.read_text().replace("slug: tiny", "slug: [tiny"))
    result = cli(tiny, "check", out=tmp_path)
    assert result.returncode == 1
    assert "chapters/book.yaml:5" in result.stderr and "[yaml.syntax]" in result.stderr


def test_missing_chapter_names_the_book_file_line(tiny, tmp_path):
    book_file = tiny / "chapters" / "book.yaml"
    book_file.write_text(book_file.read_text() + "  - 02-missing.md\n")
    result = cli(tiny, "check", out=tmp_path)
    assert result.returncode == 1
    assert ("chapters/book.yaml:15: error: 02-missing.md is listed but does not exist; "
            "create it or remove it from the list [config.missing-file]") in result.stderr


def test_unknown_key_in_book_file_is_reported_with_its_line(tiny, tmp_path):
    book_file = tiny / "chapters" / "book.yaml"
    book_file.write_text(book_file.read_text().replace("papers: [a4]", "paper: [a4]"))
    result = cli(tiny, "check", out=tmp_path)
    assert "chapters/book.yaml:10: error: paper: Extra inputs are not permitted [config.invalid]" in result.stderr


def test_fetches_outside_the_book_are_refused_and_reported(tmp_path):
    root = make_root(tmp_path, "tiny")
    chapter = root / "chapters" / "01-life.md"
    chapter.write_text(chapter.read_text() + "\n![secret](file:///etc/passwd)\n\n![remote](http://example.com/x.png)\n")
    built = run_build(root, tmp_path / "out", targets=("pdf",))
    refused = [d for d in built.report.warnings if d.code == "fetch.refused"]
    assert {d.message.split()[3].rstrip(":") for d in refused} == {"file:///etc/passwd", "http://example.com/x.png"}
    assert all(d.file == "chapters/01-life.md" for d in refused)
    data = built.pdf("a4").read_bytes()
    assert b"root:x:0:0" not in data
    import pdfplumber

    with pdfplumber.open(built.pdf("a4")) as pdf:
        assert not any(page.images for page in pdf.pages)


def test_a_clean_build_reports_nothing(book):
    assert [str(d) for d in book.report.items] == []


def test_the_slur_in_the_1925_translation_is_never_reproduced(book):
    import pdfplumber

    word = "nig" + "ger"  # spelled in pieces so that this file does not carry it whole
    assert word in (ROOT / "sources/seeds/001_86c37a92ad56db51.txt").read_text()  # the trap is real
    for name, data in book.epub_files().items():
        assert word.encode() not in data.lower(), name
    with pdfplumber.open(book.pdf("a4")) as pdf:
        assert not any(word in (page.extract_text() or "").lower() for page in pdf.pages)


def test_watch_rebuilds_after_a_save_and_survives_a_failed_build(tiny, tmp_path):
    import os
    import select
    import time

    process = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "epub", "--watch", "--root", str(tiny),
                                "--out", str(tmp_path / "out")], stderr=subprocess.PIPE, bufsize=0,
                               env={**os.environ, "COLUMNS": "200"})
    # Unbuffered bytes: a buffered reader can hold lines that select() then never reports.
    lines: list[str] = []

    def wait_for(text: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([process.stderr], [], [], 0.5)
            if ready:
                lines.append(process.stderr.readline().decode("utf-8", "replace"))
                if text in lines[-1]:
                    return
        raise AssertionError(f"no {text!r} in {lines}")

    try:
        wait_for("watching")
        chapter = tiny / "chapters" / "01-life.md"
        chapter.write_text(chapter.read_text().replace("[@spartacus, para. 39]", "[@nobody, para. 1]"))
        wait_for("build failed in")
        chapter.write_text(chapter.read_text().replace("[@nobody, para. 1]", "[@spartacus, para. 39]"))
        wait_for("rebuilt in")
        assert any("changed: chapters/01-life.md" in line for line in lines)
        assert any("[cite.unknown-key]" in line for line in lines)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_person_the_text_never_names_is_reported(tiny, tmp_path):
    people = tiny / "chapters" / "people.yaml"
    people.write_text(people.read_text() + "- id: nobody\n  name: Ivan Nobody\n  sort: Nobody, Ivan\n"
                      "  about: >-\n    Named in no chapter.[@spartacus, para. 1]\n")
    built = run_build(tiny, tmp_path / "out", targets=("epub",))
    [warning] = [d for d in built.report.warnings if d.code == "people.unused"]
    assert (warning.file, warning.line) == ("chapters/people.yaml", 14)  # its name: line


def test_a_note_of_two_paragraphs_keeps_both_in_both_formats(tiny, tmp_path):
    import pdfplumber

    chapter = tiny / "chapters" / "01-life.md"
    chapter.write_text(chapter.read_text().replace(
        "[^calendar]: Our own note: dates before 1918 may be Old Style.",
        "[^calendar]: Our own note: dates before 1918 may be Old Style.\n\n    A second paragraph of the same note."))
    built = run_build(tiny, tmp_path / "out")
    with pdfplumber.open(built.pdf("a4")) as pdf:
        text = " ".join((page.extract_text() or "") for page in pdf.pages).replace("\n", " ")
    assert "may be Old Style. A second paragraph of the same note." in text
    chapter_xhtml = built.epub_files()["EPUB/chapter-1.xhtml"].decode()
    assert "A second paragraph of the same note." in chapter_xhtml
