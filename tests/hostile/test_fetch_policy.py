"""The fetch policy (issue 10, items 1 and 2): only http(s), and no internal address reached from a page.

Two layers:

- the address decision itself (``mdwatch.crawler.netpolicy``), on every range it must refuse and
  on public addresses it must allow;
- ``mdwatch scan`` and ``mdwatch sweep`` end to end against a local server whose pages redirect
  (page, qualification page, image) to ``file:``, ``data:``, ``ftp:``, another port of 127.0.0.1
  and host names that the test resolver maps to 10/8, 172.16/12, 192.168/16, 169.254.169.254,
  100.64/10, ::1, fc00::/7 … Each ``mdwatch`` runs under ``guarded_mdwatch.py``: a fake
  ``getaddrinfo`` (no DNS query leaves the machine) and a socket guard that refuses, and logs,
  any connect to a non-loopback address. **No packet leaves loopback**: every run asserts the
  guard's log is empty, besides the exit status, one Chinese line per refusal on stderr, no
  traceback, and nothing of the target in the database or the data directory.

Every end-to-end case that stores (the single file redirect, the page / qualification-page /
image runs over every scheme and address target, both sweeps) runs once on SQLite and once on
PostgreSQL (a throw-away schema; skipped without the server unless ``MDWATCH_REQUIRE_SERVICES=1``),
and reads the database back through SQLAlchemy (``dbstate``): the same row counts, and no value
of any table holding a target's secret, on either backend.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dbstate import (
    BACKENDS,
    all_text,
    count,
    database,
    db_fixture,  # noqa: F401 - registers the shared `db` fixture
    sqlite_file,
)
from localsite import LocalSite, html, redirect

from mdwatch.crawler.netpolicy import (
    FetchPolicy,
    address_class,
    allow_hosts_from_env,
    check_address,
    check_scheme,
)

pytestmark = pytest.mark.network

HERE = Path(__file__).resolve().parent
GUARDED = HERE / "guarded_mdwatch.py"
RUN_TIMEOUT = 180

FILE_SECRET = "mdwatch-file-secret-7f3a91"
INNER_SECRET = "mdwatch-inner-secret-c02b77"
DATA_SECRET = "mdwatch-data-secret-5e11d4"
SECRETS = (FILE_SECRET, INNER_SECRET, DATA_SECRET)

# what the test resolver answers (guarded_mdwatch.py); every other name is a guard violation
TEST_HOSTS = {
    "ten.test": "10.1.2.3",
    "corp.test": "172.16.5.4",
    "lan.test": "192.168.1.20",
    "metadata.test": "169.254.169.254",
    "cgnat.test": "100.64.0.9",
    "v6loop.test": "::1",
    "ula.test": "fc00::5",
    "allowed.test": "127.0.0.1",
}

# ----------------------------------------------------------------------------- the decision

REFUSED = [
    ("127.0.0.1", "127.0.0.0/8"),
    ("127.255.255.254", "127.0.0.0/8"),
    ("10.0.0.5", "10.0.0.0/8"),
    ("10.255.255.255", "10.0.0.0/8"),
    ("172.16.0.1", "172.16.0.0/12"),
    ("172.31.255.254", "172.16.0.0/12"),
    ("192.168.0.1", "192.168.0.0/16"),
    ("192.168.255.255", "192.168.0.0/16"),
    ("169.254.169.254", "169.254.0.0/16"),
    ("169.254.0.1", "169.254.0.0/16"),
    ("100.64.0.1", "100.64.0.0/10"),
    ("100.127.255.254", "100.64.0.0/10"),
    ("0.0.0.0", "0.0.0.0/8"),
    ("0.1.2.3", "0.0.0.0/8"),
    ("224.0.0.1", "224.0.0.0/4"),
    ("239.255.255.250", "224.0.0.0/4"),
    ("240.0.0.1", "240.0.0.0/4"),
    ("255.255.255.255", "255.255.255.255/32"),
    ("192.0.2.10", "192.0.2.0/24"),
    ("198.18.0.1", "198.18.0.0/15"),
    ("::1", "::1/128"),
    ("::", "::/128"),
    ("fc00::1", "fc00::/7"),
    ("fd12:3456:789a::1", "fc00::/7"),
    ("fe80::1", "fe80::/10"),
    ("febf:ffff::1", "fe80::/10"),
    ("ff02::1", "ff00::/8"),
    ("::ffff:127.0.0.1", "127.0.0.0/8"),
    ("::ffff:10.0.0.1", "10.0.0.0/8"),
    ("::ffff:172.16.0.1", "172.16.0.0/12"),
    ("::ffff:192.168.1.1", "192.168.0.0/16"),
    ("::ffff:169.254.169.254", "169.254.0.0/16"),
    ("::ffff:100.64.0.1", "100.64.0.0/10"),
    ("::ffff:0.0.0.0", "0.0.0.0/8"),
    ("::10.0.0.1", "10.0.0.0/8"),  # IPv4-compatible (deprecated)
    ("64:ff9b::a9fe:a9fe", "169.254.0.0/16"),  # NAT64 of 169.254.169.254
    ("2002:c0a8:101::1", "192.168.0.0/16"),  # 6to4 of 192.168.1.1
    ("2001:db8::1", "2001:db8::/32"),
]

PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "11.0.0.1", "172.15.255.255", "172.32.0.1",
          "100.63.255.255", "100.128.0.1", "169.253.0.1", "192.169.0.1", "2606:4700:4700::1111",
          "2400:3200::1", "::ffff:8.8.8.8"]


@pytest.mark.parametrize(("address", "network"), REFUSED, ids=[a for a, _ in REFUSED])
def test_refused_ranges(address: str, network: str) -> None:
    found = address_class(ipaddress.ip_address(address))
    assert found is not None and found[0] == network
    refusal = check_address(address, "evil.example", 80, FetchPolicy(), "http://evil.example/x")
    assert refusal is not None and refusal.reason == "address"
    line = refusal.message
    assert line.startswith("已拒绝：http://evil.example/x 指向") and network in line
    assert "MDWATCH_ALLOW_HOSTS" in line and "evil.example" in line and "\n" not in line


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_allowed(address: str) -> None:
    assert address_class(ipaddress.ip_address(address)) is None
    assert check_address(address, "shop.example", 443, FetchPolicy()) is None


def test_typed_origin_is_the_users_own_host_and_port_only() -> None:
    policy = FetchPolicy.build(["http://127.0.0.1:8000/shop", "https://intranet.corp/"])
    assert check_address("127.0.0.1", "127.0.0.1", 8000, policy) is None
    assert check_address("10.0.0.8", "intranet.corp", 443, policy) is None  # typed: theirs
    refused = check_address("127.0.0.1", "127.0.0.1", 8001, policy, "http://127.0.0.1:8001/")
    assert refused is not None and "本机回环地址" in refused.message
    assert check_address("10.0.0.8", "intranet.corp", 80, policy) is not None  # another port
    assert check_address("10.0.0.8", "other.corp", 443, policy) is not None


def test_allow_list_matches_host_and_subdomains(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = FetchPolicy.build(allow_hosts=["Corp.Example", "10.9.9.9"])
    assert check_address("10.0.0.1", "corp.example", 80, policy) is None
    assert check_address("10.0.0.1", "img.corp.example", 8080, policy) is None
    assert check_address("10.9.9.9", "10.9.9.9", 80, policy) is None
    assert check_address("10.0.0.1", "notcorp.example", 80, policy) is not None
    assert allow_hosts_from_env({"MDWATCH_ALLOW_HOSTS": " a.test, B.test  [fd00::1] "}) == (
        "a.test", "b.test", "fd00::1")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "data:text/html,x", "ftp://127.0.0.1/x", "s3://bucket/key",
                                 "gopher://h/x", "javascript:alert(1)", "http:///nohost"])
def test_other_schemes_refused(url: str) -> None:
    refusal = check_scheme(url, "http://shop.example/a")
    assert refusal is not None and refusal.reason == "scheme"
    assert refusal.message.startswith("已拒绝：") and "http://shop.example/a" in refusal.message


def test_http_and_https_pass_and_credentials_are_not_echoed() -> None:
    assert check_scheme("http://a.example/") is None and check_scheme("HTTPS://a.example/") is None
    refusal = check_address("10.0.0.1", "h.example", 80, FetchPolicy(), "http://bob:hunter2@h.example/")
    assert refusal is not None and "hunter2" not in refusal.message and "***@h.example" in refusal.message


# ----------------------------------------------------------------------------- the guard itself


def _guard_env(tmp_path: Path, allow: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "MDWATCH_ALLOW_HOSTS"}
    env["MDWATCH_TEST_HOSTS"] = ",".join(f"{k}={v}" for k, v in TEST_HOSTS.items())
    env["MDWATCH_TEST_GUARD_LOG"] = str(tmp_path / "guard.log")
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    env["MDWATCH_OCR_ENGINE"] = "none"
    env.pop("MDWATCH_DB_URL", None)
    if allow is not None:
        env["MDWATCH_ALLOW_HOSTS"] = allow
    return env


def _violations(tmp_path: Path) -> list[str]:
    log = tmp_path / "guard.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def test_the_guard_stops_and_reports_any_packet_off_loopback(tmp_path: Path) -> None:
    snippet = (
        "import socket\n"
        "for target in [('10.255.255.1', 80), ('192.0.2.1', 53)]:\n"
        "    s = socket.socket()\n"
        "    try:\n"
        "        s.connect(target)\n"
        "    except OSError:\n"
        "        pass\n"
        "try:\n"
        "    socket.getaddrinfo('example.com', 80)\n"
        "except socket.gaierror:\n"
        "    pass\n"
        "assert socket.getaddrinfo('ten.test', 80)[0][4][0] == '10.1.2.3'\n"
    )
    proc = subprocess.run([sys.executable, str(GUARDED), "--python", snippet], env=_guard_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    seen = _violations(tmp_path)
    assert any("10.255.255.1:80" in v for v in seen) and any("192.0.2.1:53" in v for v in seen)
    assert any("dns example.com" in v for v in seen)


# ----------------------------------------------------------------------------- end to end


@dataclass(frozen=True)
class Target:
    id: str
    location: str  # the Location header
    shown: str  # what the refusal line must name


def _targets(inner_port: int, secret_file: Path) -> list[Target]:
    data = "data:text/html;base64," + base64.b64encode(f"<html><body>{DATA_SECRET}</body></html>".encode()).decode()
    inner = f"http://127.0.0.1:{inner_port}/secret"
    return [
        Target("file", secret_file.as_uri(), secret_file.as_uri()),
        Target("data", data, "data:text/html;base64,"),
        Target("ftp", f"ftp://127.0.0.1:{inner_port}/secret", "ftp://127.0.0.1"),
        Target("loopback-other-port", inner, inner),
        Target("localhost-other-port", f"http://localhost:{inner_port}/secret", "localhost"),
        Target("net10", "http://ten.test/secret", "ten.test"),
        Target("net172", "http://corp.test/secret", "corp.test"),
        Target("net192", "http://lan.test/secret", "lan.test"),
        Target("metadata-name", "http://metadata.test/latest/meta-data/", "metadata.test"),
        Target("metadata-ip", "http://169.254.169.254/latest/meta-data/", "://169.254.169.254/"),
        Target("cgnat", "http://cgnat.test/", "cgnat.test"),
        Target("v6-loopback", "http://v6loop.test/secret", "v6loop.test"),
        Target("v6-ula", "http://ula.test/secret", "ula.test"),
        Target("v6-literal-loopback", f"http://[::1]:{inner_port}/secret", "[::1]"),
        Target("v6-mapped", "http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1"),
    ]


def _hop(target: Target, hop: str) -> str:
    return target.location if target.id == "data" else f"{target.location}?from={hop}"


PAGE = ("<html><head><title>{title}</title></head><body><h1>{title}</h1>"
        "<p>医用外科口罩，二类医疗器械，注册证编号：苏械注准20202140001。本店经营许可证齐全。</p>{extra}</body></html>")


@dataclass
class Sites:
    base: str
    inner: LocalSite
    targets: list[Target]
    secret_file: Path

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    secret_dir = tmp_path_factory.mktemp("secret")
    secret_file = secret_dir / "passwd.html"
    secret_file.write_text(f"<html><body>root:x:0:0 {FILE_SECRET}</body></html>", encoding="utf-8")
    with LocalSite({"/secret": html(f"<html><body>{INNER_SECRET}</body></html>"),
                    "/secret.png": html(INNER_SECRET),
                    "/allowed": html("<html><body>内网页面（已加入允许列表）</body></html>")}) as inner:
        targets = _targets(inner.port, secret_file)
        routes = {}
        for t in targets:
            # a distinct target per hop: a sweep's dupe filter would drop a second request for the same one
            routes[f"/r/{t.id}"] = redirect(_hop(t, "r"))
            routes[f"/q/{t.id}"] = redirect(_hop(t, "q"))
            routes[f"/i/{t.id}.png"] = redirect(_hop(t, "i"))
            routes[f"/shop/{t.id}"] = html(PAGE.format(title=f"店铺 {t.id}", extra=f'<a href="/q/{t.id}">营业执照</a>'))
            routes[f"/img/{t.id}"] = html(PAGE.format(title=f"商品 {t.id}", extra=f'<img src="/i/{t.id}.png">'))
        routes["/r/allowed"] = redirect(f"http://allowed.test:{inner.port}/allowed")
        links = "".join(f'<a href="/r/{t.id}">页面 {t.id}</a> <a href="/shop/{t.id}">店铺 {t.id}</a> ' for t in targets)
        routes["/home"] = html(PAGE.format(title="平台首页", extra=links))
        routes["/home-one"] = html(PAGE.format(title="平台首页", extra='<a href="/r/file">页面</a>'))
        with LocalSite(routes) as site:
            yield Sites(site.base, inner, targets, secret_file)


def _mdwatch(tmp_path: Path, *args: str, allow: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(GUARDED), *args], env=_guard_env(tmp_path, allow),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=tmp_path)


def _assert_nothing_of_targets(tmp_path: Path, db: str, sites: Sites) -> None:
    text = all_text(db)
    for secret in SECRETS:
        assert secret not in text
    db_file = sqlite_file(db)
    for path in tmp_path.rglob("*"):  # WARC files, caches … anything written under the run's directories
        if path.is_file() and path != db_file and path.suffix not in (".log",):
            blob = path.read_bytes()
            assert not any(s.encode() in blob for s in SECRETS), path
    assert "/secret" not in sites.inner.hits and "/secret.png" not in sites.inner.hits


def _refusals(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "已拒绝：" in line]


def _check_clean(proc: subprocess.CompletedProcess[str], tmp_path: Path) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    assert _violations(tmp_path) == []


def test_scan_one_page_redirect_to_a_local_file(tmp_path: Path, sites: Sites, db: str) -> None:
    proc = _mdwatch(tmp_path, "scan", sites.url("/r/file"), "--db", db, "--ocr-engine", "none")
    _check_clean(proc, tmp_path)
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"mdwatch: 已拒绝：{sites.secret_file.as_uri()}?from=r 使用 file: 协议（来自 {sites.url('/r/file')} "
                     f"的跳转或链接），mdwatch 只抓取 http 和 https 网址。"]
    assert count(db, "pages") == 0
    _assert_nothing_of_targets(tmp_path, db, sites)


Run = tuple[subprocess.CompletedProcess[str], Path, str]  # the run, its directory, its database


def _scan_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, name: str,
              urls: list[str], ocr: str) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp(f"{name}-{request.param}")
    with database(request.param, tmp) as db:
        proc = _mdwatch(tmp, "scan", *urls, "--db", db, "--ocr-engine", ocr)
        yield proc, tmp, db


@pytest.fixture(scope="module", params=BACKENDS)
def scan_pages(request: pytest.FixtureRequest, sites: Sites, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    yield from _scan_run(request, tmp_path_factory, "scan-pages", [sites.url(f"/r/{t.id}") for t in sites.targets],
                         "none")


@pytest.fixture(scope="module", params=BACKENDS)
def scan_related(request: pytest.FixtureRequest, sites: Sites, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    yield from _scan_run(request, tmp_path_factory, "scan-related",
                         [sites.url(f"/shop/{t.id}") for t in sites.targets], "none")


@pytest.fixture(scope="module", params=BACKENDS)
def scan_images(request: pytest.FixtureRequest, sites: Sites, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    yield from _scan_run(request, tmp_path_factory, "scan-images", [sites.url(f"/img/{t.id}") for t in sites.targets],
                         "tesseract")


def _one_line_for(target: Target, stderr: str) -> str:
    found = [line for line in _refusals(stderr) if target.shown in line]
    assert len(found) == 1, (target, stderr)
    return found[0]


def test_scan_page_redirects_refused(scan_pages: Run, sites: Sites) -> None:
    proc, tmp, db = scan_pages
    _check_clean(proc, tmp)
    assert proc.returncode == 3  # nothing could be scanned
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == len(sites.targets) and all(line.startswith("mdwatch: 已拒绝：") for line in lines)
    for target in sites.targets:
        line = _one_line_for(target, proc.stderr)
        assert ("只抓取 http 和 https" in line) if target.id in ("file", "data", "ftp") else ("公网地址" in line)
    assert count(db, "pages") == 0
    _assert_nothing_of_targets(tmp, db, sites)


def test_scan_qualification_redirects_refused_page_kept(scan_related: Run, sites: Sites) -> None:
    proc, tmp, db = scan_related
    _check_clean(proc, tmp)
    assert proc.returncode == 0  # the shops themselves were scanned
    assert len(_refusals(proc.stderr)) == len(sites.targets)
    for target in sites.targets:
        _one_line_for(target, proc.stderr)
    assert count(db, "pages") == len(sites.targets)
    _assert_nothing_of_targets(tmp, db, sites)


def test_scan_image_redirects_refused(scan_images: Run, sites: Sites) -> None:
    proc, tmp, db = scan_images
    _check_clean(proc, tmp)
    assert proc.returncode == 0
    assert len(_refusals(proc.stderr)) == len(sites.targets)
    for target in sites.targets:
        _one_line_for(target, proc.stderr)
    assert count(db, "pages") == len(sites.targets)
    _assert_nothing_of_targets(tmp, db, sites)


def test_allow_listed_host_may_be_internal(tmp_path: Path, sites: Sites) -> None:
    refused = _mdwatch(tmp_path, "scan", sites.url("/r/allowed"), "--no-store", "--ocr-engine", "none")
    _check_clean(refused, tmp_path)
    assert refused.returncode == 3 and len(_refusals(refused.stderr)) == 1 and "allowed.test" in refused.stderr
    allowed = _mdwatch(tmp_path, "scan", sites.url("/r/allowed"), "--no-store", "--ocr-engine", "none",
                       "--json", allow="allowed.test")
    _check_clean(allowed, tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert "已拒绝" not in allowed.stderr and f"allowed.test:{sites.inner.port}/allowed" in allowed.stdout
    assert sites.inner.hits.count("/allowed") == 1  # fetched once: only with the allow-list


# ----------------------------------------------------------------------------- sweep

PROFILE = """\
name: hostile
start_urls: ["{{base}}/{start}"]
follow_all: true
classify: heuristic
qualification_link_words: [营业执照]
"""


def _sweep(tmp_path: Path, sites: Sites, start: str, db: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "hostile.yaml"
    profile.write_text(PROFILE.format(start=start), encoding="utf-8")
    return _mdwatch(tmp_path, "sweep", str(profile), "--base-url", sites.base, "--db", db,
                    "--no-browser", "--ocr-engine", "none", "--workers", "0")


def _sweep_stats(db: str) -> dict[str, object]:
    from mdwatch.storage.store import Store
    from mdwatch.storage.sweeps import get_sweep

    with Store.open(db) as store:
        run = get_sweep(store, 1)
        assert run is not None and run.status == "done"
        return dict(run.stats)


def test_sweep_one_page_redirect_to_a_local_file(tmp_path: Path, sites: Sites, db: str) -> None:
    proc = _sweep(tmp_path, sites, "home-one", db)
    _check_clean(proc, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = _refusals(proc.stdout + proc.stderr)
    assert len(lines) == 1 and sites.secret_file.as_uri() in lines[0] and "file: 协议" in lines[0]
    assert _sweep_stats(db)["errors_this_run"] == 1
    assert count(db, "sweep_pages") == 1  # the home page only
    _assert_nothing_of_targets(tmp_path, db, sites)


def test_sweep_page_and_qualification_redirects_refused(tmp_path: Path, sites: Sites, db: str) -> None:
    proc = _sweep(tmp_path, sites, "home", db)
    _check_clean(proc, tmp_path)
    assert proc.returncode == 0, proc.stderr
    n = len(sites.targets)
    stats = _sweep_stats(db)
    # each redirected page (/r/), and each qualification page (/q/) twice: fetched for its shop and,
    # as a same-site link of a follow_all profile, as a page of its own; one refusal per fetch
    assert stats["errors_this_run"] == 3 * n
    shown = [line for line in proc.stdout.splitlines() if "已拒绝：" in line or "错误" in line]
    assert len(_refusals(proc.stdout)) == 10 and f"另有 {3 * n - 10} 个错误" in proc.stdout, shown
    assert count(db, "sweep_pages") == 1 + n  # the home page and the shops
    _assert_nothing_of_targets(tmp_path, db, sites)
