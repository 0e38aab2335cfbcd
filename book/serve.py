"""python build.py serve: the web edition on 127.0.0.1, rebuilt on every save, the open page updated.

A small threaded HTTP server sends the built site, adding one script to the head of each HTML
page it serves (styles/web/serve.js; the files in dist/ are left as built). That script listens to
server-sent events: "update" (the page patched where it changed) or "reload" after a good
build; "failed" with the file:line messages after a bad one, shown over the page, which stays
the last good one since a failed build changes nothing. The styles, scripts and fonts are sent
with a hash of their content, so that a reload asks for them but gets them again only if changed.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rich.console import Console
from watchfiles import watch

from .diagnostics import BuildError
from .watch import WATCHED, BookFilter

CLIENT = "/__serve/serve.js"
EVENTS = "/__serve/events"
KEEPALIVE = 15.0  # seconds between comments on an idle event stream


class Events:
    """The latest build's outcome, numbered, for every open page to pick up."""

    def __init__(self):
        self.condition = threading.Condition()
        self.number = 0
        self.kind, self.data = "ok", ""
        self.closed = False

    def publish(self, kind: str, data: str = "") -> None:
        with self.condition:
            self.number += 1
            self.kind, self.data = kind, data
            self.condition.notify_all()

    def close(self) -> None:
        with self.condition:
            self.closed = True
            self.condition.notify_all()


