"""The command line: parse arguments into BuildOptions, run, print diagnostics and a summary."""
from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from .config import ROOT, BuildOptions
from .diagnostics import BuildError

console = Console(stderr=True, highlight=False)


def parse_args(argv: list[str]) -> tuple[BuildOptions, bool]:
    parser = argparse.ArgumentParser(
        prog="build.py", description="Build the Bukharin study guide.",
        epilog="python build.py source ID [PARA ...] prints a source's numbered paragraphs.")
    parser.add_argument("target", nargs="?", default="all", choices=["all", "pdf", "epub", "check"],
                        help="what to build (default: all); 'check' validates without writing")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: dist/ in the book)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's folder (default: this project)")
    parser.add_argument("--watch", action="store_true", help="rebuild whenever a source file changes")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")
    parser.add_argument("--quiet", action="store_true", help="print only problems and the summary")
    args = parser.parse_args(argv)
    targets = {"all": ("pdf", "epub"), "pdf": ("pdf",), "epub": ("epub",), "check": ()}[args.target]
    root = args.root.resolve()
    options = BuildOptions(root=root, out_dir=(args.out or root / "dist").resolve(), targets=targets,
                           strict=args.strict, quiet=args.quiet)
    return options, args.watch


def print_diagnostics(items) -> None:
    for item in items:
        style = "red" if item.severity == "error" else "yellow"
        console.print(str(item), style=style, markup=False, soft_wrap=True)


def run_once(options: BuildOptions) -> int:
    from .build import build  # imported late: WeasyPrint is slow to import

    try:
        report, results = build(options, console)
    except BuildError as exc:
        print_diagnostics(exc.diagnostics)
        errors = sum(d.severity == "error" for d in exc.diagnostics)
        warnings = len(exc.diagnostics) - errors
        console.print(f"build failed: {errors} error(s), {warnings} warning(s); dist/ was left as it was",
                      style="bold red")
        return 1
    print_diagnostics(report.items)
    for line in results:
        console.print(line, markup=False)
    if not options.targets:
        console.print(f"check passed: {len(report.warnings)} warning(s)", style="green")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["source"]:  # python build.py source ID [PARA …]: show a source's paragraphs
        from .sources import main as show_source

        args = argv[1:]
        root = ROOT
        if "--root" in args[:-1]:
            at = args.index("--root")
            root, args = Path(args[at + 1]), args[:at] + args[at + 2:]
        return show_source(args, root / "sources")
    options, watch = parse_args(argv)
    if watch:
        from .watch import watch_and_build

        return watch_and_build(options, run_once, console)
    return run_once(options)
