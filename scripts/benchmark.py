#!/usr/bin/env python3
"""Time and memory of each build stage, as ratios against a baseline run in the same process.

The baseline is WeasyPrint laying out a fixed reference document (no code of ours), so the
ratios say how the builder's stages compare with plain library work on whatever machine runs
this, and can be compared across machines and commits. Run: .venv/bin/python scripts/benchmark.py
"""
from __future__ import annotations

import gc
import io
import json
import re
import statistics
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from book.build import build, render_view  # noqa: E402
from book.config import BuildOptions  # noqa: E402
from book import cache, convert  # noqa: E402
from book.diagnostics import Report  # noqa: E402
from book.epub import write_epub  # noqa: E402
from book.pdf import edition_page_map, write_pdf  # noqa: E402
from book.pipeline import gather  # noqa: E402
from book.web import write_site  # noqa: E402
from book.sources import csl_items  # noqa: E402
from rich.console import Console  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def baseline() -> None:
    from weasyprint import HTML

    paragraph = "<p>" + "The quick brown fox jumps over the lazy dog. " * 12 + "</p>"
    HTML(string="<h1>Reference</h1>" + paragraph * 400).write_pdf()


def measure(label, func, repeat=1):
    gc.collect()
    before = peak_rss_mib()
    best = float("inf")
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - started)
    return label, best, peak_rss_mib() - before, result


def uncached(func):
    """func as `python build.py --no-cache` runs it."""
    cache.enabled = False
    try:
        return func()
    finally:
        cache.enabled = True


def web_site(view, page_map) -> None:
    with tempfile.TemporaryDirectory() as folder:
        write_site(view, ROOT, Report(), page_map, Path(folder) / "site")


def copy_book(folder: Path) -> Path:
    """The book in a scratch folder, with the page layout cached (.cache/pagemap) and no other cache."""
    book = folder / "book"
    for name in ("chapters", "sources", "styles"):
        shutil.copytree(ROOT / name, book / name)
    if (ROOT / ".cache" / "pagemap").is_dir():
        shutil.copytree(ROOT / ".cache" / "pagemap", book / ".cache" / "pagemap")
    return book


def edit_paragraph(book: Path, marker: str) -> str:
    """Change one paragraph of chapter 3 (one word becomes the marker); returns the marker."""
    chapter = sorted((book / "chapters").glob("03-*.md"))[0]
    text = chapter.read_text(encoding="utf-8")
    heading = text.index("\n## ", text.index("\n## ") + 1)  # the second section
    start = text.index("\n\n", heading + 1) + 2
    word = re.compile(r"\b[a-z]{4,}\b")
    found = next(m for m in word.finditer(text, start)  # a word of the text, not of a citation
                 if text.count("[", start, m.start()) == text.count("]", start, m.start()))
    chapter.write_text(text[:found.start()] + marker + text[found.end():], encoding="utf-8")
    return marker


def watch_edits(edits: int = 3) -> tuple[float, float]:
    """What --watch does after a save, in its own process (caches in memory and in .cache/): a
    one-paragraph edit to a new EPUB (median of several), and to the report of `check`."""
    with tempfile.TemporaryDirectory() as folder:
        book = copy_book(Path(folder))
        console = Console(file=io.StringIO())
        epub = BuildOptions(root=book, out_dir=Path(folder) / "dist", targets=("epub",), quiet=True, preview=True)
        check = BuildOptions(root=book, out_dir=Path(folder) / "dist", targets=(), quiet=True, preview=True)
        build(epub, console)  # the watcher's first build
        times = []
        for number in range(edits):
            edit_paragraph(book, f"editedword{number}")
            started = time.perf_counter()
            build(epub, console)
            times.append(time.perf_counter() - started)
        checks = []
        for number in range(edits):
            edit_paragraph(book, f"checkedword{number}")
            started = time.perf_counter()
            build(check, console)
            checks.append(time.perf_counter() - started)
        return statistics.median(times), statistics.median(checks)


