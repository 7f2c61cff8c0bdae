"""A demo sweep with OCR (issue 4 item 5): images read in the sweep, each distinct one once.

One ``mdwatch sweep demo --ocr-engine rapidocr`` process (no browser, no screenshots) over the
demo platform with its registry imported, as ``mdwatch demo run`` does. The image-only cases
(a registration number or licence number shown only in an image, claims in banners) give the
rules of ``tests/corpus/pages.yaml``, and the OCR runs equal the distinct images that needed
reading (the rest are triaged out or were read already).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mdwatch.demo import sitegen
from mdwatch.demo.registry import registry_paths
from mdwatch.demo.server import DemoServer, serve
from mdwatch.storage.registry_import import import_paths

LABELS = Path(__file__).parent / "corpus" / "pages.yaml"
SCOPE_RULES = set(sitegen.LABEL_RULES)
CASES = ("/products/p116.html", "/products/p121.html", "/shops/meiyan/index.html")
DEMO_IMAGES_NEEDING_OCR = 16  # distinct images of the demo set the triage sends to OCR, at most


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoServer, Path, str]]:
    db = tmp_path_factory.mktemp("sweep_ocr") / "ocr.db"
    url = f"sqlite:///{db}"
    for _report in import_paths(url, registry_paths()):
        pass
    env = dict(os.environ, XDG_DATA_HOME=str(db.parent / "data"))
    env.pop("MDWATCH_OCR_ENGINE", None)
    with serve() as server:
        proc = subprocess.run(
            [sys.executable, "-m", "mdwatch.scheduler.cli", "sweep", "demo", "--base-url", server.base_url,
             "--db", url, "--no-browser", "--no-screenshots", "--ocr-engine", "rapidocr"],
            capture_output=True, text=True, timeout=600, env=env, check=False,
        )
        assert proc.returncode == 0, proc.stderr + proc.stdout
        assert "巡查已完成" in proc.stdout
        yield server, db, proc.stdout


def _rules(db: Path, url: str) -> set[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT f.rule FROM sweep_pages s JOIN pages p ON p.id = s.page_id "
            "LEFT JOIN findings f ON f.page_id = p.id WHERE s.url = ?", (url,)
        ).fetchall()
    assert rows, f"{url} was not stored by the sweep"
    return {rule for (rule,) in rows if rule is not None}


def test_image_only_cases_fire_in_the_sweep(swept: tuple[DemoServer, Path, str]) -> None:
    server, db, _ = swept
    labels: dict[str, dict[str, Any]] = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    for path in CASES:
        expected = set(labels[path]["rules"])
        assert expected & {"PRODUCT_REGNO_NOT_TEXT", "SHOP_LICENSE_NO_NOT_TEXT", "CLAIM_ENDORSEMENT"}, path
        assert _rules(db, server.base_url + path) & SCOPE_RULES == expected, path


def test_each_distinct_image_read_once(swept: tuple[DemoServer, Path, str]) -> None:
    _, db, _ = swept
    with sqlite3.connect(db) as conn:
        (stats_json,) = conn.execute("SELECT stats FROM runs WHERE kind = 'sweep' ORDER BY id DESC").fetchone()
        read = conn.execute("SELECT count(*) FROM images WHERE skip_reason IS NULL").fetchone()[0]
        cached = conn.execute("SELECT count(*) FROM ocr_results WHERE engine = 'rapidocr'").fetchone()[0]
        extracted = [json.loads(e) for (e,) in conn.execute("SELECT extracted FROM pages")]
    ocr = json.loads(stats_json)["ocr_this_run"]
    assert ocr["engine"] == "rapidocr"
    assert 0 < ocr["ocr_runs"] <= DEMO_IMAGES_NEEDING_OCR
    assert ocr["ocr_runs"] == read == cached  # one run per distinct image that needed reading
    # every stored page went through OCR (pages without images too); images read are recorded
    assert all("images_read" in e for e in extracted)
    assert sum(e["images_read"] for e in extracted) >= ocr["ocr_runs"]
