"""Browser requests pinned to the checked address (issue 10 item 2, for browser-rendered pages).

Chromium resolves names itself, so in a crawl with the browser it connects only through
``mdwatch.crawler.pinproxy.PinProxy``: the proxy resolves once, judges with the crawl's fetch
policy, answers 403 (one Chinese line) or connects to exactly the address it checked.

- the proxy in process: its decision, and the pinning (a resolver that alternates a public and an
  internal answer: the connection goes to the address judged, the name is resolved once; the
  connector is a fake that only ever connects to 127.0.0.1, so nothing leaves loopback);
- ``mdwatch scan`` end to end under ``guarded_mdwatch.py`` (fake resolver, socket guard: no packet
  off loopback): a JavaScript page typed on 127.0.0.1 whose script loads an image, a script,
  ``fetch()`` and a WebSocket from names the test resolver maps to 10.0.0.5, 169.254.169.254 and
  another port of 127.0.0.1, and ``fetch()`` from the typed host:port. The page is rendered with
  the typed host's data (fetched through the proxy), each refused request is one line on stderr,
  nothing of the refused targets is stored.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from localsite import LocalSite, Reply, html

from mdwatch.crawler import netguard
from mdwatch.crawler.browser import CHROMIUM_PATH, BrowserOptions, browser_settings
from mdwatch.crawler.netguard import apply_fetch_policy
from mdwatch.crawler.netpolicy import FetchPolicy, Refusal
from mdwatch.crawler.pinproxy import PROVIDER_PATH, PinProxy, proxy_launch_options

HERE = Path(__file__).resolve().parent
GUARDED = HERE / "guarded_mdwatch.py"

# ----------------------------------------------------------------------------- the proxy in process


class _Upstream:
    """A TCP server on 127.0.0.1 standing in for every address the proxy connects to."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head)
        body = b"pinned-ok"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def _alternating(*answers: list[str]) -> tuple[Any, list[str]]:
    """A resolver whose answers alternate (DNS rebinding), and the list of names it was asked."""
    asked: list[str] = []

    async def resolve(host: str) -> list[str]:
        answer = answers[len(asked) % len(answers)]
        asked.append(host)
        return list(answer)

    return resolve, asked


async def _through(proxy: PinProxy, head: bytes, then: bytes = b"") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(head)
    await writer.drain()
    first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    if then and first.startswith(b"HTTP/1.1 200 Connection established"):
        writer.write(then)
        await writer.drain()
    rest = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return first + rest


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_proxy_decision_follows_the_fetch_policy() -> None:
    async def main() -> None:
        resolve, _ = _alternating(["10.0.0.5"])
        policy = FetchPolicy.build(["http://127.0.0.1:8000/"], ["corp.test"])
        proxy = PinProxy(policy, resolve=resolve)
        typed = await proxy.decide("127.0.0.1", 8000)
        assert typed.address == "127.0.0.1" and typed.refusal is None
        other_port = await proxy.decide("127.0.0.1", 8001)
        assert other_port.refusal is not None and "本机回环地址" in other_port.refusal.message
        assert (await proxy.decide("corp.test", 443)).address == "10.0.0.5"  # allow-listed
        refused = await proxy.decide("ten.test", 443)
        assert refused.address is None and refused.refusal is not None
        line = refused.refusal.message
        assert line.startswith("已拒绝：ten.test:443 指向内网地址（10.0.0.5，10.0.0.0/8）") and "\n" not in line
        metadata = await proxy.decide("169.254.169.254", 80, "http://169.254.169.254/latest/")
        assert metadata.refusal is not None and "169.254.0.0/16" in metadata.refusal.message
        assert (await proxy.decide("[::ffff:10.0.0.1]", 80)).refusal is not None

    _run(main())