def timed_run(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def cold_epub_and_pandoc(book_holder) -> tuple[float, float, float]:
    """python build.py epub in a fresh process, cold (only the page layout cached) and warm (every
    cache filled); and pandoc alone turning the same Markdown, with citeproc, into an EPUB."""
    with tempfile.TemporaryDirectory() as folder:
        book = copy_book(Path(folder))
        command = [sys.executable, str(ROOT / "build.py"), "epub", "--quiet", "--root", str(book),
                   "--out", str(Path(folder) / "dist")]
        cold = timed_run(command)
        warm = timed_run(command)
        gathered = book_holder["book"]
        (Path(folder) / "book.md").write_text(convert.join_snippets(gathered.snippets), encoding="utf-8")
        (Path(folder) / "references.json").write_text(json.dumps(csl_items(gathered.sources)), encoding="utf-8")
        import pypandoc

        pandoc = timed_run([pypandoc.get_pandoc_path(), "-f", convert.MARKDOWN, "-t", "epub3", "--citeproc",
                            f"--csl={ROOT / convert.CSL_STYLE}", f"--bibliography={Path(folder) / 'references.json'}",
                            "-o", str(Path(folder) / "pandoc.epub"), str(Path(folder) / "book.md")])
        return cold, warm, pandoc


def save_to_browser(edits: int = 3) -> float:
    """python build.py serve on a copy of the book, a page of chapter 3 open in Chromium: a word of
    one paragraph changed and saved, timed from the save until the page shows it (median of several)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        book = copy_book(Path(folder))
        serve = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "serve", "--root", str(book), "--quiet",
                                  "--out", str(book / "dist")], stderr=subprocess.PIPE, text=True)
        try:
            url = next(m.group(1) for line in serve.stderr if (m := re.search(r"(http://127\.0\.0\.1:\d+/)", line)))
            threading.Thread(target=lambda: [None for _ in serve.stderr], daemon=True).start()
            times = []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
                page = browser.new_page()
                page.goto(url + "chapter-3.html")
                page.wait_for_load_state("load")
                for number in range(edits):
                    time.sleep(1.0)  # the watcher settles; the page's event stream is open
                    marker = f"savedword{number}"
                    started = time.perf_counter()
                    edit_paragraph(book, marker)
                    page.get_by_text(marker).first.wait_for(timeout=300_000)
                    times.append(time.perf_counter() - started)
                browser.close()
            return statistics.median(times)
        finally:
            serve.send_signal(signal.SIGINT)
            serve.wait(timeout=60)


def main() -> int:
    rows = [measure("baseline: WeasyPrint reference document", baseline, repeat=3)]
    base_seconds = rows[0][1]
    book_holder = {}
    rows.append(measure("check, no cache (read, parse, quotations)", lambda: uncached(lambda: book_holder.setdefault("book", gather(ROOT))), 1))
    rows.append(measure("check again (cached)", lambda: gather(ROOT), 3))
    rows.append(measure("render HTML, no cache (pandoc, citeproc, enrich)", lambda: uncached(lambda: book_holder.setdefault("view", render_view(book_holder["book"]))), 1))
    rows.append(measure("PDF, A4 (warm: one layout pass)", lambda: write_pdf(book_holder["view"], ROOT, "a4", Report()), 1))
    page_map = edition_page_map(book_holder["view"], ROOT)  # cached by the PDF above
    rows.append(measure("EPUB", lambda: write_epub(book_holder["view"], ROOT, Report(), page_map), 1))
    rows.append(measure("web edition (pages, page markers, search data)", lambda: web_site(book_holder["view"], page_map), 1))
    edit_epub, edit_check = watch_edits()
    rows.append(("--watch: one-paragraph edit -> new EPUB", edit_epub, 0.0, None))
    rows.append(("--watch: one-paragraph edit -> check report", edit_check, 0.0, None))
    cold, warm, pandoc = cold_epub_and_pandoc(book_holder)
    rows.append(("build.py epub, cold (page layout cached)", cold, 0.0, None))
    rows.append(("build.py epub, every cache warm", warm, 0.0, None))
    rows.append(("pandoc alone: same Markdown+citeproc -> EPUB", pandoc, 0.0, None))
    if Path("/usr/bin/chromium").exists():
        rows.append(("serve: save a paragraph -> seen in the browser", save_to_browser(), 0.0, None))
    print(f"{'stage':48} {'seconds':>8} {'× baseline':>11} {'+peak MiB':>10}")
    for label, seconds, memory, _ in rows:
        print(f"{label:48} {seconds:8.2f} {seconds / base_seconds:11.2f} {memory:10.1f}")
    print(f"peak resident memory of the whole run: {peak_rss_mib():.0f} MiB")
    print(f"cold EPUB / pandoc alone: {cold / pandoc:.2f}; warm EPUB / pandoc alone: {warm / pandoc:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
