#!/usr/bin/env python3
"""Build the Bukharin study guide.

    python build.py                 # check, then write the PDFs, the EPUB and the web edition into dist/
    python build.py pdf | epub | web  # one kind of output only
    python build.py serve [--port N]  # preview the web edition, rebuilt and reloaded on every save
    python build.py check           # validate sources, citations and quotations; write nothing
    python build.py --watch         # rebuild on every save
    python build.py --out DIR       # write somewhere other than dist/
    python build.py --strict        # warnings fail the build too
"""
import sys

from book.cli import exit_at_once, main

if __name__ == "__main__":
    exit_at_once(main(sys.argv[1:]))
