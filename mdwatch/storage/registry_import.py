"""Import the registration database: NMPA UDID XML releases and registration CSV files.

``import_path`` accepts a ZIP of XML shards (nested ZIPs of monthly packages too), a single XML
file, a directory of XML (or CSV, or ZIP) files, or a CSV file with the columns of DESIGN.md.

UDID XML is streamed with ``lxml.etree.iterparse`` and elements are cleared as they are read, so
memory stays flat whatever the release size. Before lxml sees the bytes they pass through
``_CleanStream``: the real encoding is detected (a wrong declaration is common), the text is
transcoded to UTF-8 with the declaration rewritten, illegal control characters are dropped and
stray ``&`` are escaped. A truncated file keeps the records before the break and counts the break
as one skipped record. Bad records are counted with a Chinese reason and skipped, never aborting.

Hostile inputs (issue 10, item 5). A path that is not a regular file or a directory (a FIFO, a
device such as ``/dev/zero``, a socket) is refused before anything is read or written
(``ImportRefused``). Every ZIP, nested ones included, is then planned before the first record is
written: nesting deeper than ``ImportLimits.zip_depth`` levels, more members than
``ImportLimits.members``, more decompressed bytes than ``ImportLimits.total_bytes`` or a member
whose declared size exceeds ``ImportLimits.ratio`` times its compressed size (a zip bomb) fails
the import (``ImportFailed``) with nothing imported. The input's SHA-256 is computed as it is read
(plain files) or after the import (ZIP files, whose size is known), never before parsing. Whatever
ends an import early, its ``registry_imports`` row is closed: ``status`` failed, ``error`` the
Chinese reason, ``finished_at`` set.

Writes go in batches through SQLAlchemy Core with the dialect's upsert (SQLite / PostgreSQL
``INSERT … ON CONFLICT DO UPDATE``). UDID records are de-duplicated on ``deviceRecordKey``: the
later version wins (ties: the later occurrence), so daily/weekly update files simply upsert.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import errno
import functools
import hashlib
import io
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, cast

from lxml import etree
from sqlalchemy import Engine, create_engine, delete, select, update

from .config import normalize_db_url
from .registry_schema import (
    class_from_number,
    create_registry_schema,
    normalize_registration_no,
    registrations,
    registry_imports,
    split_registration_nos,
    udi_devices,
    upsert,
)
from .registry_store import refresh_summaries

Progress = Callable[[int, int], None]

BATCH = 2000

# Chinese skip reasons (user-facing).
R_NO_NUMBER = "缺少注册证编号"
R_NO_KEY = "缺少记录标识（deviceRecordKey）"
R_BAD_DATE = "日期格式错误"
R_BAD_CLASS = "管理类别无法识别"
R_BAD_STATUS = "状态无法识别"
R_DUP_KEY = "重复的 deviceRecordKey（已保留较新版本）"
R_OLDER = "数据库中已有更新版本，旧版本记录已忽略"
R_DUP_NO = "文件内重复的注册证编号（以后出现者为准）"
R_TRUNCATED = "XML 文件截断或格式错误（已保留此前的记录）"
R_BAD_MEMBER = "压缩包成员损坏或无法读取"
R_BAD_ROW = "CSV 行格式错误"

# --- limits and refusals (issue 10, item 5) ------------------------------------------------------

MAX_ZIP_DEPTH = 3  # a ZIP in a ZIP in a ZIP; a fourth level fails the import
MAX_MEMBERS = 100_000  # entries across all archives of one import
MAX_TOTAL_BYTES = 256 << 30  # declared decompressed bytes of the XML/CSV/ZIP members (and plain files)
MAX_RATIO = 200.0  # declared size / compressed size of one member; XML compresses 10-30:1, zeros 1000:1
RATIO_FLOOR = 1 << 20  # members smaller than this are never called bombs
ENV_MAX_BYTES = "MDWATCH_REGISTRY_MAX_BYTES"
ENV_MAX_MEMBERS = "MDWATCH_REGISTRY_MAX_MEMBERS"
_SUPPORTED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
# what reading a broken, truncated or odd archive member can raise
_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, NotImplementedError, ValueError,
)


class RegistryImportError(Exception):
    """An import refused or failed; ``str(exc)`` is one Chinese sentence for the user."""


class ImportRefused(RegistryImportError):
    """Refused before anything was read or written (no ``registry_imports`` row)."""


class ImportFailed(RegistryImportError):
    """Stopped after its ``registry_imports`` row was written; the row is closed as failed."""

    def __init__(self, message: str, import_id: int | None = None) -> None:
        super().__init__(message)
        self.import_id = import_id


@dataclass(frozen=True)
class ImportLimits:
    zip_depth: int = MAX_ZIP_DEPTH
    members: int = MAX_MEMBERS
    total_bytes: int = MAX_TOTAL_BYTES
    ratio: float = MAX_RATIO

    @classmethod
    def from_env(cls) -> ImportLimits:
        """Defaults, with ``MDWATCH_REGISTRY_MAX_BYTES`` / ``_MAX_MEMBERS`` when set to a positive integer."""

        def positive(name: str, default: int) -> int:
            raw = os.environ.get(name, "").strip()
            return int(raw) if raw.isdigit() and int(raw) > 0 else default

        return cls(members=positive(ENV_MAX_MEMBERS, MAX_MEMBERS), total_bytes=positive(ENV_MAX_BYTES, MAX_TOTAL_BYTES))


def _size_zh(n: float) -> str:
    for unit in ("字节", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "字节" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(name: str, limit: int = 200) -> str:
    """A file or member name safe for one line of output: control characters escaped, length capped."""
    text = _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", name)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_NON_REGULAR = (
    (stat.S_ISFIFO, "命名管道（FIFO）"), (stat.S_ISCHR, "字符设备"), (stat.S_ISBLK, "块设备"),
    (stat.S_ISSOCK, "套接字"),
)  # fmt: skip


def _os_reason(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "没有读取权限"
    return f"系统错误 {errno.errorcode.get(exc.errno or 0, type(exc).__name__)}"


def _preflight(path: Path, limits: ImportLimits) -> None:
    """Refuse, before opening anything that could block, what is not a regular file or a directory."""
    shown = printable(str(path))
    try:
        st = path.stat()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ImportRefused(f"无法导入 {shown}：{_os_reason(exc)}。") from None
    if stat.S_ISDIR(st.st_mode):
        return
    if not stat.S_ISREG(st.st_mode):
        what = next((label for test, label in _NON_REGULAR if test(st.st_mode)), "特殊文件")
        raise ImportRefused(
            f"拒绝导入 {shown}：它是{what}，不是普通文件；请指定 ZIP、XML、CSV 文件或它们所在的目录。"
        )
    if st.st_size > limits.total_bytes:
        raise ImportRefused(
            f"拒绝导入 {shown}：文件大小 {_size_zh(st.st_size)} 超过上限 {_size_zh(limits.total_bytes)}"
            f"（可用环境变量 {ENV_MAX_BYTES} 调整）。"
        )
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ImportRefused(f"无法导入 {shown}：{_os_reason(exc)}。") from None


@dataclass
class ImportReport:
    """What one ``import_path`` call did. Counts are records (UDID devices or CSV rows)."""

    path: str = ""
    kind: str = ""
    records_read: int = 0
    inserted: int = 0
    updated: int = 0
    skipped: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    import_id: int | None = None
    files: int = 0
    notes: list[str] = field(default_factory=list)

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped += n
        self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + n

    def summary_zh(self) -> str:
        kind = {"udid": "UDI 数据库（UDID XML）", "csv": "注册证 CSV"}.get(self.kind, self.kind)
        text = (
            f"已从 {self.path} 导入{kind}，共 {self.files} 个文件：读取 {self.records_read} 条记录，"
            f"新增 {self.inserted} 条，更新 {self.updated} 条，跳过 {self.skipped} 条，用时 {self.seconds:.1f} 秒。"
        )
        if self.skip_reasons:
            reasons = "；".join(
                f"{r} {n} 条" for r, n in sorted(self.skip_reasons.items(), key=lambda kv: (-kv[1], kv[0]))
            )
            text += f"跳过原因：{reasons}。"
        if self.notes:
            text += "说明：" + "；".join(self.notes[:5])
            if len(self.notes) > 5:
                text += f"；另有 {len(self.notes) - 5} 条说明"
            text += "。"
        return text


# --- value parsing -------------------------------------------------------------------------------

_DATE_RE = re.compile(r"^\s*(\d{4})\s*(?:[-/.年])\s*(\d{1,2})\s*(?:[-/.月])\s*(\d{1,2})\s*日?")
_DATE_COMPACT = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})\s*$")


class _BadValue(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_date(value: str | None) -> date | None:
    """ISO (optionally with a time), 2027/05/09, 2027.05.09, 20270509 or 2027年05月09日; empty → None."""
    if value is None:
        return None
    text = value.strip().translate(_FULLWIDTH_DIGITS)
    if not text:
        return None
    m = _DATE_RE.match(text) or _DATE_COMPACT.match(text)
    if m is None:
        raise _BadValue(R_BAD_DATE)
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise _BadValue(R_BAD_DATE) from None


_FULLWIDTH_DIGITS = {cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)}
_CLASSES = {
    "1": 1, "2": 2, "3": 3, "I": 1, "II": 2, "III": 3, "Ⅰ": 1, "Ⅱ": 2, "Ⅲ": 3,
    "一": 1, "二": 2, "三": 3, "一类": 1, "二类": 2, "三类": 3, "第一类": 1, "第二类": 2, "第三类": 3,
    "I类": 1, "II类": 2, "III类": 3, "Ⅰ类": 1, "Ⅱ类": 2, "Ⅲ类": 3,
}  # fmt: skip


def parse_class(value: str | None) -> int | None:
    text = (value or "").strip().translate(_FULLWIDTH_DIGITS).replace(" ", "")
    if not text:
        return None
    upper = text.upper()
    if upper in _CLASSES:
        return _CLASSES[upper]
    raise _BadValue(R_BAD_CLASS)


_STATUSES = {
    "有效": "valid", "valid": "valid", "在有效期内": "valid", "正常": "valid",
    "注销": "cancelled", "已注销": "cancelled", "cancelled": "cancelled", "canceled": "cancelled",
    "撤销": "revoked", "已撤销": "revoked", "revoked": "revoked",
    "失效": "expired", "已失效": "expired", "过期": "expired", "已过期": "expired", "expired": "expired",
}  # fmt: skip


def parse_status(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        return "valid"
    status = _STATUSES.get(text) or _STATUSES.get(text.lower())
    if status is None:
        raise _BadValue(R_BAD_STATUS)
    return status


# --- encoding detection and the cleaning stream ---------------------------------------------------

_DECL_RE = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])([A-Za-z0-9._-]+)\2", re.IGNORECASE)
_CTRL = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20))
_STRAY_AMP = re.compile(rb"&(?!(?:[A-Za-z_][A-Za-z0-9._-]*|#[0-9]+|#x[0-9A-Fa-f]+);)")
_GB_FAMILY = {"gbk", "gb2312", "gb18030", "gb_2312", "gb-2312", "cp936", "euc-cn"}


def _canonical(enc: str) -> str:
    e = enc.strip().lower()
    if e in _GB_FAMILY:
        return "gb18030"
    try:
        return codecs.lookup(e).name
    except LookupError:
        return e


def _decodes(data: bytes, encoding: str) -> bool:
    """True if ``data`` decodes strictly, allowing a multi-byte character cut at the end."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        decoder.decode(data, final=False)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def detect_encoding(head: bytes) -> tuple[str, str | None]:
    """(actual encoding, declared encoding or None) from the first bytes of an XML file."""
    m = _DECL_RE.match(head.lstrip(b"\xef\xbb\xbf"))
    declared = m.group(3).decode("ascii") if m else None
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8", declared
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", declared
    if _decodes(head, "utf-8"):
        return "utf-8", declared
    if declared and _canonical(declared) not in ("utf-8", "utf-16") and _decodes(head, _canonical(declared)):
        return _canonical(declared), declared
    return "gb18030", declared


