"""Evidence jobs (固证): screenshots of pages with findings, WARC files of sweeps, export and verify.

The sweep pipeline calls:

- :func:`open_sweep_warc` once per process part of a sweep (a new ``sweep-<id>-<n>.warc.gz``);
- ``writer.write_capture(capture)`` for every stored page capture (and its related captures);
- :func:`close_sweep_warc` when the process part ends (closes, hashes, registers the file);
- :func:`capture_evidence` with the page ids that got findings (or ``None``: every page of the
  run with findings and no screenshot yet, which is what a resumed sweep wants).

``export`` writes a ZIP package of findings with a manifest of SHA-256 hashes; ``verify`` checks
one offline. Runs made by ``mdwatch scan`` / ``demo run`` have no screenshots or WARC files: the
export takes a screenshot then (and stores it) and writes a WARC of the exported captures, and
says so in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from mdwatch import __version__
from mdwatch.crawler.capture import Capture, FrozenHeaders
from mdwatch.crawler.evidence import ScreenshotError, Screenshotter, WarcWriter
from mdwatch.storage.evidence import EvidenceFile, EvidenceStore, PageRef, evidence_dir
from mdwatch.storage.records import CaptureRecord, StoredFinding

__all__ = [
    "FORMAT",
    "PROBLEM_LABELS",
    "EvidenceError",
    "EvidenceResult",
    "ExportResult",
    "FileProblem",
    "VerifyReport",
    "capture_evidence",
    "close_sweep_warc",
    "export",
    "open_sweep_warc",
    "verify",
]

FORMAT = "mdwatch-evidence/1"
SHANGHAI = ZoneInfo("Asia/Shanghai")
MANIFEST = "manifest.json"
README = "README.txt"
NOTE_EXPORT_SCREENSHOT = "export-time"  # evidence_files.note of a screenshot taken by an export


class EvidenceError(Exception):
    """An export that cannot be made (unknown finding or run); the message is Chinese."""


def _times(when: datetime) -> dict[str, str]:
    return {"utc": when.astimezone(UTC).isoformat(), "asia_shanghai": when.astimezone(SHANGHAI).isoformat()}


def _capture(record: CaptureRecord) -> Capture:
    return Capture(url=record.url, final_url=record.final_url, status=record.status,
                   headers=FrozenHeaders({str(k): str(v) for k, v in record.headers.items()}),
                   body=record.body, sha256=record.sha256, fetched_at=record.fetched_at,
                   method=record.method, encoding=record.encoding)


def _content_type(record: CaptureRecord) -> str:
    for name, value in record.headers.items():
        if str(name).lower() == "content-type":
            return str(value)
    return "text/html"


# -------------------------------------------------------------------- sweep WARC files


def open_sweep_warc(run_id: int, *, data_dir: Path | str | None = None) -> WarcWriter:
    """A new WARC part for this process of sweep ``run_id``: ``<data>/evidence/<id>/sweep-<id>-<n>.warc.gz``."""
    return WarcWriter.new_part(evidence_dir(run_id, data_dir), f"sweep-{run_id}",
                               info={"software": f"mdwatch/{__version__}", "mdwatch-run-id": str(run_id)})


def close_sweep_warc(db_url: str | None, run_id: int, writer: WarcWriter, *,
                     data_dir: Path | str | None = None) -> EvidenceFile:
    """Close ``writer`` and register its file (with its SHA-256) as evidence of the run."""
    sha = writer.close()
    with EvidenceStore(db_url, data_dir=data_dir) as store:
        return store.add_warc(run_id, writer.path, sha)


# -------------------------------------------------------------------- screenshots


@dataclass(frozen=True, slots=True)
class EvidenceResult:
    saved: dict[int, str] = field(default_factory=dict)  # page id → screenshot SHA-256
    skipped: list[int] = field(default_factory=list)  # already had a screenshot
    failed: dict[int, str] = field(default_factory=dict)  # page id → reason (Chinese)


def _shoot(shooter: Screenshotter, store: EvidenceStore, page: PageRef, live: bool) -> bytes:
    if live:
        return shooter.full_page_png(page.url)
    record = store.capture(page.capture_sha256)
    if record is None:
        raise ScreenshotError(f"页面 {page.id} 的抓取记录不存在。")
    return shooter.full_page_png(record.final_url, record.body, _content_type(record))


def capture_evidence(
    db_url: str | None,
    run_id: int,
    pages_with_findings: Sequence[int] | None = None,
    *,
    screenshotter: Screenshotter | None = None,
    warc: WarcWriter | None = None,
    live: bool = False,
    data_dir: Path | str | None = None,
) -> EvidenceResult:
    """Screenshot the run's pages with findings that have none yet, and store the PNGs.

    ``pages_with_findings``: page ids (None: every page of the run with a finding). By default the
    captured HTML is rendered at its URL from the captured bytes alone (so the picture shows the
    bytes that were hashed; nothing else of the page is fetched); ``live=True`` loads the live
    page instead, through the fetch policy. With ``warc`` each screenshot
    is also written to it as a resource record. Failures are reported per page, never raised.
    """
    result = EvidenceResult()
    own = screenshotter is None
    shooter = screenshotter or Screenshotter()
    try:
        with EvidenceStore(db_url, data_dir=data_dir) as store:
            if pages_with_findings is None:
                pages = store.pages_with_findings(run_id)
            else:
                pages = [p for p in (store.page(pid) for pid in pages_with_findings) if p is not None]
            for page in pages:
                if any(f.kind == "screenshot" for f in store.files_for_page(page.id)):
                    result.skipped.append(page.id)
                    continue
                try:
                    png = _shoot(shooter, store, page, live)
                except Exception as exc:  # one page's failure must not stop the others
                    result.failed[page.id] = str(exc)
                    continue
                note = "live" if live else "rendered-from-capture"
                result.saved[page.id] = store.save_screenshot(page.id, png, note=note)
                if warc is not None:
                    warc.write_resource(page.url, "image/png", png,
                                        extra_headers={"WARC-Mdwatch-Kind": "screenshot",
                                                       "WARC-Mdwatch-Capture-SHA256": page.capture_sha256})
    finally:
        if own:
            shooter.close()
    return result


# -------------------------------------------------------------------- export


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    findings: int
    files: int
    manifest_sha256: str
    notes: list[str]


class _Package:
    """Files going into the ZIP, hashed as they are added."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.entries: list[dict[str, Any]] = []

    def add_bytes(self, name: str, data: bytes, kind: str, note: str | None = None) -> None:
        compress = zipfile.ZIP_STORED if name.endswith((".png", ".gz")) else zipfile.ZIP_DEFLATED
        info = zipfile.ZipInfo(name, date_time=datetime.now(UTC).timetuple()[:6])
        info.compress_type = compress
        info.external_attr = 0o644 << 16
        self.zf.writestr(info, data)
        self._entry(name, hashlib.sha256(data).hexdigest(), len(data), kind, note)

    def add_file(self, name: str, path: Path, kind: str, note: str | None = None) -> str:
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as src, self.zf.open(name, "w", force_zip64=True) as dst:
            for block in iter(lambda: src.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
                dst.write(block)
        self._entry(name, digest.hexdigest(), size, kind, note)
        return digest.hexdigest()

    def _entry(self, name: str, sha: str, size: int, kind: str, note: str | None) -> None:
        entry: dict[str, Any] = {"path": name, "sha256": sha, "size": size, "kind": kind}
        if note:
            entry["note"] = note
        self.entries.append(entry)


def _json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode("utf-8")


def _finding_doc(f: StoredFinding, page: PageRef, capture: CaptureRecord, files: dict[str, str | None]) -> dict[str, Any]:
    return {
        "finding_id": f.id,
        "run_id": f.run_id,
        "rule": f.rule,
        "severity": f.severity,
        "article": f.article,
        "message": f.message,
        "evidence": f.evidence,
        "found_at": _times(f.created_at),
        "page": {"id": page.id, "url": f.page_url, "kind": page.kind},
        "capture": {
            "sha256": f.capture_sha256,
            "url": capture.url,
            "final_url": capture.final_url,
            "status": capture.status,
            "method": capture.method,
            "fetched_at": _times(capture.fetched_at),
        },
        "files": files,
    }


def _readme(scope: str, manifest_note: str) -> str:
    return f"""mdwatch 证据包（{scope}）
======================================

本证据包由 mdwatch {__version__} 生成，用于保存网络销售医疗器械违规线索的电子证据（线上固证）。

目录结构
--------
manifest.json                 清单：包内每个文件（本清单除外）的路径、大小和 SHA-256 哈希值，
                              以及工具版本、导出时间（UTC 与北京时间）和导出说明。
findings/<编号>/finding.json  一条违规线索：规则、级别、法律依据、说明、证据片段、页面网址，
                              抓取时间（UTC 与北京时间）和抓取内容的 SHA-256。
pages/<编号>/page.html        抓取时收到的原始响应内容（未经任何修改），其 SHA-256 与
                              finding.json 中 capture.sha256 相同。
pages/<编号>/capture.json     抓取记录：请求网址、最终网址、HTTP 状态、响应头、抓取时间。
pages/<编号>/screenshot.png   页面全页截图（宽 1280 像素）。
warc/*.warc.gz                WARC 国际标准网页归档文件（ISO 28500），含原始请求与响应记录。
{manifest_note}
如何校验
--------
1. 离线校验（推荐）：mdwatch evidence verify 本文件.zip
   全部一致时显示"校验通过"并返回 0；任何文件被改动、缺失或多出时逐行列出该文件并返回 1。
2. 手工校验：解压后对每个文件计算 SHA-256，与 manifest.json 中的值逐一比对，例如
     Linux：  sha256sum pages/12/page.html
     macOS：  shasum -a 256 pages/12/page.html
     Windows：certutil -hashfile pages\\12\\page.html SHA256
   并核对 page.html 的 SHA-256 与 finding.json 中 capture.sha256 一致。
3. 清单本身：导出时显示的 manifest.json 的 SHA-256 应另行记录（如写入交办函或工作记录）；
   校验时 mdwatch 会显示当前清单的 SHA-256，两者一致说明清单未被替换。

WARC 文件可用 warcio、pywb 或 ReplayWeb.page 等通用工具打开回放。
"""


def export(
    db_url: str | None,
    out_zip: Path | str,
    *,
    finding_id: int | None = None,
    run_id: int | None = None,
    screenshots: bool = True,
    include_warc: bool = True,
    screenshotter: Screenshotter | None = None,
    data_dir: Path | str | None = None,
) -> ExportResult:
    """Write the evidence package of one finding or of every finding of a run to ``out_zip``."""
    if (finding_id is None) == (run_id is None):
        raise ValueError("give exactly one of finding_id and run_id")
    out = Path(out_zip)
    notes: list[str] = []
    shooter = screenshotter
    try:
        with EvidenceStore(db_url, data_dir=data_dir) as store:
            if finding_id is not None:
                found = store.finding(finding_id)
                if found is None:
                    raise EvidenceError(f"数据库中没有编号为 {finding_id} 的违规线索。")
                findings = [found]
                the_run = found.run_id
                scope = f"线索 {finding_id}"
            else:
                assert run_id is not None
                if store.run(run_id) is None:
                    raise EvidenceError(f"数据库中没有编号为 {run_id} 的扫描或巡检任务。")
                findings = store.findings(run_id)
                the_run = run_id
                scope = f"任务 {run_id} 的全部线索"
                if not findings:
                    notes.append("该任务没有违规线索。")
            run = store.run(the_run)
            assert run is not None
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".part")
            manifest: dict[str, Any] = {
                "format": FORMAT,
                "tool": {"name": "mdwatch", "version": __version__},
                "exported_at": _times(datetime.now(UTC)),
                "scope": {"finding_id": finding_id} if finding_id is not None else {"run_id": run_id},
                "run": {"id": run.id, "kind": run.kind, "target": run.target, "status": run.status,
                        "started_at": _times(run.started_at)},
            }
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
                pkg = _Package(zf)
                pages: dict[int, tuple[PageRef, CaptureRecord, dict[str, str | None]]] = {}
                for f in findings:
                    if f.page_id not in pages:
                        page = store.page(f.page_id)
                        capture = store.capture(f.capture_sha256)
                        if page is None or capture is None:
                            raise EvidenceError(f"线索 {f.id} 的页面或抓取记录缺失，无法导出。")
                        if shooter is None and screenshots and not _has_screenshot(store, page.id):
                            shooter = Screenshotter()
                        files = _add_page(pkg, store, page, capture, shooter if screenshots else None, notes)
                        pages[f.page_id] = (page, capture, files)
                    page, capture, files = pages[f.page_id]
                    pkg.add_bytes(f"findings/{f.id}/finding.json", _json(_finding_doc(f, page, capture, files)),
                                  "finding")
                if include_warc:
                    _add_warcs(pkg, store, the_run, [(p, c) for p, c, _ in pages.values()], notes)
                manifest_note = "".join(f"\n说明：{n}" for n in notes) + ("\n" if notes else "")
                pkg.add_bytes(README, _readme(scope, manifest_note).encode("utf-8"), "readme")
                manifest["notes"] = notes
                manifest["files"] = sorted(pkg.entries, key=lambda e: str(e["path"]))
                manifest_bytes = _json(manifest)
                zf.writestr(MANIFEST, manifest_bytes)
            tmp.replace(out)
            return ExportResult(path=out, findings=len(findings), files=len(pkg.entries) + 1,
                                manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(), notes=notes)
    finally:
        if shooter is not None and screenshotter is None:
            shooter.close()