def test_proxy_connects_to_the_checked_address_though_dns_rebinds() -> None:
    async def main() -> None:
        upstream = _Upstream()
        await upstream.start()
        connected: list[tuple[str, int]] = []

        async def connect(address: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            connected.append((address, port))  # never dialled: the test's upstream on loopback answers
            return await asyncio.open_connection("127.0.0.1", upstream.port)

        # public first, internal on every second lookup
        resolve, asked = _alternating(["93.184.216.34"], ["10.0.0.5"])
        refusals: list[Refusal] = []
        proxy = PinProxy(FetchPolicy(), resolve=resolve, connect=connect, on_refusal=refusals.append)
        await proxy.start()
        try:
            for _ in range(3):
                answer = await _through(proxy, b"CONNECT rebind.test:443 HTTP/1.1\r\nHost: rebind.test:443\r\n\r\n",
                                        b"GET / HTTP/1.1\r\nHost: rebind.test\r\n\r\n")
                assert answer.startswith(b"HTTP/1.1 200 Connection established") and answer.endswith(b"pinned-ok")
            answer = await _through(proxy, b"GET http://rebind.test/a?b=1 HTTP/1.1\r\nHost: rebind.test\r\n"
                                           b"Proxy-Connection: keep-alive\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"pinned-ok")
        finally:
            await proxy.close()
            await upstream.close()
        assert asked == ["rebind.test"]  # resolved once for the crawl
        assert connected == [("93.184.216.34", 443)] * 3 + [("93.184.216.34", 80)]  # the address checked
        assert refusals == []
        forwarded = upstream.requests[-1]
        assert forwarded.startswith(b"GET /a?b=1 HTTP/1.1\r\n") and b"Proxy-Connection" not in forwarded
        assert b"Connection: close" in forwarded

    _run(main())


def test_proxy_refuses_an_internal_answer_with_403_and_one_line() -> None:
    async def main() -> None:
        connected: list[tuple[str, int]] = []

        async def connect(address: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            connected.append((address, port))
            raise OSError("must not be called")

        # internal first (then public: a second lookup would have let it through)
        resolve, asked = _alternating(["169.254.169.254"], ["93.184.216.34"])
        refusals: list[Refusal] = []
        proxy = PinProxy(FetchPolicy(), resolve=resolve, connect=connect, on_refusal=refusals.append)
        await proxy.start()
        try:
            for head in (b"CONNECT meta.test:443 HTTP/1.1\r\n\r\n",
                         b"GET http://meta.test:443/latest/meta-data/ HTTP/1.1\r\nHost: meta.test\r\n\r\n"):
                answer = await _through(proxy, head)
                assert answer.startswith(b"HTTP/1.1 403 Forbidden")
            for head in (b"GARBAGE\r\n\r\n", b"CONNECT meta.test:99999 HTTP/1.1\r\n\r\n",
                         b"GET ftp://meta.test/x HTTP/1.1\r\n\r\n"):
                assert (await _through(proxy, head)).startswith(b"HTTP/1.1 400")
        finally:
            await proxy.close()
        assert connected == [] and asked == ["meta.test"]
        assert [r.message.split("指向")[0] for r in refusals] == [
            "已拒绝：meta.test:443 ", "已拒绝：http://meta.test:443/latest/meta-data/ "]
        assert all("169.254.0.0/16" in r.message for r in refusals)

    _run(main())


def test_the_browser_crawl_is_launched_behind_the_proxy() -> None:
    settings = apply_fetch_policy(browser_settings(BrowserOptions()), ["http://127.0.0.1:8000/"])
    assert settings["PLAYWRIGHT_BROWSER_PROVIDER"] == PROVIDER_PATH
    assert "PLAYWRIGHT_BROWSER_PROVIDER" not in apply_fetch_policy({}, ["http://127.0.0.1:8000/"])
    options = proxy_launch_options({"args": ["--no-sandbox", "--proxy-server=http://elsewhere:1"]},
                                   "http://127.0.0.1:4321")
    assert options["proxy"] == {"server": "http://127.0.0.1:4321"}
    assert options["args"] == ["--no-sandbox", "--proxy-bypass-list=<-loopback>"]


def test_refusal_lines_are_handed_out_once() -> None:
    netguard.take_browser_refusals()
    refusal = Refusal("http://x.test/", "address", "已拒绝：http://x.test/ 指向内网地址。")
    netguard.note_browser_refusal(refusal)
    netguard.note_browser_refusal(refusal)
    assert netguard.take_browser_refusals() == [refusal.message]
    netguard.note_browser_refusal(refusal)  # the proxy refusing the same request again: said already
    assert netguard.take_browser_refusals() == []


# ----------------------------------------------------------------------------- end to end

TEST_HOSTS = {"ten5.test": "10.0.0.5", "meta.test": "169.254.169.254", "inner.test": "127.0.0.1"}
INNER_SECRET = "mdwatch-pin-inner-secret-41c9"
TYPED_MARKER = "经营许可证编号：苏食药监械经营许20200001号"

SHELL = """<!doctype html><html><head><title>口罩商品</title></head><body><div id="app"></div>
<script>
document.getElementById("app").innerHTML =
  "<h1>医用外科口罩</h1><p>二类医疗器械，注册证编号：苏械注准20202140001。</p><p id='typed'></p>";
fetch("/api/typed").then(r => r.text()).then(t => {{ document.getElementById("typed").textContent = t; }});
fetch("http://ten5.test:{inner}/secret-fetch").then(r => r.text()).then(t => {{ document.body.append(t); }})
  .catch(() => {{}});
var img = new Image(); img.src = "http://meta.test/latest/meta-data/secret.png"; document.body.append(img);
var s = document.createElement("script"); s.src = "http://inner.test:{inner}/secret.js"; document.head.append(s);
try {{
  var ws = new WebSocket("ws://inner.test:{inner}/ws");
  ws.onmessage = e => document.body.append(e.data);
}} catch (e) {{}}
</script>
<script src="/slow.js"></script>
</body></html>
"""


def _need_chromium() -> None:
    if not os.access(CHROMIUM_PATH, os.X_OK):
        if os.environ.get("MDWATCH_REQUIRE_SERVICES", "").strip() == "1":
            pytest.fail(f"{CHROMIUM_PATH} is missing")
        pytest.skip(f"{CHROMIUM_PATH} is missing")


def _guard_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "MDWATCH_ALLOW_HOSTS"}
    env["MDWATCH_TEST_HOSTS"] = ",".join(f"{k}={v}" for k, v in TEST_HOSTS.items())
    env["MDWATCH_TEST_GUARD_LOG"] = str(tmp_path / "guard.log")
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    env["MDWATCH_OCR_ENGINE"] = "none"
    env.pop("MDWATCH_DB_URL", None)
    return env


class _Typed:
    """``/api/typed``: the typed host's own data, and the Connection header it arrived with."""

    def __init__(self) -> None:
        self.connection: list[str] = []

    def __call__(self, handler: Any) -> None:
        self.connection.append(str(handler.headers.get("Connection", "")))
        Reply(body=TYPED_MARKER, headers={"Content-Type": "text/plain; charset=utf-8"})(handler)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.CompletedProcess[str], Path,
                                                                      LocalSite, LocalSite, _Typed, str]]:
    _need_chromium()
    tmp = tmp_path_factory.mktemp("pinning")
    typed = _Typed()
    with LocalSite({"/secret-fetch": html(INNER_SECRET), "/secret.js": Reply(body=f"document.title='{INNER_SECRET}'"),
                    "/ws": html(INNER_SECRET)}) as inner:
        routes = {
            "/js": html(SHELL.format(inner=inner.port)),
            "/api/typed": typed,
            "/slow.js": Reply(body="window.slow = 1;", headers={"Content-Type": "text/javascript"}, delay=1.5),
        }
        with LocalSite(routes) as site:
            db = tmp / "scan.db"
            proc = subprocess.run(
                [sys.executable, str(GUARDED), "scan", site.url("/js"), "--db", str(db), "--ocr-engine", "none"],
                env=_guard_env(tmp), capture_output=True, text=True, timeout=240, cwd=tmp)
            yield proc, tmp, site, inner, typed, str(db)


