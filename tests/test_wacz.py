"""WACZ packages of stored pages: valid for py-wacz's validator, records found by the CDXJ index.

A scan of demo pages (served on 127.0.0.1) goes into a temporary SQLite database, one page gets a
stored screenshot; the WACZ of the pages with findings and the WACZ of the whole run must pass the
checks ``wacz validate`` runs, and every page's response record, opened at the offset its CDXJ
line gives inside the ZIP, must hold the stored capture's body and its fetch time. No connection
leaves 127.0.0.1.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import socket
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from wacz.main import main as wacz_main
from wacz.util import WACZ_VERSION
from wacz.validate import Validation
from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from mdwatch.crawler.evidence import warc_date
from mdwatch.demo.server import serve
from mdwatch.scheduler.jobs.evidence.wacz_package import WaczError, write_wacz
from mdwatch.scheduler.jobs.scan import scan_urls
from mdwatch.storage.evidence import EvidenceStore

pytestmark = pytest.mark.network

PRODUCTS = ("/products/p002.html", "/products/p003.html", "/products/p004.html", "/products/p005.html")
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse any connection of this process beyond 127.0.0.1 (the validator must work offline);
    an attempt fails the test even if the code that made it swallowed the error."""
    connect = socket.socket.connect
    attempts: list[Any] = []

    def guarded(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOOPBACK:
            attempts.append(address)
            raise OSError(f"connection beyond 127.0.0.1 refused by the test: {address!r}")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield
    assert not attempts, f"connections beyond 127.0.0.1: {attempts}"


@dataclass(frozen=True)
class Scanned:
    db: str
    root: Path
    run_id: int
    finding_pages: list[int]
    shot_page: int
    png: bytes


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 32), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    root = tmp_path_factory.mktemp("wacz")
    db = f"sqlite:///{root / 'mdwatch.sqlite3'}"
    with serve() as server:
        result = scan_urls([server.url(p) for p in PRODUCTS], db_url=db, browser=False)
    assert result.run_id is not None
    png = _png()
    with EvidenceStore(db, data_dir=root) as store:
        pages = [p.id for p in store.pages_with_findings(result.run_id)]
        assert len(pages) >= 2, "the demo products should give findings on several pages"
        store.save_screenshot(pages[0], png, note="rendered-from-capture")
    yield Scanned(db, root, result.run_id, pages, pages[0], png)


# -------------------------------------------------------------------- reading a WACZ back


def _validate(path: Path) -> None:
    """The checks ``wacz validate -f`` runs, one by one (to name the failing one), then the command."""
    validation = Validation(str(path))
    assert validation.version == WACZ_VERSION
    assert not validation.check_required_contents()  # returns 0 when complete
    for check in (validation.frictionless_validate, validation.check_file_paths,
                  validation.check_file_hashes, validation.check_data_package_hash_and_sig):
        assert check() is True, check.__name__
    assert wacz_main(["validate", "-f", str(path)]) == 0


def _cdxj(zf: zipfile.ZipFile) -> list[tuple[str, str, dict[str, Any]]]:
    """(urlkey, timestamp, fields) of every line of indexes/index.cdx.gz (gzip blocks, ZipNum)."""
    text = gzip.decompress(zf.read("indexes/index.cdx.gz")).decode("utf-8")
    lines = []
    for line in text.splitlines():
        key, ts, fields = line.split(" ", 2)
        lines.append((key, ts, json.loads(fields)))
    return lines


def _record_at(zf: zipfile.ZipFile, entry: dict[str, Any]) -> tuple[ArcWarcRecord, bytes]:
    """The WARC record the CDXJ line points at: seek into the WARC inside the ZIP, parse that span."""
    with zf.open(f"archive/{entry['filename']}") as fh:
        fh.seek(int(entry["offset"]))
        span = fh.read(int(entry["length"]))
    record = next(iter(ArchiveIterator(io.BytesIO(span))))
    return record, record.content_stream().read()


def _pages(zf: zipfile.ZipFile) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    header, *lines = [json.loads(line) for line in zf.read("pages/pages.jsonl").decode("utf-8").splitlines()]
    return header, lines


def _check_pages_against_store(path: Path, s: Scanned, page_ids: list[int]) -> None:
    with EvidenceStore(s.db, data_dir=s.root) as store:
        refs = [store.page(p) for p in page_ids]
        captures = {r.id: store.capture(r.capture_sha256) for r in refs if r is not None}
    with zipfile.ZipFile(path) as zf:
        header, lines = _pages(zf)
        index = _cdxj(zf)
        assert header["format"] == "json-pages-1.0"
        assert [line["mdwatch_page_id"] for line in lines] == page_ids
        for line in lines:
            capture = captures[line["mdwatch_page_id"]]
            assert capture is not None
            assert line["url"] == capture.final_url and line["title"]
            assert line["ts"] == warc_date(capture.fetched_at), "ts is the capture time, not the export time"
            entries = [e for _, _, e in index if e["url"] == capture.final_url and e.get("mime") != "warc/request"]
            responses = [(rec, body) for rec, body in (_record_at(zf, e) for e in entries)
                         if rec.rec_type == "response"]
            assert len(responses) == 1, line
            record, body = responses[0]
            assert hashlib.sha256(body).hexdigest() == capture.sha256 == line["capture_sha256"]
            assert record.rec_headers.get_header("WARC-Date") == warc_date(capture.fetched_at)
            assert record.http_headers is not None and int(record.http_headers.get_statuscode()) == capture.status