class _CleanStream(io.RawIOBase):
    """File-like ``read(n)`` over a raw byte stream yielding clean UTF-8 XML for lxml."""

    def __init__(self, raw: IO[bytes], encoding: str, on_bytes: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)("replace")
        self._first = True
        self._carry = b""
        self._buf = b""
        self._eof = False
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def _fill(self, size: int) -> None:
        while len(self._buf) < size and not self._eof:
            chunk = self._raw.read(1 << 18)
            if self._on_bytes is not None and chunk:
                self._on_bytes(len(chunk))
            final = not chunk
            if final:
                self._eof = True
            text = self._decoder.decode(chunk, final=final)
            data = text.encode("utf-8").translate(None, _CTRL)
            if self._first:
                data = data.lstrip(b"\xef\xbb\xbf")
                data = _DECL_RE.sub(rb'\1"UTF-8"', data, count=1)
                self._first = False
            data = self._carry + data
            self._carry = b""
            if not final:
                amp = data.rfind(b"&")
                if amp >= 0 and len(data) - amp < 40 and b";" not in data[amp:]:
                    self._carry = data[amp:]
                    data = data[:amp]
            if b"&" in data:
                data = _STRAY_AMP.sub(b"&amp;", data)
            self._buf += data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            self._fill(1 << 62)
            out, self._buf = self._buf, b""
            return out
        self._fill(size)
        out, self._buf = self._buf[:size], self._buf[size:]
        return out

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


