"""The command line: parse arguments into BuildOptions, run, print diagnostics and a summary."""
from __future__ import annotations

import argparse
import gc
import os
import signal
import traceback
from dataclasses import replace
from pathlib import Path

# A build allocates much and frees little (the modules, the book's data, pandoc's documents): with
# the collector's default, a pass for every 700 new objects, a cold EPUB build spent 0.2 s of CPU
# scanning objects that all survived. A pass for every 5,000 holds back at most that many objects'
# worth of garbage; set before the modules below load, which are the first thousands.
gc.set_threshold(5000, 10, 10)
# The builder uses no pydantic plugins; looking for them, as the first model class is made, reads
# the metadata of every installed package (20 ms). PYDANTIC_DISABLE_PLUGINS is pydantic's switch.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from rich.console import Console  # noqa: E402 - after the collector's threshold

from .diagnostics import BuildError
from .options import ROOT, BuildOptions  # not from .config, which loads pydantic: the cover's process starts first

console = Console(stderr=True, highlight=False)


def parse_args(argv: list[str]) -> tuple[BuildOptions, bool, int]:
    parser = argparse.ArgumentParser(
        prog="build.py", description="Build the Bukharin study guide.",
        epilog="python build.py source ID [PARA ...] prints a source's numbered paragraphs.")
    parser.add_argument("target", nargs="?", default="all",
                        choices=["all", "pdf", "epub", "web", "teacher", "flashcards", "check", "serve"],
                        help="what to build (default: all); 'teacher' is the teacher's edition (PDF); "
                        "'check' validates without writing; "
                        "'serve' previews the web edition, rebuilt on every save")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: dist/ in the book)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's folder (default: this project)")
    parser.add_argument("--watch", action="store_true", help="rebuild whenever a source file changes")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")
    parser.add_argument("--port", type=int, default=0, help="serve: the port (default: a free one)")
    parser.add_argument("--quiet", action="store_true", help="print only problems and the summary")
    parser.add_argument("--no-cache", action="store_true", help="use no cache in .cache/: parse, render and lay out "
                        "everything anew (the result is the same, byte for byte)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    args = parser.parse_args(argv)
    if args.no_cache:
        from . import cache

        cache.disable()
    targets = {"all": ("pdf", "epub", "web", "teacher", "flashcards"), "pdf": ("pdf",), "epub": ("epub",),
               "web": ("web",), "teacher": ("teacher",), "flashcards": ("flashcards",), "check": (),
               "serve": ("web",)}[args.target]
    root = args.root.resolve()
    if not root.is_dir():
        raise BuildError.single("cli.root", f"--root {args.root}: not a folder; give the book's folder "
                                "(the one that holds chapters/)")
    out = (args.out or root / "dist").resolve()
    if out.exists() and not out.is_dir():
        raise BuildError.single("cli.out", f"--out {args.out}: is a file, not a folder; give a folder to write into")
    options = BuildOptions(root=root, out_dir=out, targets=targets, strict=args.strict, quiet=args.quiet,
                           preview=args.target == "serve")
    return options, args.watch, args.port


def print_diagnostics(items) -> None:
    for item in items:
        style = "red" if item.severity == "error" else "yellow"
        console.print(str(item), style=style, markup=False, soft_wrap=True)


def run_once(options: BuildOptions) -> int:
    if "epub" in options.targets:  # a first build's cover: its process starts before the builder's modules load
        from .cover import start_early

        start_early(options.root)
    from .build import build  # imported late: WeasyPrint is slow to import

    if not gc.get_freeze_count():  # the modules, loaded for good: the collector's passes skip them from now
        gc.freeze()  # (between the builds of --watch, memo.settle() collects and freezes again)

    try:
        report, results = build(options, console)
    except BuildError as exc:
        print_diagnostics(exc.diagnostics)
        errors = sum(d.severity == "error" for d in exc.diagnostics)
        warnings = len(exc.diagnostics) - errors
        console.print(f"build failed: {errors} error(s), {warnings} warning(s); dist/ was left as it was",
                      style="bold red")
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug of ours: one line, not a traceback
        return internal_error(exc)
    print_diagnostics(report.items)
    for line in results:
        console.print(line, markup=False)
    if not options.targets:
        console.print(f"check passed: {len(report.warnings)} warning(s)", style="green")
    return 0


DEBUG = {"on": False}  # --debug: show the traceback of an internal error
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in the builder, not a problem in the book


def internal_error(exc: BaseException) -> int:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    place = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    console.print(f"internal error: {type(exc).__name__}{place}: {exc}. This is a bug in the builder, not in "
                  "the book: please report it on the project's issue tracker with the command you ran "
                  "(add --debug to see the traceback)", style="bold red", markup=False, soft_wrap=True)
    if DEBUG["on"]:
        console.print("".join(traceback.format_exception(exc)), markup=False, soft_wrap=True)
    return EXIT_INTERNAL


def main(argv: list[str]) -> int:
    """build.py's entry point: never a traceback for anything a user can do."""
    DEBUG["on"] = "--debug" in argv
    previous = signal.signal(signal.SIGTERM, terminated)  # let `finally` clean up on SIGTERM
    try:
        return dispatch(argv)
    except BuildError as exc:
        print_diagnostics(exc.diagnostics)
        return 1
    except KeyboardInterrupt:
        console.print("interrupted; dist/ was left as it was", style="bold red")
        return 130
    except Exception as exc:  # noqa: BLE001
        return internal_error(exc)
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_at_once(status: int) -> None:
    """End the process now (build.py, after main): freeing the book's millions of objects one by one,
    as Python does on its way out, takes a fifth of a second that the operating system saves by
    taking the memory back whole. Output is flushed first, and the build's finished child
    processes reaped; nothing else is left to do by then."""
    import os
    import sys

    if "multiprocessing" in sys.modules:
        sys.modules["multiprocessing"].active_children()  # reaps the EPUB's and the kepub's helpers, done by now
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(status)


def terminated(signum, frame):
    raise SystemExit(128 + signum)


def dispatch(argv: list[str]) -> int:
    if argv[:1] == ["source"]:  # python build.py source ID [PARA …]: show a source's paragraphs
        from .sources import main as show_source

        args = argv[1:]
        root = ROOT
        if "--root" in args[:-1]:
            at = args.index("--root")
            root, args = Path(args[at + 1]), args[:at] + args[at + 2:]
        return show_source(args, root / "sources")
    options, watch, port = parse_args(argv)
    if options.preview:  # python build.py serve [--port N]
        from .serve import serve

        return serve(options, port, console)
    if watch:
        from .watch import watch_and_build

        # preview: the EPUB and the web edition take the last known page map at once (book/watch.py)
        return watch_and_build(replace(options, preview=True), run_once, console)
    try:
        return run_once(options)
    finally:
        if "epub" in options.targets:  # a cover's process the build did not get to (--watch keeps it for the next)
            from .cover import stop_unused

            stop_unused(options.root)
