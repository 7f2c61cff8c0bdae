"""Every entry point runs the same page pipeline: the same demo page through ``mdwatch sweep``,
``scan`` and a URL-target campaign with the same rule pack gives the same findings at the same
severities; ``mdwatch rules`` takes each rule's status from the analyzer registry."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mdwatch.analyzers.catalogue import rules as catalogue
from mdwatch.analyzers.packs import select_packs
from mdwatch.analyzers.registry import implemented_rules
from mdwatch.demo.server import DemoServer, serve
from mdwatch.scheduler.app import AppConfig, build_app
from mdwatch.scheduler.cli import cli
from mdwatch.scheduler.jobs.campaigns import create_campaign
from mdwatch.storage.store import Store

PACK = "hainan"  # raises PRODUCT_REGNO_MISSING and SHOP_QUALIFICATION_MISSING to critical


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with serve() as server:
        yield server


def _by_page(db_url: str, run_id: int) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {}
    with Store.open(db_url) as store:
        for f in store.findings(run_id):
            out.setdefault(f.page_url, set()).add((f.rule, f.severity))
    return out


@pytest.mark.network
def test_scan_sweep_and_campaign_give_one_page_the_same_findings(demo: DemoServer, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'entry.db'}"
    proc = subprocess.run(
        [sys.executable, "-m", "mdwatch.scheduler.cli", "sweep", "demo", "--base-url", demo.base_url,
         "--budget", "60", "--workers", "0", "--no-browser", "--ocr-engine", "none", "--no-screenshots",
         "--packs", PACK, "--db", db_url],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    swept = _by_page(db_url, 1)
    products = sorted(u for u, found in swept.items() if "/products/" in u and found)
    assert products, swept
    url = next((u for u in products if ("PRODUCT_REGNO_MISSING", "critical") in swept[u]), products[0])

    app = build_app(AppConfig(db_url=db_url, packs=PACK, ocr_engine="none", browser=False))  # as the CLI builds it
    scanned = app.scan([url], store=False)
    assert scanned.ok
    by_scan = {(f.rule, f.severity) for f in scanned.ok[0].findings}

    create_campaign("同页同果", [url], PACK, db_url=db_url)
    result = app.run_campaign("同页同果")
    assert result.run_ids
    by_campaign = _by_page(db_url, result.run_ids[-1])[url]

    assert swept[url] == by_scan == by_campaign
    severities = dict(swept[url])
    assert all(severities[r] == level for r, level in select_packs(PACK).severities.items() if r in severities)


def test_sweep_refuses_an_unknown_pack() -> None:
    result = CliRunner().invoke(cli, ["sweep", "demo", "--packs", "no-such-pack"])
    assert result.exit_code == 2
    assert "no-such-pack" in result.output


def test_rules_marks_what_the_registry_runs_as_implemented() -> None:
    result = CliRunner().invoke(cli, ["rules", "--json"])
    assert result.exit_code == 0, result.output
    listed = {r["rule"]: r["implemented"] for r in json.loads(result.output)}
    implemented = implemented_rules()
    assert set(listed) == set(catalogue())
    assert {r for r, done in listed.items() if done} == implemented & set(listed)
    assert {"PRICE_ANOMALY", "LISTING_CHANGED"} <= implemented  # the history rules run in the registry
    assert implemented <= set(catalogue())  # every rule an analyzer can emit is in the catalogue


def test_no_rule_marked_to_do_is_ever_emitted() -> None:
    """Run every analyzer over every page of the demo site and the format corpus (static HTML):
    no finding carries a rule the registry does not declare."""
    from mdwatch.analyzers.extract import extract_page
    from mdwatch.analyzers.model import Context
    from mdwatch.analyzers.registry import analyze
    from mdwatch.scheduler.pipeline import make_context

    roots = [Path(__file__).parent / "corpus" / "formats" / "dev", Path(__file__).parents[1] / "mdwatch" / "demo" / "site"]
    ctx: Context = make_context()
    emitted: set[str] = set()
    pages = 0
    for root in roots:
        for path in sorted(root.rglob("*.html")):
            try:
                page = extract_page(f"http://127.0.0.1/{path.name}", path.read_bytes())
            except Exception:
                continue
            pages += 1
            emitted |= {f.rule for f in analyze(page, ctx)}
    assert pages > 300
    assert emitted <= implemented_rules(), emitted - implemented_rules()


def test_the_app_resolves_its_settings_once(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from mdwatch.analyzers.packs import PackError

    fixed = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    app = build_app(AppConfig(db_url=f"sqlite:///{tmp_path / 'a.db'}", packs="hainan,device-national",
                              ocr_engine="none", clock=lambda: fixed))
    assert app.selection.packs == ("hainan", "device-national")
    assert app.selection.severities["PRODUCT_REGNO_MISSING"] == "critical"
    assert app.ocr_engine is None and app.now() == fixed and app.db_url.startswith("sqlite:///")
    with pytest.raises(PackError):
        build_app(AppConfig(packs="no-such-pack"))
