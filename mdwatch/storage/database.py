"""Opening the database: the URL checked, the server or file probed, the schema brought to head.

Every way into mdwatch's database goes through :func:`open_engine` (``Store.open``,
``create_store_engine`` and the registry's and scheduler's engines use it). A location that
cannot be used raises a :class:`DatabaseError` whose message is one Chinese sentence and whose
``exit_code`` is the CLI's: 2 for a URL that is wrong as written (empty, unknown scheme, a
driver that is not installed), 3 for a database that cannot be reached or used (missing or
read-only directory, a directory, a file that is not SQLite, PostgreSQL refusing the
connection, an unknown database or role, a wrong password).

The checks come before anything is created: a failed open leaves no empty database file behind.

The schema is versioned with Alembic (``storage/migrations``). :func:`ensure_schema` upgrades a
database to head once per process and URL: a quick look at ``alembic_version`` first; only when
it is behind, the upgrade runs under a lock that serialises processes (PostgreSQL: a
transaction-level advisory lock; SQLite: ``BEGIN IMMEDIATE``), re-reads the version under the
lock and, should a process running an older mdwatch create the same tables at the same moment,
tolerates "already exists" by trying again. The initial revision creates only the tables that
are absent, so a database made by the former ``create_all`` is adopted in place, rows kept.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool, StaticPool

from .config import default_db_url, normalize_db_url

__all__ = [
    "DatabaseError",
    "DatabaseUnavailable",
    "DatabaseUrlError",
    "ensure_schema",
    "open_engine",
    "resolve_db_url",
    "schema_head",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
SQLITE_HEADER = b"SQLite format 3\x00"
PG_CONNECT_TIMEOUT_S = 10
SQLITE_LOCK_TIMEOUT_S = 120.0
# pg_advisory_xact_lock(int, int): a constant for mdwatch's schema, and the schema's name hashed
PG_LOCK_CLASS = 0x6D647702


class DatabaseError(Exception):
    """The database given cannot be used; ``str(exc)`` is one Chinese sentence for the user."""

    exit_code = 3

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DatabaseUrlError(DatabaseError):
    """The URL is wrong as written (empty, unknown scheme, driver not installed): a usage error."""

    exit_code = 2


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached or used (file system, file type, server, credentials)."""

    exit_code = 3


# ------------------------------------------------------------------------------------- the URL


def resolve_db_url(url: str | None) -> str:
    """The normalised SQLAlchemy URL for a user's ``--db`` (None: ``$MDWATCH_DB_URL`` or the default).

    An empty string is an error, never the default database. Raises :class:`DatabaseUrlError`.
    """
    if url is None:
        resolved = default_db_url()
    else:
        if not url.strip():
            raise DatabaseUrlError("数据库地址为空：请给出 SQLite 文件路径或 postgresql:// 地址（不给出 --db 则使用默认数据库）。")
        resolved = normalize_db_url(url)
    _parse(resolved)
    return resolved


def _parse(url: str) -> URL:
    try:
        sa_url = make_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseUrlError(f"无法解析数据库地址“{_mask(url)}”：请给出 SQLite 文件路径或 postgresql:// 地址。") from None
    backend = sa_url.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise DatabaseUrlError(
            f"不支持的数据库类型“{sa_url.drivername}”：mdwatch 只支持 SQLite（文件路径或 sqlite:///）和 PostgreSQL（postgresql://）。"
        )
    try:
        dialect = sa_url.get_dialect()
    except NoSuchModuleError:
        raise DatabaseUrlError(f"未知的数据库驱动“{sa_url.drivername}”：PostgreSQL 请用 postgresql:// 或 postgresql+psycopg://。") from None
    try:
        dialect.import_dbapi()
    except ImportError:
        raise DatabaseUrlError(
            f"未安装数据库驱动“{sa_url.drivername}”：PostgreSQL 请用 postgresql://（psycopg 3），或先安装该驱动。"
        ) from None
    return sa_url


