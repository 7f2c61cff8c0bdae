"""Serve the bundled demo platform on a local port (a background ThreadingHTTPServer).

Pages come from package data (``mdwatch/demo/site``). The Content-Type of each page follows its
manifest entry: ``text/html; charset=<encoding>`` when ``charset_in_header`` is true, plain
``text/html`` otherwise (the page relies on its ``<meta charset>`` or on sniffing). Test
endpoints for the crawler's error handling live under ``/_test/``:

- ``/_test/slow``: waits 30 s (``?seconds=N`` for less) before answering;
- ``/_test/loop``: a 302 redirect to itself;
- ``/_test/big``: streams 50 MB of HTML (``?nolength=1`` omits Content-Length);
- ``/_test/image.png``: a small PNG;
- ``/_test/redirect``: a 302 to ``/index.html``;
- ``/_test/resources.html``: a page that loads a web font, an audio file and an image
  (``/_test/font.woff2``, ``/_test/media.ogg``, ``/_test/image.png``), for the browser's resource
  blocking; :meth:`DemoServer.hits` counts the requests of each path.

:meth:`DemoServer.hold_pages` makes every request but robots.txt wait until
:meth:`DemoServer.release_pages` (at most :data:`HOLD_MAX_S`): a test can hold a crawl until all
its processes have joined.

JS-rendered pages (``/js/...``, manifest ``"js": true``) are empty shells that a script fills from
inline JSON with the content of their static twin (manifest ``"twin"``); :func:`page_paths` leaves
them out unless asked, since only a browser sees their content.

Dates relative to the serving day: a page may hold ``{{today+N}}`` / ``{{today-N}}`` (ISO date) or
``{{today+N|cn}}`` (2026年12月10日); the server replaces them when it serves the page, so a licence
that "expires in 15 days" stays that way whatever day the demo runs (SHOP_LICENSE_EXPIRING).
"""

from __future__ import annotations

import argparse
import json
import posixpath
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from importlib.resources.abc import Traversable
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from mdwatch.demo.images import png_for

BIG_SIZE = 50 * 1024 * 1024
ROBOTS_TXT = b"User-agent: *\nDisallow:\n"
SLOW_SECONDS = 30.0
HOLD_MAX_S = 120.0

_STATIC_TYPES = {
    ".png": "image/png",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
}