# --- sources -----------------------------------------------------------------------------------


@dataclass
class _Source:
    """One file to parse: a name for messages, an opener, its size in bytes, and its kind.

    ``path`` is set for files on disk (what the import's SHA-256 covers); ``node`` for a ZIP once
    it has been planned (its archive open and its members checked against the limits).
    """

    name: str
    open: Callable[[], IO[bytes]]
    size: int
    kind: str  # xml | csv | zip
    path: Path | None = None
    node: _ZipNode | None = None


@dataclass
class _ZipNode:
    """A planned ZIP: the open archive (None when unreadable: ``error``) and its members in import order."""

    name: str
    zf: zipfile.ZipFile | None
    error: str = ""
    members: list[tuple[zipfile.ZipInfo, str, _ZipNode | None]] = field(default_factory=list)
    others: list[str] = field(default_factory=list)  # members that are not XML/CSV/ZIP
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (member, Chinese reason)


class _Planner:
    """Opens every ZIP of an import (nested ones spooled) and checks the limits; writes nothing."""

    def __init__(self, stack: contextlib.ExitStack, limits: ImportLimits) -> None:
        self.stack = stack
        self.limits = limits
        self.members = 0
        self.bytes = 0

    def plan(self, sources: list[_Source]) -> None:
        for src in sources:
            if src.kind != "zip":
                self.add_bytes(src.size, src.name)
                continue
            try:
                fh = self.stack.enter_context(src.open())
            except OSError as exc:
                src.node = _ZipNode(src.name, None, type(exc).__name__)
                continue
            src.node = self.plan_zip(src.name, fh, 1)

    def add_bytes(self, n: int, name: str) -> None:
        self.bytes += n
        if self.bytes > self.limits.total_bytes:
            raise ImportFailed(
                f"解压后的总大小超过上限 {_size_zh(self.limits.total_bytes)}（至 {printable(name)}），"
                f"疑似压缩炸弹，未导入任何记录（可用环境变量 {ENV_MAX_BYTES} 调整）。"
            )

    def plan_zip(self, name: str, fh: IO[bytes], level: int) -> _ZipNode:
        try:
            zf = self.stack.enter_context(zipfile.ZipFile(fh))
        except _READ_ERRORS as exc:
            return _ZipNode(name, None, type(exc).__name__)
        infos = [i for i in zf.infolist() if not i.is_dir()]
        self.members += len(infos)
        if self.members > self.limits.members:
            raise ImportFailed(
                f"压缩包中的文件数超过上限 {self.limits.members}（至 {printable(name)}），"
                f"疑似压缩炸弹，未导入任何记录（可用环境变量 {ENV_MAX_MEMBERS} 调整）。"
            )
        node = _ZipNode(name, zf)
        for info in sorted(infos, key=lambda i: _natural_key(i.filename)):
            kind = _kind_of(info.filename)
            if kind is None:
                node.others.append(info.filename)
                continue
            member = f"{name}!{info.filename}"
            if info.flag_bits & 0x1:
                node.unreadable.append((member, "已加密"))
                continue
            if info.compress_type not in _SUPPORTED_COMPRESSION:
                node.unreadable.append((member, f"压缩方法 {info.compress_type} 不受支持"))
                continue
            if info.file_size >= RATIO_FLOOR and info.file_size > self.limits.ratio * max(info.compress_size, 1):
                raise ImportFailed(
                    f"{printable(member)} 解压后 {_size_zh(info.file_size)}，压缩比超过 "
                    f"{self.limits.ratio:.0f}:1，疑似压缩炸弹，未导入任何记录。"
                )
            self.add_bytes(info.file_size, member)
            child: _ZipNode | None = None
            if kind == "zip":
                if level >= self.limits.zip_depth:
                    raise ImportFailed(
                        f"{printable(member)} 是第 {level + 1} 层嵌套的 ZIP，超过上限 {self.limits.zip_depth} 层，"
                        "未导入任何记录。"
                    )
                spool = self.stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
                try:
                    with zf.open(info) as inner:
                        shutil.copyfileobj(inner, spool, 1 << 20)
                except _READ_ERRORS as exc:
                    child = _ZipNode(member, None, type(exc).__name__)
                else:
                    spool.seek(0)
                    child = self.plan_zip(member, spool, level + 1)
            node.members.append((info, kind, child))
        return node