def _mask(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


def _where(sa_url: URL) -> str:
    """``host:port/database`` of a server URL (no user, no password)."""
    host = sa_url.host or sa_url.query.get("host") or "localhost"
    return f"{host}:{sa_url.port or 5432}/{sa_url.database or ''}"


def _is_memory(sa_url: URL) -> bool:
    return sa_url.get_backend_name() == "sqlite" and (not sa_url.database or sa_url.database == ":memory:")


# ------------------------------------------------------------------------------------- SQLite


def _check_sqlite_path(database: str) -> Path:
    """Refuse, before SQLite creates anything, a file location that cannot hold the database."""
    path = Path(database).expanduser()
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise DatabaseUnavailable(f"数据库路径是一个目录，不是 SQLite 文件：{path}。")
    if not parent.exists():
        raise DatabaseUnavailable(f"数据库所在目录不存在：{parent}（请先创建该目录）。")
    if not parent.is_dir():
        raise DatabaseUnavailable(f"数据库路径的上级不是目录：{parent}。")
    if path.exists():
        if not path.is_file():
            raise DatabaseUnavailable(f"数据库路径不是普通文件：{path}。")
        try:
            with path.open("rb") as fh:
                header = fh.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise DatabaseUnavailable(f"无法读取数据库文件 {path}：{exc.strerror or exc}。") from None
        if header and header != SQLITE_HEADER:
            raise DatabaseUnavailable(f"不是 SQLite 数据库文件：{path}。")
        if not os.access(path, os.W_OK):
            raise DatabaseUnavailable(f"数据库文件只读，无法写入：{path}。")
    # SQLite writes its journal next to the database: the directory must be writable too
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DatabaseUnavailable(f"数据库所在目录不可写：{parent}。")
    return path


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _json_dumps(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def build_engine(url: str) -> Engine:
    """An engine for a normalised, checked URL (no connection made): SQLite with foreign keys on
    and a busy timeout; PostgreSQL with pre-ping and a connect timeout."""
    sa_url = make_url(url)
    kwargs: dict[str, Any] = {"json_serializer": _json_dumps}
    if sa_url.get_backend_name() == "sqlite":
        if _is_memory(sa_url):
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        engine = create_engine(sa_url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs["pool_pre_ping"] = True
    if "connect_timeout" not in sa_url.query:
        kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    return create_engine(sa_url, **kwargs)


# ------------------------------------------------------------------------------------- errors


_PG_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r'database "([^"]*)" does not exist'), "PostgreSQL 数据库“{0}”不存在（服务器 {where}）。"),
    (re.compile(r'role "([^"]*)" does not exist'), "PostgreSQL 用户“{0}”不存在（服务器 {where}）。"),
    (re.compile(r'password authentication failed for user "([^"]*)"'), "PostgreSQL 用户“{0}”的密码错误（服务器 {where}）。"),
    (re.compile(r"no password supplied|fe_sendauth"), "PostgreSQL 服务器要求密码，但数据库地址中没有给出（服务器 {where}）。"),
    (re.compile(r"Connection refused"), "无法连接 PostgreSQL 服务器 {where}：连接被拒绝（服务器未运行或端口不对）。"),
    (re.compile(r"timeout expired|timed out", re.I), "连接 PostgreSQL 服务器 {where} 超时。"),
    (re.compile(r"could not translate host name|Name or service not known|nodename nor servname", re.I),
     "无法解析 PostgreSQL 服务器的主机名（{where}）。"),
    (re.compile(r"permission denied", re.I), "PostgreSQL 拒绝访问（权限不足，服务器 {where}）。"),
    (re.compile(r"no pg_hba\.conf entry"), "PostgreSQL 服务器不允许此用户从本机连接（pg_hba.conf，服务器 {where}）。"),
)

_SQLITE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"file is not a database|file is encrypted", re.I), "不是 SQLite 数据库文件：{where}。"),
    (re.compile(r"database disk image is malformed", re.I), "SQLite 数据库文件已损坏：{where}。"),
    (re.compile(r"readonly database|read-only", re.I), "数据库只读，无法写入：{where}。"),
    (re.compile(r"unable to open database file", re.I), "无法打开数据库文件：{where}（目录不存在或不可写）。"),
    (re.compile(r"database is locked", re.I), "数据库被其他进程长时间锁定：{where}。"),
    (re.compile(r"disk I/O error|database or disk is full", re.I), "数据库文件读写失败（磁盘错误或已满）：{where}。"),
)


def explain(exc: BaseException, url: str) -> DatabaseUnavailable:
    """A DBAPI/SQLAlchemy error on ``url`` as one Chinese sentence (never with the password)."""
    sa_url = make_url(url)
    raw = str(getattr(exc, "orig", None) or exc)
    first = " ".join(line.strip() for line in raw.splitlines() if line.strip())
    if sa_url.get_backend_name() == "sqlite":
        where = sa_url.database or ":memory:"
        patterns = _SQLITE_PATTERNS
        fallback = f"无法使用 SQLite 数据库 {where}：{first[:200]}。"
    else:
        where = _where(sa_url)
        patterns = _PG_PATTERNS
        fallback = f"无法使用 PostgreSQL 数据库（服务器 {where}）：{first[:200]}。"
    for pattern, template in patterns:
        if m := pattern.search(raw):
            return DatabaseUnavailable(template.format(*m.groups(), where=where))
    return DatabaseUnavailable(fallback.replace("。。", "。"))


# ------------------------------------------------------------------------------------- opening

_probed: set[str] = set()
_ready: set[str] = set()
_lock = threading.Lock()


def _cache_key(url: str) -> str | None:
    """The key under which a URL's probe and upgrade are remembered; None: never remember
    (in-memory SQLite: every engine is a new database)."""
    sa_url = make_url(url)
    if _is_memory(sa_url):
        return None
    return sa_url.render_as_string(hide_password=False)