# -------------------------------------------------------------------- tests


def test_wacz_of_pages_with_findings_validates_and_its_index_finds_the_captures(scanned: Scanned) -> None:
    out = scanned.root / "findings.wacz"
    result = write_wacz(scanned.db, scanned.finding_pages, out)
    assert result.path == out and out.exists() and not result.notes
    assert result.pages == len(scanned.finding_pages) and result.screenshots == 1
    assert result.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    _validate(out)
    _check_pages_against_store(out, scanned, scanned.finding_pages)
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        package = json.loads(zf.read("datapackage.json"))
        digest = json.loads(zf.read("datapackage-digest.json"))
        assert digest["hash"] == "sha256:" + result.datapackage_sha256
        listed = {r["path"]: r for r in package["resources"]}
        assert set(listed) == names - {"datapackage.json", "datapackage-digest.json"}
        for member, entry in listed.items():
            data = zf.read(member)
            assert entry["hash"] == "sha256:" + hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
        assert {"pages/pages.jsonl", "indexes/index.cdx.gz", "indexes/index.idx"} <= names
        assert zf.getinfo(next(n for n in names if n.startswith("archive/"))).compress_type == zipfile.ZIP_STORED
        # the screenshot: a resource record at urn:view:<url>, dated when it was taken
        shots = [e for _, _, e in _cdxj(zf) if e["url"].startswith("urn:view:")]
        assert len(shots) == 1
        record, png = _record_at(zf, shots[0])
    with EvidenceStore(scanned.db, data_dir=scanned.root) as store:
        stored = next(f for f in store.files_for_page(scanned.shot_page) if f.kind == "screenshot")
        page = store.page(scanned.shot_page)
    assert page is not None
    assert record.rec_type == "resource" and png == scanned.png
    assert record.rec_headers.get_header("WARC-Date") == warc_date(stored.created_at)
    assert record.rec_headers.get_header("WARC-Mdwatch-Page-Id") == str(scanned.shot_page)
    assert record.rec_headers.get_header("WARC-Mdwatch-Capture-SHA256") == page.capture_sha256


def test_wacz_of_a_run_holds_every_page_and_requests(scanned: Scanned) -> None:
    out = scanned.root / "run.wacz"
    result = write_wacz(scanned.db, scanned.run_id, out)
    _validate(out)
    with EvidenceStore(scanned.db, data_dir=scanned.root) as store:
        findings = {p.id for p in store.pages_with_findings(scanned.run_id)}
    with zipfile.ZipFile(out) as zf:
        _, lines = _pages(zf)
        warc = next(n for n in zf.namelist() if n.startswith("archive/"))
        with zf.open(warc) as fh:  # the whole WARC, record by record (requests are not in the index)
            records = [(r.rec_type, r.rec_headers) for r in ArchiveIterator(fh)]
    page_ids = [line["mdwatch_page_id"] for line in lines]
    assert result.pages == len(page_ids) == len(PRODUCTS) and findings <= set(page_ids)
    assert result.records == len(records) and records[0][0] == "warcinfo"
    response_ids = {h.get_header("WARC-Record-ID") for kind, h in records if kind == "response"}
    requests = [h.get_header("WARC-Concurrent-To") for kind, h in records if kind == "request"]
    assert len(response_ids) == result.responses >= len(PRODUCTS) and set(requests) == response_ids
    _check_pages_against_store(out, scanned, page_ids)


def test_one_page_wacz_names_its_main_page(scanned: Scanned) -> None:
    out = scanned.root / "one.wacz"
    write_wacz(scanned.db, [scanned.shot_page], out)
    _validate(out)
    with zipfile.ZipFile(out) as zf:
        package = json.loads(zf.read("datapackage.json"))
        _, lines = _pages(zf)
    assert package["mainPageURL"] == lines[0]["url"]
    assert package["wacz_version"] == WACZ_VERSION


def test_a_changed_byte_fails_validation(scanned: Scanned) -> None:
    out = scanned.root / "tamper.wacz"
    write_wacz(scanned.db, scanned.finding_pages, out)
    bad = scanned.root / "tampered.wacz"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("archive/"):
                middle = len(data) // 2
                data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]
            dst.writestr(info, data)
    assert Validation(str(bad)).check_file_hashes() is False
    # the full validation fails too: by its hash check, or earlier, when the flipped byte breaks
    # the WARC's compressed stream the validator reads (where the byte lands varies with the run)
    try:
        code = wacz_main(["validate", "-f", str(bad)])
    except (zlib.error, OSError, EOFError, ValueError):
        code = 1
    assert code == 1


def test_unknown_run_or_pages_are_refused(scanned: Scanned, tmp_path: Path) -> None:
    with pytest.raises(WaczError, match="424242"):
        write_wacz(scanned.db, 424242, tmp_path / "x.wacz")
    with pytest.raises(WaczError, match="987654"):
        write_wacz(scanned.db, [scanned.shot_page, 987654], tmp_path / "x.wacz")
    with pytest.raises(WaczError):
        write_wacz(scanned.db, [], tmp_path / "x.wacz")
    assert not (tmp_path / "x.wacz").exists()
    assert not list(tmp_path.iterdir()), "no temporary files are left behind"
