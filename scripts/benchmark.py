#!/usr/bin/env python3
"""Time and memory of each build stage, as ratios against a baseline run in the same process.

The baseline is WeasyPrint laying out a fixed reference document (no code of ours), so the
ratios say how the builder's stages compare with plain library work on whatever machine runs
this, and can be compared across machines and commits. Run: .venv/bin/python scripts/benchmark.py
"""
from __future__ import annotations

import gc
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from book.build import render_view  # noqa: E402
from book.diagnostics import Report  # noqa: E402
from book.epub import write_epub  # noqa: E402
from book.pdf import edition_page_map, write_pdf  # noqa: E402
from book.pipeline import gather  # noqa: E402


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


def main() -> int:
    rows = [measure("baseline: WeasyPrint reference document", baseline, repeat=3)]
    base_seconds = rows[0][1]
    book_holder = {}
    rows.append(measure("check (read, parse, verify quotations)", lambda: book_holder.setdefault("book", gather(ROOT)), 1))
    rows.append(measure("check again (warm)", lambda: gather(ROOT), 3))
    rows.append(measure("render HTML (pandoc + citeproc + enrich)", lambda: book_holder.setdefault("view", render_view(book_holder["book"])), 1))
    rows.append(measure("PDF, A4 (two layout passes)", lambda: write_pdf(book_holder["view"], ROOT, "a4", Report()), 1))
    rows.append(measure("A4 page map (from the cache)", lambda: book_holder.setdefault(
        "pages", edition_page_map(book_holder["view"], ROOT)), 1))
    rows.append(measure("EPUB (with A4 page markers)", lambda: write_epub(book_holder["view"], ROOT, Report(),
                                                                        book_holder["pages"]), 1))
    print(f"{'stage':45} {'seconds':>8} {'× baseline':>11} {'+peak MiB':>10}")
    for label, seconds, memory, _ in rows:
        print(f"{label:45} {seconds:8.2f} {seconds / base_seconds:11.2f} {memory:10.1f}")
    print(f"peak resident memory of the whole run: {peak_rss_mib():.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