def test_js_page_rendered_its_internal_subrequests_refused_once_each(scanned: Any) -> None:
    proc, tmp, _site, inner, typed, db = scanned
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    log = tmp / "guard.log"
    assert not log.exists() or log.read_text(encoding="utf-8") == "", log.read_text(encoding="utf-8")
    assert proc.returncode in (0, 1), proc.stderr
    refusals = [line for line in proc.stderr.splitlines() if "已拒绝：" in line]
    for name, network in (("ten5.test", "10.0.0.0/8"), ("meta.test", "169.254.0.0/16")):
        found = [line for line in refusals if name in line]
        assert len(found) == 1 and network in found[0] and "公网地址" in found[0], (name, proc.stderr)
    # the script and the WebSocket to another port of 127.0.0.1: refused, one line each
    inner_lines = [line for line in refusals if "inner.test" in line]
    assert len(inner_lines) == 2 and all("127.0.0.0/8" in line for line in inner_lines), proc.stderr
    assert any("secret.js" in line for line in inner_lines)
    assert any(f"inner.test:{inner.port} " in line for line in inner_lines)  # the proxy's CONNECT (WebSocket)
    assert len(refusals) == 4, proc.stderr
    assert inner.hits == []  # nothing reached the other port

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT method, body FROM captures").fetchall()
        everything = b"".join(
            str(v).encode() if not isinstance(v, bytes) else v
            for table in ("captures", "pages", "findings")
            for row in conn.execute(f"SELECT * FROM {table}").fetchall()
            for v in row
        )
    browser = [body for method, body in rows if method == "browser"]
    assert len(browser) == 1, rows
    body = bytes(browser[0]).decode("utf-8")
    assert TYPED_MARKER in body  # fetched from the typed host:port, through the proxy
    assert INNER_SECRET.encode() not in everything
    assert typed.connection and all(c.lower() == "close" for c in typed.connection)  # it came through the proxy