RESOURCES_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>康护优选 资源加载测试</title>
<style>@font-face{font-family:KanghuTest;src:url(/_test/font.woff2) format("woff2")}
body{font-family:KanghuTest,sans-serif}</style></head>
<body><h1>资源加载测试</h1><p>字体、音频与图片。</p>
<audio src="/_test/media.ogg" preload="auto" autoplay muted></audio>
<img src="/_test/image.png" alt="测试图片" width="10" height="10">
</body></html>
"""

_TODAY_TOKEN = re.compile(rb"\{\{today(?P<delta>[+-]\d{1,4})?(?P<cn>\|cn)?\}\}")


def relative_date(delta_days: int, today: date | None = None, chinese: bool = False) -> str:
    """The day ``delta_days`` after ``today`` (default: the real today), ISO or as 2026年12月10日."""
    day = (today or date.today()) + timedelta(days=delta_days)
    return f"{day.year}年{day.month:02d}月{day.day:02d}日" if chinese else day.isoformat()


def render_dates(body: bytes, encoding: str, today: date | None = None) -> bytes:
    """Replace the ``{{today±N}}`` tokens of a page (bytes in ``encoding``) with real dates."""
    if b"{{today" not in body:
        return body

    def sub(m: re.Match[bytes]) -> bytes:
        delta = int(m.group("delta") or b"0")
        return relative_date(delta, today, chinese=m.group("cn") is not None).encode(encoding)

    return _TODAY_TOKEN.sub(sub, body)


def site_root() -> Traversable:
    return resources.files("mdwatch.demo").joinpath("site")


@cache
def manifest() -> tuple[dict[str, Any], ...]:
    """The manifest entries: path, kind, encoding, charset_in_header, meta_charset."""
    data = json.loads(site_root().joinpath("manifest.json").read_text(encoding="utf-8"))
    return tuple(data)


def page_paths(kind: str | None = None, js: bool | None = False) -> list[str]:
    """Paths of the demo pages, optionally only those of one kind (platform, shop, qualification, product).

    ``js``: False (default) static pages only, True JS-rendered pages only, None both.
    """
    return [
        entry["path"]
        for entry in manifest()
        if (kind is None or entry["kind"] == kind) and (js is None or bool(entry.get("js")) == js)
    ]


def _entries() -> dict[str, dict[str, Any]]:
    return {entry["path"]: entry for entry in manifest()}


def _resolve(path: str) -> Traversable | None:
    clean = posixpath.normpath(unquote(path))
    if clean in ("/", "."):
        clean = "/index.html"
    elif path.endswith("/"):
        clean = clean.rstrip("/") + "/index.html"
    parts = [p for p in clean.split("/") if p]
    if any(p in ("..", ".") or p.startswith(".") for p in parts):
        return None
    node = site_root()
    for part in parts:
        node = node.joinpath(part)
    if node.is_file():
        return node
    if node.is_dir():
        index = node.joinpath("index.html")
        return index if index.is_file() else None
    return None


class _Handler(BaseHTTPRequestHandler):
    server: _DemoHTTPServer
    server_version = "KanghuDemo/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no request log on stderr
        return

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    # -- plumbing

    def _send(self, status: int, body: bytes, content_type: str, head: bool, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _not_found(self, head: bool) -> None:
        body = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>404</title></head><body><h1>404 页面不存在</h1></body></html>"
        self._send(404, body.encode("utf-8"), "text/html; charset=utf-8", head)

    def _dispatch(self, head: bool) -> None:
        url = urlsplit(self.path)
        if url.path != "/robots.txt" and not self.server.released.is_set():
            deadline = time.monotonic() + HOLD_MAX_S
            while not self.server.released.wait(0.05):
                if self.server.stopping.is_set() or time.monotonic() > deadline:
                    break
        self.server.count(url.path)
        query = parse_qs(url.query)
        try:
            if url.path == "/robots.txt":  # sweeps obey robots.txt by default: allow everything
                self._send(200, ROBOTS_TXT, "text/plain; charset=utf-8", head)
            elif url.path.startswith("/_test/"):
                self._test_endpoint(url.path, query, head)
            else:
                self._static(url.path, head)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _static(self, path: str, head: bool) -> None:
        node = _resolve(path)
        if node is None:
            self._not_found(head)
            return
        key = posixpath.normpath(unquote(path))
        key = "/index.html" if key in ("/", ".") else key
        if path.endswith("/") and key != "/index.html":
            key = key.rstrip("/") + "/index.html"
        entry = _entries().get(key)
        name = node.name
        body = node.read_bytes()
        if entry is not None:
            ctype = f"text/html; charset={entry['encoding']}" if entry["charset_in_header"] else "text/html"
            body = render_dates(body, entry["encoding"])
        elif name.endswith(".html"):
            ctype = "text/html"
        else:
            ctype = _STATIC_TYPES.get(posixpath.splitext(name)[1], "application/octet-stream")
        self._send(200, body, ctype, head)

    def _test_endpoint(self, path: str, query: dict[str, list[str]], head: bool) -> None:
        if path == "/_test/slow":
            try:
                seconds = min(float(query.get("seconds", [str(SLOW_SECONDS)])[0]), SLOW_SECONDS)
            except ValueError:
                seconds = SLOW_SECONDS
            if self.server.stopping.wait(max(seconds, 0.0)):
                return
            self._send(200, "<html><body><p>慢速响应</p></body></html>".encode(), "text/html; charset=utf-8", head)
        elif path == "/_test/loop":
            self._send(302, b"", "text/html", head, {"Location": "/_test/loop"})
        elif path == "/_test/redirect":
            self._send(302, b"", "text/html", head, {"Location": "/index.html"})
        elif path == "/_test/image.png":
            self._send(200, png_for("/_test/image.png"), "image/png", head)
        elif path == "/_test/resources.html":
            self._send(200, RESOURCES_PAGE.encode(), "text/html; charset=utf-8", head)
        elif path == "/_test/font.woff2":
            self._send(200, b"wOF2" + bytes(60), "font/woff2", head)
        elif path == "/_test/media.ogg":
            self._send(200, b"OggS" + bytes(60), "audio/ogg", head)
        elif path == "/_test/big":
            self._big(head, with_length=not query.get("nolength"))
        else:
            self._not_found(head)

    def _big(self, head: bool, with_length: bool) -> None:
        opening = b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>big</title></head><body>\n'
        closing = b"</body></html>\n"
        line = "<p>康护优选 大页面测试数据 0123456789</p>\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if with_length:
            self.send_header("Content-Length", str(BIG_SIZE))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if head:
            return
        remaining = BIG_SIZE - len(opening) - len(closing)
        self.wfile.write(opening)
        block = line * (65536 // len(line))
        while remaining > 0 and not self.server.stopping.is_set():
            chunk = block[:remaining]
            self.wfile.write(chunk)
            remaining -= len(chunk)
        self.wfile.write(closing)


class _DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.stopping = threading.Event()
        self.released = threading.Event()  # cleared: requests wait (DemoServer.hold_pages)
        self.released.set()
        self.hits: Counter[str] = Counter()
        self._hits_lock = threading.Lock()

    def count(self, path: str) -> None:
        with self._hits_lock:
            self.hits[path] += 1

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet on client disconnects
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class DemoServer:
    """A running demo server; use as a context manager or call :meth:`stop`."""

    def __init__(self, httpd: _DemoHTTPServer, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread
        host, port = httpd.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        self.base_url = f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def hits(self, path: str) -> int:
        """How many requests for ``path`` (no query) this server has answered so far."""
        with self._httpd._hits_lock:
            return self._httpd.hits[path]

    def hold_pages(self) -> None:
        """Make every request but robots.txt wait until :meth:`release_pages`."""
        self._httpd.released.clear()

    def release_pages(self) -> None:
        self._httpd.released.set()

    def stop(self) -> None:
        if self._httpd.stopping.is_set():
            return
        self._httpd.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> DemoServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(host: str = "127.0.0.1", port: int = 0) -> DemoServer:
    """Start serving the demo site in a background thread; ``port=0`` picks a free port."""
    httpd = _DemoHTTPServer((host, port))
    thread = threading.Thread(target=httpd.serve_forever, name="mdwatch-demo-server", daemon=True)
    thread.start()
    return DemoServer(httpd, thread)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mdwatch.demo.server", description="Serve the demo platform 康护优选.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    try:
        server = serve(args.host, args.port)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"demo platform 康护优选 at {server.base_url}/  (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
