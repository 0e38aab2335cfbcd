"""YAML that remembers where each value was written, so errors can name the line."""
from __future__ import annotations

import pickle
import re
from pathlib import Path

import yaml

from . import cache
from .diagnostics import BuildError, Diagnostic
from .memo import Memo
from .paths import resolve_inside

# Below U+0020 a text file may hold tab, line feed and carriage return; every other control
# character (and a stray byte order mark, or a noncharacter) is invisible to the editor and
# breaks the XML that the outputs are made of.
# libyaml (in PyYAML's wheels) is fast on degenerate input and caps nesting at 1,000 levels; the
# pure-Python loader takes seconds on a few thousand nested brackets.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\ufffe\uffff]")


def refuse_aliases(text: str, filename: str, line_offset: int) -> None:
    """Anchors and aliases (&a, *a) can expand a few lines into gigabytes, or loop for ever;
    the book's YAML never needs them, so they are refused before anything is built from them."""
    try:
        for token in yaml.scan(text, Loader=LOADER):
            if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
                mark = token.start_mark
                raise BuildError.single(
                    "yaml.alias", f"YAML anchors and aliases ('&{token.value}', '*{token.value}') are not "
                    "allowed; write the value out in full", file=filename, line=mark.line + 1 + line_offset,
                    column=mark.column + 1)
    except yaml.YAMLError:
        return  # a syntax error: compose() below reports it with its line


_LOADED = Memo(16 * 1024 * 1024)  # --watch: an edit changes one file; the others are known (pickled)


def load_with_lines(text: str, filename: str, line_offset: int = 0):
    """Parse YAML; return (data, lines) where lines maps a key path tuple to its 1-based line.

    A text parsed before in this process is not parsed again; the caller gets its own copy."""
    if not cache.enabled():
        return _load_with_lines(text, filename, line_offset)
    loaded = _LOADED.get((text, filename, line_offset),
                         lambda: pickle.dumps(_load_with_lines(text, filename, line_offset)))
    return pickle.loads(loaded)


def _load_with_lines(text: str, filename: str, line_offset: int):
    refuse_aliases(text, filename, line_offset)
    loader = LOADER(text)  # parsed once: the lines and the data come from the same nodes
    try:
        return _data_and_lines(loader, filename, line_offset)
    finally:
        loader.dispose()


def _data_and_lines(loader, filename: str, line_offset: int):
    try:
        node = loader.get_single_node()
    except RecursionError:
        raise BuildError.single("yaml.depth", "YAML nested too deeply to read; flatten it",
                                file=filename, line=1 + line_offset) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 + line_offset if mark else None
        column = mark.column + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise BuildError.single(
            "yaml.syntax", f"invalid YAML: {problem}; fix the syntax at this line",
            file=filename, line=line, column=column,
        ) from None
    lines: dict[tuple, int] = {}

    def walk(n, path: tuple):
        lines[path] = n.start_mark.line + 1 + line_offset
        if isinstance(n, yaml.MappingNode):
            for key_node, value_node in n.value:
                walk(value_node, path + (key_node.value,))
                lines[path + (key_node.value,)] = key_node.start_mark.line + 1 + line_offset
        elif isinstance(n, yaml.SequenceNode):
            for index, item in enumerate(n.value):
                walk(item, path + (index,))

    try:
        if node is not None:
            walk(node, ())
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise BuildError.single("yaml.depth", "YAML nested too deeply to read; flatten it",
                                file=filename, line=1 + line_offset) from None
    return data, lines


def line_for(lines: dict[tuple, int], loc: tuple) -> int | None:
    """The line of the deepest known prefix of a key path (pydantic error locations)."""
    loc = tuple(loc)
    while loc not in lines and loc:
        loc = loc[:-1]
    return lines.get(loc)


def read_text(path: Path, display: str, root: Path | None = None) -> str:
    """A text file of the book as a str: inside root (when given), UTF-8, no control characters.

    A UTF-8 byte order mark, which some editors add, is dropped."""
    if root is not None and resolve_inside(root, path) is None:
        raise BuildError.single("path.outside", "this file (or the symlink it is) leads outside the book's "
                                "folder; the build reads only files inside the book", file=display)
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise BuildError.single("file.missing", "file not found", file=display) from None
    except IsADirectoryError:
        raise BuildError.single("file.missing", "is a folder, not a file", file=display) from None
    except OSError as exc:
        raise BuildError.single("file.unreadable", f"cannot be read: {exc.strerror}", file=display) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise BuildError.single(
            "file.encoding", f"not valid UTF-8 (byte 0x{data[exc.start]:02x}: {exc.reason}); save the file as UTF-8",
            file=display, line=line, column=column) from None
    text = text.removeprefix("\ufeff")
    problems = []
    for match in CONTROL.finditer(text):
        char, start = match.group(), match.start()
        problems.append(Diagnostic(
            "error", "text.control", f"invisible control character U+{ord(char):04X} "
            f"({CONTROL_NAMES.get(char, 'control character')}); delete it", file=display,
            line=text.count("\n", 0, start) + 1, column=start - (text.rfind("\n", 0, start) + 1) + 1))
    if problems:
        raise BuildError(problems[:20])
    return text


CONTROL_NAMES = {"\x00": "NUL", "\x07": "bell", "\x08": "backspace", "\x0b": "vertical tab",
                 "\x0c": "form feed", "\x1b": "escape", "\x7f": "delete", "\ufeff": "byte order mark"}


def describe(error: dict) -> str:
    """A pydantic error as an editor can act on it, with the YAML trap it usually means."""
    path = ".".join(str(p) for p in error["loc"]) or "top level"
    message = f"{path}: {error['msg']}"
    if isinstance(error.get("input"), dict) and "string" in error["msg"]:
        message += ("; the text contains ': ', which YAML reads as a key: put the whole text "
                    "in double quotes or use a '>' block")
    return message
