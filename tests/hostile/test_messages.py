"""Messages that mislead (issue 10, item 7): each failure said as what it is, in one Chinese line.

- a gzip bomb is "解压后超过大小上限", not "可能被 robots.txt 禁止";
- a URL longer than 2,083 characters, with an invalid port, with credentials (never echoed) or a
  space in the host is a usage error (exit 2) before anything is fetched — as a redirect target
  it is a clear fetch failure, not "抓取进程意外退出";
- ``--timeout -5`` (0, nan, inf, huge, not a number) is a usage error, on every timeout-like option;
- a timeout after retries says it retried and how long it took.

Every ``mdwatch`` runs as the real CLI under ``guarded_mdwatch.py`` (no packet leaves loopback:
the guard's log must stay empty) against a local server on 127.0.0.1.

The cases that store run once on SQLite and once on PostgreSQL (a throw-away schema; skipped
without the server unless ``MDWATCH_REQUIRE_SERVICES=1``): the gzip bomb as a qualification page
(the shop kept, one page stored) and the URL with credentials (nothing stored, the password in no
table). The others use ``--no-store`` or stop before any database is opened.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbstate import (
    all_text,
    count,
    db_fixture,  # noqa: F401 - registers the shared `db` fixture
    table_names,
)
from localsite import LocalSite, Reply, html, redirect

from mdwatch.crawler.urlcheck import MAX_URL_LENGTH, shown_url, url_problem

pytestmark = pytest.mark.network

HERE = Path(__file__).resolve().parent
GUARDED = HERE / "guarded_mdwatch.py"
RUN_TIMEOUT = 120
PASSWORD = "hunter2-s3cr3t-9d41"

PAGE = ("<html><head><title>医用外科口罩</title></head><body><h1>医用外科口罩</h1>"
        "<p>二类医疗器械，注册证编号：苏械注准20202140001。</p></body></html>")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "MDWATCH_ALLOW_HOSTS"}
    env["MDWATCH_TEST_GUARD_LOG"] = str(tmp_path / "guard.log")
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    env["MDWATCH_OCR_ENGINE"] = "none"
    env.pop("MDWATCH_DB_URL", None)
    return env


def mdwatch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(GUARDED), *args], env=_env(tmp_path), capture_output=True,
                          text=True, timeout=RUN_TIMEOUT, cwd=tmp_path)


def scan(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return mdwatch(tmp_path, "scan", url, "--no-store", "--ocr-engine", "none", "--no-browser", *extra)


def one_line(proc: subprocess.CompletedProcess[str], tmp_path: Path, status: int) -> str:
    """The single stderr line of a failed run; no traceback, no packet off loopback, nothing on stdout."""
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    log = tmp_path / "guard.log"
    assert not log.exists() or log.read_text(encoding="utf-8") == ""
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert proc.stdout == ""
    line = lines[0]
    assert line.startswith("mdwatch: ") and re.search(r"[\u4e00-\u9fff]", line), line
    for word in ("Error", "Exception", "Invalid value", "抓取进程"):
        assert word not in line, line
    return line


BOMB = gzip.compress(b"\0" * (64 * 1024 * 1024), 9)  # ~64 KB on the wire, 64 MB unpacked


@pytest.fixture(scope="module")
def site() -> Iterator[LocalSite]:
    routes = {
        "/page": html(PAGE),
        "/bomb": Reply(body=BOMB, headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}),
        "/bomb-shop": html(PAGE.replace("</body>", '<a href="/bomb">营业执照</a></body>')),
        "/slow": Reply(body=PAGE, delay=3.5),
        "/r/long": redirect("/p/" + "a" * 2100),
        "/r/port": redirect("http://127.0.0.1:99999/x"),
        "/r/creds": redirect(f"http://bob:{PASSWORD}@127.0.0.1:1/x"),
    }
    with LocalSite(routes) as s:
        yield s


# ----------------------------------------------------------------------------- gzip bomb


def test_gzip_bomb_is_said_as_too_large_after_decompression(tmp_path: Path, site: LocalSite) -> None:
    started = time.monotonic()
    proc = scan(tmp_path, site.url("/bomb"))
    line = one_line(proc, tmp_path, 3)
    assert "robots" not in line
    assert line == (f"mdwatch: 无法获取 {site.url('/bomb')}：页面解压后超过大小上限 10 MB"
                    "（压缩数据异常膨胀），已停止读取。")
    assert time.monotonic() - started < 60


def test_gzip_bomb_qualification_page_keeps_the_shop(tmp_path: Path, site: LocalSite, db: str) -> None:
    proc = mdwatch(tmp_path, "scan", site.url("/bomb-shop"), "--db", db, "--ocr-engine", "none",
                   "--no-browser", "--json")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert count(db, "pages") == 1
    assert count(db, "captures") == 1  # the shop's; nothing of the bomb


# ----------------------------------------------------------------------------- URLs, up front

BAD_URLS = [
    ("too-long", "http://127.0.0.1:{port}/" + "a" * 2100, f"网址过长（2123 个字符，上限 {MAX_URL_LENGTH}）"),
    ("too-long-encoded", "http://127.0.0.1:{port}/" + "口罩" * 150, "网址过长"),  # 322 characters, 2,722 encoded
    ("port-out-of-range", "http://127.0.0.1:99999/x", "端口无效（须为 1 到 65535 之间的整数）"),
    ("port-not-a-number", "http://127.0.0.1:8o8o/x", "端口无效"),
    ("port-zero", "http://127.0.0.1:0/x", "端口无效"),
    ("space-in-host", "http://exa mple.com/x", "主机名中含有空格"),
    ("bad-host-character", "http://shop<x>.example/", "主机名中含有不允许的字符"),
    ("bad-ipv6", "http://[fe80::zz]/", "网址格式无效"),
    ("not-http", "ftp://127.0.0.1/x", "不是有效的 http(s) 网址"),
]


@pytest.mark.parametrize(("url", "said"), [(u, s) for _, u, s in BAD_URLS], ids=[i for i, _, _ in BAD_URLS])
def test_bad_url_is_a_usage_error_before_any_fetch(tmp_path: Path, site: LocalSite, url: str, said: str) -> None:
    url = url.format(port=site.port)
    hits = len(site.hits)
    proc = scan(tmp_path, url)
    line = one_line(proc, tmp_path, 2)
    assert line.startswith("mdwatch: 网址无效：") and said in line, line
    assert len(line) < 300
    assert len(site.hits) == hits  # nothing was requested


def test_url_with_credentials_refused_and_password_never_shown(tmp_path: Path, site: LocalSite, db: str) -> None:
    url = f"http://bob:{PASSWORD}@127.0.0.1:{site.port}/page"
    hits = len(site.hits)
    proc = mdwatch(tmp_path, "scan", url, "--db", db, "--ocr-engine", "none")
    line = one_line(proc, tmp_path, 2)
    assert line == (f"mdwatch: 网址无效：http://***@127.0.0.1:{site.port}/page：网址中含有用户名或密码"
                    "（“用户名:密码@”），mdwatch 不发送登录凭据，请去掉这一部分。")
    assert PASSWORD not in proc.stderr + proc.stdout
    assert len(site.hits) == hits
    # the --db check may create the schema; nothing is written to it
    assert {"pages", "runs"} & table_names(db) == set() or (count(db, "pages"), count(db, "runs")) == (0, 0)
    assert PASSWORD not in all_text(db)
    for path in tmp_path.rglob("*"):  # no log, cache or database holds it
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_sweep_base_url_and_profile_check_use_the_same_check(tmp_path: Path) -> None:
    proc = mdwatch(tmp_path, "sweep", "demo", "--base-url", f"http://u:{PASSWORD}@127.0.0.1:8000")
    assert PASSWORD not in one_line(proc, tmp_path, 2)
    proc = mdwatch(tmp_path, "profile", "check", "demo", "http://127.0.0.1:70000/")
    assert "端口无效" in one_line(proc, tmp_path, 2)


# ----------------------------------------------------------------------------- URLs, as redirect targets


@pytest.mark.parametrize(("path", "said"), [
    ("/r/long", "：重定向目标网址过长（"),
    ("/r/port", "：端口无效（须为 1 到 65535 之间的整数）。"),
], ids=["long", "port"])
def test_redirect_to_an_unfetchable_url_is_said_as_such(tmp_path: Path, site: LocalSite, path: str, said: str) -> None:
    line = one_line(scan(tmp_path, site.url(path)), tmp_path, 3)
    assert said in line and site.url(path) in line, line


def test_redirect_to_credentials_never_echoes_the_password(tmp_path: Path, site: LocalSite) -> None:
    proc = scan(tmp_path, site.url("/r/creds"))
    line = one_line(proc, tmp_path, 3)
    assert PASSWORD not in proc.stderr + proc.stdout and "***@127.0.0.1:1" in line


# ----------------------------------------------------------------------------- timeouts

BAD_SECONDS = ["-5", "0", "nan", "inf", "-inf", "1e308", "abc"]


@pytest.mark.parametrize("value", BAD_SECONDS)
def test_scan_timeout_out_of_range_is_a_usage_error(tmp_path: Path, value: str) -> None:
    proc = mdwatch(tmp_path, "scan", "http://127.0.0.1:1/", "--no-store", "--timeout", value)
    line = one_line(proc, tmp_path, 2)
    assert line.startswith(f"mdwatch: --timeout 的值无效：{value}") and "不超过 3600 的秒数" in line, line
    assert "AssertionError" not in line


@pytest.mark.parametrize("args", [
    ("profile", "check", "demo", "http://127.0.0.1:1/", "--timeout", "-1"),
    ("campaign", "run", "none", "--timeout", "nan"),
    ("scheduler", "run", "--poll", "nan"),
    ("scheduler", "run", "--stop-timeout", "-1"),
], ids=["profile-check", "campaign-run", "scheduler-poll", "scheduler-stop-timeout"])
def test_every_timeout_like_option_is_checked(tmp_path: Path, args: tuple[str, ...]) -> None:
    line = one_line(mdwatch(tmp_path, *args), tmp_path, 2)
    assert "的值无效" in line and "秒数" in line, line


def test_timeout_after_retries_says_it_retried(tmp_path: Path, site: LocalSite) -> None:
    started = time.monotonic()
    proc = scan(tmp_path, site.url("/slow"), "--timeout", "1")
    took = time.monotonic() - started
    line = one_line(proc, tmp_path, 3)
    m = re.fullmatch(rf"mdwatch: 无法获取 {re.escape(site.url('/slow'))}：服务器在 1 秒内无响应"
                     r"（已重试 1 次，共约 (\d+) 秒）。", line)
    assert m is not None, line
    assert 2 <= int(m.group(1)) <= took + 1
    assert site.hits.count("/slow") >= 2


# ----------------------------------------------------------------------------- the check itself


def test_url_problem_and_shown_url() -> None:
    assert url_problem("http://127.0.0.1:8000/shop?id=1") is None
    assert url_problem("https://例子.中国/商品") is None
    assert url_problem("http://[::1]:8080/") is None
    assert url_problem("http://h.example/" + "a" * (MAX_URL_LENGTH - 17)) is None
    assert url_problem("http://h.example/" + "a" * (MAX_URL_LENGTH - 16)) is not None
    assert url_problem("http://@h.example/") is not None
    assert shown_url(f"https://bob:{PASSWORD}@h.example:81/a?b#c") == "https://***@h.example:81/a?b#c"
    assert shown_url("http://h.example/@x") == "http://h.example/@x"
    assert len(shown_url("http://h.example/" + "x" * 500)) == 120