def _has_screenshot(store: EvidenceStore, page_id: int) -> bool:
    return any(f.kind == "screenshot" for f in store.files_for_page(page_id))


def _add_page(pkg: _Package, store: EvidenceStore, page: PageRef, capture: CaptureRecord,
              shooter: Screenshotter | None, notes: list[str]) -> dict[str, str | None]:
    base = f"pages/{page.id}"
    pkg.add_bytes(f"{base}/page.html", capture.body, "page_html", "抓取时的原始响应内容")
    pkg.add_bytes(f"{base}/capture.json", _json({
        "sha256": capture.sha256, "url": capture.url, "final_url": capture.final_url, "status": capture.status,
        "headers": capture.headers, "encoding": capture.encoding, "method": capture.method,
        "fetched_at": _times(capture.fetched_at)}), "capture")
    files: dict[str, str | None] = {"page_html": f"{base}/page.html", "capture": f"{base}/capture.json",
                                    "screenshot": None}
    shots = [f for f in store.files_for_page(page.id) if f.kind == "screenshot"]
    if not shots and shooter is not None:
        try:
            png = shooter.full_page_png(capture.final_url, capture.body, _content_type(capture))
        except Exception as exc:
            notes.append(f"页面 {page.id} 截图失败：{exc}")
        else:
            store.save_screenshot(page.id, png, note=NOTE_EXPORT_SCREENSHOT)
            shots = [f for f in store.files_for_page(page.id) if f.kind == "screenshot"]
    elif not shots:
        notes.append(f"页面 {page.id} 没有截图（导出时未要求截图）。")
    if shots:
        shot = shots[0]
        data = store.read(shot)
        if hashlib.sha256(data).hexdigest() != shot.sha256:
            notes.append(f"页面 {page.id} 的截图与数据库中记录的 SHA-256 不符。")
        if shot.note == NOTE_EXPORT_SCREENSHOT:
            note = (f"导出时截图（{shot.created_at.astimezone(SHANGHAI).isoformat()}），非抓取时截图；"
                    "由抓取到的原始 HTML 渲染，图片等资源为截图时在线加载")
            notes.append(f"页面 {page.id} 的截图在导出时生成（抓取时未截图），由抓取到的原始 HTML 渲染。")
        elif shot.note == "live":
            note = f"截图时加载在线页面（{shot.created_at.astimezone(SHANGHAI).isoformat()}）"
        else:
            note = f"抓取后由原始 HTML 渲染的截图（{shot.created_at.astimezone(SHANGHAI).isoformat()}）"
        pkg.add_bytes(f"{base}/screenshot.png", data, "screenshot", note)
        files["screenshot"] = f"{base}/screenshot.png"
    return files


