"""Unusable databases (issue 10, item 3): one Chinese line on stderr, the right exit status, nothing written.

Every case runs the real CLI (``python -m mdwatch.scheduler.cli``) for ``scan``, ``sweep``,
``registry import`` and ``evidence export`` with a ``--db`` that cannot be used: empty, a
missing or read-only directory, a directory, a file that is not SQLite, an unknown scheme, a
driver that is not installed, PostgreSQL refusing the connection (127.0.0.1:1), an unknown
database, an unknown role, a wrong password (a loopback stand-in server that asks for a password
and refuses it, as PostgreSQL does: the test server trusts every local connection). Each asserts
the exit status (2 a URL wrong as written, 3 a database that cannot be reached or used), exactly
one line on stderr, no traceback, no password shown, and that nothing was created or changed:
no database file, no directory, no output file, the default database untouched. Nothing leaves
loopback.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from conftest import postgres_base_url, service_unavailable
from sqlalchemy import create_engine, text

from mdwatch.demo.registry import registry_paths
from mdwatch.demo.server import DemoServer, serve

pytestmark = pytest.mark.network

RUN_TIMEOUT = 120
SECRET_PASSWORD = "s3cr3t-pw-0d9f"
NOT_SQLITE = b"<html>not a database</html>\n" * 40


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with serve() as server:
        yield server


@dataclass
class Ctx:
    tmp: Path
    demo: DemoServer
    out: Path  # evidence export target: must never be written


def run_cli(args: list[str], tmp: Path, *, read_only: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in ``tmp``; with ``read_only``, that directory is read-only for it: chmod 0555, or,
    as root (who writes anywhere), a read-only bind mount in a mount namespace of its own."""
    env = dict(os.environ)
    env.pop("MDWATCH_DB_URL", None)
    env["XDG_DATA_HOME"] = str(tmp / "xdg-data")  # the default database would be made here
    env["HOME"] = str(tmp / "home")
    argv = [sys.executable, "-m", "mdwatch.scheduler.cli", *args]
    if read_only is not None:
        read_only.chmod(0o555)
        if os.geteuid() == 0:
            if shutil.which("unshare") is None:
                pytest.skip("running as root without unshare(1) to make a read-only directory")
            argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                    'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"', str(read_only), *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False, cwd=tmp, env=env)


def command_args(command: str, ctx: Ctx, db: str) -> list[str]:
    if command == "scan":
        return ["scan", ctx.demo.base_url + "/index.html", "--db", db, "--no-browser", "--ocr-engine", "none"]
    if command == "sweep":
        return ["sweep", "demo", "--base-url", ctx.demo.base_url, "--db", db, "--no-browser", "--ocr-engine", "none",
                "--budget", "3", "--workers", "0"]
    if command == "registry-import":
        csv = next(p for p in registry_paths() if str(p).endswith(".csv"))
        return ["registry", "import", str(csv), "--db", db]
    if command == "evidence-export":
        return ["evidence", "export", "--finding", "1", str(ctx.out), "--db", db, "--no-screenshot"]
    raise AssertionError(command)


COMMANDS = ["scan", "sweep", "registry-import", "evidence-export"]


def assert_one_clean_line(proc: subprocess.CompletedProcess[str], status: int, *fragments: str) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    assert line.startswith("mdwatch: "), line
    for fragment in fragments:
        assert fragment in line, line
    assert SECRET_PASSWORD not in proc.stderr + proc.stdout
    return line


def assert_nothing_written(ctx: Ctx) -> None:
    assert not ctx.out.exists(), "evidence export wrote a package"
    assert not (ctx.tmp / "xdg-data" / "mdwatch").exists() or not any((ctx.tmp / "xdg-data" / "mdwatch").rglob("*.sqlite3")), \
        "the default database was used"


# --------------------------------------------------------------------------- cases on the file system


@dataclass(frozen=True)
class FileCase:
    name: str
    status: int
    fragment: str
    setup: Callable[[Path], str]  # tmp -> --db value
    check: Callable[[Path], None]  # tmp -> assertions afterwards


def _missing_dir(tmp: Path) -> str:
    return str(tmp / "no-such-dir" / "deeper" / "m.sqlite3")


def _check_missing_dir(tmp: Path) -> None:
    assert not (tmp / "no-such-dir").exists()


def _a_directory(tmp: Path) -> str:
    (tmp / "adir").mkdir()
    return str(tmp / "adir")


def _check_directory(tmp: Path) -> None:
    assert list((tmp / "adir").iterdir()) == []


def _not_sqlite(tmp: Path) -> str:
    (tmp / "page.html").write_bytes(NOT_SQLITE)
    return "sqlite:///" + (tmp / "page.html").as_posix()


