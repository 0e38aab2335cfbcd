"""Run the stages in order: gather and check, render HTML once, write each output atomically.

Outputs are written into a temporary folder beside the final one and moved into place only
when every requested output is complete, so a failed build leaves the last good files alone.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from . import incremental
from .diagnostics import BuildError, Report
from .enrich import enrich
from .model import BookView, build_view
from .pipeline import Gathered, gather, require_clean
from .processes import folder_lock, staging_folder
from .sources import csl_items


def render_view(book: Gathered) -> BookView:
    if book.rendering is not None:  # started by gather(render_ahead=True)
        rendered, warnings = book.rendering.result()
    else:
        rendered, warnings = incremental.render(book.ast, book.parsed, csl_items(book.sources), book.config_root,
                                                book.config.citation_locale)
    for line in warnings:
        book.report.warning("pandoc.warning", line)
    view = build_view(book, rendered)
    enrich(view, book.apparatus)
    indexed = {entry.heading for entry in view.index}
    for number, person in enumerate(book.apparatus.people):
        if person.index and person.sort not in indexed:
            book.report.warning("people.unused", f"{person.name} is named nowhere in the text; the who's who "
                                "lists people the guide names: remove the entry or add the form the text uses "
                                "to its variants", file="chapters/people.yaml",
                                line=book.apparatus.line("chapters/people.yaml", number, "name"))
    return view


def build(options, console: Console) -> tuple[Report, list[str]]:
    started = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True, disable=options.quiet) as progress:
        task = progress.add_task("reading and checking the sources", total=None)
        book = gather(options.root, render_ahead=bool(options.targets))
        require_clean(book.report, options.strict)
        if options.preview and book.ast["pandoc-api-version"]:  # --watch, serve: citeproc stays loaded
            from .convert import keep_citeproc_warm

            keep_citeproc_warm(book.ast["pandoc-api-version"], csl_items(book.sources), options.root,
                               book.config.citation_locale)
        if not options.targets:
            return book.report, [f"checked {len(book.parts)} parts and {len(book.snippets)} snippets "
                                 f"in {time.perf_counter() - started:.2f} s"]
        progress.update(task, description="rendering HTML with pandoc")
        if "epub" in options.targets:  # while pandoc renders: the checks are done
            draw_cover_ahead(options.root)  # its key (its process started early: cli.py)
            from .cover import release

            if book.ahead is not None:
                book.ahead.one_done.wait()  # one of pandoc's two processes is done: a core is free
            elif book.rendering is not None:
                book.rendering.result()  # pandoc is done
            # Drawn from now on, on the core pandoc left, while this process builds the EPUB.
            release()
        view = render_view(book)
        results: list[str] = []
        saved_tempdir = tempfile.tempdir
        try:
            options.out_dir.mkdir(parents=True, exist_ok=True)
            with staging_folder(options.out_dir) as staging:
                scratch = staging / "scratch"  # the libraries' temporary files (WeasyPrint's fonts)
                scratch.mkdir()
                tempfile.tempdir = str(scratch)
                write_outputs(book, view, options, staging, results, progress, task)
                require_clean(book.report, options.strict)
                install(staging, options.out_dir)
        except OSError as exc:
            raise BuildError.single("out.write", f"cannot write into {options.out_dir}: "
                                    f"{exc.strerror or exc}") from None
        finally:
            tempfile.tempdir = saved_tempdir
    results.append(f"built in {time.perf_counter() - started:.1f} s")
    return book.report, results


def draw_cover_ahead(root: Path) -> None:
    """The cover's process (book/cover.py), unless the cover is cached: started now, or taken over
    from cli.py, which starts it as a first build starts, to load WeasyPrint while this process
    loads its own modules and reads the book."""
    from .config import load_book_config
    from .cover import draw_ahead

    try:
        draw_ahead(load_book_config(root), root)
    except BuildError:
        pass  # gather() reports a broken book file with its line


def write_outputs(book: Gathered, view: BookView, options, staging: Path, results: list[str], progress, task) -> None:
    slug = book.config.slug
    page_map = None  # the print edition's pages, which the EPUB and the web edition carry
    if "pdf" in options.targets:
        from .pdf import write_pdfs  # WeasyPrint is slow to import; only when needed

        papers = book.config.papers
        progress.update(task, description=f"laying out the PDF ({', '.join(papers)})")
        t0 = time.perf_counter()
        for paper, result in write_pdfs(view, options.root, papers, book.report).items():
            name = f"{slug}-{paper}.pdf"
            (staging / name).write_bytes(result.data)
            page_map = page_map or result.page_map
        if options.preview and page_map is not None:  # --watch: the next quick EPUB takes these pages
            from .web import remember_page_map

            remember_page_map(options.root, page_map)
            results.append(summary_line(options.out_dir / name, f"{result.pages} pages",
                                        len(result.data), time.perf_counter() - t0))
    if "teacher" in options.targets:
        write_teacher_pdfs(book, view, options, staging, results, progress, task)
    if "epub" in options.targets:
        from .epub import write_epub
        from .kepub import kepub_from_epub  # the Kobo edition is a transform of the EPUB's bytes

        t0 = time.perf_counter()
        if page_map is None and options.preview:  # --watch: the last known pages now, not after a layout
            from .web import preview_page_map

            page_map = preview_page_map(view, options.root)
        if page_map is None:  # the cached layout, found without loading WeasyPrint
            from .pagemap import load_cached
            from .print_html import page_map_key

            page_map = load_cached(options.root, page_map_key(view, options.root))
        if page_map is None:
            from .pdf import edition_page_map

            progress.update(task, description="finding the print edition's pages")
            page_map = edition_page_map(view, options.root)
        progress.update(task, description="packing the EPUB")
        data, files = write_epub(view, options.root, book.report, page_map)
        name = f"{slug}.epub"
        (staging / name).write_bytes(data)
        results.append(summary_line(options.out_dir / name, f"{files} files", len(data),
                                    time.perf_counter() - t0))
        t0, name = time.perf_counter(), f"{slug}.kepub.epub"
        kepub, spans = kepub_from_epub(data)
        (staging / name).write_bytes(kepub)
        results.append(summary_line(options.out_dir / name, f"{spans} spans", len(kepub),
                                    time.perf_counter() - t0))
    if "web" in options.targets:  # the static site: book/web.py
        from .web import build_site

        results.append(build_site(view, options, book.report, staging, page_map, progress, task))
    if "flashcards" in options.targets:  # the Anki deck and its CSV files: book/flashcards.py
        from .flashcards import write_flashcards

        progress.update(task, description="making the flashcards")
        t0 = time.perf_counter()
        for name, data, extent in write_flashcards(view, options.root):
            (staging / name).write_bytes(data)
            results.append(summary_line(options.out_dir / name, extent, len(data), time.perf_counter() - t0))


def write_teacher_pdfs(book: Gathered, view: BookView, options, staging: Path, results: list[str], progress,
                       task) -> None:
    """The teacher's edition: the student's book, page for page, then the teacher's notes."""
    if not view.teacher:
        if book.classroom.teacher_folder:  # a book without the folder has no teacher's edition at all
            book.report.warning("teacher.none", "no chapter has teacher's notes (chapters/teacher/<chapter>.yaml): "
                                "the teacher's edition was not written")
        results.append("no teacher's edition: no chapter has teacher's notes in chapters/teacher/")
        return
    from .pdf import write_pdfs

    papers = book.config.papers
    progress.update(task, description=f"laying out the teacher's edition ({', '.join(papers)})")
    t0 = time.perf_counter()
    for paper, result in write_pdfs(view, options.root, papers, book.report, edition="teacher").items():
        name = f"{book.config.slug}-teacher-{paper}.pdf"
        (staging / name).write_bytes(result.data)
        results.append(summary_line(options.out_dir / name, f"{result.pages} pages", len(result.data),
                                    time.perf_counter() - t0))


def install(staging: Path, out_dir: Path) -> None:
    """Move the finished outputs into place, under the output folder's lock, so that two builds
    into one folder each replace the set whole and never interleave their files."""
    with folder_lock(out_dir):
        for produced in sorted(p for p in staging.iterdir() if p.is_file()):
            os.replace(produced, out_dir / produced.name)
        for site in sorted(p for p in staging.glob("*-web") if p.is_dir()):
            from .web import install as install_site

            install_site(site, out_dir / site.name)


def summary_line(path: Path, extent: str, size: int, seconds: float) -> str:
    return f"{path}  {extent}  {size / 1024:,.0f} KiB  {seconds:.1f} s"
