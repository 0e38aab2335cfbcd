#!/usr/bin/env python3
"""Build the Bukharin study guide.

    python build.py                 # check, then write the PDFs and the EPUB into dist/
    python build.py pdf | epub      # one kind of output only
    python build.py check           # validate sources, citations and quotations; write nothing
    python build.py --watch         # rebuild on every save
    python build.py --out DIR       # write somewhere other than dist/
    python build.py --strict        # warnings fail the build too
"""
import sys

from book.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