def _add_warcs(pkg: _Package, store: EvidenceStore, run_id: int,
               pages: Iterable[tuple[PageRef, CaptureRecord]], notes: list[str]) -> None:
    registered = [f for f in store.files_for_run(run_id) if f.kind == "warc" and f.path]
    known = set()
    for file in registered:
        assert file.path is not None
        path = Path(file.path)
        known.add(path.resolve())
        if not path.exists():
            notes.append(f"WARC 文件缺失：{path.name}（数据库 SHA-256 {file.sha256}）。")
            continue
        sha = pkg.add_file(f"warc/{path.name}", path, "warc", "巡检时写入的 WARC 文件")
        if sha != file.sha256:
            notes.append(f"WARC 文件 {path.name} 与数据库中记录的 SHA-256 不符（记录 {file.sha256}）。")
    folder = store.run_dir(run_id)
    for path in sorted(folder.glob("*.warc.gz")):
        if path.resolve() not in known:
            pkg.add_file(f"warc/{path.name}", path, "warc", "未登记的 WARC 文件（巡检进程可能被中断）")
            notes.append(f"WARC 文件 {path.name} 未在数据库中登记（巡检进程可能被中断），已按现状收入。")
            known.add(path.resolve())
    if known:
        return
    with tempfile.TemporaryDirectory(prefix="mdwatch-warc-") as tmpdir:
        name = f"run-{run_id}-export.warc.gz"
        with WarcWriter(Path(tmpdir) / name, info={"software": f"mdwatch/{__version__}",
                                                   "mdwatch-run-id": str(run_id),
                                                   "description": "generated at export from stored captures"}) as w:
            for page, capture in pages:
                response_id = w.write_capture(_capture(capture))
                for shot in (f for f in store.files_for_page(page.id) if f.kind == "screenshot"):
                    w.write_resource(capture.final_url, "image/png", store.read(shot), when=shot.created_at,
                                     concurrent_to=response_id,
                                     extra_headers={"WARC-Mdwatch-Kind": "screenshot"})
        pkg.add_file(f"warc/{name}", Path(tmpdir) / name, "warc", "导出时由数据库中保存的抓取记录生成")
    notes.append("该任务抓取时未写 WARC 文件（如 mdwatch scan 的任务），WARC 文件在导出时由数据库中保存的"
                 "原始抓取记录生成，WARC-Date 为原抓取时间。")


