"""WACZ packages (Web Archive Collection Zipped 1.1.1) of stored pages, openable without mdwatch.

``write_wacz`` packages the captures of a set of stored pages (a finding's, a lead's, a run's, a
campaign's: the caller resolves which pages) into one ``.wacz`` that ReplayWeb.page, pywb or
``wacz validate`` open as they are:

- ``archive/<name>.warc.gz``: written by :class:`~mdwatch.crawler.evidence.WarcWriter` from the
  stored captures, each once (by SHA-256): a ``response`` record (original status and headers, the
  body exactly as captured, ``WARC-Date`` = the capture's fetch time, never the export time) with
  its ``request`` record, the page's related captures the same way, and every stored screenshot of
  the page as a ``resource`` record at ``urn:view:<page URL>`` (``WARC-Date`` = when it was taken);
- ``pages/pages.jsonl``: one line per page (url, title, ts = the capture time as in ``WARC-Date``);
- ``indexes/index.cdx.gz`` and ``indexes/index.idx``: the CDXJ index (ZipNum, by py-wacz);
- ``datapackage.json`` (SHA-256 and size of every file) and ``datapackage-digest.json``.

The ZIP, index and data package are made by py-wacz's own ``wacz create`` (``wacz.main.main``),
the pages list is copied in as written here (``--copy-pages``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from warcio.timeutils import iso_date_to_timestamp

from mdwatch import __version__
from mdwatch.crawler.evidence import WarcWriter, warc_date
from mdwatch.scheduler.jobs.evidence.exporting import EvidenceError
from mdwatch.scheduler.jobs.evidence.package_pages import _capture
from mdwatch.storage.evidence import EvidenceFile, EvidenceStore
from mdwatch.storage.records import CaptureRecord
from mdwatch.storage.schema import Capture, PageCapture, PageRow

__all__ = ["PageSelection", "WaczError", "WaczResult", "write_wacz"]

#: Page ids (a list, tuple ...) or a run id (an ``int``: every page of that run).
PageSelection = Sequence[int] | int

SCREENSHOT_URI_PREFIX = "urn:view:"  # as browsertrix-crawler names its page screenshots
_CHUNK = 500  # ids per IN (...) query


class WaczError(EvidenceError):
    """A WACZ package that cannot be made; the message is one Chinese sentence."""


@dataclass(frozen=True, slots=True)
class WaczResult:
    path: Path
    pages: int  # lines of pages/pages.jsonl
    responses: int  # captures written as response records (each SHA-256 once)
    screenshots: int  # resource records
    records: int  # every WARC record, warcinfo and request records included
    sha256: str  # of the .wacz file
    datapackage_sha256: str  # of its datapackage.json (as in datapackage-digest.json)
    notes: list[str] = field(default_factory=list)  # Chinese, one sentence each


@dataclass(frozen=True, slots=True)
class _Page:
    id: int
    run_id: int
    url: str
    kind: str
    title: str | None
    capture_sha256: str


@dataclass(slots=True)
class _Written:
    """What went into the WARC: pages.jsonl lines and counts."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    shas: set[str] = field(default_factory=set)
    screenshots: int = 0
    notes: list[str] = field(default_factory=list)


# -------------------------------------------------------------------- selecting pages


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])


def _page_stmt() -> Any:
    return (select(PageRow.id, PageRow.run_id, PageRow.url, PageRow.kind, PageRow.title, Capture.sha256)
            .join(Capture, PageRow.capture_id == Capture.id))


def _select_pages(store: EvidenceStore, selection: PageSelection) -> list[_Page]:
    """The selected pages in id order; an unknown run or page id is refused."""
    if isinstance(selection, str | bytes | bool):
        raise TypeError(f"selection must be page ids or a run id, not {selection!r}")
    with Session(store.engine) as session:
        if isinstance(selection, int):
            if store.run(selection) is None:
                raise WaczError(f"数据库中没有编号为 {selection} 的扫描或巡检任务。")
            rows = list(session.execute(_page_stmt().where(PageRow.run_id == selection)))
        else:
            wanted = sorted({int(i) for i in selection})
            rows = [r for chunk in _chunks(wanted) for r in session.execute(_page_stmt().where(PageRow.id.in_(chunk)))]
            missing = sorted(set(wanted) - {int(r[0]) for r in rows})
            if missing:
                raise WaczError(f"数据库中没有这些页面：{', '.join(map(str, missing))}。")
    if not rows:
        raise WaczError("没有可打包的页面。")
    return sorted((_Page(*row) for row in rows), key=lambda p: p.id)


