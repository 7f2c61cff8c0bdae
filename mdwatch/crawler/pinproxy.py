"""The browser's forward proxy: Chromium connects only to addresses the fetch policy checked.

Chromium resolves names itself, so :func:`~mdwatch.crawler.netguard.browser_abort_request` alone
cannot pin the address a browser request connects to (DNS rebinding between the check and the
fetch). In a crawl with the browser, Chromium is launched with ``--proxy-server`` pointing at a
:class:`PinProxy` on ``127.0.0.1`` (and ``--proxy-bypass-list=<-loopback>``, so loopback targets
go through it as well). For each ``CONNECT host:port`` (https) and each absolute-form request
(``GET http://host:port/path``) the proxy:

1. resolves ``host`` once per crawl (shared with the abort check's cache: the address judged there
   is the address connected to here);
2. judges every address with :func:`~mdwatch.crawler.netpolicy.check_address` and the crawl's
   :class:`~mdwatch.crawler.netpolicy.FetchPolicy` (typed host:port and allow-list as for the
   crawl); a refusal is answered ``403`` and its one Chinese line recorded
   (:func:`~mdwatch.crawler.netguard.note_browser_refusal`);
3. opens the TCP connection to exactly the checked address and copies bytes both ways, with the
   crawl's timeout (connect and idle) and byte cap (bytes from the server per connection).

Chromium's own services (updates, accounts …; :func:`~mdwatch.crawler.netguard.browser_own_request`)
are refused without a lookup unless a page asked for them: the browser opens no connection of its own.

:class:`PinnedBrowserProvider` (``PLAYWRIGHT_BROWSER_PROVIDER``, set by
:func:`~mdwatch.crawler.netguard.apply_fetch_policy`) starts the proxy in scrapy-playwright's own
event loop when the browser is launched, adds it to the launch options, and stops it when the
download handler closes at the end of the crawl.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy_playwright.provider import PlaywrightBrowserProvider

from .netpolicy import FetchPolicy, Refusal, check_address, literal_ip

if TYPE_CHECKING:
    from playwright.async_api import Browser

__all__ = ["PROVIDER_PATH", "PinProxy", "PinnedBrowserProvider", "ProxyDecision", "proxy_launch_options"]

PROVIDER_PATH = "mdwatch.crawler.pinproxy.PinnedBrowserProvider"
_MAX_HEAD = 64 * 1024  # a request head larger than this is refused (400)
_CHUNK = 64 * 1024

Resolve = Callable[[str], Awaitable[list[str]]]
Connect = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


@dataclass(frozen=True, slots=True)
class ProxyDecision:
    """What the proxy does for ``host:port``: connect to ``address``, or refuse (``refusal``)."""

    host: str
    port: int
    address: str | None = None
    refusal: Refusal | None = None
    error: str | None = None  # no address (resolution failed): 502


async def _system_resolve(host: str) -> list[str]:
    from .netguard import _getaddrinfo

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, _getaddrinfo, host)


async def _open(address: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(address, port, limit=_CHUNK)


class PinProxy:
    """An HTTP forward proxy on ``127.0.0.1`` that connects only to checked addresses.

    ``resolve`` and ``connect`` are injectable (tests); ``cache`` maps a host name to the
    addresses it resolved to for this crawl (a host is resolved once). ``on_refusal`` receives
    each refusal (its ``message`` is the one Chinese line).
    """

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        timeout_s: float = 30.0,
        max_bytes: int = 0,
        resolve: Resolve | None = None,
        connect: Connect | None = None,
        cache: dict[str, list[str]] | None = None,
        on_refusal: Callable[[Refusal], None] | None = None,
        own_request: Callable[[str, int], bool] | None = None,
    ) -> None:
        self.policy = policy
        self.timeout_s = timeout_s if timeout_s > 0 else 30.0
        self.max_bytes = max_bytes  # 0: no cap
        self._resolve = resolve or _system_resolve
        self._connect = connect or _open
        self.cache: dict[str, list[str]] = {} if cache is None else cache
        self._locks: dict[str, asyncio.Lock] = {}
        self._on_refusal = on_refusal
        self._own_request = own_request
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0

    # -- lifecycle

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=_MAX_HEAD)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    # -- the decision

    async def addresses(self, host: str) -> list[str]:
        """The addresses of ``host`` for this crawl: resolved once, then from the cache."""
        ip = literal_ip(host)
        if ip is not None:
            return [str(ip)]
        name = host.strip("[]").rstrip(".").lower()
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            if name not in self.cache:
                try:
                    self.cache[name] = list(await asyncio.wait_for(self._resolve(name), self.timeout_s))
                except (TimeoutError, OSError, UnicodeError):
                    self.cache[name] = []
            return list(self.cache[name])

    async def decide(self, host: str, port: int, url: str | None = None) -> ProxyDecision:
        """Resolve (once) and judge ``host:port``: the address to connect to, or the refusal."""
        addresses = await self.addresses(host)
        if not addresses:
            return ProxyDecision(host, port, error="name not resolved")
        if not self.policy.trusts(host, port):
            for address in addresses:  # a host with any refused address is refused
                refusal = check_address(address, host, port, self.policy, url)
                if refusal is not None:
                    return ProxyDecision(host, port, refusal=refusal)
        return ProxyDecision(host, port, address=addresses[0])

    # -- serving

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._handle(reader, writer)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.timeout_s)
        except asyncio.LimitOverrunError:
            await _answer(writer, 400, "Bad Request")
            return
        request_line, _, rest = head.partition(b"\r\n")
        parts = request_line.decode("latin-1").split()
        if len(parts) != 3:
            await _answer(writer, 400, "Bad Request")
            return
        method, target, version = parts
        if method.upper() == "CONNECT":
            host, port = _host_port(target, 443)
            url = None
        else:
            split = urlsplit(target)
            if split.scheme.lower() != "http" or not split.hostname:
                await _answer(writer, 400, "Bad Request")
                return
            host, port = split.hostname, split.port or 80
            url = target
        if not host:
            await _answer(writer, 400, "Bad Request")
            return
        if self._own_request is not None and self._own_request(host, port):
            await _answer(writer, 403, "Forbidden")  # the browser's own service, not a page's: no lookup, no line
            return
        decision = await self.decide(host, port, url)
        if decision.refusal is not None:
            if self._on_refusal is not None:
                self._on_refusal(decision.refusal)
            await _answer(writer, 403, "Forbidden")
            return
        if decision.address is None:
            await _answer(writer, 502, "Bad Gateway")
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(self._connect(decision.address, port), self.timeout_s)
        except (TimeoutError, OSError):
            await _answer(writer, 502, "Bad Gateway")
            return
        try:
            if method.upper() == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
            else:
                path = urlsplit(target)._replace(scheme="", netloc="").geturl() or "/"
                up_writer.write(_origin_form(method, path, version, rest))
                await up_writer.drain()
            await self._splice(reader, writer, up_reader, up_writer)
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()

    async def _splice(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        """Copy bytes both ways until either side ends, a read idles past the timeout, or the cap."""

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, cap: int) -> None:
            sent = 0
            while True:
                chunk = await asyncio.wait_for(src.read(_CHUNK), self.timeout_s)
                if not chunk:
                    break
                sent += len(chunk)
                if cap and sent > cap:
                    break
                dst.write(chunk)
                await dst.drain()
            if dst.can_write_eof():
                with contextlib.suppress(OSError):
                    dst.write_eof()

        upstream = asyncio.ensure_future(pipe(reader, up_writer, 0))
        downstream = asyncio.ensure_future(pipe(up_reader, writer, self.max_bytes))
        try:
            done, _pending = await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
            if downstream not in done:  # the client stopped sending: let the answer finish
                await asyncio.wait({downstream}, timeout=self.timeout_s)
        finally:
            for task in (upstream, downstream):
                task.cancel()
            for task in (upstream, downstream):
                with contextlib.suppress(BaseException):
                    await task


def _host_port(authority: str, default: int) -> tuple[str, int]:
    text = authority.strip()
    if text.startswith("["):
        host, _, tail = text[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = text.rpartition(":") if ":" in text else (text, "", "")
    try:
        port = int(port_text) if port_text else default
    except ValueError:
        return "", 0
    if not 0 < port < 65536:
        return "", 0
    return host.rstrip(".").lower(), port


def _origin_form(method: str, path: str, version: str, rest: bytes) -> bytes:
    """The request head for the origin server: origin-form target, no proxy headers, one request."""
    lines = [f"{method} {path} {version}".encode("latin-1")]
    for line in rest.split(b"\r\n"):
        if not line:
            continue
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"proxy-connection", b"proxy-authorization", b"connection", b"keep-alive"):
            continue
        lines.append(line)
    lines.append(b"Connection: close")  # one request per checked connection
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _answer(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
    writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode("ascii"))
    with contextlib.suppress(OSError):
        await writer.drain()


# ----------------------------------------------------------------------------- the browser's launch


def proxy_launch_options(launch_options: dict[str, Any], proxy_url: str) -> dict[str, Any]:
    """``launch_options`` with Chromium sent through the proxy at ``proxy_url``, loopback included."""
    options = dict(launch_options)
    options["proxy"] = {"server": proxy_url}
    args = [a for a in options.get("args") or () if not str(a).startswith(("--proxy-server", "--proxy-bypass-list",
                                                                            "--no-proxy-server", "--proxy-pac-url"))]
    options["args"] = [*args, "--proxy-bypass-list=<-loopback>"]
    return options


class PinnedBrowserProvider(PlaywrightBrowserProvider):
    """``PLAYWRIGHT_BROWSER_PROVIDER``: Chromium launched behind a :class:`PinProxy`.

    The proxy runs in the loop scrapy-playwright runs Playwright in (the asyncio reactor's loop,
    or its own thread's loop on Windows), starts with the first browser launch and stops when the
    download handler closes. Its policy, timeout and byte cap are the crawl's
    (:class:`~mdwatch.crawler.netguard.FetchPolicyMiddleware` publishes them).
    """

    proxy: PinProxy | None = None

    async def launch_browser(self) -> Browser:
        if self.config.cdp_url or self.config.connect_url:  # a remote browser: nothing to launch here
            return await super().launch_browser()
        if self.proxy is None:
            from .netguard import (
                browser_own_request,
                crawl_limits,
                crawl_policy,
                note_browser_refusal,
                shared_browser_dns,
            )

            timeout_s, max_bytes = crawl_limits()
            self.proxy = PinProxy(crawl_policy(), timeout_s=timeout_s, max_bytes=max_bytes, cache=shared_browser_dns(),
                                  on_refusal=note_browser_refusal, own_request=browser_own_request)
            await self.proxy.start()
        self.config.launch_options = proxy_launch_options(self.config.launch_options, self.proxy.url)
        return await super().launch_browser()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self.proxy is not None:
                await self.proxy.close()
                self.proxy = None