# -------------------------------------------------------------------- verify


PROBLEM_LABELS = {
    "changed": "已改动", "missing": "缺失", "extra": "多出", "unreadable": "无法读取",
    "capture_mismatch": "与抓取哈希不符", "manifest": "清单无效", "unsafe_path": "路径越界",
    "duplicate": "重名", "encrypted": "已加密", "compression": "压缩方法不支持", "symlink": "符号链接",
}  # fmt: skip
MAX_MANIFEST_BYTES = 64 << 20  # a manifest (or finding.json) larger than this is not parsed
_SUPPORTED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, NotImplementedError, ValueError,
    RuntimeError,  # zipfile: "password required" (encrypted members are named before any read)
)
_FINDING_ERRORS: tuple[type[BaseException], ...] = (*_READ_ERRORS, KeyError, TypeError, IndexError)
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _printable(name: str, limit: int = 200) -> str:
    """A member name safe for one output line: control characters escaped, length capped."""
    text = _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", name)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class FileProblem:
    path: str
    problem: str  # a key of PROBLEM_LABELS
    detail: str  # Chinese

    def line(self) -> str:
        label = PROBLEM_LABELS.get(self.problem, self.problem)
        return f"{label}：{_printable(self.path)}（{_printable(self.detail, 400)}）"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    path: Path
    checked: int
    problems: list[FileProblem]
    manifest_sha256: str | None
    tool_version: str | None
    exported_at: str | None

    @property
    def ok(self) -> bool:
        return not self.problems and self.manifest_sha256 is not None


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