class ContentTags:
    """The files served and a hash of each one's content, worked out again only when the file changes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.known: dict[Path, tuple[tuple, str]] = {}  # file -> (its inode, time and size; its tag)

    def read(self, local: Path) -> tuple[bytes, str]:
        with open(local, "rb") as file:  # stat and content of the one file opened, even if replaced meanwhile
            before = os.fstat(file.fileno())
            data = file.read()
            after = os.fstat(file.fileno())
        stamp = (before.st_ino, before.st_mtime_ns, before.st_size)
        with self.lock:
            known = self.known.get(local)
        if known is not None and known[0] == stamp and len(data) == before.st_size:
            return data, known[1]
        tag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        if stamp == (after.st_ino, after.st_mtime_ns, after.st_size):  # not rewritten while read
            with self.lock:
                self.known[local] = (stamp, tag)
        return data, tag


class Handler(SimpleHTTPRequestHandler):
    events: Events
    client: bytes
    tags: ContentTags
    cacheable = False

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # the console is for the build's messages

    def end_headers(self):
        if not self.cacheable:
            self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self):
        self.cacheable = False
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path == EVENTS:
            return self.stream_events()
        if path == CLIENT:
            return self.send_bytes(self.client, "text/javascript; charset=utf-8")
        local = Path(self.translate_path(path))
        if local.is_dir():
            local = local / "index.html"
        if local.suffix == ".html" and local.is_file():
            page = local.read_bytes().replace(b"</head>", f'<script src="{CLIENT}"></script>\n</head>'.encode(), 1)
            return self.send_bytes(page, "text/html; charset=utf-8")
        if local.is_file():
            return self.send_asset(local)
        return super().do_GET()

    def send_asset(self, local: Path) -> None:
        """A file as the browser may keep it: asked again on every load (no-cache), but answered "not
        modified" while its content is the same, so that a reload after a save does not fetch the
        fonts (2 MB) and the search data again. The tag is the content's hash, not the time, since
        every build writes every file anew."""
        try:
            data, tag = self.tags.read(local)
        except OSError:
            return self.send_error(404, "File not found")
        self.cacheable = True
        wanted = [t.strip() for t in self.headers.get("If-None-Match", "").split(",")]
        if tag in wanted:
            self.send_response(304)
            self.send_header("ETag", tag)
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(local)))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", tag)
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(data)

    def send_bytes(self, data: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def stream_events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        events = self.events
        with events.condition:
            seen = events.number
            pending = events.kind == "failed"  # a page loaded after a failure shows it too
        try:
            while True:
                with events.condition:
                    if not pending:
                        events.condition.wait_for(lambda: events.number != seen or events.closed, timeout=KEEPALIVE)
                    if events.closed:
                        return
                    changed = pending or events.number != seen
                    seen, kind, data = events.number, events.kind, events.data
                pending = False
                message = f"event: {kind}\ndata: {data}\n\n" if changed else ": still here\n\n"
                self.wfile.write(message.encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return


def build_once(options, console: Console, events: Events, site: Path | None = None,
               kind: str = "reload") -> bool:
    """Build, then tell the open pages to show the new site: "update" (the new page's body in
    place of the old) or "reload" (the whole page: after a change of the styles)."""
    from .build import build
    from .cli import print_diagnostics
    from .memo import settle

    started = time.perf_counter()
    try:
        report, results = build(options, console)
    except BuildError as exc:
        print_diagnostics(exc.diagnostics)
        console.print("build failed; the browser shows the messages and keeps the last good pages", style="bold red")
        events.publish("failed", json.dumps([str(d) for d in exc.diagnostics]))
        settle()
        return False
    print_diagnostics(report.items)
    console.print(f"rebuilt the web edition in {time.perf_counter() - started:.2f} s", markup=False)
    events.publish(kind)
    settle()  # the garbage collector's full pass now, while the page updates, not in the next build
    return True


def serve(options, port: int, console: Console) -> int:
    root: Path = options.root
    from .cli import print_diagnostics
    from .config import load_book_config

    events = Events()
    build_once(options, console, events)
    try:
        site = options.out_dir / f"{load_book_config(root).slug}-web"  # the folder the build writes
    except BuildError as exc:  # without a readable book file there is no site to serve
        print_diagnostics(exc.diagnostics)
        return 1
    site.mkdir(parents=True, exist_ok=True)
    client = (root / "styles" / "web" / "serve.js").read_bytes()
    handler = type("BookHandler", (Handler,), {"events": events, "client": client, "tags": ContentTags()})
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), partial(handler, directory=str(site)))
    except OSError as exc:
        console.print(f"error: cannot serve on 127.0.0.1:{port}: {exc.strerror}; choose another --port",
                      style="bold red", markup=False)
        return 1
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), name="serve", daemon=True)  # stops within 0.1 s
    thread.start()
    console.print(f"serving the web edition at http://127.0.0.1:{server.server_address[1]}/ "
                  "(rebuilt on every save; Ctrl+C to stop)", markup=False)
    signal.signal(signal.SIGTERM, interrupt)  # `kill` stops it as cleanly as Ctrl+C
    stop = threading.Event()
    paths = [root / p for p in WATCHED if (root / p).exists()]
    try:
        # A save is seen once the watcher has found no further change for one step (10 ms), at most
        # 100 ms after the first: an editor's write-and-rename is one change, and a save shows at once.
        for changes in watch(*paths, watch_filter=BookFilter(options.out_dir), debounce=100, step=10, stop_event=stop):
            names = sorted({str(Path(p).relative_to(root)) for _, p in changes})
            console.print(f"changed: {', '.join(names)}", markup=False)
            if all(name.startswith("styles/web/") for name in names) and events.kind != "failed":
                from .web import write_assets  # only the site's own CSS or scripts: no rebuild needed

                write_assets(root, site)
                console.print("copied the web edition's styles and scripts", markup=False)
                events.publish("reload")
                continue
            restyled = any(name.startswith("styles/") for name in names)
            build_once(options, console, events, site, "reload" if restyled else "update")
    except KeyboardInterrupt:
        from .convert import stop_running

        stop_running()  # a build stopped halfway does not wait for its pandoc (`kill` reaches only serve)
    finally:
        stop.set()
        events.close()
        server.shutdown()
        server.server_close()
        console.print("stopped", markup=False)
    return 0


def interrupt(signum, frame):
    raise KeyboardInterrupt
