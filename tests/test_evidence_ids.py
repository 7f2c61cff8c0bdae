"""Evidence export targets that cannot be confused, and lead packages that hold what the lead rests on.

A campaign on the demo platform checks one shop (安心大药房: class III products, only a class II
filing shown → SHOP_SCOPE_EXCEEDED naming /products/p103.html) and that product page, twice, on
SQLite and on PostgreSQL. ``evidence export --lead N`` must hold both findings of the lead, the
shop page, its qualification page (stored with it) and the product page the finding names, and
say in each finding.json which captures prove it. A bare number is a usage error.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import postgres_schema_url

from mdwatch.crawler.capture import FetchSettings
from mdwatch.demo.server import serve
from mdwatch.scheduler.cli import main
from mdwatch.scheduler.jobs.campaigns import create_campaign, run_campaign
from mdwatch.scheduler.jobs.evidence import EvidenceError, export, verify
from mdwatch.storage.evidence import EvidenceStore
from mdwatch.storage.leads import LeadStore, lead_finding_ids
from mdwatch.storage.proof import related_captures

pytestmark = pytest.mark.network

SHOP, PRODUCT = "/shops/anxin/index.html", "/products/p103.html"
CLAIMS = "/products/p002.html"  # a product page with findings of its own
CAMPAIGN = "资质核查"


@dataclass(frozen=True)
class Monitored:
    db: str
    root: Path
    lead_id: int
    run_ids: tuple[int, ...]
    base: str


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def monitored(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitored]:
    root = tmp_path_factory.mktemp("evidence-ids")
    if request.param == "sqlite":
        yield from _monitored(f"sqlite:///{root / 'mdwatch.sqlite3'}", root)
    else:
        with postgres_schema_url() as url:
            yield from _monitored(url, root)


def _monitored(db: str, root: Path) -> Iterator[Monitored]:
    fast = FetchSettings(timeout_s=5, retries=0)
    with serve() as server:
        create_campaign(CAMPAIGN, [server.url(u) for u in (SHOP, PRODUCT, CLAIMS)], "device-national", db_url=db)
        runs = [run_campaign(CAMPAIGN, db_url=db, settings=fast).run_ids for _ in range(2)]
        with LeadStore.open(db) as leads:
            lead = next(x for x in leads.leads(CAMPAIGN) if x.rule == "SHOP_SCOPE_EXCEEDED")
        yield Monitored(db, root, lead.id, tuple(r for ids in runs for r in ids), server.base_url)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def _zip(path: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    return members, json.loads(members["manifest.json"])


# -------------------------------------------------------------------- the command line


@pytest.mark.parametrize("args", [
    ["1", "OUT.zip"],  # what used to mean finding 1
    ["OUT.zip"],  # no target
    ["--finding", "1", "--lead", "1", "OUT.zip"],  # two targets
    ["--run", "1", "--sweep", "1", "OUT.zip"],
    ["--lead", "1", "A.zip", "B.zip"],
])
def test_a_target_not_named_by_its_kind_is_a_usage_error(args: list[str], capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    code, out, err = _cli(capsys, "evidence", "export", *args, "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("mdwatch: ") and "Traceback" not in err
    assert "--finding" in lines[0] and not out
    assert not (Path.cwd() / "OUT.zip").exists()


def test_bare_number_says_which_options_name_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _cli(capsys, "evidence", "export", "7", str(tmp_path / "x.zip"),
                        "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert code == 2 and "编号 7" in err and "--lead 7" in err and "--run 7" in err
    assert not (tmp_path / "x.zip").exists()


def test_unknown_targets_are_refused_by_kind(monitored: Monitored) -> None:
    out = monitored.root / "none.zip"
    for kw, fragment in (({"finding_id": 424242}, "问题"), ({"lead_id": 424242}, "线索"),
                         ({"run_id": 424242}, "运行"), ({"campaign": "没有这个任务"}, "监测任务")):
        with pytest.raises(EvidenceError, match=fragment):
            export(monitored.db, out, screenshots=False, data_dir=monitored.root, **kw)
    assert not out.exists()
    with pytest.raises(ValueError):
        export(monitored.db, out, finding_id=1, lead_id=1, data_dir=monitored.root)


# -------------------------------------------------------------------- what a package says it holds


def test_each_package_says_exactly_what_was_exported(monitored: Monitored, capsys: pytest.CaptureFixture[str]) -> None:
    with EvidenceStore(monitored.db) as store:
        finding = store.findings(monitored.run_ids[0])[0]
    cases = [
        (["--finding", str(finding.id)], "finding", "一条问题", f"问题 {finding.id}"),
        (["--lead", str(monitored.lead_id)], "lead", "一条线索（含其全部问题）", f"线索 {monitored.lead_id}"),
        (["--run", str(monitored.run_ids[0])], "run", "一次运行", f"运行 {monitored.run_ids[0]}"),
        (["--sweep", str(monitored.run_ids[0])], "run", "一次运行", f"运行 {monitored.run_ids[0]}"),
        (["--campaign", CAMPAIGN], "campaign", "一个监测任务", f"监测任务 {CAMPAIGN}"),
    ]
    for i, (args, kind, label, named) in enumerate(cases):
        out = monitored.root / f"label-{i}.zip"
        code, stdout, err = _cli(capsys, "evidence", "export", *args, str(out), "--db", monitored.db,
                                 "--no-screenshot", "--operator", "测试员")
        assert code == 0, err
        assert f"{label}：{named}" in stdout and "条线索" not in stdout.replace(label, "")
        members, manifest = _zip(out)
        readme = members["README.txt"].decode("utf-8")
        assert f"导出内容：{label}：{named}" in readme
        scope = manifest["scope"]
        assert isinstance(scope, dict) and scope["kind"] == kind and scope["label"] == label
        assert verify(out).ok


def test_campaign_package_holds_every_run(monitored: Monitored) -> None:
    out = monitored.root / "campaign.zip"
    result = export(monitored.db, out, campaign=CAMPAIGN, screenshots=False, data_dir=monitored.root)
    members, manifest = _zip(out)
    with EvidenceStore(monitored.db) as store:
        expected = [f.id for r in monitored.run_ids for f in store.findings(r)]
    assert result.findings == len(expected)
    assert {f"findings/{i}/finding.json" for i in expected} <= set(members)
    assert manifest["scope"]["run_ids"] == list(monitored.run_ids)
    assert [r["id"] for r in manifest["runs"]] == list(monitored.run_ids)
    assert verify(out).ok


# -------------------------------------------------------------------- what a lead rests on


def test_lead_package_holds_all_its_findings_and_what_they_rest_on(monitored: Monitored) -> None:
    out = monitored.root / "lead.zip"
    result = export(monitored.db, out, lead_id=monitored.lead_id, screenshots=False, data_dir=monitored.root)
    assert verify(out).ok
    members, manifest = _zip(out)
    with EvidenceStore(monitored.db) as store:
        ids = lead_finding_ids(store.engine, monitored.lead_id)
    assert ids is not None and len(ids) == 2 == result.findings, "one finding per run that saw it"
    assert manifest["scope"] == {"kind": "lead", "lead_id": monitored.lead_id, "label": "一条线索（含其全部问题）", "finding_ids": ids}
    hashes = {e["path"]: e["sha256"] for e in manifest["files"]}
    for finding_id in ids:
        doc = json.loads(members[f"findings/{finding_id}/finding.json"])
        proofs = {p["role"]: p for p in doc["proven_by"]}
        assert set(proofs) == {"page", "related", "product_page"}, doc["proven_by"]
        assert proofs["page"]["sha256"] == doc["capture"]["sha256"] and proofs["page"]["url"].endswith(SHOP)
        assert proofs["related"]["url"].endswith("/shops/anxin/qualification.html")
        assert proofs["product_page"]["url"] == monitored.base + PRODUCT
        named = {e["page_url"] for e in doc["evidence"]}
        assert proofs["product_page"]["url"] in named, "the product page is the one the finding names"
        for proof in doc["proven_by"]:
            data = members[proof["file"]]
            assert hashlib.sha256(data).hexdigest() == proof["sha256"] == hashes[proof["file"]]
    first, second = (json.loads(members[f"findings/{i}/finding.json"]) for i in ids)
    assert first["run_id"] != second["run_id"]
    assert "captures/<SHA-256>/" in members["README.txt"].decode("utf-8")


def test_other_findings_are_proven_by_their_page_and_what_was_stored_with_it(monitored: Monitored) -> None:
    with EvidenceStore(monitored.db) as store:
        finding = next(f for f in store.findings(monitored.run_ids[0]) if f.page_url.endswith(CLAIMS))
        related = related_captures(store.engine, finding.page_id)
    out = monitored.root / "product.zip"
    export(monitored.db, out, finding_id=finding.id, screenshots=False, data_dir=monitored.root)
    members, _ = _zip(out)
    doc = json.loads(members[f"findings/{finding.id}/finding.json"])
    assert [p["role"] for p in doc["proven_by"]] == ["page"] + ["related"] * len(related)
    assert doc["proven_by"][0]["sha256"] == finding.capture_sha256
    assert [p["sha256"] for p in doc["proven_by"][1:]] == [c.sha256 for c in related]
