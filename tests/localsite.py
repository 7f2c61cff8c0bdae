"""Serve test pages on 127.0.0.1 (a free port, a background thread).

Two ways:

- ``serve_directory(path) -> (base_url, stop)``: static files, like ``python -m http.server``.
- ``serve_routes(routes)``: a context manager yielding the base URL; each route maps a path
  (without query string) to either a :class:`Reply` or a callable ``handler -> None`` that writes
  the response itself (for streaming, delays, broken connections)::

      with serve_routes({"/": Reply(body="<html>…</html>"), "/slow": Reply(delay=3)}) as base:
          ...

Unknown paths answer 404. ``serve_routes`` records each request path in ``site.hits``
when used as ``with LocalSite(routes) as site: site.url("/")``.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

__all__ = ["LocalSite", "Reply", "free_port", "html", "redirect", "serve_directory", "serve_routes"]

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass(frozen=True)
class Reply:
    """A canned response. ``body`` str is encoded with ``encoding``."""

    body: bytes | str = b""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})
    delay: float = 0.0  # seconds to sleep before answering
    encoding: str = "utf-8"

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        if self.delay:
            time.sleep(self.delay)
        body = self.body.encode(self.encoding) if isinstance(self.body, str) else self.body
        handler.send_response(self.status)
        for name, value in self.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)


def html(body: str, *, charset: str | None = "utf-8", encoding: str = "utf-8", status: int = 200) -> Reply:
    """A text/html reply; ``charset=None`` sends ``Content-Type: text/html`` without a charset."""
    ctype = f"text/html; charset={charset}" if charset else "text/html"
    return Reply(body=body, status=status, headers={"Content-Type": ctype}, encoding=encoding)


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status=status, headers={"Location": location})


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (just now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _RouteHandler(BaseHTTPRequestHandler):
    routes: Mapping[str, Handler] = {}
    hits: list[str]
    protocol_version = "HTTP/1.1"

    def _dispatch(self) -> None:
        path = urlsplit(self.path).path
        self.hits.append(self.path)
        route = self.routes.get(path)
        try:
            if route is None:
                Reply(body="not found", status=404, headers={"Content-Type": "text/plain"})(self)
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    do_GET = _dispatch
    do_HEAD = _dispatch
    do_POST = _dispatch

    def log_message(self, format: str, *args: object) -> None:  # silence
        pass


class LocalSite:
    """A routing HTTP server on 127.0.0.1; use as a context manager."""

    def __init__(self, routes: Mapping[str, Handler]) -> None:
        self.hits: list[str] = []
        handler = type("Handler", (_RouteHandler,), {"routes": dict(routes), "hits": self.hits})
        self._server = _Server(("127.0.0.1", 0), handler)
        self.port = int(self._server.server_address[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="localsite", daemon=True)

    def url(self, path: str = "/") -> str:
        return self.base + path

    def start(self) -> LocalSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalSite:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextmanager
def serve_routes(routes: Mapping[str, Handler]) -> Iterator[str]:
    """Serve ``routes``; yields the base URL (``http://127.0.0.1:PORT``, no trailing slash)."""
    with LocalSite(routes) as site:
        yield site.base


class _QuietFileHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_directory(path: str | Path) -> tuple[str, Callable[[], None]]:
    """Serve files under ``path``; returns ``(base_url, stop)``."""
    handler = functools.partial(_QuietFileHandler, directory=str(path))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="localsite-dir", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{server.server_address[1]}", stop