def _check_not_sqlite(tmp: Path) -> None:
    assert (tmp / "page.html").read_bytes() == NOT_SQLITE
    assert sorted(p.name for p in tmp.iterdir() if p.name.startswith("page")) == ["page.html"]  # no journal


def _nothing(tmp: Path) -> None:
    pass


FILE_CASES = [
    FileCase("empty", 2, "数据库地址为空", lambda tmp: "", _nothing),
    FileCase("blank", 2, "数据库地址为空", lambda tmp: "   ", _nothing),
    FileCase("missing-directory", 3, "目录不存在", _missing_dir, _check_missing_dir),
    FileCase("a-directory", 3, "是一个目录", _a_directory, _check_directory),
    FileCase("not-sqlite", 3, "不是 SQLite 数据库文件", _not_sqlite, _check_not_sqlite),
    FileCase("unknown-scheme", 2, "不支持的数据库类型“mysql”", lambda tmp: "mysql://u@127.0.0.1/db", _nothing),
    FileCase("http-scheme", 2, "不支持的数据库类型", lambda tmp: "http://127.0.0.1/db", _nothing),
    FileCase("missing-driver", 2, "未安装数据库驱动“postgresql+asyncpg”",
             lambda tmp: "postgresql+asyncpg://u@127.0.0.1/db", _nothing),
    FileCase("unknown-driver", 2, "未知的数据库驱动", lambda tmp: "postgresql+nosuchdriver://u@127.0.0.1/db", _nothing),
    FileCase("pg-refused", 3, "连接被拒绝", lambda tmp: "postgresql://postgres@127.0.0.1:1/test", _nothing),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", FILE_CASES, ids=lambda c: c.name)
def test_unusable_db(case: FileCase, command: str, demo: DemoServer, tmp_path: Path) -> None:
    if case.name == "missing-driver" and importlib.util.find_spec("asyncpg") is not None:
        pytest.skip("asyncpg is installed here")
    ctx = Ctx(tmp_path, demo, tmp_path / "out.zip")
    db = case.setup(tmp_path)
    proc = run_cli(command_args(command, ctx, db), tmp_path)
    assert_one_clean_line(proc, case.status, case.fragment)
    case.check(tmp_path)
    assert_nothing_written(ctx)


def test_db_path_is_never_created_half_way(demo: DemoServer, tmp_path: Path) -> None:
    """A file inside a file (the parent is not a directory) and a read-only database file."""
    ctx = Ctx(tmp_path, demo, tmp_path / "out.zip")
    (tmp_path / "plain").write_text("x")
    proc = run_cli(command_args("scan", ctx, str(tmp_path / "plain" / "m.sqlite3")), tmp_path)
    assert_one_clean_line(proc, 3, "不是目录")
    assert (tmp_path / "plain").read_text() == "x"


# --------------------------------------------------------------------------- read-only directory


@pytest.mark.parametrize("command", COMMANDS)
def test_read_only_directory(command: str, demo: DemoServer, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ctx = Ctx(tmp_path, demo, tmp_path / "out.zip")
    try:
        proc = run_cli(command_args(command, ctx, str(ro / "m.sqlite3")), tmp_path, read_only=ro)
    finally:
        ro.chmod(0o755)
    assert_one_clean_line(proc, 3, "不可写")
    assert list(ro.iterdir()) == []
    assert_nothing_written(ctx)


def test_read_only_database_file(demo: DemoServer, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    db = ro / "m.sqlite3"
    proc = run_cli(["registry", "stats", "--db", str(db)], tmp_path)  # a valid database
    assert proc.returncode == 0, proc.stderr
    before = db.read_bytes()
    db.chmod(0o444)
    ctx = Ctx(tmp_path, demo, tmp_path / "out.zip")
    try:
        proc = run_cli(command_args("scan", ctx, str(db)), tmp_path, read_only=ro)
    finally:
        ro.chmod(0o755)
    assert_one_clean_line(proc, 3, "只读")
    assert db.read_bytes() == before
    assert sorted(p.name for p in ro.iterdir()) == ["m.sqlite3"]


# --------------------------------------------------------------------------- PostgreSQL


def _pg_base() -> str:
    base = postgres_base_url()
    if base is None:
        service_unavailable("PostgreSQL unreachable on 127.0.0.1:5432")
    return base.render_as_string(hide_password=False)


def _databases() -> set[str]:
    engine = create_engine(_pg_base())
    try:
        with engine.connect() as conn:
            return set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("command", COMMANDS)
def test_postgres_unknown_database(command: str, demo: DemoServer, tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    name = "mdw_no_such_db_7c1e"
    url = make_url(_pg_base()).set(database=name).render_as_string(hide_password=False)
    assert name not in _databases()
    ctx = Ctx(tmp_path, demo, tmp_path / "out.zip")
    proc = run_cli(command_args(command, ctx, url), tmp_path)
    assert_one_clean_line(proc, 3, f"PostgreSQL 数据库“{name}”不存在")
    assert name not in _databases()
    assert_nothing_written(ctx)


@pytest.mark.postgres
@pytest.mark.parametrize("command", COMMANDS)
def test_postgres_unknown_role(command: str, demo: DemoServer, tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    role = "mdw_no_such_role_3b2a"
    url = make_url(_pg_base()).set(username=role, password=SECRET_PASSWORD).render_as_string(hide_password=False)
    ctx = Ctx(tmp_path, demo, tmp_path / "out.zip")
    proc = run_cli(command_args(command, ctx, url), tmp_path)
    assert_one_clean_line(proc, 3, f"PostgreSQL 用户“{role}”不存在")
    engine = create_engine(_pg_base())
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar() == 0
    finally:
        engine.dispose()
    assert_nothing_written(ctx)


class PasswordRefusingServer:
    """A loopback stand-in for a PostgreSQL server that asks for a password and refuses it:
    the startup message is answered with AuthenticationCleartextPassword, the password with the
    ErrorResponse PostgreSQL sends (28P01). The real test server trusts local connections."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.passwords: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    @staticmethod
    def _recv(conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def _session(self, conn: socket.socket) -> None:
        try:
            with conn:
                while True:  # SSLRequest / GSSENCRequest are declined, then the startup message
                    (length,) = struct.unpack("!I", self._recv(conn, 4))
                    body = self._recv(conn, length - 4)
                    code = struct.unpack("!I", body[:4])[0]
                    if code in (80877103, 80877104):
                        conn.sendall(b"N")
                        continue
                    user = dict(zip(*[iter(body[4:].split(b"\0"))] * 2, strict=False)).get(b"user", b"?")
                    break
                conn.sendall(b"R" + struct.pack("!II", 8, 3))  # cleartext password, please
                kind = self._recv(conn, 1)
                (length,) = struct.unpack("!I", self._recv(conn, 4))
                payload = self._recv(conn, length - 4)
                if kind == b"p":
                    self.passwords.append(payload.rstrip(b"\0"))
                msg = f'password authentication failed for user "{user.decode()}"'.encode()
                fields = b"SFATAL\0VFATAL\0C28P01\0M" + msg + b"\0\0"
                conn.sendall(b"E" + struct.pack("!I", len(fields) + 4) + fields)
        except (OSError, ConnectionError, struct.error):
            pass

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("command", COMMANDS)
def test_postgres_wrong_password(command: str, demo: DemoServer, tmp_path: Path) -> None:
    server = PasswordRefusingServer()
    try:
        url = f"postgresql://mdw_user:{SECRET_PASSWORD}@127.0.0.1:{server.port}/test?sslmode=disable"
        ctx = Ctx(tmp_path, demo, tmp_path / "out.zip")
        proc = run_cli(command_args(command, ctx, url), tmp_path)
        assert_one_clean_line(proc, 3, "PostgreSQL 用户“mdw_user”的密码错误")
        assert server.passwords, "the stand-in server was never asked"
        assert_nothing_written(ctx)
    finally:
        server.close()


# --------------------------------------------------------------------------- every --db is checked


def _commands(command: click.Command, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    yield prefix or command.name or "", command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, f"{prefix} {name}".strip())


def test_every_db_option_is_checked() -> None:
    from mdwatch.scheduler.cli import cli
    from mdwatch.scheduler.settings import SETTINGS

    check_db = SETTINGS["db"].callback

    with_db = [(name, cmd) for name, cmd in _commands(cli) if any(p.name == "db_url" for p in cmd.params)]
    assert {"scan", "sweep", "registry import", "evidence export"} <= {name for name, _ in with_db}
    for name, cmd in with_db:
        param = next(p for p in cmd.params if p.name == "db_url")
        assert check_db is not None and param.callback is check_db, name


def test_empty_db_on_other_commands_is_a_usage_error(tmp_path: Path) -> None:
    for args in (["registry", "stats"], ["registry", "lookup", "国械注准20193010001"], ["campaign", "list"],
                 ["lead", "list"], ["schedule", "list"]):
        proc = run_cli([*args, "--db", ""], tmp_path)
        assert_one_clean_line(proc, 2, "数据库地址为空")
    assert not (tmp_path / "xdg-data" / "mdwatch").exists() or not any((tmp_path / "xdg-data").rglob("*.sqlite3"))