def verify(zip_path: Path | str) -> VerifyReport:
    """Recompute every hash of an evidence package offline; name each bad file.

    Never raises for a hostile package (issue 10, item 6): an unreadable archive, a malformed
    manifest (not UTF-8, not JSON, wrong types, missing keys), entries that are encrypted, use an
    unknown compression method, are symbolic links, are repeated, or whose name climbs out of the
    package (``../``, absolute, drive letter, backslash), files listed but absent and files present
    but not listed: each is one named ``FileProblem``.
    """
    path = Path(zip_path)
    problems: list[FileProblem] = []
    try:
        zf = zipfile.ZipFile(path)
    except Exception as exc:  # any failure to read the central directory: not a usable ZIP
        detail = _read_error_zh(exc) if isinstance(exc, _READ_ERRORS) else f"读取出错（{type(exc).__name__}）"
        return VerifyReport(path, 0, [FileProblem(path.name, "unreadable", f"不是可读的 ZIP 文件：{detail}")],
                            None, None, None)
    with zf:
        infos = zf.infolist()
        counts: dict[str, int] = {}
        for info in infos:
            counts[info.filename] = counts.get(info.filename, 0) + 1
        flagged: set[str] = set()  # names with a problem already: not hashed, not named twice
        members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            if name in flagged:
                continue
            problem = _member_problem(info, counts[name])
            if problem is not None:
                problems.append(problem)
                flagged.add(name)
            elif not info.is_dir():
                members[name] = info
        if MANIFEST not in members:
            if MANIFEST not in flagged:
                problems.append(FileProblem(MANIFEST, "missing", "证据包没有清单"))
            return VerifyReport(path, 0, problems, None, None, None)
        try:
            manifest_bytes = _read_capped(zf, members[MANIFEST])
        except _READ_ERRORS as exc:
            problems.append(FileProblem(MANIFEST, "unreadable", _read_error_zh(exc)))
            return VerifyReport(path, 0, problems, None, None, None)
        if manifest_bytes is None:
            problems.append(FileProblem(MANIFEST, "manifest", f"清单超过 {MAX_MANIFEST_BYTES >> 20} MB，不予解析"))
            return VerifyReport(path, 0, problems, None, None, None)
        manifest, why = _parse_manifest(manifest_bytes)
        if manifest is None:
            problems.append(FileProblem(MANIFEST, "manifest", why))
            return VerifyReport(path, 0, problems, None, None, None)
        if manifest.get("format") != FORMAT:
            problems.append(FileProblem(MANIFEST, "manifest", f"format 应为 {FORMAT}"))
        manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
        entries = _manifest_entries(manifest, problems, flagged)
        actual: dict[str, str] = {}
        for name, entry in entries.items():
            member = members.get(name)
            if member is None:
                problems.append(FileProblem(name, "missing", "清单中列出但包内没有"))
                continue
            try:
                sha, size = _hash_member(zf, member)
            except _READ_ERRORS as exc:
                problems.append(FileProblem(name, "unreadable", _read_error_zh(exc)))
                continue
            actual[name] = sha
            if sha != entry["sha256"] or size != entry["size"]:
                problems.append(FileProblem(name, "changed",
                                            f"SHA-256 应为 {entry['sha256']}，实为 {sha}；"
                                            f"大小应为 {entry['size']}，实为 {size}"))
        for name in members:
            if name != MANIFEST and name not in entries and name not in flagged:
                problems.append(FileProblem(name, "extra", "包内有但清单中没有"))
        bad = {p.path for p in problems}
        for name, info in members.items():
            if not (name.startswith("findings/") and name.endswith("/finding.json")) or name in bad:
                continue
            try:
                data = _read_capped(zf, info)
                doc = json.loads(data.decode("utf-8")) if data is not None else None
                expected = str(doc["capture"]["sha256"]) if isinstance(doc, dict) else None
                html = doc["files"]["page_html"] if isinstance(doc, dict) else None
            except _FINDING_ERRORS as exc:
                problems.append(FileProblem(name, "manifest", f"线索文件无法解析（{type(exc).__name__}）"))
                continue
            if expected is None or not isinstance(html, str):
                problems.append(FileProblem(name, "manifest", "线索文件缺少抓取哈希或原始页面路径"))
                continue
            if html in bad:
                continue  # already named
            if html not in actual:
                problems.append(FileProblem(html, "missing", f"{name} 引用的原始页面不在包内"))
            elif actual[html] != expected:
                problems.append(FileProblem(html, "capture_mismatch",
                                            f"SHA-256 {actual[html]} 与 {name} 中的抓取哈希 {expected} 不符"))
        tool = manifest.get("tool", {})
        exported = manifest.get("exported_at", {})
        return VerifyReport(path, len(entries), problems, manifest_sha,
                            str(tool.get("version")) if isinstance(tool, dict) else None,
                            str(exported.get("asia_shanghai")) if isinstance(exported, dict) else None)


