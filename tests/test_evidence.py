"""Evidence (固证): WARC files, screenshots, export packages and their offline verification.

A scan of demo pages goes into a temporary SQLite database; one page gets a screenshot through
``capture_evidence``, the others get one at export time. Packages of one finding and of the
whole run must verify, and flipping one byte of any one file must make ``verify`` fail naming
exactly that file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from mdwatch.crawler.capture import Capture
from mdwatch.crawler.evidence import CHROMIUM_PATH, Screenshotter, WarcWriter, warc_date, warc_sha256
from mdwatch.demo.server import serve
from mdwatch.scheduler.jobs.evidence import (
    EvidenceError,
    capture_evidence,
    close_sweep_warc,
    export,
    open_sweep_warc,
    verify,
)
from mdwatch.scheduler.jobs.scan import scan_urls
from mdwatch.storage.evidence import EvidenceStore
from mdwatch.storage.records import CaptureRecord, FindingRecord, PageRecord, RunRecord
from mdwatch.storage.store import Store

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM_PATH).exists(), reason=f"no Chromium at {CHROMIUM_PATH}")

PRODUCTS = ("/products/p002.html", "/products/p003.html", "/products/p004.html", "/products/p005.html")


@dataclass(frozen=True)
class Scanned:
    db: str
    data_dir: Path
    run_id: int
    shot_page: int  # the page screenshotted by capture_evidence
    shooter: Screenshotter


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    if not Path(CHROMIUM_PATH).exists():
        pytest.skip(f"no Chromium at {CHROMIUM_PATH}")
    root = tmp_path_factory.mktemp("evidence")
    db = f"sqlite:///{root / 'mdwatch.sqlite3'}"
    with serve() as server, Screenshotter() as shooter:
        result = scan_urls([server.url(p) for p in PRODUCTS], db_url=db)
        assert result.run_id is not None
        with EvidenceStore(db, data_dir=root) as store:
            pages = store.pages_with_findings(result.run_id)
        assert len(pages) >= 2, "the demo products should give findings on several pages"
        done = capture_evidence(db, result.run_id, [pages[0].id], screenshotter=shooter, data_dir=root)
        assert not done.failed and list(done.saved) == [pages[0].id]
        yield Scanned(db, root, result.run_id, pages[0].id, shooter)


def _export(s: Scanned, name: str, **kw: int) -> Path:
    out = s.data_dir / name
    export(s.db, out, screenshotter=s.shooter, data_dir=s.data_dir, **kw)  # type: ignore[arg-type]
    return out


def _rewrite(src: Path, dst: Path, change: Callable[[dict[str, bytes]], None]) -> None:
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    change(members)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _flip(data: bytes, at: int | None = None) -> bytes:
    i = len(data) // 2 if at is None else at
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


# -------------------------------------------------------------------- export and verify


@needs_chromium
def test_export_of_one_finding_verifies_and_holds_the_evidence(scanned: Scanned) -> None:
    with EvidenceStore(scanned.db, data_dir=scanned.data_dir) as store:
        finding = next(f for f in store.findings(scanned.run_id) if f.page_id == scanned.shot_page)
        capture = store.capture(finding.capture_sha256)
    assert capture is not None
    out = _export(scanned, "one.zip", finding_id=finding.id)
    report = verify(out)
    assert report.ok, report.problems
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        doc = json.loads(zf.read(f"findings/{finding.id}/finding.json"))
        html = zf.read(doc["files"]["page_html"])
        png = zf.read(doc["files"]["screenshot"])
        manifest = json.loads(zf.read("manifest.json"))
        readme = zf.read("README.txt").decode("utf-8")
    assert doc["rule"] == finding.rule and doc["severity"] == finding.severity
    assert doc["article"] == finding.article and doc["message"] == finding.message
    assert doc["evidence"] == finding.evidence and doc["page"]["url"] == finding.page_url
    assert html == capture.body and hashlib.sha256(html).hexdigest() == doc["capture"]["sha256"]
    assert doc["capture"]["sha256"] == finding.capture_sha256
    fetched = doc["capture"]["fetched_at"]
    assert datetime.fromisoformat(fetched["utc"]) == capture.fetched_at
    assert fetched["asia_shanghai"].endswith("+08:00")
    assert datetime.fromisoformat(fetched["asia_shanghai"]) == capture.fetched_at
    assert png.startswith(b"\x89PNG") and Image.open(io.BytesIO(png)).size[0] == 1280
    assert any(n.startswith("warc/") and n.endswith(".warc.gz") for n in names)
    listed = {e["path"]: e for e in manifest["files"]}
    assert set(listed) == names - {"manifest.json", "manifest.sig"}  # the seal signs the manifest
    for name, entry in listed.items():
        with zipfile.ZipFile(out) as zf:
            data = zf.read(name)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size"] == len(data)
    assert manifest["tool"]["name"] == "mdwatch" and manifest["tool"]["version"]
    assert manifest["exported_at"]["utc"] and manifest["exported_at"]["asia_shanghai"]
    assert "如何校验" in readme and "sha256sum" in readme


@needs_chromium
def test_export_of_a_run_takes_missing_screenshots_and_says_so(scanned: Scanned) -> None:
    out = _export(scanned, "run.zip", run_id=scanned.run_id)
    assert verify(out).ok
    with EvidenceStore(scanned.db, data_dir=scanned.data_dir) as store:
        findings = store.findings(scanned.run_id)
        pages = {f.page_id for f in findings}
        shots = {p: [f for f in store.files_for_page(p) if f.kind == "screenshot"] for p in pages}
    assert all(len(s) == 1 for s in shots.values()), "every page with a finding now has one screenshot"
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    assert {f"findings/{f.id}/finding.json" for f in findings} <= names
    assert {f"pages/{p}/screenshot.png" for p in pages} <= names
    entries = {e["path"]: e for e in manifest["files"]}
    assert "抓取后" in entries[f"pages/{scanned.shot_page}/screenshot.png"]["note"]
    later = next(p for p in pages if p != scanned.shot_page)
    assert "导出时截图" in entries[f"pages/{later}/screenshot.png"]["note"]
    assert any("导出时生成" in n for n in manifest["notes"])
    assert any("WARC" in n and "导出时" in n for n in manifest["notes"]), "a scan has no WARC: say it was generated"
    # a second export reuses the stored screenshots: same bytes, same hashes
    again = _export(scanned, "run-again.zip", run_id=scanned.run_id)
    with zipfile.ZipFile(out) as a, zipfile.ZipFile(again) as b:
        for p in pages:
            assert a.read(f"pages/{p}/screenshot.png") == b.read(f"pages/{p}/screenshot.png")


@needs_chromium
def test_flipping_one_byte_of_any_file_names_that_file(scanned: Scanned) -> None:
    out = _export(scanned, "tamper.zip", run_id=scanned.run_id)
    with zipfile.ZipFile(out) as zf:
        names = [n for n in zf.namelist() if n != "manifest.json"]
    assert len(names) >= 8
    for name in names:
        bad = scanned.data_dir / "tampered.zip"

        def flip(members: dict[str, bytes], name: str = name) -> None:
            members[name] = _flip(members[name])

        _rewrite(out, bad, flip)
        report = verify(bad)
        assert not report.ok
        assert [p.path for p in report.problems] == [name], (name, report.problems)
        # the signature names its own file as 签名无效; every other member as changed
        assert report.problems[0].problem == ("signature" if name == "manifest.sig" else "changed")
    # the CLI: exit 1, one line naming the file
    page_html = next(n for n in names if n.endswith("page.html"))
    _rewrite(out, bad, lambda m: m.__setitem__(page_html, _flip(m[page_html], 0)))
    proc = subprocess.run([sys.executable, "-m", "mdwatch.scheduler.cli", "evidence", "verify", str(bad)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert proc.stdout.strip().splitlines() == [line for line in proc.stdout.strip().splitlines() if page_html in line]
    proc = subprocess.run([sys.executable, "-m", "mdwatch.scheduler.cli", "evidence", "verify", str(out)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and "校验通过" in proc.stdout


@needs_chromium
def test_missing_extra_and_consistently_rehashed_files_are_named(scanned: Scanned) -> None:
    out = _export(scanned, "edits.zip", run_id=scanned.run_id)
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
    shot = next(n for n in names if n.endswith("screenshot.png"))
    bad = scanned.data_dir / "edited.zip"

    def drop(m: dict[str, bytes]) -> None:
        del m[shot]

    _rewrite(out, bad, drop)
    assert [(p.path, p.problem) for p in verify(bad).problems] == [(shot, "missing")]

    _rewrite(out, bad, lambda m: m.__setitem__("pages/extra.txt", b"added later"))
    assert [(p.path, p.problem) for p in verify(bad).problems] == [("pages/extra.txt", "extra")]

    # page.html replaced and the manifest updated to match: the finding's capture hash still catches it
    html = next(n for n in names if n.endswith("page.html"))

    def replace_html(m: dict[str, bytes]) -> None:
        m[html] = m[html].replace(b"</body>", b"<p>x</p></body>")
        manifest = json.loads(m["manifest.json"])
        for entry in manifest["files"]:
            if entry["path"] == html:
                entry["sha256"], entry["size"] = hashlib.sha256(m[html]).hexdigest(), len(m[html])
        m["manifest.json"] = json.dumps(manifest).encode()

    _rewrite(out, bad, replace_html)
    # the seal catches the edited manifest, and the finding's capture hash still catches the page
    assert {(p.path, p.problem) for p in verify(bad).problems} == {("manifest.json", "changed"),
                                                                    (html, "capture_mismatch")}

    # not a ZIP at all
    bad.write_bytes(b"not a zip")
    report = verify(bad)
    assert not report.ok and report.problems[0].problem == "unreadable"


def test_export_of_unknown_finding_or_run_is_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    with pytest.raises(EvidenceError, match="99"):
        export(db, tmp_path / "x.zip", finding_id=99, data_dir=tmp_path)
    with pytest.raises(EvidenceError, match="7"):
        export(db, tmp_path / "x.zip", run_id=7, data_dir=tmp_path)
    assert not (tmp_path / "x.zip").exists()


# -------------------------------------------------------------------- WARC


def _records(path: Path) -> list[tuple[str, dict[str, str], bytes]]:
    out = []
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh):
            out.append((record.rec_type, dict(record.rec_headers.headers), record.content_stream().read()))
    return out


@needs_chromium
def test_exported_warc_reads_back_with_sha256_digests(scanned: Scanned) -> None:
    out = _export(scanned, "warc.zip", run_id=scanned.run_id)
    warc = scanned.data_dir / "exported.warc.gz"
    with zipfile.ZipFile(out) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".warc.gz"))
        warc.write_bytes(zf.read(name))
    with EvidenceStore(scanned.db, data_dir=scanned.data_dir) as store:
        captures = {f.capture_sha256: store.capture(f.capture_sha256) for f in store.findings(scanned.run_id)}
    responses = [(h, body) for kind, h, body in _records(warc) if kind == "response"]
    assert {hashlib.sha256(body).hexdigest() for _, body in responses} == set(captures)
    for headers, body in responses:
        capture = captures[hashlib.sha256(body).hexdigest()]
        assert capture is not None
        assert headers["WARC-Payload-Digest"] == warc_sha256(body)
        assert headers["WARC-Target-URI"] == capture.final_url
        assert headers["WARC-Date"] == warc_date(capture.fetched_at)
    kinds = [kind for kind, _, _ in _records(warc)]
    assert kinds.count("request") == len(responses) and "resource" in kinds


def _capture(url: str, body: bytes, **headers: str) -> Capture:
    return Capture.build(url=url, final_url=url, status=200, body=body,
                         headers={"Content-Type": "text/html; charset=utf-8", **headers},
                         fetched_at=datetime(2026, 5, 1, 8, 0, 0, 123456, tzinfo=UTC))


def test_warc_writer_records_headers_body_and_digests(tmp_path: Path) -> None:
    body = "<html><body>本品可根治颈椎病</body></html>".encode()
    cap = _capture("http://shop.test/p/1?x=1", body, **{"Content-Encoding": "gzip", "X-Shop": "kangrui"})
    with WarcWriter.new_part(tmp_path, "sweep-3") as w:
        response_id = w.write_capture(cap)
        w.write_resource(cap.final_url, "image/png", b"\x89PNG fake", concurrent_to=response_id)
    assert w.path.name == "sweep-3-1.warc.gz" and w.sha256 == hashlib.sha256(w.path.read_bytes()).hexdigest()
    records = _records(w.path)
    assert [kind for kind, _, _ in records] == ["warcinfo", "response", "request", "resource"]
    _, resp, payload = records[1]
    assert payload == body and resp["WARC-Payload-Digest"] == warc_sha256(body)
    assert resp["WARC-Date"] == "2026-05-01T08:00:00.123456Z" and resp["WARC-Record-ID"] == response_id
    assert resp["WARC-Block-Digest"].startswith("sha256:")
    with open(w.path, "rb") as fh:
        response = next(r for r in ArchiveIterator(fh) if r.rec_type == "response")
        assert response.http_headers.get_statuscode() == "200"
        assert response.http_headers.get_header("X-Shop") == "kangrui"
        # the body is stored decoded: the original encoding header is kept under another name
        assert response.http_headers.get_header("Content-Encoding") is None
        assert response.http_headers.get_header("X-Archive-Orig-content-encoding") == "gzip"
    assert records[2][1]["WARC-Concurrent-To"] == response_id
    assert records[3][1]["WARC-Concurrent-To"] == response_id and records[3][2] == b"\x89PNG fake"
    # a closed part is never appended to: the next process gets part 2
    with pytest.raises(FileExistsError):
        WarcWriter(w.path)
    with WarcWriter.new_part(tmp_path, "sweep-3") as w2:
        pass
    assert w2.path.name == "sweep-3-2.warc.gz"
    with pytest.raises(ValueError):
        w.write_capture(cap)


def test_warc_records_are_gzip_members_of_their_own(tmp_path: Path) -> None:
    """Each record is one gzip member, flushed when written: a killed process loses at most its last
    record, and what it wrote before reads back on its own."""
    import zlib

    with WarcWriter.new_part(tmp_path, "sweep-4") as w:
        for i in range(3):
            w.write_capture(_capture(f"http://shop.test/p/{i}", f"<p>第{i}页</p>".encode() * 50))
        written = w.path.read_bytes()  # before close: everything written is already on disk
    data, members = written, []
    while data:
        inflater = zlib.decompressobj(zlib.MAX_WBITS + 16)
        members.append(inflater.decompress(data))
        assert inflater.eof
        data = inflater.unused_data
    assert len(members) == 1 + 3 * 2  # warcinfo, then a response and a request per capture
    assert all(m.startswith(b"WARC/1.1\r\n") for m in members)
    assert members[1].count("第0页".encode()) == 50


# -------------------------------------------------------------------- storage, both backends


def _record(url: str, body: bytes) -> CaptureRecord:
    return CaptureRecord(url=url, final_url=url, status=200, headers={"content-type": "text/html; charset=utf-8"},
                         body=body, sha256=hashlib.sha256(body).hexdigest(),
                         fetched_at=datetime(2026, 5, 1, 8, 0, tzinfo=UTC))


def _sweep_run(db_url: str) -> int:
    now = datetime.now(UTC)
    pages = [
        PageRecord(capture=_record(f"http://shop.test/p/{i}", f"<p>第{i}页 根治</p>".encode()),
                   url=f"http://shop.test/p/{i}", kind="product", title=f"p{i}",
                   findings=[FindingRecord("CLAIM_CURE", "high", "《医疗器械广告审查发布标准》", "宣称根治",
                                           [{"source": "text", "snippet": "根治", "match": "根治"}])] if i else [])
        for i in range(3)
    ]
    with Store.open(db_url) as store:
        return store.save_run(RunRecord(kind="sweep", target="demo", started_at=now, finished_at=None, pages=pages))


def test_evidence_store_on_both_backends(db_url: str, tmp_path: Path) -> None:
    run_id = _sweep_run(db_url)
    with EvidenceStore(db_url, data_dir=tmp_path) as store:
        pages = store.pages_with_findings(run_id)
        assert [p.url for p in pages] == ["http://shop.test/p/1", "http://shop.test/p/2"]
        sha = store.save_screenshot(pages[0].id, b"\x89PNG one")
        assert store.save_screenshot(pages[0].id, b"\x89PNG one") == sha  # idempotent
        big = b"\x89PNG" + os.urandom(5 * 1024 * 1024)
        big_sha = store.save_screenshot(pages[1].id, big)
        on_disk = [f for f in store.files_for_page(pages[1].id)]
        assert on_disk[0].path is not None and Path(on_disk[0].path).parent == tmp_path / "evidence" / str(run_id)
        assert store.read(on_disk[0]) == big and on_disk[0].sha256 == big_sha
    writer = open_sweep_warc(run_id, data_dir=tmp_path)
    writer.write_capture(_capture("http://shop.test/p/1", "<p>第1页 根治</p>".encode()))
    registered = close_sweep_warc(db_url, run_id, writer, data_dir=tmp_path)
    assert writer.path.name == f"sweep-{run_id}-1.warc.gz"
    assert registered.sha256 == hashlib.sha256(writer.path.read_bytes()).hexdigest()
    with EvidenceStore(db_url, data_dir=tmp_path) as store:
        finding = store.findings(run_id)[0]
        files = store.files_for_finding(finding.id)
        assert sorted(f.kind for f in files) == ["screenshot", "warc"]
        assert store.read(files[0]) == b"\x89PNG one"
        assert [f.kind for f in store.files_for_run(run_id)] == ["screenshot", "screenshot", "warc"]
    # a sweep's own WARC files go into the package; none is generated; unregistered parts too
    stray = open_sweep_warc(run_id, data_dir=tmp_path)
    stray.close()  # e.g. a part whose process was killed before registering it
    out = tmp_path / "sweep.zip"
    result = export(db_url, out, run_id=run_id, screenshots=False, data_dir=tmp_path)
    assert verify(out).ok
    with zipfile.ZipFile(out) as zf:
        warcs = sorted(n for n in zf.namelist() if n.startswith("warc/"))
    assert warcs == [f"warc/sweep-{run_id}-1.warc.gz", f"warc/sweep-{run_id}-2.warc.gz"]
    assert any("未在数据库中登记" in n for n in result.notes)


# -------------------------------------------------------------------- screenshots


@needs_chromium
def test_screenshot_of_captured_html_is_1280_wide_and_height_capped() -> None:
    html = "<html><body style='margin:0'><div style='height:5000px'>长页面</div></body></html>".encode()
    with Screenshotter(max_height=2000, pages=2) as shooter:
        futures = [shooter.submit("http://nowhere.invalid/p.html", html, "text/html; charset=utf-8") for _ in range(3)]
        sizes = {Image.open(io.BytesIO(f.result(timeout=120))).size for f in futures}
        small = shooter.full_page_png("http://nowhere.invalid/q.html", b"<p>short</p>")
    assert sizes == {(1280, 2000)}
    assert Image.open(io.BytesIO(small)).size[0] == 1280


@needs_chromium
def test_cli_export_of_a_finding_and_a_sweep(scanned: Scanned, tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    with EvidenceStore(scanned.db, data_dir=scanned.data_dir) as store:
        finding = store.findings(scanned.run_id)[0]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mdwatch.scheduler.cli", "evidence", *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    one, run = tmp_path / "one.zip", tmp_path / "run.zip"
    proc = cli("export", "--finding", str(finding.id), str(one), "--db", scanned.db, "--no-screenshot")
    assert proc.returncode == 0, proc.stderr
    assert "SHA-256" in proc.stdout and verify(one).ok
    proc = cli("export", "--sweep", str(scanned.run_id), str(run), "--db", scanned.db, "--no-screenshot")
    assert proc.returncode == 0, proc.stderr
    assert cli("verify", str(run)).returncode == 0
    proc = cli("export", "--finding", "424242", str(tmp_path / "none.zip"), "--db", scanned.db)
    assert proc.returncode == 2 and "424242" in proc.stderr
    assert cli("export", str(tmp_path / "only.zip")).returncode == 2
