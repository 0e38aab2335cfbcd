"""YAML that remembers where each value was written, so errors can name the line."""
from __future__ import annotations

from pathlib import Path

import yaml

from .diagnostics import BuildError

# libyaml's parser when PyYAML has it (same results, many times faster); the pure-Python one if not.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_with_lines(text: str, filename: str, line_offset: int = 0):
    """Parse YAML; return (data, lines) where lines maps a key path tuple to its 1-based line."""
    try:
        node = yaml.compose(text, Loader=LOADER)
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

    if node is not None:
        walk(node, ())
    data = yaml.load(text, Loader=LOADER) if node is not None else None  # noqa: S506 - a safe loader
    return data, lines


def line_for(lines: dict[tuple, int], loc: tuple) -> int | None:
    """The line of the deepest known prefix of a key path (pydantic error locations)."""
    loc = tuple(loc)
    while loc not in lines and loc:
        loc = loc[:-1]
    return lines.get(loc)


def read_text(path: Path, display: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BuildError.single("file.missing", "file not found", file=display) from None
    except UnicodeDecodeError as exc:
        raise BuildError.single(
            "file.encoding", f"not valid UTF-8 ({exc.reason}); save the file as UTF-8", file=display
        ) from None


def describe(error: dict) -> str:
    """A pydantic error as an editor can act on it, with the YAML trap it usually means."""
    path = ".".join(str(p) for p in error["loc"]) or "top level"
    message = f"{path}: {error['msg']}"
    if isinstance(error.get("input"), dict) and "string" in error["msg"]:
        message += ("; the text contains ': ', which YAML reads as a key: put the whole text "
                    "in double quotes or use a '>' block")
    return message
