"""Markdown to HTML through pandoc: the whole book in two pandoc runs.

Every piece of Markdown in the book (chapter bodies, aims, questions, glossary definitions, ...)
is a Snippet. They are joined into one document, each inside a div that carries its id, so that
pandoc starts once to parse (Markdown -> JSON AST, which the checks read) and once to render
(JSON -> HTML with citeproc, which numbers nothing itself: the HTML stage renumbers the notes
per part). The bibliography comes from the source registry, passed inline as metadata.
"""
from __future__ import annotations

import json
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from . import pandoc_worker
from .diagnostics import BuildError, Diagnostic
from .pandoc_binary import pandoc_path

CSL_STYLE = "styles/csl/chicago-shortened-notes-bibliography.csl"
FENCE = ":" * 12
NOTE_LABEL = re.compile(r"\[\^([^\]\s]+)\]")
DIV_OPEN = re.compile(r"^\s*:{3,}\s*[{\w]")
DIV_CLOSE = re.compile(r"^\s*:{3,}\s*$")
CODE_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
YAML_KEY = re.compile(r"^\s*[\w\"'-][^:]*:(\s|$)")
# Pandoc's Markdown without the extensions that set document metadata from the text: metadata
# can make pandoc read files (bibliography:, csl:), and the book's metadata comes from its YAML.
MARKDOWN = "markdown+smart-yaml_metadata_block-pandoc_title_block-mmd_title_block"


@dataclass(frozen=True)
class Snippet:
    id: str  # the HTML id of the div that holds its rendering
    markdown: str
    file: str  # where the editor wrote it, for messages
    line: int  # 1-based line of the snippet's first line in that file
    verbatim: bool = True  # the text is the file's own lines (False: a YAML value, lines unknown)
    written: str | None = None  # the text as the editor wrote it, when markdown differs (note labels)

    @property
    def as_written(self) -> str:
        """The text in which to find lines and columns for messages."""
        return self.markdown if self.written is None else self.written


def prefix_note_labels(markdown: str, prefix: str) -> str:
    """Make footnote labels unique across the book: [^why] in 'life' becomes [^life-why]."""
    return NOTE_LABEL.sub(lambda m: f"[^{prefix}-{m.group(1)}]", markdown)


def check_fences(snippet: Snippet) -> list[Diagnostic]:
    """An unclosed ::: block would swallow the rest of the book; catch it at its own line."""
    open_lines: list[int] = []
    problems = []
    for offset, text in enumerate(snippet.markdown.splitlines()):
        if DIV_OPEN.match(text):
            open_lines.append(snippet.line + offset)
        elif DIV_CLOSE.match(text):
            if open_lines:
                open_lines.pop()
            else:
                problems.append(Diagnostic("error", "markdown.div", "':::' closes a block that was never opened",
                                           file=snippet.file, line=snippet.line + offset))
    problems += [Diagnostic("error", "markdown.div", "this ':::' block is never closed; add a ':::' line after it",
                            file=snippet.file, line=line) for line in open_lines]
    return problems


def check_metadata_blocks(snippet: Snippet) -> list[Diagnostic]:
    """A '---' block inside a body is pandoc's YAML metadata, which can name files to read
    (bibliography, csl): the chapter's own metadata belongs in its front matter only.

    Pandoc's reader has the extension turned off as well; this names the line for the editor."""
    lines = snippet.markdown.splitlines()
    problems, fence = [], None
    for index, text in enumerate(lines):
        marker = CODE_FENCE.match(text)
        if marker:  # '---' inside a code block is code
            if fence is None:
                fence = marker.group(1)
            elif marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence):
                fence = None
            continue
        if fence or text.rstrip() != "---" or (index and lines[index - 1].strip()):
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        closed = any(t.rstrip() in ("---", "...") for t in lines[index + 2:])
        if following.strip() and closed and YAML_KEY.match(following):
            problems.append(Diagnostic("error", "markdown.metadata", "a '---' block with YAML inside a chapter's "
                                       "text is pandoc metadata, which is not allowed here; put metadata in the "
                                       "front matter, or use '* * *' for a section break",
                                       file=snippet.file, line=snippet.line + index if snippet.verbatim else snippet.line,
                                       column=1 if snippet.verbatim else None))
    return problems


def check_snippet_markup(snippets: list[Snippet]) -> None:
    # Most snippets (a definition, a question) have neither a ':::' nor a '---' line to check.
    problems = [p for s in snippets
                for p in (check_fences(s) if ":::" in s.markdown else [])
                + (check_metadata_blocks(s) if "---" in s.markdown else [])]
    if problems:
        raise BuildError(problems)


def join_snippets(snippets: list[Snippet]) -> str:
    check_snippet_markup(snippets)
    blocks = [f"{FENCE} {{#{s.id} .snippet}}\n{s.markdown.strip()}\n\n{FENCE}" for s in snippets]
    return "\n\n".join(blocks) + "\n"


