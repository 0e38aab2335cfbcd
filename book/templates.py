"""The Jinja2 environment shared by the writers, and small helpers that shape template data.

Compiling the templates costs a cold EPUB build about a fifth of a second, so they are compiled
once per installation, as Python compiles modules into __pycache__: jinja's bytecode cache, in the
git-ignored folder book/.templates-compiled, filled by the setup (`python -m book.templates
--precompile`, run by scripts/ensure-env.sh). An entry carries a checksum of its template's
source, of this module (the environment's options) and of jinja's version: a template changed
since is compiled again, never taken from a stale entry, and so is one whose entry is torn.
A build writes the entries it had to compile, unless Python is told not to write bytecode
(PYTHONDONTWRITEBYTECODE, -B): whoever keeps compiled files out of the code keeps these out too,
and the build is as fast, only not faster, until the setup runs again. The outputs never depend on
the folder: a compiled template renders what its source renders.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from functools import lru_cache
from itertools import groupby
from pathlib import Path

import jinja2
from jinja2 import Environment, FileSystemBytecodeCache, FileSystemLoader, StrictUndefined, meta

from .classroom_view import with_pages
from .inline import capfirst, inline_markup

TEMPLATES = Path(__file__).resolve().parent / "templates"
PRECOMPILED = Path(__file__).resolve().parent / ".templates-compiled"
MANY_PAGES = 12  # an index entry with more pages than this gets a sub-entry per chapter


@lru_cache(maxsize=1)
def environment() -> Environment:
    return make_environment(TEMPLATES, PRECOMPILED, write=not sys.dont_write_bytecode)


def make_environment(templates: Path, precompiled: Path, write: bool) -> Environment:
    """The environment of the templates in `templates`, compiled ones kept in `precompiled`
    (written there when `write`)."""
    # Plain strings (titles, names from YAML) are escaped; HTML made by pandoc and lxml arrives
    # as Markup and is inserted as it is.
    env = Environment(loader=FileSystemLoader(templates), undefined=StrictUndefined,
                      autoescape=True, keep_trailing_newline=True,
                      bytecode_cache=Precompiled(precompiled, write))
    env.filters["md"] = inline_markup
    env.filters["capfirst"] = capfirst
    env.filters["with_pages"] = with_pages
    return env


def _code_version() -> bytes:
    """What compiled templates depend on besides their sources: jinja and this module's options."""
    return jinja2.__version__.encode() + b"\0" + Path(__file__).read_bytes()


class Precompiled(FileSystemBytecodeCache):
    """jinja's bytecode cache in a folder of the installation, its entries checked against the
    template's source and _code_version(); with, per template, what it reads (template_facts)."""

    def __init__(self, folder: Path, write: bool) -> None:
        super().__init__(str(folder))
        self.folder, self.write = folder, write
        self.version = hashlib.sha256(_code_version()).digest()

    def get_source_checksum(self, source: str) -> str:
        return hashlib.sha256(self.version + source.encode("utf-8")).hexdigest()

    def load_bytecode(self, bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a damaged entry (jinja checks the checksum, not every way a file can break)
            bucket.reset()  # compiled again

    def dump_bytecode(self, bucket) -> None:
        if self.write:
            try:
                self.folder.mkdir(exist_ok=True)
                super().dump_bytecode(bucket)  # a temporary file renamed into place
            except OSError:
                pass  # a read-only installation: compiled on every run, as without the folder

    def facts_path(self, name: str) -> Path:
        return self.folder / f"facts-{hashlib.sha256(name.encode()).hexdigest()[:32]}.json"

    def known_facts(self, name: str, source: str):
        try:
            known = json.loads(self.facts_path(name).read_text(encoding="utf-8"))
            if known["checksum"] == self.get_source_checksum(source):
                return known["references"], set(known["reads"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def keep_facts(self, name: str, source: str, references: list[str] | None, reads: set[str]) -> None:
        if self.write:
            _write_atomically(self.facts_path(name), json.dumps(
                {"checksum": self.get_source_checksum(source), "references": references, "reads": sorted(reads)}))


def template_facts(env: Environment, name: str) -> tuple[list[str] | None, set[str]]:
    """The templates `name` includes or imports (None if one is named at run time) and the
    variables it reads (jinja2.meta); kept in the precompiled folder, as parsing costs."""
    source = env.loader.get_source(env, name)[0]
    store = env.bytecode_cache if isinstance(env.bytecode_cache, Precompiled) else None
    known = store.known_facts(name, source) if store else None
    if known is not None:
        return known
    parsed = env.parse(source)
    referenced = list(meta.find_referenced_templates(parsed))
    references = None if None in referenced else referenced
    reads = meta.find_undeclared_variables(parsed)
    if store:
        store.keep_facts(name, source, references, reads)
    return references, reads


def _write_atomically(path: Path, text: str) -> None:
    """A temporary file renamed into place (two builds at once both leave a whole file); nothing if
    the folder is read-only."""
    try:
        path.parent.mkdir(exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    except OSError:
        return
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)


def precompile(env: Environment) -> int:
    """Compile every Jinja template of env (*.j2; the .html files are Anki's) into its precompiled
    folder; the number compiled."""
    names = env.list_templates(extensions=["j2"])
    for name in names:
        env.get_template(name)
        template_facts(env, name)
    return len(names)


def index_groups(entries):
    """Index entries grouped under their initial letter."""
    def letter(entry):
        first = entry.sort_key[:1].upper()
        return first if first.isalpha() else "#"

    return [(key, list(group)) for key, group in groupby(entries, key=letter)]


if __name__ == "__main__":
    if sys.argv[1:] != ["--precompile"]:
        raise SystemExit("usage: python -m book.templates --precompile")
    count = precompile(make_environment(TEMPLATES, PRECOMPILED, write=True))
    print(f"compiled {count} templates into {PRECOMPILED}")
