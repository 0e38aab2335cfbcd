"""Rebuild on save: the file-event callback only notes changes; the loop rebuilds when they settle."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from watchfiles import DefaultFilter, watch

from .memo import settle

WATCHED = ("chapters", "styles", "sources", "book/templates")


class BookFilter(DefaultFilter):
    """Source files only: not the output folder (wherever it is), not staging, not swap files."""

    def __init__(self, out_dir: Path):
        super().__init__()
        self.out_dir = out_dir.resolve()

    def __call__(self, change, path: str) -> bool:
        where = Path(path)
        return (super().__call__(change, path) and not path.endswith((".swp", "~"))
                and not where.is_relative_to(self.out_dir) and not where.resolve().is_relative_to(self.out_dir)
                and not any(part.startswith(".building-") for part in where.parts))


def shown(path: str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path


def rebuild(options, run_once, console: Console) -> int:
    """An edit invalidates the print layout, which takes a minute: with the PDF among the targets,
    the other outputs are written first, at once, with the last known page map (the EPUB's page
    numbers may be a page off), then everything again once the PDF's new layout is ready. The
    second build reuses the first's cached parse, check and render."""
    quick = tuple(t for t in options.targets if t != "pdf")
    if "pdf" in options.targets and quick:
        status = run_once(replace(options, targets=quick))
        if status != 0:
            return status
        console.print(f"wrote the {' and '.join(quick)} with the last page map; now laying out the PDF")
    return run_once(options)


def watch_and_build(options, run_once, console: Console) -> int:
    root: Path = options.root
    paths = [root / p for p in WATCHED if (root / p).exists()]
    run_once(options)
    settle()
    announced = False
    try:
        # watchfiles debounces (waits for changes to settle) and groups events into one set; the
        # empty set it yields on a timeout tells us the watcher is live, so say so only then.
        for changes in watch(*paths, watch_filter=BookFilter(options.out_dir), debounce=400, step=100,
                             yield_on_timeout=True, rust_timeout=300):
            if not changes:
                if not announced:
                    console.print(f"watching {', '.join(str(p.relative_to(root)) for p in paths)} (Ctrl+C to stop)")
                    announced = True
                continue
            names = sorted({shown(p, root) for _, p in changes})
            console.print(f"changed: {', '.join(names)}")
            started = time.perf_counter()
            status = rebuild(options, run_once, console)  # a failure is reported; the loop keeps watching
            outcome = "rebuilt" if status == 0 else "build failed"
            console.print(f"{outcome} in {time.perf_counter() - started:.1f} s; watching")
            settle()
    except KeyboardInterrupt:
        from .convert import stop_running

        stop_running()  # a build stopped halfway does not wait for its pandoc
    return 0
