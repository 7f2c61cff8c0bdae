"""Evidence capture (固证): WARC files of what was fetched, and full-page screenshots.

- :class:`WarcWriter` writes gzip WARC/1.1 records with SHA-256 digests: for each
  :class:`~mdwatch.crawler.capture.Capture` a ``response`` record (original status and headers,
  the body exactly as captured, ``WARC-Date`` = the capture time) and a ``request`` record;
  ``resource`` records for screenshots. A file is never appended to by a second process: each
  process part of a sweep opens a new file (:func:`next_part_path`, ``sweep-<id>-<n>.warc.gz``),
  so a resumed sweep adds parts and never rewrites a closed one. Every record is a separate gzip
  member and is flushed when written, so a killed process loses at most its last record.
- :class:`Screenshotter` renders pages in Debian's Chromium through Playwright (async API on a
  private thread and event loop, so it works from synchronous code and from inside Scrapy's
  reactor alike): one browser, a few reusable pages, 1280 px wide, height capped. Chromium
  connects only through a :class:`~mdwatch.crawler.pinproxy.PinProxy`: a captured page is rendered
  from its captured bytes with no network at all; a live page is judged by the fetch policy.

Imports nothing else of ours but :mod:`mdwatch.crawler.capture`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import os
import re
import threading
import zlib
from collections.abc import Coroutine, Iterable, Mapping
from concurrent.futures import Future
from datetime import UTC, datetime
from html import escape as html_escape
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

from w3lib.encoding import html_to_unicode
from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from .browser import CHROMIUM_ARGS, CHROMIUM_PATH
from .capture import Capture
from .netpolicy import FetchPolicy, Refusal, allow_hosts_from_env

__all__ = [
    "CHROMIUM_ARGS",
    "CHROMIUM_PATH",
    "ScreenshotError",
    "Screenshotter",
    "WarcWriter",
    "next_part_path",
    "warc_date",
    "warc_sha256",
]


# The captured body is stored decoded (Scrapy removes content and transfer encodings), so these
# headers would make a WARC reader decode it a second time; they are kept under another name.
_RENAMED_HEADERS = ("content-encoding", "transfer-encoding", "content-length")
_ORIG_PREFIX = "X-Archive-Orig-"

_T = TypeVar("_T")


def warc_sha256(data: bytes) -> str:
    """A WARC digest value: ``sha256:`` and the base32 digest (as warcio writes it)."""
    digester = Digester("sha256")
    digester.update(data)
    return str(digester)


def warc_date(when: datetime) -> str:
    """ISO-8601 UTC with microseconds, as WARC/1.1 allows (``2026-05-01T08:00:00.123456Z``)."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive datetime refused: {when!r}")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def next_part_path(directory: Path | str, stem: str) -> Path:
    """The first ``<stem>-<n>.warc.gz`` in ``directory`` that does not exist yet (n from 1)."""
    folder = Path(directory)
    n = 1
    while (folder / f"{stem}-{n}.warc.gz").exists():
        n += 1
    return folder / f"{stem}-{n}.warc.gz"


GZIP_LEVEL = 6  # zlib's and gzip's default


class _GzipMember:
    """One gzip member around one record: what warcio's own wrapper does, at :data:`GZIP_LEVEL`."""

    def __init__(self, out: IO[bytes]) -> None:
        self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        self._out = out

    def write(self, data: bytes) -> None:
        self._out.write(self._compressor.compress(data))

    def flush(self) -> None:  # warcio calls this once, at the end of the record
        self._out.write(self._compressor.flush())
        self._out.flush()


class _Sha256WARCWriter(WARCWriter):
    """warcio's writer with SHA-256 instead of SHA-1 digests, each record a gzip member of its own
    compressed at level 6 rather than warcio's fixed 9: on pages of 30–200 KB, level 9 took three
    times the CPU (4.3 ms against 1.3 ms a page) for a file 4 % smaller."""

    def __init__(self, filebuf: IO[bytes]) -> None:
        super().__init__(filebuf, gzip=False, warc_version="1.1")  # gzip: per record, below

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")

    def write_record(self, record: Any, params: Any = None) -> None:
        self._write_warc_record(_GzipMember(self.out), record)