def _natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _kind_of(name: str) -> str | None:
    lower = name.lower()
    for ext, kind in ((".xml", "xml"), (".csv", "csv"), (".zip", "zip")):
        if lower.endswith(ext):
            return kind
    return None


def _sniff_kind(path: Path) -> str:
    kind = _kind_of(path.name)
    if kind:
        return kind
    with path.open("rb") as fh:
        head = fh.read(512)
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if b"<" in head[:100] and (b"<?xml" in head or b"<udid" in head):
        return "xml"
    return "csv"


def _file_sources(path: Path) -> list[_Source]:
    if path.is_dir():
        out: list[_Source] = []
        for child in sorted(path.rglob("*"), key=lambda p: _natural_key(str(p.relative_to(path)))):
            if child.is_file() and _kind_of(child.name):
                out.extend(_file_sources(child))
        return out
    kind = _sniff_kind(path)
    return [_Source(str(path), functools.partial(_open_file, path), path.stat().st_size, kind, path)]


# --- the importer ------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _as_engine(engine_or_url: Engine | str) -> tuple[Engine, bool]:
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    return create_engine(normalize_db_url(engine_or_url)), True


def _sha256_file(path: Path) -> str:
    """SHA-256 of a regular file (a ZIP, after its import)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _input_sha256(root: Path, digests: dict[Path, str]) -> str:
    """The import's SHA-256: the file's, or for a directory one line ``relative path:sha`` per file."""
    if not root.is_dir():
        return next(iter(digests.values()), "")
    h = hashlib.sha256()
    for child in sorted(digests):
        h.update(f"{child.relative_to(root).as_posix()}:{digests[child]}\n".encode())
    return h.hexdigest()


class _HashingReader(io.RawIOBase):
    """Reads a file on disk and hashes what is read; on close, hashes the rest (the file is regular)."""

    def __init__(self, path: Path, on_done: Callable[[str], None]) -> None:
        super().__init__()
        self._fh = path.open("rb")
        self._hash = hashlib.sha256()
        self._on_done = on_done

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._fh.read(len(b))
        b[: len(data)] = data
        self._hash.update(data)
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        data = self._fh.read(-1 if size is None else size)
        self._hash.update(data)
        return data

    def close(self) -> None:
        if not self.closed:
            try:
                while chunk := self._fh.read(1 << 20):
                    self._hash.update(chunk)
                self._on_done(self._hash.hexdigest())
            finally:
                self._fh.close()
        super().close()


def _chunks(seq: Sequence[Any], n: int = 500) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


class _Importer:
    def __init__(self, engine: Engine, report: ImportReport, progress: Progress | None, total: int) -> None:
        self.engine = engine
        self.report = report
        self.progress = progress
        self.total = max(total, 1)
        self.done = 0
        self.udid_batch: list[dict[str, Any]] = []
        self.csv_batch: list[dict[str, Any]] = []
        self.kinds: set[str] = set()
        self.touched: set[str] = set()  # numbers whose registry_numbers row must be refreshed

    # progress ----------------------------------------------------------------------------------
    def advance(self, n: int) -> None:
        self.done = min(self.done + n, self.total)

    def tick(self) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total)

    # sources -----------------------------------------------------------------------------------
    def run_source(self, src: _Source, depth: int = 0) -> None:
        if src.kind == "zip":
            self.run_zip(src, depth)
            return
        self.report.files += 1
        try:
            with src.open() as fh:
                if src.kind == "xml":
                    self.kinds.add("udid")
                    self.parse_xml(fh, src.name)
                else:
                    self.kinds.add("csv")
                    self.parse_csv(fh, src.name)
        except _READ_ERRORS as exc:
            self.report.skip(R_BAD_MEMBER)
            self.report.notes.append(f"{printable(src.name)} 无法读取（{type(exc).__name__}）")

    def run_zip(self, src: _Source, depth: int) -> None:
        """A ZIP planned by ``_Planner`` (its archive is open, nested ones spooled, limits checked)."""
        node = src.node
        if node is None or node.zf is None:
            self.report.skip(R_BAD_MEMBER)
            error = node.error if node is not None else "未打开"
            self.report.notes.append(f"{printable(src.name)} 不是有效的 ZIP 文件或无法读取（{error}）")
            return
        if node.others:
            self.report.notes.append(
                f"{printable(src.name)} 中有 {len(node.others)} 个非 XML/CSV 文件未导入（如 {printable(node.others[0])}）"
            )
        for member_name, reason in node.unreadable:
            self.report.skip(R_BAD_MEMBER)
            self.report.notes.append(f"{printable(member_name)} 无法读取（{reason}）")
        scale = src.size / max(sum(i.file_size for i, _, _ in node.members), 1) if depth == 0 else 0.0
        for info, kind, child in node.members:
            name = f"{src.name}!{info.filename}"
            member = _Source(name, functools.partial(_open_member, node.zf, info), info.file_size, kind, node=child)
            if depth == 0:
                self.run_member_counted(member, scale, depth)
            else:
                self.run_source(member, depth + 1)

    def run_member_counted(self, member: _Source, scale: float, depth: int) -> None:
        """A top-level ZIP member: progress advances by its share of the ZIP's size."""
        opener = member.open

        def wrapped() -> IO[bytes]:
            return _counting(opener, lambda n: self._count_scaled(n, scale))

        start = self.done
        self.run_source(_Source(member.name, wrapped, member.size, member.kind, node=member.node), depth + 1)
        self.done = min(max(self.done, int(start + member.size * scale)), self.total)

    def _count_scaled(self, n: int, scale: float) -> None:
        self._frac = getattr(self, "_frac", 0.0) + n * scale
        whole = int(self._frac)
        if whole:
            self._frac -= whole
            self.advance(whole)

    # UDID XML ----------------------------------------------------------------------------------
    def parse_xml(self, fh: IO[bytes], name: str) -> None:
        head = fh.read(1 << 18)
        actual, declared = detect_encoding(head)
        if declared is not None and _canonical(declared) != _canonical(actual):
            self.report.notes.append(
                f"{name} 声明编码为 {declared}，实际为 {actual.upper()}，已按实际编码解析"
            )
        elif declared is None and actual != "utf-8":
            self.report.notes.append(f"{name} 未声明编码，按 {actual.upper()} 解析")
        raw = _PrefixedReader(head, fh)
        stream = _CleanStream(cast(IO[bytes], raw), actual)
        context = etree.iterparse(
            stream, events=("end",), tag="device", huge_tree=True, resolve_entities=False, no_network=True
        )
        try:
            for _event, elem in context:
                self.add_device(elem)
                elem.clear(keep_tail=False)
                parent = elem.getparent()
                if parent is not None:
                    while elem.getprevious() is not None:
                        del parent[0]
        except etree.XMLSyntaxError as exc:
            self.report.records_read += 1
            self.report.skip(R_TRUNCATED)
            self.report.notes.append(f"{name} 在第 {exc.lineno} 行出错：{exc.msg}")
        finally:
            del context

    def add_device(self, elem: Any) -> None:
        rep = self.report
        rep.records_read += 1
        f: dict[str, str] = {}
        for child in elem.iterchildren(*_UDID_WANTED):  # filtered in C
            f[child.tag] = (child.text or "").strip()
        key = f.get("deviceRecordKey", "")
        if not key:
            rep.skip(R_NO_KEY)
            return
        numbers = _split_cached(f.get("zczbhhzbapzbh", ""))
        if not numbers:
            rep.skip(R_NO_NUMBER)
            return
        try:
            withdrawn = parse_date(f.get("tsrq"))
            vtime = parse_date(f.get("versionTime"))
        except _BadValue as exc:
            rep.skip(exc.reason)
            return
        vnum_text = f.get("versionNumber", "")
        vnum = int(vnum_text) if vnum_text.isdigit() else None
        self.udid_batch.append(
            {
                "device_record_key": key,
                "numbers": numbers,
                "version": (vnum if vnum is not None else -1, vtime or date.min),
                "row": {
                    "device_record_key": key,
                    "di": f.get("zxxsdycpbs", ""),
                    "product_name": f.get("cpmctymc", ""),
                    "brand": f.get("spmc", ""),
                    "model_spec": f.get("ggxh", ""),
                    "registrant": f.get("ylqxzcrbarmc", ""),
                    "registrant_en": f.get("ylqxzcrbarywmc", ""),
                    "uscc": f.get("tyshxydm", ""),
                    "category_code": f.get("flbm", ""),
                    "old_category_code": f.get("yflbm", ""),
                    "ivd": f.get("qxlb", "") == "体外诊断试剂",
                    "description": f.get("cpms", ""),
                    "withdrawn_on": withdrawn,
                    "version_number": vnum,
                    "version_time": vtime,
                    "version_status": f.get("versionStauts", "") or f.get("versionStatus", ""),
                },
            }
        )
        if len(self.udid_batch) >= BATCH:
            self.flush_udid()

    def flush_udid(self) -> None:
        batch, self.udid_batch = self.udid_batch, []
        if not batch:
            return
        rep = self.report
        # 1. de-duplicate inside the batch: later version wins, ties go to the later record.
        latest: dict[str, dict[str, Any]] = {}
        for rec in batch:
            prev = latest.get(rec["device_record_key"])
            if prev is not None:
                rep.skip(R_DUP_KEY)
                if prev["version"] > rec["version"]:
                    continue
            latest[rec["device_record_key"]] = rec
        keys = list(latest)
        import_id = rep.import_id
        with self.engine.begin() as conn:
            # 2. what the database already holds for these keys.
            existing: dict[str, tuple[tuple[int, date], int | None]] = {}
            old_numbers: dict[str, list[str]] = {}
            t = udi_devices.c
            for part in _chunks(keys):
                q = select(
                    t.device_record_key, t.version_number, t.version_time, t.import_id, t.registration_no
                ).where(t.device_record_key.in_(part))
                for k, vn, vt, iid, no in conn.execute(q):
                    old_numbers.setdefault(k, []).append(no)
                    version = (vn if vn is not None else -1, vt or date.min)
                    old = existing.get(k)
                    if old is None or version > old[0]:
                        existing[k] = (version, iid)
            # 3. decide per record.
            replace: list[str] = []
            rows: list[dict[str, Any]] = []
            for key, rec in latest.items():
                old = existing.get(key)
                if old is None:
                    rep.inserted += 1
                elif old[0] > rec["version"]:
                    rep.skip(R_DUP_KEY if old[1] == import_id else R_OLDER)
                    continue
                else:
                    if old[1] == import_id:
                        rep.skip(R_DUP_KEY)
                    else:
                        rep.updated += 1
                    replace.append(key)
                    self.touched.update(old_numbers.get(key, ()))
                for number in rec["numbers"]:
                    row = dict(rec["row"])
                    row["registration_no"] = number
                    row["import_id"] = import_id
                    rows.append(row)
                    self.touched.add(number)
            # 4. replace: drop the rows of superseded versions (their numbers may have changed).
            for part in _chunks(replace):
                conn.execute(delete(udi_devices).where(udi_devices.c.device_record_key.in_(part)))
            upsert(conn, udi_devices, rows, ("device_record_key", "registration_no"))
        self.tick()

    # CSV ---------------------------------------------------------------------------------------
    def parse_csv(self, fh: IO[bytes], name: str) -> None:
        head = fh.read(1 << 20)
        if head.startswith(b"\xef\xbb\xbf"):
            encoding = "utf-8-sig"
        elif _decodes(head, "utf-8"):
            encoding = "utf-8"
        else:
            encoding = "gb18030"
            self.report.notes.append(f"{name} 按 GB18030 编码读取")
        text = io.TextIOWrapper(
            io.BufferedReader(_PrefixedReader(head, fh)), encoding=encoding, errors="replace", newline=""
        )
        reader = csv.reader(text)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error:
            self.report.skip(R_BAD_ROW)
            return
        columns = [_CSV_ALIASES.get(h.strip().lstrip("\ufeff").strip().lower(), "") for h in header]
        if "registration_no" not in columns:
            self.report.notes.append(f"{name} 缺少 registration_no（注册证编号）列，未导入")
            return
        while True:
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error:
                self.report.records_read += 1
                self.report.skip(R_BAD_ROW)
                continue
            if not any(v.strip() for v in values):
                continue
            self.add_csv_row(dict(zip(columns, values, strict=False)))
        self.flush_csv()

    def add_csv_row(self, raw: dict[str, str]) -> None:
        rep = self.report
        rep.records_read += 1
        numbers = split_registration_nos(raw.get("registration_no", ""))
        if not numbers:
            rep.skip(R_NO_NUMBER)
            return
        try:
            device_class = parse_class(raw.get("device_class"))
            approved_on = parse_date(raw.get("approved_on"))
            valid_until = parse_date(raw.get("valid_until"))
            status = parse_status(raw.get("status"))
        except _BadValue as exc:
            rep.skip(exc.reason)
            return
        now = _now()
        for number in numbers:
            self.csv_batch.append(
                {
                    "registration_no": number,
                    "product_name": raw.get("product_name", "").strip(),
                    "registrant": raw.get("registrant", "").strip(),
                    "manufacturer": raw.get("manufacturer", "").strip(),
                    "model_spec": raw.get("model_spec", "").strip(),
                    "structure": raw.get("structure", "").strip(),
                    "scope": raw.get("scope", "").strip(),
                    "device_class": device_class if device_class is not None else class_from_number(number),
                    "category_code": raw.get("category_code", "").strip(),
                    "approved_on": approved_on,
                    "valid_until": valid_until,
                    "status": status,
                    "source": "csv",
                    "updated_at": now,
                    "import_id": rep.import_id,
                }
            )
        if len(self.csv_batch) >= BATCH:
            self.flush_csv()

    def flush_csv(self) -> None:
        batch, self.csv_batch = self.csv_batch, []
        if not batch:
            return
        rep = self.report
        latest: dict[str, dict[str, Any]] = {}
        for row in batch:
            if row["registration_no"] in latest:
                rep.skip(R_DUP_NO)
            latest[row["registration_no"]] = row
        with self.engine.begin() as conn:
            existing: dict[str, int | None] = {}
            t = registrations.c
            for part in _chunks(list(latest)):
                for no, iid in conn.execute(
                    select(t.registration_no, t.import_id).where(t.registration_no.in_(part))
                ):
                    existing[no] = iid
            self.touched.update(latest)
            for no in latest:
                if no not in existing:
                    rep.inserted += 1
                elif existing[no] == rep.import_id:
                    rep.skip(R_DUP_NO)
                else:
                    rep.updated += 1
            upsert(conn, registrations, list(latest.values()), ("registration_no",))
        self.tick()


