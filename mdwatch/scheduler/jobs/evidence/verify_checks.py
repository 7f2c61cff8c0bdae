"""Checks of a possibly hostile package that never trust it: member names, flags, sizes, the manifest's shape."""

from __future__ import annotations

import hashlib
import json
import re
import stat
import zipfile
import zlib
from typing import Any

from mdwatch.scheduler.jobs.evidence.package_format import MANIFEST
from mdwatch.scheduler.jobs.evidence.verify_report import FileProblem

MAX_MANIFEST_BYTES = 64 << 20  # a manifest (or finding.json) larger than this is not parsed
_SUPPORTED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, NotImplementedError, ValueError,
    RuntimeError,  # zipfile: "password required" (encrypted members are named before any read)
)
_FINDING_ERRORS: tuple[type[BaseException], ...] = (*_READ_ERRORS, KeyError, TypeError, IndexError)
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _read_error_zh(exc: BaseException) -> str:
    if isinstance(exc, zipfile.BadZipFile):
        return "数据损坏（CRC 校验失败或 ZIP 结构错误）"
    if isinstance(exc, zlib.error):
        return "压缩数据损坏"
    if isinstance(exc, EOFError):
        return "数据被截断"
    return f"读取出错（{type(exc).__name__}）"


def _hash_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with zf.open(info) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int = MAX_MANIFEST_BYTES) -> bytes | None:
    """The member's bytes, or None when it is larger than ``cap``."""
    if info.file_size > cap:
        return None
    with zf.open(info) as fh:
        data = fh.read(cap + 1)
    return None if len(data) > cap else data


def unsafe_member_name(name: str) -> str | None:
    """Why a member name would land outside the package when extracted (Chinese), or None."""
    if "\\" in name:
        return "名称含反斜杠，在 Windows 上解压时可能越出证据包"
    if name.startswith("/"):
        return "绝对路径，解压时会越出证据包"
    if re.match(r"^[A-Za-z]:", name):
        return "带盘符的路径，解压时会越出证据包"
    if ".." in name.split("/"):
        return "名称含 ../，解压时会越出证据包"
    return None


def _member_problem(info: zipfile.ZipInfo, count: int) -> FileProblem | None:
    """What makes one ZIP entry unverifiable or dangerous, before any byte of it is read."""
    name = info.filename
    if why := unsafe_member_name(name):
        return FileProblem(name, "unsafe_path", why)
    if count > 1:
        return FileProblem(name, "duplicate", f"ZIP 中有 {count} 个同名文件，无法确定哪一个是证据")
    if stat.S_ISLNK(info.external_attr >> 16):
        return FileProblem(name, "symlink", "证据包中不应有符号链接")
    if info.flag_bits & 0x1:
        return FileProblem(name, "encrypted", "文件已加密，无法校验")
    if info.compress_type not in _SUPPORTED_COMPRESSION:
        return FileProblem(name, "compression", f"压缩方法 {info.compress_type} 不受支持，无法校验")
    return None


def _parse_manifest(data: bytes) -> tuple[dict[str, Any] | None, str]:
    """(manifest, "") or (None, why it cannot be used, in Chinese)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, "清单不是 UTF-8 文本"
    try:
        manifest = json.loads(text)
    except RecursionError:
        return None, "清单嵌套过深，无法解析"
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        return None, f"清单不是有效的 JSON{f'（第 {line} 行）' if line else ''}"
    if not isinstance(manifest, dict):
        return None, "清单的顶层应为 JSON 对象"
    if "files" not in manifest:
        return None, "清单缺少 files 列表"
    if not isinstance(manifest["files"], list):
        return None, "清单的 files 应为列表"
    return manifest, ""


def _manifest_entries(manifest: dict[str, Any], problems: list[FileProblem],
                      flagged: set[str]) -> dict[str, dict[str, Any]]:
    """The well-formed entries of ``files`` by path; each malformed or repeated entry is a named problem."""
    entries: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(manifest["files"], 1):
        where = f"{MANIFEST} files 第 {i} 项"
        if not isinstance(entry, dict):
            problems.append(FileProblem(where, "manifest", "应为 JSON 对象"))
            continue
        name = entry.get("path")
        if not isinstance(name, str) or not name:
            problems.append(FileProblem(where, "manifest", "缺少 path 或 path 不是字符串"))
            continue
        if name in entries or name in flagged:
            if name in entries:
                problems.append(FileProblem(name, "manifest", "清单中重复列出"))
                flagged.add(name)
                del entries[name]
            continue
        sha = entry.get("sha256")
        size = entry.get("size")
        if not isinstance(sha, str) or not _SHA256_RE.match(sha):
            problems.append(FileProblem(name, "manifest", "清单中的 sha256 缺失或不是 64 位十六进制"))
        elif isinstance(size, bool) or not isinstance(size, int) or size < 0:
            problems.append(FileProblem(name, "manifest", "清单中的 size 缺失或不是非负整数"))
        elif why := unsafe_member_name(name):
            problems.append(FileProblem(name, "unsafe_path", f"清单中的{why}"))
        else:
            entries[name] = entry
            continue
        flagged.add(name)
    return entries