class WarcWriter:
    """A gzip WARC/1.1 file written record by record; thread-safe.

    ``WarcWriter(path)`` creates ``path`` and refuses an existing file (a closed part is never
    appended to); ``WarcWriter.new_part(directory, stem)`` picks the next free part name.
    The file's SHA-256 is :attr:`sha256` after :meth:`close`.
    """

    def __init__(self, path: Path | str, *, info: Mapping[str, str] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[bytes] = open(self.path, "xb")  # noqa: SIM115  # closed by close()
        self._writer = _Sha256WARCWriter(self._fh)
        self._lock = threading.Lock()
        self.records = 0
        self.sha256: str | None = None
        self.size: int | None = None
        fields = {"software": "mdwatch", "format": "WARC File Format 1.1",
                  "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"}
        fields.update(info or {})
        with self._lock:
            self._writer.write_record(self._writer.create_warcinfo_record(self.path.name, fields))
            self._fh.flush()

    @classmethod
    def new_part(cls, directory: Path | str, stem: str, *, info: Mapping[str, str] | None = None) -> WarcWriter:
        """A writer on the next free ``<stem>-<n>.warc.gz`` of ``directory`` (safe against a race)."""
        Path(directory).mkdir(parents=True, exist_ok=True)
        for _ in range(1000):
            try:
                return cls(next_part_path(directory, stem), info=info)
            except FileExistsError:
                continue  # another process took this number first
        raise FileExistsError(f"no free WARC part name for {stem} in {directory}")

    # ---------------------------------------------------------------- writing

    def write_capture(self, capture: Capture) -> str:
        """Write ``capture`` as a response record and its request record; the response's record ID.

        The response's target URI is the final URL (the body belongs to it); a redirected
        capture also names the requested URL in ``WARC-Mdwatch-Requested-URI``.
        """
        date = warc_date(capture.fetched_at)
        builder: RecordBuilder = self._writer
        warc_headers = {
            "WARC-Date": date,
            "WARC-Payload-Digest": warc_sha256(capture.body),
            "WARC-Mdwatch-Fetch-Method": capture.method,
        }
        if capture.url != capture.final_url:
            warc_headers["WARC-Mdwatch-Requested-URI"] = capture.url
        response = builder.create_warc_record(
            capture.final_url,
            "response",
            payload=io.BytesIO(capture.body),
            length=len(capture.body),
            warc_headers_dict=warc_headers,
            http_headers=_http_headers(capture),
        )
        builder.ensure_digest(response, block=True, payload=False)
        response_id: str = response.rec_headers.get_header("WARC-Record-ID")
        request_headers = StatusAndHeaders(
            f"GET {_request_target(capture.final_url)} HTTP/1.1",
            [("Host", _host(capture.final_url))],
            protocol="HTTP/1.1",
            is_http_request=True,
        )
        request = builder.create_warc_record(
            capture.final_url,
            "request",
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response_id},
            http_headers=request_headers,
        )
        builder.ensure_digest(request, block=True, payload=False)
        with self._lock:
            self._check_open()
            self._writer.write_record(response)
            self._writer.write_record(request)
            self._fh.flush()
            self.records += 2
        return response_id

    def write_resource(
        self,
        url: str,
        content_type: str,
        data: bytes,
        *,
        when: datetime | None = None,
        concurrent_to: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> str:
        """Write ``data`` (a screenshot, say) as a resource record about ``url``; its record ID."""
        headers = {
            "WARC-Date": warc_date(when or datetime.now(UTC)),
            "Content-Type": content_type,
            "WARC-Payload-Digest": warc_sha256(data),
            "WARC-Block-Digest": warc_sha256(data),
        }
        if concurrent_to:
            headers["WARC-Concurrent-To"] = concurrent_to
        headers.update(extra_headers or {})
        builder: RecordBuilder = self._writer
        record = builder.create_warc_record(
            url, "resource", payload=io.BytesIO(data), length=len(data),
            warc_content_type=content_type, warc_headers_dict=headers,
        )
        record_id: str = record.rec_headers.get_header("WARC-Record-ID")
        with self._lock:
            self._check_open()
            self._writer.write_record(record)
            self._fh.flush()
            self.records += 1
        return record_id

    # ---------------------------------------------------------------- closing

    @property
    def closed(self) -> bool:
        return self._fh.closed

    def _check_open(self) -> None:
        if self._fh.closed:
            raise ValueError(f"WARC file already closed: {self.path}")

    def close(self) -> str:
        """Flush, fsync and close the file; its SHA-256 (hex). Closing twice is harmless."""
        with self._lock:
            if not self._fh.closed:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()
                digest = hashlib.sha256()
                with open(self.path, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
                self.sha256 = digest.hexdigest()
                self.size = self.path.stat().st_size
            assert self.sha256 is not None
            return self.sha256

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc


def _request_target(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _http_headers(capture: Capture) -> StatusAndHeaders:
    try:
        reason = HTTPStatus(capture.status).phrase
    except ValueError:
        reason = "Unknown"
    headers: list[tuple[str, str]] = []
    for name, value in capture.headers.items():
        if name.lower() in _RENAMED_HEADERS:
            headers.append((_ORIG_PREFIX + name, str(value)))
        else:
            headers.append((name, str(value)))
    headers.append(("Content-Length", str(len(capture.body))))
    return StatusAndHeaders(f"{capture.status} {reason}", headers, protocol="HTTP/1.1")


# -------------------------------------------------------------------- screenshots


class ScreenshotError(RuntimeError):
    """The browser could not start or could not render the page."""


class Screenshotter:
    """Full-page PNG screenshots in one headless Chromium, reused; thread-safe.

    Playwright's async API runs on a private thread with its own event loop; :meth:`submit`
    returns a future (for callers inside an event loop, e.g. Scrapy), :meth:`full_page_png`
    waits for it. ``pages`` screenshots run at the same time, each on a reused browser page.
    """

    def __init__(
        self,
        *,
        executable_path: str = CHROMIUM_PATH,
        args: tuple[str, ...] = CHROMIUM_ARGS,
        width: int = 1280,
        viewport_height: int = 900,
        max_height: int = 16384,
        pages: int = 3,
        timeout_s: float = 30.0,
        settle_ms: int = 100,
        allow_hosts: Iterable[str] = (),
    ) -> None:
        self.executable_path = executable_path
        self.args = args
        self.width = width
        self.viewport_height = viewport_height
        self.max_height = max_height
        self.pages = max(1, pages)
        self.timeout_s = timeout_s
        self.settle_ms = settle_ms
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._playwright: Any = None
        self._browser: Any = None
        self._context: Any = None
        # two pools of reusable pages: live pages (loaded through the proxy) and captured-render
        # pages (every request aborted, set once when the page is made, never undone)
        self._free: dict[bool, asyncio.Queue[Any]] = {}
        self._start_guard: asyncio.Lock | None = None
        self._created = {True: 0, False: 0}
        self._cdp: dict[Any, Any] = {}  # page → its DevTools session (screenshots)
        self._allow_hosts = (*allow_hosts, *allow_hosts_from_env())
        self._proxy: Any = None  # the PinProxy Chromium connects through (private loop)
        self._live_urls: list[str] = []  # pages loaded live: the policy's typed URLs
        self._live = 0  # live screenshots in progress (none: the proxy refuses every connection)
        self.refusals: list[str] = []  # refused requests of live pages, one Chinese line each

    # ---------------------------------------------------------------- lifecycle

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="mdwatch-screenshotter", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def _run(self, coro: Coroutine[Any, Any, _T]) -> Future[_T]:
        return asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())

    async def _start_browser(self) -> None:
        if self._browser is not None:
            return
        from playwright.async_api import async_playwright

        from .pinproxy import PinProxy, proxy_launch_options

        try:
            self._proxy = PinProxy(FetchPolicy.build((), self._allow_hosts), timeout_s=self.timeout_s,
                                   on_refusal=self._refused, own_request=self._closed)
            await self._proxy.start()
            self._playwright = await async_playwright().start()
            options = {"executable_path": self.executable_path, "args": list(self.args), "headless": True}
            self._browser = await self._playwright.chromium.launch(**proxy_launch_options(options, self._proxy.url))
            self._context = await self._browser.new_context(
                viewport={"width": self.width, "height": self.viewport_height},
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
                service_workers="block",
            )
        except Exception as exc:
            await self._stop_browser()
            raise ScreenshotError(f"无法启动 Chromium（{self.executable_path}）：{exc}") from exc
        self._free = {True: asyncio.Queue(), False: asyncio.Queue()}

    async def _stop_browser(self) -> None:
        for closer in (self._context, self._browser):
            if closer is not None:
                with contextlib.suppress(Exception):  # best effort on shutdown
                    await closer.close()
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                await self._playwright.stop()
        if self._proxy is not None:
            with contextlib.suppress(Exception):
                await self._proxy.close()
        self._playwright = self._browser = self._context = self._proxy = None
        self._free, self._created, self._cdp = {}, {True: 0, False: 0}, {}

    def _refused(self, refusal: Refusal) -> None:
        if refusal.message not in self.refusals:
            self.refusals.append(refusal.message)

    def _closed(self, host: str, port: int) -> bool:
        """The proxy's 'refuse without a lookup': every connection unless a live page is loading."""
        if self._live <= 0:
            return True
        from .netguard import browser_own_request

        return browser_own_request(host, port)

    def close(self) -> None:
        """Close the browser and stop the private thread."""
        with self._start_lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._stop_browser(), loop).result(timeout=30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(timeout=10)
            loop.close()

    def __enter__(self) -> Screenshotter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ---------------------------------------------------------------- screenshots

    def submit(self, url: str, html: bytes | None = None, content_type: str | None = None) -> Future[bytes]:
        """Start a screenshot; see :meth:`full_page_png`."""
        return self._run(self._shoot(url, html, content_type))

    def full_page_png(self, url: str, html: bytes | None = None, content_type: str | None = None) -> bytes:
        """A full-page PNG of ``url``, 1280 px wide, at most ``max_height`` px high.

        Without ``html`` the live page is loaded: ``url`` is taken as the user's, every other
        request is judged by the fetch policy (refusals in :attr:`refusals`). With ``html`` (the
        captured body) the browser is served those bytes as the document at ``url`` (so relative
        links, the base URL and the charset from ``content_type`` behave as on the site) and
        nothing else: every other request (images, style sheets, scripts, WebSockets) is refused,
        so the picture is made from the captured bytes alone and no connection leaves the machine.
        """
        return self.submit(url, html, content_type).result(timeout=self.timeout_s * 3 + 30)

    async def _page(self, captured: bool) -> Any:
        # several shots submitted at once must start one browser, not one each: the later ones
        # would replace the first's context and queue, and a shot waiting on the old queue
        # would wait for ever
        if self._start_guard is None:
            self._start_guard = asyncio.Lock()  # created on the loop's own thread
        async with self._start_guard:
            await self._start_browser()
        free = self._free[captured]
        if free.empty() and self._created[captured] < self.pages:
            self._created[captured] += 1
            return await self._new_page(captured)
        return await free.get()

    async def _new_page(self, captured: bool) -> Any:
        page = await self._context.new_page()
        if captured:  # a captured render is the captured bytes alone: no request of it goes out
            await page.route("**/*", _abort)
        return page

    async def _shoot(self, url: str, html: bytes | None, content_type: str | None) -> bytes:
        live = html is None
        page = await self._page(captured=not live)
        healthy = True
        if live:
            assert self._proxy is not None
            self._live += 1
            if url not in self._live_urls:
                self._live_urls.append(url)
                self._proxy.policy = FetchPolicy.build(self._live_urls, self._allow_hosts)
        try:
            return await self._render(page, url, html, content_type)
        except ScreenshotError:
            raise
        except Exception as exc:
            healthy = False
            raise ScreenshotError(f"截图失败：{url}：{exc}") from exc
        finally:
            if live:
                self._live -= 1
            await self._release(page, healthy, captured=not live)

    async def _release(self, page: Any, healthy: bool, captured: bool) -> None:
        if healthy and not page.is_closed():
            self._free[captured].put_nowait(page)
            return
        self._cdp.pop(page, None)
        with contextlib.suppress(Exception):
            await page.close()
        self._free[captured].put_nowait(await self._new_page(captured))

    async def _render(self, page: Any, url: str, html: bytes | None, content_type: str | None) -> bytes:
        timeout_ms = self.timeout_s * 1000
        if html is not None:
            # The captured bytes are written into the page (no navigation: a new document per
            # shot costs more than the picture) under a <base> of their URL, so relative links
            # behave as on the site, and a Content-Security-Policy that refuses every request
            # inside the browser; the page's own route aborts whatever else would leave.
            await page.set_content(captured_document(url, html, content_type), wait_until="load",
                                   timeout=timeout_ms)
        else:
            await page.set_viewport_size({"width": self.width, "height": self.viewport_height})
            response = await page.goto(url, wait_until="load", timeout=timeout_ms)
            if response is None:
                raise ScreenshotError(f"截图失败：{url} 没有响应。")
            # a live page: let it settle (pages that keep polling never go idle)
            with contextlib.suppress(Exception):
                await page.wait_for_load_state("networkidle", timeout=min(timeout_ms, 5000))
            if self.settle_ms:
                await page.wait_for_timeout(self.settle_ms)
        height = await page.evaluate(
            "() => Math.max(document.documentElement ? document.documentElement.scrollHeight : 0,"
            " document.body ? document.body.scrollHeight : 0)"
        )
        height = min(max(self.viewport_height, int(height or 1)), self.max_height)
        return await asyncio.wait_for(self._capture(page, height), timeout=self.timeout_s)

    async def _capture(self, page: Any, height: int) -> bytes:
        """A PNG of the page's top ``height`` px, straight from DevTools: Playwright's full-page
        screenshot resizes the viewport and re-lays the page out, which costs more than the
        picture; ``optimizeForSpeed`` trades a larger file for a faster (still lossless) PNG."""
        session = self._cdp.get(page)
        if session is None:
            session = self._cdp[page] = await page.context.new_cdp_session(page)
        shot = await session.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True, "optimizeForSpeed": True,
            "clip": {"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1},
        })
        return base64.b64decode(shot["data"])


async def _abort(route: Any, *_: Any) -> None:
    with contextlib.suppress(Exception):  # the page closed meanwhile
        await route.abort()


#: what a captured render may load: nothing but what is inside the document itself
_CAPTURED_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
                 "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")
_DOCTYPE = re.compile(r"\A\s*<!doctype[^>]*>", re.IGNORECASE)


def captured_document(url: str, body: bytes, content_type: str | None) -> str:
    """The captured page as a document to write into a browser page: decoded as a browser would
    (BOM, the header's charset, the page's own declaration), with a <base> of its URL and a
    policy that refuses every request placed first (after the doctype, so the page keeps its
    rendering mode). A <base> or policy of the page's own comes later: the first <base> wins and
    a second policy can only refuse more."""
    _encoding, text = html_to_unicode(content_type or "text/html", body)
    head = (f'<meta http-equiv="Content-Security-Policy" content="{_CAPTURED_CSP}">'
            f'<base href="{html_escape(url.split("#", 1)[0], quote=True)}">')
    doctype = _DOCTYPE.match(text)
    if doctype is None:
        return head + text
    return text[:doctype.end()] + head + text[doctype.end():]