_UDID_WANTED = tuple(
    {
        "deviceRecordKey", "zxxsdycpbs", "cpmctymc", "spmc", "ggxh", "ylqxzcrbarmc", "ylqxzcrbarywmc",
        "tyshxydm", "flbm", "yflbm", "qxlb", "cpms", "tsrq", "zczbhhzbapzbh", "versionNumber", "versionTime",
        "versionStauts", "versionStatus",
    }
)  # fmt: skip

_split_cached = functools.lru_cache(maxsize=1 << 16)(split_registration_nos)

_CSV_ALIASES: dict[str, str] = {
    **{c: c for c in (
        "registration_no", "product_name", "registrant", "manufacturer", "model_spec", "structure", "scope",
        "device_class", "category_code", "approved_on", "valid_until", "status",
    )},
    "注册证编号": "registration_no", "备案编号": "registration_no", "注册证编号/备案编号": "registration_no",
    "产品名称": "product_name", "注册人名称": "registrant", "注册人": "registrant", "备案人名称": "registrant",
    "生产企业": "manufacturer", "生产地址": "", "型号规格": "model_spec", "规格型号": "model_spec",
    "结构及组成": "structure", "适用范围": "scope", "预期用途": "scope", "管理类别": "device_class",
    "分类编码": "category_code", "批准日期": "approved_on", "备案日期": "approved_on", "有效期至": "valid_until",
    "状态": "status",
}  # fmt: skip