def _related(store: EvidenceStore, page_ids: Sequence[int]) -> dict[int, list[str]]:
    """The SHA-256 of each page's related captures (qualification pages ...), page id → list."""
    out: dict[int, list[str]] = {}
    with Session(store.engine) as session:
        for chunk in _chunks(page_ids):
            stmt = (select(PageCapture.page_id, Capture.sha256)
                    .join(Capture, PageCapture.capture_id == Capture.id)
                    .where(PageCapture.page_id.in_(chunk))
                    .order_by(PageCapture.page_id, Capture.id))
            for page_id, sha in session.execute(stmt):
                out.setdefault(int(page_id), []).append(str(sha))
    return out


# -------------------------------------------------------------------- the WARC


def _write_capture(writer: WarcWriter, store: EvidenceStore, sha: str, done: _Written) -> CaptureRecord | None:
    """Write the capture ``sha`` unless already written; the record (None if it is not stored)."""
    record = store.capture(sha)
    if record is None:
        done.notes.append(f"抓取记录 {sha} 不存在，未写入 WARC。")
        return None
    if hashlib.sha256(record.body).hexdigest() != record.sha256:
        done.notes.append(f"抓取记录 {sha} 的内容与其 SHA-256 不符，已按数据库中的内容写入。")
    if record.sha256 not in done.shas:
        writer.write_capture(_capture(record))
        done.shas.add(record.sha256)
    return record


def _write_screenshots(writer: WarcWriter, store: EvidenceStore, page: _Page, target: str,
                       done: _Written) -> None:
    """Every stored screenshot of ``page`` as a resource record, dated when it was taken."""
    shots: list[EvidenceFile] = [f for f in store.files_for_page(page.id) if f.kind == "screenshot"]
    for shot in shots:
        try:
            data = store.read(shot)
        except OSError as exc:
            done.notes.append(f"页面 {page.id} 的截图 {shot.sha256[:16]} 无法读取：{exc}")
            continue
        if hashlib.sha256(data).hexdigest() != shot.sha256:
            done.notes.append(f"页面 {page.id} 的截图与数据库中记录的 SHA-256 不符。")
        writer.write_resource(
            SCREENSHOT_URI_PREFIX + target, shot.content_type or "image/png", data, when=shot.created_at,
            extra_headers={"WARC-Mdwatch-Kind": "screenshot", "WARC-Mdwatch-Page-Id": str(page.id),
                           "WARC-Mdwatch-Capture-SHA256": page.capture_sha256,
                           "WARC-Mdwatch-Screenshot-Note": _ascii(shot.note)},
        )
        done.screenshots += 1


def _ascii(text: str | None) -> str:
    value = (text or "").encode("ascii", "backslashreplace").decode("ascii")
    return value.replace("\r", " ").replace("\n", " ") or "-"


def _page_line(page: _Page, record: CaptureRecord) -> dict[str, Any]:
    """A pages.jsonl line: the URL and ``ts`` of the response record, so a replayer opens it."""
    return {"id": f"mdwatch-page-{page.id}", "url": record.final_url, "title": page.title or record.final_url,
            "ts": warc_date(record.fetched_at), "status": record.status, "mdwatch_page_id": page.id,
            "mdwatch_run_id": page.run_id, "capture_sha256": record.sha256}


def _write_warc(writer: WarcWriter, store: EvidenceStore, pages: Sequence[_Page]) -> _Written:
    done = _Written()
    related = _related(store, [p.id for p in pages])
    for page in pages:
        record = _write_capture(writer, store, page.capture_sha256, done)
        if record is None:
            continue
        done.lines.append(_page_line(page, record))
        for sha in related.get(page.id, []):
            _write_capture(writer, store, sha, done)
        _write_screenshots(writer, store, page, record.final_url, done)
    return done


# -------------------------------------------------------------------- the package