def run_pandoc(args: list[str], text: str, what: str) -> tuple[str, list[str]]:
    """Run the pandoc that pypandoc-binary ships (never one found elsewhere on the machine).

    Returns its output and its warnings, one per line."""
    pandoc = pandoc_path()
    # --sandbox: pandoc may read only the files named on its command line (the CSL style), and
    # never the network, whatever the text asks for.
    process = subprocess.Popen([pandoc, "--sandbox", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    track(process)
    try:
        output, errors = process.communicate(text.encode("utf-8"))
    finally:
        untrack(process)
    stderr = errors.decode("utf-8", "replace")
    if process.returncode != 0:
        raise BuildError.single("pandoc.failed", f"pandoc failed while {what}: {stderr.strip() or 'stopped'}")
    return output.decode("utf-8"), [line for line in stderr.splitlines() if line.strip()]


_RUNNING: set[subprocess.Popen] = set()  # the pandoc runs in progress, in any thread
_RUNNING_LOCK = threading.Lock()


def track(*processes: subprocess.Popen) -> None:
    """Pandoc runs that stop_running() must kill."""
    with _RUNNING_LOCK:
        _RUNNING.update(processes)


def untrack(*processes: subprocess.Popen) -> None:
    with _RUNNING_LOCK:
        _RUNNING.difference_update(processes)


def stop_running() -> None:
    """Kill the pandoc runs in progress. A build stopped halfway (Ctrl+C, or `kill`, which reaches
    only the builder and not its pandoc) then ends at once, not when pandoc is done."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for process in running:
        process.kill()


# Pandoc numbers citations across its whole input (citationNoteNum, citationHash); citeproc numbers
# the notes itself and ignores both, so they are zeroed: a snippet's AST then depends on its text
# alone, whatever else was parsed in the same run.
CITATION_COUNTERS = re.compile(r'"(citationNoteNum|citationHash)":\d+')


def parse(snippets: list[Snippet], warm: bool = False) -> tuple[dict, list[str]]:
    """Markdown -> pandoc AST (as JSON data), and pandoc's warnings. With warm, by the pandoc a
    --watch or serve session keeps running (book/pandoc_worker.py) if there is one."""
    markdown = join_snippets(snippets)
    output = pandoc_worker.parse(markdown, MARKDOWN) if warm and pandoc_worker.running() else None
    if output is not None:
        return read_ast(output), []
    output, warnings = run_pandoc(["-f", MARKDOWN, "-t", "json"], markdown, "reading the Markdown")
    return read_ast(output), warnings


def read_ast(output: str) -> dict:
    """The AST from the JSON pandoc wrote, its citation counters zeroed (see CITATION_COUNTERS)."""
    return json.loads(zero_counters(output))


def zero_counters(output: str) -> str:
    return CITATION_COUNTERS.sub(r'"\1":0', output)


def render(ast: dict, references: list[dict], root: Path, lang: str, warm: bool = False) -> tuple[str, list[str]]:
    """Pandoc AST -> HTML, citations resolved by citeproc into notes; returns (html, warnings).
    With warm, by the pandoc a --watch or serve session keeps running (book/pandoc_worker.py)
    if there is one, which gives the same HTML sooner.

    The bibliography travels inside the AST's metadata, so pandoc reads no file but the style.
    """
    meta = render_meta(references, lang)
    if warm and pandoc_worker.running():
        markup = pandoc_worker.render(worker_document(ast, references, root, lang))
        if markup is not None:
            return markup, []
    args = ["-f", "json", "-t", "html5", "--citeproc", "--wrap=none", f"--csl={root / CSL_STYLE}"]
    return run_pandoc(args, json.dumps({**ast, "meta": meta}), "rendering HTML")


def citation(item_id: str) -> dict:
    """A plain citation of one source, as pandoc's AST writes [@id]."""
    return {"t": "Cite", "c": [[{"citationId": item_id, "citationPrefix": [], "citationSuffix": [],
                                 "citationMode": {"t": "NormalCitation"}, "citationNoteNum": 0, "citationHash": 0}],
                               [{"t": "Str", "c": f"@{item_id}"}]]}


def render_meta(references: list[dict], lang: str) -> dict:
    """The render's metadata: none from the text, only what the build sets here."""
    meta = {}
    meta["nocite"] = {"t": "MetaInlines", "c": [citation("*")]}
    meta["lang"] = {"t": "MetaString", "c": lang}
    meta["references"] = _to_meta(references)
    return meta


def worker_document(ast: dict, references: list[dict], root: Path, lang: str) -> bytes:
    """What render() gives the pandoc kept running: the style's path travels in the metadata,
    where the command line's --csl puts it."""
    meta = {**render_meta(references, lang), "csl": {"t": "MetaString", "c": str(root / CSL_STYLE)}}
    return json.dumps({**ast, "meta": meta}).encode("utf-8")


def keep_citeproc_warm(api_version, references: list[dict], root: Path, lang: str) -> None:
    """For a --watch or serve session: start the pandoc that stays running, and load citeproc."""
    first = [{"t": "Para", "c": [citation(item["id"])]} for item in references[:1]]
    pandoc_worker.start(worker_document({"pandoc-api-version": api_version, "blocks": first}, references, root, lang))


def _to_meta(value):
    """Plain Python data -> pandoc MetaValue (strings stay MetaString: no Markdown parsing)."""
    if isinstance(value, dict):
        return {"t": "MetaMap", "c": {k: _to_meta(v) for k, v in value.items()}}
    if isinstance(value, list):
        return {"t": "MetaList", "c": [_to_meta(v) for v in value]}
    if isinstance(value, bool):
        return {"t": "MetaBool", "c": value}
    return {"t": "MetaString", "c": str(value)}