def _still_there(url: str) -> bool:
    sa_url = make_url(url)
    return sa_url.get_backend_name() != "sqlite" or Path(sa_url.database or "").expanduser().exists()


def _probe(engine: Engine, url: str) -> None:
    """Connect once and read the catalogue: refuses a server, a role or a file SQLite cannot use."""
    query = "SELECT count(*) FROM sqlite_master" if engine.dialect.name == "sqlite" else "SELECT 1"
    try:
        with engine.connect() as conn:
            conn.execute(text(query)).scalar()
    except (DBAPIError, SQLAlchemyError, OSError) as exc:
        raise explain(exc, url) from None


def open_engine(url: str | None = None, *, schema: bool = True) -> Engine:
    """An engine on the database at ``url`` (None: the default), checked and probed, and (with
    ``schema``) its schema at head. Raises :class:`DatabaseError` (one Chinese sentence)."""
    resolved = resolve_db_url(url)
    sa_url = make_url(resolved)
    key = _cache_key(resolved)
    known = key is not None and key in _probed and _still_there(resolved)
    if sa_url.get_backend_name() == "sqlite" and not _is_memory(sa_url) and not known:
        assert sa_url.database is not None
        _check_sqlite_path(sa_url.database)
    engine = build_engine(resolved)
    try:
        if not known:
            _probe(engine, resolved)
            if key is not None:
                _probed.add(key)
        if schema:
            ensure_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


# ------------------------------------------------------------------------------------- schema


def _script() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR))


_head: list[str] = []


_REVISION_LINE = re.compile(r"""^(revision|down_revision)\s*(?::[^=]*)?=\s*(?:"([^"]+)"|'([^']+)'|None)\s*$""", re.M)


def _head_from_files() -> str | None:
    """The head revision read from the migration scripts' ``revision`` / ``down_revision`` lines,
    None unless that gives exactly one head. Opening a database that is already up to date then
    imports no Alembic (with Mako and Pygments ≈ 11 MB in every process of a sweep)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        found = {m.group(1): m.group(2) or m.group(3) for m in _REVISION_LINE.finditer(path.read_text(encoding="utf-8"))}
        if "revision" not in found:
            continue
        revisions.add(str(found["revision"]))
        if found.get("down_revision"):
            parents.add(str(found["down_revision"]))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def schema_head() -> str:
    """The newest revision of mdwatch's schema."""
    if not _head:
        head = _head_from_files() or _script().get_current_head()
        assert head is not None
        _head.append(head)
    return _head[0]


def current_revision(conn: Connection) -> str | None:
    """The database's schema revision (None: not under Alembic yet, or empty), read as Alembic
    stores it: the one row of ``alembic_version``."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return str(rows[0]) if len(rows) == 1 else None


def _upgrade(conn: Connection) -> None:
    """Upgrade to head on ``conn`` (inside the caller's transaction and lock)."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    script = _script()

    def upgrade(rev: Any, context: Any) -> Any:
        return script._upgrade_revs("head", rev)

    ctx = MigrationContext.configure(conn, opts={"fn": upgrade, "script": script})
    if ctx.get_current_revision() == schema_head():
        return
    with Operations.context(ctx):
        ctx.run_migrations()


def _already_exists(exc: BaseException) -> bool:
    return "already exists" in str(exc) or "duplicate key value" in str(exc)


def ensure_schema(engine: Engine) -> None:
    """Bring the database of ``engine`` to the head revision, once per process and URL, safely
    when many processes open a new database at the same moment."""
    url = engine.url.render_as_string(hide_password=False)
    key = _cache_key(url)
    with _lock:
        if key is not None and key in _ready and _still_there(url):
            return
        try:
            with engine.connect() as conn:
                current = current_revision(conn)
            if current != schema_head():
                for attempt in range(3):
                    try:
                        _locked_upgrade(engine, url)
                        break
                    except (DBAPIError, SQLAlchemyError) as exc:
                        if attempt == 2 or not _already_exists(exc):
                            raise
        except DatabaseError:
            raise
        except (DBAPIError, SQLAlchemyError, OSError) as exc:
            raise explain(exc, url) from None
        if key is not None:
            _ready.add(key)


def _locked_upgrade(engine: Engine, url: str) -> None:
    sa_url = make_url(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:cls, hashtext(coalesce(current_schema(), '')))"),
                         {"cls": PG_LOCK_CLASS})
            _upgrade(conn)  # the lock is released with the transaction's commit
        return
    if _is_memory(sa_url):
        with engine.begin() as conn:
            _upgrade(conn)
        return
    # SQLite file: one connection of our own, in autocommit mode so that we issue the
    # transaction ourselves; BEGIN IMMEDIATE takes the write lock (waiting for it) up front
    locker = create_engine(sa_url, poolclass=NullPool,
                           connect_args={"isolation_level": None, "timeout": SQLITE_LOCK_TIMEOUT_S})
    try:
        with locker.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                _upgrade(conn)
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
    finally:
        locker.dispose()