class _PrefixedReader(io.RawIOBase):
    """Replays ``head`` and then reads on from ``rest``."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        super().__init__()
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(b))
        b[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                out = self._head + self._rest.read()
                self._head = b""
                return out
            out, self._head = self._head[:size], self._head[size:]
            return out
        return self._rest.read(-1 if size is None else size)


class _CountingReader(io.RawIOBase):
    def __init__(self, raw: IO[bytes], on_bytes: Callable[[int], None]) -> None:
        super().__init__()
        self._raw = raw
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._raw.read(len(b))
        b[: len(data)] = data
        self._on_bytes(len(data))
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(-1 if size is None else size)
        self._on_bytes(len(data))
        return data

    def close(self) -> None:
        self._raw.close()
        super().close()


def _open_file(path: Path) -> IO[bytes]:
    return path.open("rb")


def _hashing_open(path: Path, on_done: Callable[[str], None]) -> IO[bytes]:
    return cast(IO[bytes], _HashingReader(path, on_done))


def _open_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    return zf.open(info)


def _counting(opener: Callable[[], IO[bytes]], on_bytes: Callable[[int], None]) -> IO[bytes]:
    return cast(IO[bytes], _CountingReader(opener(), on_bytes))


def create_registry_tables(engine: Engine) -> None:
    """Create the registry tables if absent (independent of the main store's tables)."""
    create_registry_schema(engine)


def _failure_reason(exc: BaseException) -> str:
    if isinstance(exc, RegistryImportError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "导入被中断"
    detail = printable(str(exc).replace("\n", " "), 300)
    return f"导入出错（{type(exc).__name__}{'：' + detail if detail else ''}）"


def _close_import(engine: Engine, report: ImportReport, status: str, sha256: str, error: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(registry_imports)
            .where(registry_imports.c.id == report.import_id)
            .values(
                kind=report.kind,
                sha256=sha256,
                finished_at=_now(),
                records_read=report.records_read,
                inserted=report.inserted,
                updated=report.updated,
                skipped=report.skipped,
                skip_reasons=dict(report.skip_reasons),
                status=status,
                error=error,
            )
        )


def import_path(
    engine_or_url: Engine | str,
    path: str | os.PathLike[str],
    progress: Progress | None = None,
    limits: ImportLimits | None = None,
) -> ImportReport:
    """Import a UDID release (ZIP / XML / directory) or a registration CSV into the registry tables.

    ``progress(done, total)`` is called after each batch and at the end; units are input bytes
    (approximate inside ZIP archives). Raises ``FileNotFoundError`` if ``path`` does not exist,
    ``ImportRefused`` (nothing written) for a path that is not a regular file or a directory, and
    ``ImportFailed`` when a limit of ``limits`` (default ``ImportLimits.from_env()``) is exceeded.
    Bad records and broken files are counted in the report, never raised. Whatever exception ends
    the import, its ``registry_imports`` row is closed as failed with the reason before it propagates.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(str(p))
    limits = limits or ImportLimits.from_env()
    _preflight(p, limits)
    engine, owned = _as_engine(engine_or_url)
    started = time.perf_counter()
    try:
        create_registry_tables(engine)
        sources = _file_sources(p)
        kinds = {s.kind for s in sources}
        kind = "csv" if kinds == {"csv"} else "udid"
        report = ImportReport(path=str(p), kind=kind)
        with engine.begin() as conn:
            report.import_id = conn.execute(
                registry_imports.insert()
                .values(path=str(p), sha256="", kind=kind, started_at=_now(), skip_reasons={}, status="running")
                .returning(registry_imports.c.id)
            ).scalar_one()
        digests: dict[Path, str] = {}
        imp: _Importer | None = None
        try:
            with contextlib.ExitStack() as stack:
                _Planner(stack, limits).plan(sources)  # every limit checked before the first write
                total = sum(s.size for s in sources)
                imp = _Importer(engine, report, progress, total)
                for src in sources:
                    if src.kind == "zip":
                        imp.run_source(src)
                    else:
                        opener = src.open
                        if src.path is not None:  # hashed as it is parsed
                            opener = functools.partial(_hashing_open, src.path, functools.partial(
                                digests.__setitem__, src.path))
                        imp.run_source(
                            _Source(src.name, functools.partial(_counting, opener, imp.advance), src.size, src.kind)
                        )
                    imp.flush_udid()
                    imp.flush_csv()
            for src in sources:
                if src.path is not None and src.path not in digests:
                    digests[src.path] = _sha256_file(src.path)  # ZIP files: read once more, size known
            touched = sorted(imp.touched)
            imp.touched.clear()
            for i in range(0, len(touched), 5000):
                with engine.begin() as conn:
                    refresh_summaries(conn, touched[i : i + 5000])
            if imp.kinds == {"csv"}:
                report.kind = "csv"
            imp.done = imp.total
            imp.tick()
            report.seconds = time.perf_counter() - started
            _close_import(engine, report, "done", _input_sha256(p, digests), None)
        except BaseException as exc:
            report.seconds = time.perf_counter() - started
            if isinstance(exc, ImportFailed):
                exc.import_id = report.import_id
            with contextlib.suppress(Exception):  # the database itself may be what failed
                if imp is not None and imp.touched and isinstance(exc, Exception):
                    with engine.begin() as conn:  # keep look-ups consistent with what was written
                        refresh_summaries(conn, sorted(imp.touched))
            with contextlib.suppress(Exception):
                _close_import(engine, report, "failed", _input_sha256(p, digests), _failure_reason(exc))
            raise
        return report
    finally:
        if owned:
            engine.dispose()


def import_paths(
    engine_or_url: Engine | str, paths: Iterable[str | os.PathLike[str]], progress: Progress | None = None
) -> list[ImportReport]:
    """``import_path`` for each path in order (e.g. a full release, then update packages)."""
    engine, owned = _as_engine(engine_or_url)
    try:
        return [import_path(engine, p, progress) for p in paths]
    finally:
        if owned:
            engine.dispose()


__all__ = [
    "ImportFailed",
    "ImportLimits",
    "ImportRefused",
    "ImportReport",
    "RegistryImportError",
    "create_registry_tables",
    "detect_encoding",
    "import_path",
    "import_paths",
    "normalize_registration_no",
    "parse_class",
    "parse_date",
    "parse_status",
]
