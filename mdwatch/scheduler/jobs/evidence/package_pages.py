"""The page files and WARC files of an export: captured bytes, capture records, screenshots, archives."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable
from pathlib import Path

from mdwatch import __version__
from mdwatch.crawler.capture import Capture, FrozenHeaders
from mdwatch.crawler.evidence import Screenshotter, WarcWriter
from mdwatch.scheduler.jobs.evidence.documents import _capture_doc
from mdwatch.scheduler.jobs.evidence.package_format import NOTE_EXPORT_SCREENSHOT, SHANGHAI, _json
from mdwatch.scheduler.jobs.evidence.package_zip import _Package
from mdwatch.scheduler.pipeline.capture import _content_type
from mdwatch.storage.evidence import EvidenceFile, EvidenceStore, PageRef
from mdwatch.storage.records import CaptureRecord

# -------------------------------------------------------------------- pages


def _has_screenshot(store: EvidenceStore, page_id: int) -> bool:
    return any(f.kind == "screenshot" for f in store.files_for_page(page_id))


def _screenshots(store: EvidenceStore, page_id: int) -> list[EvidenceFile]:
    return [f for f in store.files_for_page(page_id) if f.kind == "screenshot"]


def _add_page(pkg: _Package, store: EvidenceStore, page: PageRef, capture: CaptureRecord,
              shooter: Screenshotter | None, notes: list[str]) -> dict[str, str | None]:
    """Add the page's captured bytes, capture record and screenshot; returns their paths in the package."""
    base = f"pages/{page.id}"
    pkg.add_bytes(f"{base}/page.html", capture.body, "page_html", "抓取时的原始响应内容")
    pkg.add_bytes(f"{base}/capture.json", _json(_capture_doc(capture)), "capture")
    files: dict[str, str | None] = {"page_html": f"{base}/page.html", "capture": f"{base}/capture.json",
                                    "screenshot": None}
    shots = _page_screenshots(store, page, capture, shooter, notes)
    if shots:
        files["screenshot"] = _add_screenshot(pkg, store, page, shots[0], notes)
    return files


def _page_screenshots(store: EvidenceStore, page: PageRef, capture: CaptureRecord,
                      shooter: Screenshotter | None, notes: list[str]) -> list[EvidenceFile]:
    """The page's stored screenshots; with none and a ``shooter``, one is taken from the capture now."""
    shots = _screenshots(store, page.id)
    if not shots and shooter is not None:
        try:
            png = shooter.full_page_png(capture.final_url, capture.body, _content_type(capture))
        except Exception as exc:
            notes.append(f"页面 {page.id} 截图失败：{exc}")
        else:
            store.save_screenshot(page.id, png, note=NOTE_EXPORT_SCREENSHOT)
            shots = _screenshots(store, page.id)
    elif not shots:
        notes.append(f"页面 {page.id} 没有截图（导出时未要求截图）。")
    return shots


def _add_screenshot(pkg: _Package, store: EvidenceStore, page: PageRef, shot: EvidenceFile,
                    notes: list[str]) -> str:
    base = f"pages/{page.id}"
    data = store.read(shot)
    if hashlib.sha256(data).hexdigest() != shot.sha256:
        notes.append(f"页面 {page.id} 的截图与数据库中记录的 SHA-256 不符。")
    pkg.add_bytes(f"{base}/screenshot.png", data, "screenshot", _screenshot_note(page, shot, notes))
    return f"{base}/screenshot.png"


def _screenshot_note(page: PageRef, shot: EvidenceFile, notes: list[str]) -> str:
    """The manifest note on how the screenshot was made; an export-time one is also a package note."""
    when = shot.created_at.astimezone(SHANGHAI).isoformat()
    if shot.note == NOTE_EXPORT_SCREENSHOT:
        notes.append(f"页面 {page.id} 的截图在导出时生成（抓取时未截图），由抓取到的原始 HTML 渲染。")
        return (f"导出时截图（{when}），非抓取时截图；"
                "由抓取到的原始 HTML 渲染，图片等资源为截图时在线加载")
    if shot.note == "live":
        return f"截图时加载在线页面（{when}）"
    return f"抓取后由原始 HTML 渲染的截图（{when}）"


# -------------------------------------------------------------------- WARC files


def _capture(record: CaptureRecord) -> Capture:
    return Capture(url=record.url, final_url=record.final_url, status=record.status,
                   headers=FrozenHeaders({str(k): str(v) for k, v in record.headers.items()}),
                   body=record.body, sha256=record.sha256, fetched_at=record.fetched_at,
                   method=record.method, encoding=record.encoding)


def _add_warcs(pkg: _Package, store: EvidenceStore, run_id: int,
               pages: Iterable[tuple[PageRef, CaptureRecord]], notes: list[str],
               related: Iterable[CaptureRecord] = ()) -> None:
    """Add the run's WARC files; a run that wrote none gets one generated from its stored captures
    (the packaged pages and the ``related`` captures stored with them)."""
    known = _add_registered_warcs(pkg, store, run_id, notes)
    _add_unregistered_warcs(pkg, store, run_id, known, notes)
    if known:
        return
    _add_generated_warc(pkg, store, run_id, pages, related)
    notes.append("该任务抓取时未写 WARC 文件（如 mdwatch scan 的任务），WARC 文件在导出时由数据库中保存的"
                 "原始抓取记录生成，WARC-Date 为原抓取时间。")


def _add_registered_warcs(pkg: _Package, store: EvidenceStore, run_id: int, notes: list[str]) -> set[Path]:
    """Add the WARC files registered for the run; returns their resolved paths (missing ones included)."""
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
    return known


def _add_unregistered_warcs(pkg: _Package, store: EvidenceStore, run_id: int, known: set[Path],
                            notes: list[str]) -> None:
    """Add WARC files in the run's folder that were never registered (a sweep process cut short); updates ``known``."""
    folder = store.run_dir(run_id)
    for path in sorted(folder.glob("*.warc.gz")):
        if path.resolve() not in known:
            pkg.add_file(f"warc/{path.name}", path, "warc", "未登记的 WARC 文件（巡检进程可能被中断）")
            notes.append(f"WARC 文件 {path.name} 未在数据库中登记（巡检进程可能被中断），已按现状收入。")
            known.add(path.resolve())


def _add_generated_warc(pkg: _Package, store: EvidenceStore, run_id: int,
                        pages: Iterable[tuple[PageRef, CaptureRecord]], related: Iterable[CaptureRecord] = ()) -> None:
    """Write a WARC of the exported captures (and their screenshots) and add it to the package."""
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
            for capture in related:
                w.write_capture(_capture(capture))
        pkg.add_file(f"warc/{name}", Path(tmpdir) / name, "warc", "导出时由数据库中保存的抓取记录生成")
