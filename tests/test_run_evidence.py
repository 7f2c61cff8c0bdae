"""A scan's or a campaign's stored run is preserved in the same run, as a sweep's pages are: a
WARC of every capture at its fetch time and a screenshot of each page with findings, rendered
from the captured bytes. Evidence is never taken later at export time."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from mdwatch.demo.server import DemoServer, serve
from mdwatch.scheduler.app import AppConfig, build_app
from mdwatch.storage.evidence import EvidenceStore


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with serve() as server:
        yield server


@pytest.mark.network
def test_a_stored_scan_is_preserved_in_the_same_run(demo: DemoServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    db_url = f"sqlite:///{tmp_path / 'run.db'}"
    url = demo.url("/products/p037.html")  # a page with findings
    clean = demo.url("/products/p001.html")
    app = build_app(AppConfig(db_url=db_url, ocr_engine="none", browser=False))
    result = app.scan([url, clean])
    assert result.run_id is not None and result.evidence is not None and result.evidence.error is None
    outcome = next(o for o in result.ok if o.url == url)
    assert outcome.findings and outcome.capture is not None
    with EvidenceStore(db_url) as store:
        files = store.files_for_run(result.run_id)
        warcs = [f for f in files if f.kind == "warc"]
        assert len(warcs) == 1
        pages = {p.url: p for p in store.pages_with_findings(result.run_id)}
        assert url in pages
        shots = [f for f in store.files_for_page(pages[url].id) if f.kind == "screenshot"]
        assert len(shots) == 1 and shots[0].note == "rendered-from-capture"
        warc_bytes = store.read(warcs[0])
    dates = {}
    for record in ArchiveIterator(io.BytesIO(warc_bytes)):  # warcio reads the gzip members itself
        if record.rec_type == "response":
            dates[record.rec_headers.get_header("WARC-Target-URI")] = record.rec_headers.get_header("WARC-Date")
    assert url in dates and clean in dates  # every capture, with or without findings
    fetched = outcome.capture.fetched_at.astimezone(UTC)
    assert dates[url].startswith(fetched.strftime("%Y-%m-%dT%H:%M:%S"))  # the fetch time, not a later one


@pytest.mark.network
def test_no_evidence_stores_the_run_without_it(demo: DemoServer, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    db_url = f"sqlite:///{tmp_path / 'run.db'}"
    app = build_app(AppConfig(db_url=db_url, ocr_engine="none", browser=False, evidence=False))
    result = app.scan([demo.url("/products/p037.html")])
    assert result.run_id is not None and result.evidence is None
    with EvidenceStore(db_url) as store:
        assert store.files_for_run(result.run_id) == []


@pytest.mark.network
def test_the_scan_command_shows_the_findings_then_preserves_the_run(demo: DemoServer, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from mdwatch.scheduler.cli import cli

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = CliRunner().invoke(cli, ["scan", demo.url("/products/p037.html"), "--db", db_url, "--ocr-engine", "none",
                                      "--no-browser", "--json"])
    assert result.exit_code == 0, result.output
    with EvidenceStore(db_url) as store:
        kinds = sorted(f.kind for f in store.files_for_run(1)) + sorted(
            f.kind for p in store.pages_with_findings(1) for f in store.files_for_page(p.id))
    assert "warc" in kinds and "screenshot" in kinds