def _pages_jsonl(path: Path, lines: Sequence[dict[str, Any]], title: str) -> None:
    header = {"format": "json-pages-1.0", "id": "pages", "title": title}
    with open(path, "w", encoding="utf-8") as fh:
        for line in (header, *lines):
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def _main_page_args(lines: Sequence[dict[str, Any]]) -> list[str]:
    """``--url``/``--ts`` of the single page of a one-page package (its ``mainPageURL``), else none."""
    if len(lines) != 1 or not urlsplit(str(lines[0]["url"])).path:
        return []
    return ["--url", str(lines[0]["url"]), "--ts", iso_date_to_timestamp(str(lines[0]["ts"]))]


def _wacz_create(warc: Path, pages: Path, out: Path, *, title: str, desc: str, extra: list[str]) -> None:
    """Run py-wacz's ``wacz create`` in-process (its printed progress is kept for the error message)."""
    from wacz.main import main as wacz_main

    args = ["create", str(warc), "-o", str(out), "-p", str(pages), "--copy-pages", "--hash-type", "sha256",
            "--title", title, "--desc", desc, *extra]
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            code = wacz_main(args)
    except Exception as exc:
        raise WaczError(f"生成 WACZ 文件失败：{exc}；{_last_line(printed)}") from exc
    if code != 0 or not out.exists():
        raise WaczError(f"生成 WACZ 文件失败：{_last_line(printed)}")


def _last_line(printed: io.StringIO) -> str:
    lines = [line for line in printed.getvalue().splitlines() if line.strip()]
    return lines[-1] if lines else "（无输出）"


def _scope(selection: PageSelection, pages: Sequence[_Page]) -> tuple[str, str]:
    """A file-name stem and a Chinese label of what the package holds."""
    if isinstance(selection, int):
        return f"run-{selection}", f"任务 {selection} 的全部页面"
    if len(pages) == 1:
        return f"page-{pages[0].id}", f"页面 {pages[0].id}"
    return f"pages-{len(pages)}", f"{len(pages)} 个页面"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _datapackage_sha256(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        return hashlib.sha256(zf.read("datapackage.json")).hexdigest()


def write_wacz(store_url: str, selection: PageSelection, out_path: Path | str, *,
               data_dir: Path | str | None = None, title: str | None = None) -> WaczResult:
    """Package the captures of the selected stored pages into one WACZ file at ``out_path``.

    ``selection``: page ids (any sequence of ints; e.g. the pages of a finding, a lead or a
    campaign) or a run id (an ``int``: every page of that run). ``title`` names the package in
    ``datapackage.json`` and ``pages.jsonl`` (default: a Chinese label of the selection). The
    file appears at ``out_path`` only once complete (an existing file is replaced). Raises
    :class:`WaczError` for an unknown run or page, an empty selection or a failed ``wacz create``.
    """
    out = Path(out_path)
    with EvidenceStore(store_url, data_dir=data_dir) as store:
        pages = _select_pages(store, selection)
        stem, label = _scope(selection, pages)
        name = title or f"mdwatch 固证页面：{label}"
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="mdwatch-wacz-", dir=out.parent) as tmpdir:
            tmp = Path(tmpdir)
            info = {"software": f"mdwatch/{__version__}", "description": f"{stem}: generated from stored captures",
                    "mdwatch-run-ids": ",".join(sorted({str(p.run_id) for p in pages}))}
            with WarcWriter(tmp / f"mdwatch-{stem}.warc.gz", info=info) as writer:
                done = _write_warc(writer, store, pages)
            if not done.lines:
                raise WaczError("所选页面的抓取记录都不存在，无法生成 WACZ 文件。")
            _pages_jsonl(tmp / "pages.jsonl", done.lines, name)
            desc = ("由 mdwatch 从数据库中保存的原始抓取记录生成；WARC-Date 与 pages.jsonl 的 ts 为原抓取时间，"
                    "截图记录的 WARC-Date 为截图时间。")
            built = tmp / "package.wacz"
            _wacz_create(writer.path, tmp / "pages.jsonl", built, title=name, desc=desc,
                         extra=_main_page_args(done.lines))
            os.replace(built, out)
    return WaczResult(path=out, pages=len(done.lines), responses=len(done.shas), screenshots=done.screenshots,
                      records=writer.records + 1, sha256=_sha256_file(out),
                      datapackage_sha256=_datapackage_sha256(out), notes=done.notes)
