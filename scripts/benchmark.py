#!/usr/bin/env python3
"""Time and memory of each build stage, as ratios against a baseline run in the same process.

The baseline is WeasyPrint laying out a fixed reference document (no code of ours), so the
ratios say how the builder's stages compare with plain library work on whatever machine runs
this, and can be compared across machines and commits. Run: .venv/bin/python scripts/benchmark.py
"""
from __future__ import annotations

import gc
import re
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

from book.build import render_view  # noqa: E402
from book.diagnostics import Report  # noqa: E402
from book.epub import write_epub  # noqa: E402
from book.pdf import edition_page_map, write_pdf  # noqa: E402
from book.pipeline import gather  # noqa: E402
from book.web import write_site  # noqa: E402


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


def web_site(view, page_map) -> None:
    with tempfile.TemporaryDirectory() as folder:
        write_site(view, ROOT, Report(), page_map, Path(folder) / "site")


def save_to_browser() -> float:
    """python build.py serve on a copy of the book; a paragraph appended to chapter 3 is timed
    from the save until the open page in Chromium shows it."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        book = Path(folder) / "book"
        for name in ("chapters", "sources", "styles", ".cache"):
            if (ROOT / name).exists():
                shutil.copytree(ROOT / name, book / name)
        serve = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "serve", "--root", str(book), "--quiet",
                                  "--out", str(book / "dist")], stderr=subprocess.PIPE, text=True)
        try:
            url = next(m.group(1) for line in serve.stderr if (m := re.search(r"(http://127\.0\.0\.1:\d+/)", line)))
            threading.Thread(target=lambda: [None for _ in serve.stderr], daemon=True).start()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
                page = browser.new_page()
                page.goto(url + "chapter-3.html")
                chapter = sorted((book / "chapters").glob("03-*.md"))[0]
                started = time.perf_counter()
                chapter.write_text(chapter.read_text(encoding="utf-8") + "\n\nA paragraph saved to be timed.\n",
                                   encoding="utf-8")
                page.get_by_text("A paragraph saved to be timed.").wait_for(timeout=300_000)
                seconds = time.perf_counter() - started
                browser.close()
                return seconds
        finally:
            serve.send_signal(signal.SIGINT)
            serve.wait(timeout=60)


def main() -> int:
    rows = [measure("baseline: WeasyPrint reference document", baseline, repeat=3)]
    base_seconds = rows[0][1]
    book_holder = {}
    rows.append(measure("check (read, parse, verify quotations)", lambda: book_holder.setdefault("book", gather(ROOT)), 1))
    rows.append(measure("check again (warm)", lambda: gather(ROOT), 3))
    rows.append(measure("render HTML (pandoc + citeproc + enrich)", lambda: book_holder.setdefault("view", render_view(book_holder["book"])), 1))
    rows.append(measure("PDF, A4 (warm: one layout pass)", lambda: write_pdf(book_holder["view"], ROOT, "a4", Report()), 1))
    page_map = edition_page_map(book_holder["view"], ROOT)  # cached by the PDF above
    rows.append(measure("EPUB", lambda: write_epub(book_holder["view"], ROOT, Report(), page_map), 1))
    rows.append(measure("web edition (pages, page markers, search data)", lambda: web_site(book_holder["view"], page_map), 1))
    if Path("/usr/bin/chromium").exists():
        rows.append(("serve: save a paragraph -> seen in the browser", save_to_browser(), 0.0, None))
    print(f"{'stage':45} {'seconds':>8} {'× baseline':>11} {'+peak MiB':>10}")
    for label, seconds, memory, _ in rows:
        print(f"{label:45} {seconds:8.2f} {seconds / base_seconds:11.2f} {memory:10.1f}")
    print(f"peak resident memory of the whole run: {peak_rss_mib():.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
