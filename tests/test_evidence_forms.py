"""A campaign run's finding exported later carries the capture time and the screenshot of that
run, in every form: the ZIP package, the WACZ archive and the 取证报告 PDF; each export is
recorded in the chain of custody."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from wacz.validate import Validation

from mdwatch.demo.server import DemoServer, serve
from mdwatch.scheduler.app import AppConfig, build_app
from mdwatch.scheduler.cli import cli
from mdwatch.scheduler.jobs.campaigns import create_campaign
from mdwatch.storage.custody import CustodyStore
from mdwatch.storage.evidence import EvidenceStore
from mdwatch.storage.leads import LeadStore
from mdwatch.storage.store import Store


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with serve() as server:
        yield server


@pytest.mark.network
def test_a_finding_exported_later_carries_its_runs_capture(demo: DemoServer, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'c.db'}"
    url = demo.url("/products/p037.html")
    create_campaign("复查", [url], "hainan", db_url=db_url)
    run = build_app(AppConfig(db_url=db_url, ocr_engine="none", browser=False)).run_campaign("复查")
    run_id = run.run_ids[-1]
    with Store.open(db_url) as store:
        finding = store.findings(run_id)[0]
    with EvidenceStore(db_url) as ev:
        page = ev.page(finding.page_id)
        assert page is not None
        shot = next(f for f in ev.files_for_page(page.id) if f.kind == "screenshot")
    time.sleep(1.1)  # "later": any time taken at export would differ from the run's
    runner = CliRunner()
    zip_out, wacz_out, pdf_out = tmp_path / "f.zip", tmp_path / "f.wacz", tmp_path / "f.pdf"
    for args in (["evidence", "export", "--finding", str(finding.id), str(zip_out), "--db", db_url],
                 ["evidence", "export", "--finding", str(finding.id), str(wacz_out), "--db", db_url],
                 ["evidence", "report", "--finding", str(finding.id), str(pdf_out), "--db", db_url,
                  "--operator", "复核员"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
    with zipfile.ZipFile(zip_out) as zf:
        names = zf.namelist()
        doc = json.loads(next(zf.read(n) for n in names if n.endswith("finding.json")))
        shots = [n for n in names if n.endswith(".png")]
        assert shots and any(zf.read(n) == EvidenceStore(db_url).read(shot) for n in shots)
    assert doc["capture"]["sha256"] == finding.capture_sha256
    assert datetime.fromisoformat(doc["capture"]["fetched_at"]["utc"]) == page.fetched_at  # the run's fetch time
    assert Validation(str(wacz_out)).check_file_hashes() is not False
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf_out), "-"], capture_output=True, text=True, check=True).stdout
        assert "复核员" in text and finding.rule in "".join(text.split())
    with CustodyStore(db_url) as custody:
        entries = custody.entries([("finding", str(finding.id))])
    assert [e.action for e in entries] == ["export", "export", "export"] and all(e.result == "ok" for e in entries)

    # the lead's report: one page per finding, and the chain of custody so far on it
    with LeadStore.open(db_url) as leads:
        lead = leads.leads("复查")[0]
    lead_pdf = tmp_path / "lead.pdf"
    result = runner.invoke(cli, ["evidence", "report", "--lead", str(lead.id), str(lead_pdf), "--db", db_url])
    assert result.exit_code == 0, result.output
    if shutil.which("pdftotext"):
        text = "".join(subprocess.run(["pdftotext", str(lead_pdf), "-"], capture_output=True, text=True,
                                      check=True).stdout.split())
        assert f"线索{lead.id}" in text and "导出（成功）" in text
    bad = runner.invoke(cli, ["evidence", "report", "--finding", "1", "--lead", "1", str(lead_pdf), "--db", db_url])
    assert bad.exit_code == 2
