"""``mdwatch scan`` end to end: the real CLI process against the demo platform on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mdwatch.demo.registry import registry_paths
from mdwatch.demo.server import DemoServer, page_paths, serve
from mdwatch.storage.store import Store

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with serve() as server:
        yield server


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mdwatch.scheduler.cli", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def labels() -> dict[str, dict[str, object]]:
    return yaml.safe_load((CORPUS / "pages.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def registry_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite database holding the demo registry (the labels assume it is loaded)."""
    db = f"sqlite:///{tmp_path_factory.mktemp('registry') / 'demo.sqlite3'}"
    proc = run_cli("registry", "import", *map(str, registry_paths()), "--db", db)
    assert proc.returncode == 0, proc.stderr
    return db


def test_scan_product_json_has_contract_and_expected_findings(demo: DemoServer, registry_db: str) -> None:
    db = registry_db
    product = next(p for p, spec in labels().items() if spec["kind"] == "product" and len(spec["rules"]) > 1)
    proc = run_cli("scan", demo.base_url + product, "--json", "--db", db)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) >= {"url", "kind", "fetched_at", "capture_sha256", "extracted", "findings"}
    assert doc["kind"] == "product"
    assert len(doc["capture_sha256"]) == 64
    assert "registration_numbers" in doc["extracted"] and "license_numbers" in doc["extracted"]
    for f in doc["findings"]:
        assert set(f) >= {"rule", "severity", "article", "message", "evidence"}
        for e in f["evidence"]:
            assert e["source"] in ("text", "ocr", "structure") and "snippet" in e
    expected = set(labels()[product]["rules"])  # type: ignore[arg-type]
    assert {f["rule"] for f in doc["findings"]} == expected
    assert doc["registry"]["loaded"] is True
    store = Store.open(db)
    try:
        assert store.counts()["findings"] == len(doc["findings"])
    finally:
        store.close()


def test_registry_rules_skipped_and_said_without_registry(demo: DemoServer, tmp_path: Path) -> None:
    unregistered = [p for p, spec in labels().items() if "PRODUCT_UNREGISTERED" in spec["rules"]]
    assert unregistered
    proc = run_cli("scan", demo.base_url + unregistered[0], "--json", "--db", f"sqlite:///{tmp_path / 'e.sqlite3'}")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["registry"]["loaded"] is False
    assert "PRODUCT_UNREGISTERED" in doc["registry"]["skipped_rules"]
    assert "PRODUCT_UNREGISTERED" not in {f["rule"] for f in doc["findings"]}
    table = run_cli("scan", demo.base_url + unregistered[0], "--no-store", "--db", f"sqlite:///{tmp_path / 'e.sqlite3'}")
    assert "未加载注册证数据库" in table.stdout


def test_registry_lookup_and_stats(registry_db: str) -> None:
    proc = run_cli("registry", "stats", "--db", registry_db)
    assert proc.returncode == 0 and "注册证数据库" in proc.stdout
    number = next(iter(_registered_numbers()))
    proc = run_cli("registry", "lookup", number, "--json", "--db", registry_db)
    assert json.loads(proc.stdout)["found"] is True
    proc = run_cli("registry", "lookup", "国械注准20990000000", "--json", "--db", registry_db)
    assert json.loads(proc.stdout)["found"] is False


def _registered_numbers() -> list[str]:
    import csv

    csv_path = next(p for p in registry_paths() if str(p).endswith(".csv"))
    with open(csv_path, encoding="utf-8-sig") as fh:
        return [row["registration_no"] for row in csv.DictReader(fh)]


def test_scan_gbk_page_reads_correctly(demo: DemoServer) -> None:
    manifest = json.loads(
        (Path(__file__).parents[1] / "mdwatch/demo/site/manifest.json").read_text(encoding="utf-8")
    )
    gbk = [e for e in manifest if e["encoding"].lower() in ("gbk", "gb2312", "gb18030") and e["kind"] == "product"]
    assert gbk
    for entry in gbk[:3]:
        proc = run_cli("scan", demo.base_url + entry["path"], "--json", "--no-store")
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        raw = (Path(__file__).parents[1] / "mdwatch/demo/site" / entry["path"].lstrip("/")).read_bytes()
        title = raw.decode("gb18030").split("<title>", 1)[1].split("</title>", 1)[0].strip()
        assert doc["extracted"]["title"] == title
        assert "\ufffd" not in json.dumps(doc, ensure_ascii=False)


def test_scan_table_output_is_chinese(demo: DemoServer) -> None:
    path = page_paths("shop")[0]
    proc = run_cli("scan", demo.base_url + path, "--no-store")
    assert proc.returncode == 0, proc.stderr
    assert "页面类型" in proc.stdout and "店铺页" in proc.stdout


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/no-such-page.html", ()),
        ("/_test/slow", ("--timeout", "1")),
        ("/_test/image.png", ()),
        ("/_test/big", ()),
        ("/_test/loop", ()),
    ],
    ids=["404", "timeout", "not-html", "50MB", "redirect-loop"],
)
def test_unfetchable_target_is_one_line_exit_3_nothing_written(
    demo: DemoServer, tmp_path: Path, path: str, extra: tuple[str, ...]
) -> None:
    db_file = tmp_path / "err.sqlite3"
    proc = run_cli("scan", demo.base_url + path, "--db", f"sqlite:///{db_file}", *extra)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert proc.stdout == ""
    if db_file.exists():
        store = Store.open(f"sqlite:///{db_file}")
        try:
            assert all(v == 0 for v in store.counts().values())
        finally:
            store.close()


def test_bad_arguments_exit_2_one_line() -> None:
    proc = run_cli("scan", "not-a-url")
    assert proc.returncode == 2
    assert len([x for x in proc.stderr.splitlines() if x.strip()]) == 1
    proc = run_cli("scan", "http://127.0.0.1:1/", "--kind", "bogus")
    assert proc.returncode == 2


def test_rules_lists_every_rule_with_article() -> None:
    proc = run_cli("rules", "--json")
    assert proc.returncode == 0
    rules = json.loads(proc.stdout)
    ids = {r["rule"] for r in rules}
    assert {"PRODUCT_REGNO_MISSING", "CLAIM_GUARANTEE", "DRUG_PROMOTION_BANNED", "PLATFORM_FILING_MISSING"} <= ids
    assert all(r["article"] and r["severity"] for r in rules)