# -------------------------------------------------------------------- CLI bodies


def export_command(db_url: str | None, out_zip: str, *, finding_id: int | None, run_id: int | None,
                   screenshots: bool = True) -> int:
    """``mdwatch evidence export``: 0 written, 2 unknown finding or run."""
    import click

    try:
        result = export(db_url, out_zip, finding_id=finding_id, run_id=run_id, screenshots=screenshots)
    except EvidenceError as exc:
        click.echo(f"mdwatch: {exc}", err=True)
        return 2
    click.echo(f"已导出证据包：{result.path}（{result.findings} 条线索，{result.files} 个文件）")
    for note in result.notes:
        click.echo(f"说明：{note}")
    click.echo(f"清单 manifest.json 的 SHA-256：{result.manifest_sha256}（请另行记录，供日后核对）")
    return 0


def verify_command(zip_path: str) -> int:
    """``mdwatch evidence verify``: 0 intact, 1 failed (one line per problem on stdout, a summary on stderr)."""
    import click

    try:
        report = verify(zip_path)
    except Exception as exc:  # last resort: a hostile package must never end in a traceback
        click.echo(f"校验失败：无法处理该证据包（{type(exc).__name__}）。", err=True)
        return 1
    if report.ok:
        click.echo(f"校验通过：{report.checked} 个文件的 SHA-256 均与清单一致。")
        click.echo(f"清单 SHA-256：{report.manifest_sha256}；导出时间（北京时间）：{report.exported_at}；"
                   f"mdwatch {report.tool_version}")
        return 0
    for problem in report.problems:
        click.echo(problem.line())
    click.echo(f"校验失败：发现 {len(report.problems)} 个问题。", err=True)
    return 1
