#!/usr/bin/env python3
"""Time and memory of each build stage, as ratios against a baseline run in the same process.

The baseline is WeasyPrint laying out a fixed reference document (no code of ours), so the
ratios say how the builder's stages compare with plain library work on whatever machine runs
this, and can be compared across machines and commits. Run: .venv/bin/python scripts/benchmark.py
[--no-pdf] [--ten-times] [--no-browser] [--only-ten-times] [--only-cold-epub]. The PDF rows (book/pdf_edition.py) build a copy of the book
in a temporary folder, with its own cache; --ten-times adds the book with every chapter ten times
(A4 only, several minutes). Rows starting "ratio:" are plain ratios, not seconds.
"""
from __future__ import annotations

import gc
import io
import json
import os
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
from book.cache import NO_CACHE  # noqa: E402
from book.pdf import edition_page_map, write_pdf, write_pdfs  # noqa: E402
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
    cache.disable()
    try:
        return func()
    finally:
        os.environ.pop(NO_CACHE, None)


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


def watch_edits(edits: int = 3) -> tuple[tuple[float, float], tuple[float, float]]:
    """What --watch does after a save, in its own process (caches in memory and in .cache/): a
    one-paragraph edit to a new EPUB, and to the report of `check`: the median wall time of
    several and the median CPU time (pandoc's included), which a busy machine changes less."""
    with tempfile.TemporaryDirectory() as folder:
        book = copy_book(Path(folder))
        console = Console(file=io.StringIO())
        epub = BuildOptions(root=book, out_dir=Path(folder) / "dist", targets=("epub",), quiet=True, preview=True)
        check = BuildOptions(root=book, out_dir=Path(folder) / "dist", targets=(), quiet=True, preview=True)
        build(epub, console)  # the watcher's first build

        def after_edits(options, word: str) -> tuple[float, float]:
            """The median wall and CPU time of a rebuild after each of `edits` one-paragraph edits."""
            from book.memo import settle

            times, cpu = [], []
            for number in range(edits):
                settle()  # as --watch does between builds
                edit_paragraph(book, f"{word}{number}")
                started, started_cpu = time.perf_counter(), cpu_seconds()
                build(options, console)
                times.append(time.perf_counter() - started)
                cpu.append(cpu_seconds() - started_cpu)
            return statistics.median(times), statistics.median(cpu)

        return after_edits(epub, "editedword"), after_edits(check, "checkedword")


