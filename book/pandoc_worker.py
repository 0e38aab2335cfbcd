"""Citeproc kept running through a --watch or serve session.

Every `pandoc --citeproc` run spends 0.1–0.2 s starting citeproc before it renders a word: most of
what a one-paragraph edit costs pandoc. In a session, one `pandoc lua` process
(book/pandoc_worker.lua) stays up and renders each small request in ~0.05 s; its HTML is the
command line's, byte for byte (tests/test_cache.py compares them over the whole book). Only
sessions start it (book/build.py, for --watch and serve), and only renders of one run use it. A
cold build's two halves each get a Worker of their own, which parses its half and then renders it
(book/cold_pass.py). Whenever anything is unusual (pandoc warned, failed, or the worker is gone)
render() returns None and the caller runs pandoc as usual, which reports any warning in its own words.

The one-shot runs take --sandbox; `pandoc lua` has no such switch. What a worker is given needs
none: Markdown, which it reads in pandoc's sandbox with no file allowed (pandoc.read's read_env),
or a JSON document that such a read made, whose metadata the build sets (the references inline,
the style's path, the language; none from the text), written to HTML without embedded resources,
so pandoc reads the style and nothing else. It starts with no environment from outside (no
LUA_INIT, no user data folder).
"""
from __future__ import annotations

import atexit
import os
import subprocess
import threading
from pathlib import Path

from .pandoc_binary import pandoc_path

SCRIPT = Path(__file__).with_name("pandoc_worker.lua")


class Worker:
    def __init__(self, runtime: tuple[str, ...] = ()) -> None:
        """runtime: options for pandoc's Haskell runtime (+RTS … -RTS)."""
        # No environment from outside: no LUA_INIT or LUA_PATH to run, no user data folder (with its
        # init.lua) to read; only the locale, for pandoc's own text handling.
        clean = {name: os.environ[name] for name in ("LANG", "LC_ALL") if name in os.environ}
        clean["XDG_DATA_HOME"] = str(SCRIPT.parent / "no-pandoc-data-folder")  # does not exist
        clean["HOME"] = clean["XDG_DATA_HOME"]
        runtime_options = ["+RTS", *runtime, "-RTS"] if runtime else []
        self.process = subprocess.Popen([pandoc_path(), *runtime_options, "lua", str(SCRIPT)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=clean)
        self.lock = threading.Lock()  # one request at a time
        self.alive = True

    def answer(self, request: str, data: bytes) -> tuple[str, list[str]] | None:
        """The worker's answer to a request (see book/pandoc_worker.lua) about data, with pandoc's
        warnings; or None, if pandoc failed or the worker is gone."""
        kind, _, rest = request.partition(" ")
        with self.lock:
            if not self.alive:
                return None
            try:
                header = f"{kind} {len(data)}{' ' + rest if rest else ''}\n".encode()
                self.process.stdin.write(header + data)
                self.process.stdin.flush()
                status, size, warned = self.process.stdout.readline().split()
                data = self.process.stdout.read(int(size) + int(warned))
            except (OSError, ValueError):  # the worker is gone (Ctrl+C reaches it too): no more requests
                self.alive = False
                return None
            except BaseException:  # interrupted halfway: its next answer would be this one's
                self.alive = False
                raise
            if len(data) != int(size) + int(warned):  # cut short: the worker ended
                self.alive = False
                return None
        if status != b"ok":
            return None
        output, warnings = data[:int(size)].decode("utf-8"), data[int(size):].decode("utf-8")
        return output + "\n", warnings.splitlines()  # the command line ends its output with a newline

    def close(self, wait: bool = True) -> None:
        """End the worker: let it finish what it is doing (wait), or kill it at once."""
        if not wait:
            self.process.kill()  # not under the lock: an answer being read ends with the process
        with self.lock:
            self.alive = False
            try:
                self.process.stdin.close()
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


_WORKER: Worker | None = None


def start(warm_up: bytes) -> None:
    """Start the worker (once per process) and have it render warm_up in the background, so that
    the first edit finds citeproc loaded."""
    global _WORKER
    if _WORKER is not None and _WORKER.alive:
        return
    try:
        _WORKER = Worker()
    except OSError:
        return
    atexit.register(_WORKER.close)
    threading.Thread(target=_WORKER.answer, args=("render", warm_up), daemon=True).start()


def render(document: bytes) -> str | None:
    """What `pandoc -f json -t html5 --citeproc --wrap=none` writes for the document (a pandoc
    JSON document), or None: no worker, or pandoc warned or failed."""
    return unless_warned(_WORKER.answer("render", document) if _WORKER is not None else None)


def parse(markdown: str, markdown_format: str) -> str | None:
    """What `pandoc -f FORMAT -t json` writes for the Markdown, or None (as render)."""
    return unless_warned(_WORKER.answer(f"parse {markdown_format}", markdown.encode("utf-8"))
                         if _WORKER is not None else None)


def unless_warned(answer: tuple[str, list[str]] | None) -> str | None:
    """An answer's output, or None if pandoc warned: then the build runs pandoc as usual, which
    reports the warning in its own words."""
    return answer[0] if answer is not None and not answer[1] else None


def running() -> bool:
    return _WORKER is not None and _WORKER.alive


def stop() -> None:
    global _WORKER
    if _WORKER is not None:
        _WORKER.close()
        _WORKER = None