def timed_run(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (its own processes included) of a command."""
    started, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started, children_cpu() - cpu


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cold_epub_and_pandoc(book_holder, rounds: int = 3) -> tuple[tuple, tuple, tuple]:
    """python build.py epub in a fresh process, cold (only the page layout cached) and warm (every
    cache filled); and pandoc alone turning the same Markdown, with citeproc, into an EPUB. Each is
    run `rounds` times, taking turns (a busy moment of the machine then costs each alike); the
    medians of wall and CPU time."""
    with tempfile.TemporaryDirectory() as folder:
        gathered = book_holder["book"]
        (Path(folder) / "book.md").write_text(convert.join_snippets(gathered.snippets), encoding="utf-8")
        (Path(folder) / "references.json").write_text(json.dumps(csl_items(gathered.sources)), encoding="utf-8")
        from book.pandoc_binary import pandoc_path

        pandoc_command = [pandoc_path(), "-f", convert.MARKDOWN, "-t", "epub3", "--citeproc",
                          f"--csl={ROOT / convert.CSL_STYLE}", f"--bibliography={Path(folder) / 'references.json'}",
                          "-o", str(Path(folder) / "pandoc.epub"), str(Path(folder) / "book.md")]
        runs: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": [], "pandoc": []}
        for number in range(rounds):
            book = copy_book(Path(folder) / f"round{number}")
            command = [sys.executable, str(ROOT / "build.py"), "epub", "--quiet", "--root", str(book),
                       "--out", str(book / "dist")]
            runs["cold"].append(timed_run(command))
            runs["pandoc"].append(timed_run(pandoc_command))
            runs["warm"].append(timed_run(command))
        medians = {kind: (statistics.median(w for w, _ in found), statistics.median(c for _, c in found))
                   for kind, found in runs.items()}
        return medians["cold"], medians["warm"], medians["pandoc"]


# In every document the benchmark's page loads: when the marker the benchmark set appears in the
# page, the time of the first frame drawn after that (requestAnimationFrame runs just before a
# frame is drawn; a task queued from it runs once the frame is out). A reload's new document
# watches too, so a full reload is timed the same way as an update of the page in place.
SEEN_SCRIPT = """(() => {
  function check() {
    var marker = sessionStorage.getItem("bench-marker");
    if (!marker || sessionStorage.getItem("bench-seen") || !document.body
        || document.body.textContent.indexOf(marker) < 0) return;
    sessionStorage.setItem("bench-seen", "pending");
    requestAnimationFrame(function () {
      setTimeout(function () { sessionStorage.setItem("bench-seen", String(Date.now())); }, 0);
    });
  }
  new MutationObserver(check).observe(document, {childList: true, subtree: true, characterData: true});
})();"""


def save_to_browser(edits: int = 3) -> float:
    """python build.py serve on a copy of the book, a page of chapter 3 open in Chromium: a word of
    one paragraph changed and saved, timed from the save until the page shows it (median of several).

    "Shows it": the first frame drawn with the new word, as the page itself records it (SEEN_SCRIPT),
    not when Playwright, which polls, next looks (up to a few hundred milliseconds later)."""
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
                page.add_init_script(SEEN_SCRIPT)
                page.goto(url + "chapter-3.html")
                page.wait_for_load_state("load")
                for number in range(edits):
                    time.sleep(1.0)  # the watcher settles; the page's event stream is open
                    marker = f"savedword{number}"
                    page.evaluate("m => { sessionStorage.removeItem('bench-seen'); "
                                  "sessionStorage.setItem('bench-marker', m); }", marker)
                    saved = time.time()  # the page's Date.now() reads the same clock
                    edit_paragraph(book, marker)
                    page.get_by_text(marker).first.wait_for(timeout=300_000)
                    page.wait_for_function("() => /^[0-9]+$/.test(sessionStorage.getItem('bench-seen') || '')")
                    times.append(int(page.evaluate("() => sessionStorage.getItem('bench-seen')")) / 1000 - saved)
                browser.close()
            return statistics.median(times)
        finally:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(timeout=60)
            except subprocess.TimeoutExpired:  # reported, and the figures above are kept
                serve.kill()
                print("warning: python build.py serve did not stop within 60 s of Ctrl-C", file=sys.stderr)


def book_copy(folder: Path, times: int = 1) -> Path:
    """The book's sources in `folder` (its own .cache); with `times`, every chapter repeated."""
    import yaml

    book = folder / "book"
    for name in ("chapters", "sources", "styles"):
        shutil.copytree(ROOT / name, book / name)
    if times > 1:
        config_path = book / "chapters" / "book.yaml"
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        chapters = []
        for copy in range(times):
            for name in config["chapters"]:
                if copy:
                    shutil.copy(book / "chapters" / name, book / "chapters" / f"{Path(name).stem}-{copy}.md")
                chapters.append(name if not copy else f"{Path(name).stem}-{copy}.md")
        text = config_path.read_text(encoding="utf-8")
        start = text.index("chapters:")
        end = text.index("\n", text.index("05-reception.md"))
        config_path.write_text(text[:start] + "chapters:\n" + "".join(f"  - {c}\n" for c in chapters) + text[end + 1:],
                               encoding="utf-8")
    return book


def weasyprint_alone(view, root: Path, paper: str) -> int:
    """WeasyPrint, with no code of ours, laying out and writing the final HTML of the book as one
    document (the index as the part-based build printed it)."""
    from weasyprint import CSS, HTML

    from book.config import PAPER_SIZES
    from book.pagemap import one_per_page
    from book.pdf import print_html
    from book.pdf_tags import PDF_VARIANT

    pages = edition_page_map(view, root).anchors  # cached by the build that ran before
    markup = print_html(view, one_per_page(view.index, pages))
    styles = root / "styles"
    sheets = [CSS(filename=str(styles / "fonts.css")), CSS(filename=str(styles / "print.css")),
              CSS(string=f"@page {{ size: {PAPER_SIZES[paper]}; }}")]
    document = HTML(string=markup, base_url=str(styles) + "/").render(stylesheets=sheets)
    document.write_pdf(pdf_variant=PDF_VARIANT)
    return len(document.pages)


def cpu_seconds() -> float:
    """This process's CPU time and its children's: those that ended, and the pandoc a --watch
    session keeps running (book/pandoc_worker.py), read from /proc while it runs."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + kept_pandoc_cpu()


def kept_pandoc_cpu() -> float:
    from book import pandoc_worker

    worker = pandoc_worker._WORKER
    if worker is None or worker.process.poll() is not None:
        return 0.0
    try:
        fields = Path(f"/proc/{worker.process.pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def timed_pdfs(view, root: Path, papers: list[str], cache: bool, workers: int | None = None):
    """Wall and CPU seconds (workers included) of the PDFs, and the results."""
    import os

    if cache:
        os.environ.pop(NO_CACHE, None)
    else:
        os.environ[NO_CACHE] = "1"
    try:
        gc.collect()
        started, cpu = time.perf_counter(), cpu_seconds()
        results = write_pdfs(view, root, papers, Report(), workers=workers)
        return time.perf_counter() - started, cpu_seconds() - cpu, results
    finally:
        os.environ.pop(NO_CACHE, None)


def pdf_rows(base_seconds: float, ten_times: bool) -> list[tuple]:
    """The part-based PDF against WeasyPrint alone, the cache, the workers, and the 10× book.
    Wall time is what an editor waits; CPU time (workers included) is what the machine spends,
    and is steadier on a shared machine: both are printed, and the ratios of both."""
    import os

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = book_copy(Path(folder))
        view = render_view(gather(root))
        papers = view.config.papers
        both = "+".join(papers)
        cold, cold_cpu, _ = timed_pdfs(view, root, papers, cache=True)  # an empty cache: a cold build
        one_worker, one_worker_cpu, _ = timed_pdfs(view, root, ["a4"], cache=False, workers=1)
        all_cores, all_cores_cpu, _ = timed_pdfs(view, root, ["a4"], cache=False)
        started = cpu_seconds()
        alone = measure("WeasyPrint alone, same HTML, a4", lambda: weasyprint_alone(view, root, "a4"))
        alone_cpu = cpu_seconds() - started
        unchanged, unchanged_cpu, _ = timed_pdfs(view, root, papers, cache=True)
        chapter = sorted((root / "chapters").glob("03-*.md"))[0]
        text = chapter.read_text(encoding="utf-8")
        paragraph = next(p for p in text.split("\n\n") if len(p) > 300 and not p.startswith(("#", ":", "-", ">", "[")))
        chapter.write_text(text.replace(paragraph, paragraph.replace(" the ", " the very ", 1), 1), encoding="utf-8")
        edited_view = render_view(gather(root))
        edited, edited_cpu, _ = timed_pdfs(edited_view, root, papers, cache=True)
    cores = os.cpu_count()
    for label, wall, cpu in [(f"PDF cold, {both}, {cores} workers", cold, cold_cpu),
                             ("PDF cold, a4, 1 worker", one_worker, one_worker_cpu),
                             (f"PDF cold, a4, {cores} workers", all_cores, all_cores_cpu),
                             ("WeasyPrint alone, same HTML, a4 (one document)", alone[1], alone_cpu),
                             (f"PDF rebuild, no change, {both}", unchanged, unchanged_cpu),
                             (f"PDF after a one-paragraph edit, {both}", edited, edited_cpu)]:
        rows.append((label, wall, 0.0, None))
        rows.append(("    CPU seconds, workers included", cpu, 0.0, "plain"))
    for label, a, b in [("cold a4, 1 worker / WeasyPrint alone", (one_worker, one_worker_cpu), (alone[1], alone_cpu)),
                        (f"cold a4, {cores} workers / WeasyPrint alone", (all_cores, all_cores_cpu), (alone[1], alone_cpu)),
                        (f"cold a4, 1 worker / {cores} workers", (one_worker, one_worker_cpu), (all_cores, all_cores_cpu)),
                        ("no change / cold", (unchanged, unchanged_cpu), (cold, cold_cpu)),
                        ("one-paragraph edit / cold", (edited, edited_cpu), (cold, cold_cpu))]:
        rows.append((f"  ratio: {label} (wall)", a[0] / b[0], 0.0, "ratio"))
        rows.append((f"  ratio: {label} (CPU)", a[1] / b[1], 0.0, "ratio"))
    if ten_times:
        rows += ten_times_rows()
    return rows


def ten_times_rows() -> list[tuple]:
    """The book with every chapter ten times, and the book itself, A4 only, cold, each in a fresh
    process of its own, one after the other (so that both are measured alike): CPU per page, and
    the peak memory of the build and of its largest layout worker."""
    script = (
        "import sys, resource, json, os\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from pathlib import Path\n"
        "from book.build import render_view\nfrom book.pipeline import gather\n"
        "from book.diagnostics import Report\nfrom book.pdf import write_pdfs\n"
        "os.environ['BOOK_NO_CACHE'] = '1'\n"
        "root = Path(sys.argv[1]); view = render_view(gather(root))\n"
        "def cpu():\n"
        "    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime\n"
        "before = cpu()\n"
        "r = write_pdfs(view, root, ['a4'], Report())['a4']\n"
        "spent = cpu() - before\n"
        "own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'pages': r.pages, 'cpu': spent, 'parent_mib': own.ru_maxrss / 1024, "
        "'worker_mib': kids.ru_maxrss / 1024}))\n")

    def run(times: int) -> dict:
        with tempfile.TemporaryDirectory() as folder:
            root = book_copy(Path(folder), times=times)
            output = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True,
                                    check=True)
        return json.loads(output.stdout.strip().splitlines()[-1])

    book, ten = run(1), run(10)  # the PDF's CPU alone (reading and rendering the sources aside), workers included
    per_page = {name: result["cpu"] / result["pages"] for name, result in (("book", book), ("ten", ten))}
    return [(f"10x book: {ten['pages']} pages, CPU s/page (a4, cold, fresh process)", per_page["ten"], 0.0, "plain"),
            (f"  book itself: {book['pages']} pages, CPU s/page (likewise)", per_page["book"], 0.0, "plain"),
            ("  ratio: 10x CPU per page / book's", per_page["ten"] / per_page["book"], 0.0, "ratio"),
            (f"10x book: peak MiB, build process {ten['parent_mib']:.0f}, largest worker {ten['worker_mib']:.0f}",
             0.0, 0.0, "info")]


def main() -> int:
    rows = [measure("baseline: WeasyPrint reference document", baseline, repeat=3)]
    base_seconds = rows[0][1]
    if "--only-ten-times" in sys.argv:  # the scale rows alone: minutes, not a quarter of an hour
        rows += ten_times_rows()
        print_rows(rows, base_seconds)
        return 0
    if "--only-cold-epub" in sys.argv:  # the cold EPUB against pandoc alone: half a minute
        book = gather(ROOT)
        edition_page_map(render_view(book), ROOT)  # the page layout cached, as the cold build assumes
        rows += cold_epub_rows({"book": book})
        print_rows(rows, base_seconds)
        return 0
    book_holder = {}
    rows.append(measure("check, no cache (read, parse, quotations)", lambda: uncached(lambda: book_holder.setdefault("book", gather(ROOT))), 1))
    rows.append(measure("check again (cached)", lambda: gather(ROOT), 3))
    rows.append(measure("render HTML, no cache (pandoc, citeproc, enrich)", lambda: uncached(lambda: book_holder.setdefault("view", render_view(book_holder["book"]))), 1))
    rows.append(measure("PDF, A4 (parts, from the cache when unchanged)", lambda: write_pdf(book_holder["view"], ROOT, "a4", Report()), 1))
    page_map = edition_page_map(book_holder["view"], ROOT)  # cached by the PDF above
    rows.append(measure("EPUB", lambda: write_epub(book_holder["view"], ROOT, Report(), page_map), 1))
    rows.append(measure("web edition (pages, page markers, search data)", lambda: web_site(book_holder["view"], page_map), 1))
    edit_epub, edit_check = watch_edits()
    rows.append(("--watch: one-paragraph edit -> new EPUB", edit_epub[0], 0.0, None))
    rows.append(("    CPU seconds, pandoc included", edit_epub[1], 0.0, "plain"))
    rows.append(("--watch: one-paragraph edit -> check report", edit_check[0], 0.0, None))
    rows.append(("    CPU seconds, pandoc included", edit_check[1], 0.0, "plain"))
    rows += cold_epub_rows(book_holder)
    if "--no-pdf" not in sys.argv:
        rows += pdf_rows(base_seconds, ten_times="--ten-times" in sys.argv)
    if Path("/usr/bin/chromium").exists() and "--no-browser" not in sys.argv:
        rows.append(("serve: save a paragraph -> seen in the browser", save_to_browser(), 0.0, None))
    print_rows(rows, base_seconds)
    return 0


def cold_epub_rows(book_holder) -> list[tuple]:
    cold, warm, pandoc = cold_epub_and_pandoc(book_holder)
    rows = []
    for label, (wall, cpu) in [("build.py epub, cold (page layout cached)", cold),
                               ("build.py epub, every cache warm", warm),
                               ("pandoc alone: same Markdown+citeproc -> EPUB", pandoc)]:
        rows.append((label, wall, 0.0, None))
        rows.append(("    CPU seconds, its processes included", cpu, 0.0, "plain"))
    rows.append(("  ratio: cold EPUB / pandoc alone (wall)", cold[0] / pandoc[0], 0.0, "ratio"))
    rows.append(("  ratio: cold EPUB / pandoc alone (CPU)", cold[1] / pandoc[1], 0.0, "ratio"))
    rows.append(("  ratio: warm EPUB / pandoc alone (wall)", warm[0] / pandoc[0], 0.0, "ratio"))
    rows.append(("  (each the median of 3 runs, the three taking turns)", 0.0, 0.0, "info"))
    return rows


def print_rows(rows: list[tuple], base_seconds: float) -> None:
    print(f"{'stage':48} {'seconds':>8} {'× baseline':>11} {'+peak MiB':>10}")
    for label, seconds, memory, kind in rows:
        if kind == "ratio":  # a ratio of two rows above
            print(f"{label:48} {'':8} {seconds:11.2f}")
        elif kind == "plain":  # seconds not to compare with the baseline (CPU per page)
            print(f"{label:48} {seconds:8.3f}")
        elif kind == "info":
            print(label)
        else:
            print(f"{label:48} {seconds:8.2f} {seconds / base_seconds:11.2f} {memory:10.1f}")
    print(f"peak resident memory of the whole run: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
