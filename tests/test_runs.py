"""``mdwatch runs`` lists the stored runs, and ``latest`` stands for a run number wherever one is
taken, so cron can run sweep → report → notify without knowing the number."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mdwatch.demo.server import DemoServer, serve
from mdwatch.scheduler.app import AppConfig, build_app
from mdwatch.scheduler.cli import cli


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with serve() as server:
        yield server


@pytest.mark.network
def test_runs_and_latest(demo: DemoServer, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'runs.db'}"
    runner = CliRunner()
    empty = runner.invoke(cli, ["report", "--sweep", "latest", "--db", db_url, "-o", str(tmp_path / "r.json"),
                                "--format", "json"], standalone_mode=False)  # the command's status, as main() returns it
    assert empty.return_value == 2 and "还没有巡查运行记录" in empty.output
    app = build_app(AppConfig(db_url=db_url, ocr_engine="none", browser=False, evidence=False))
    first = app.scan([demo.url("/products/p037.html")])
    second = app.scan([demo.url("/products/p001.html")])
    listed = runner.invoke(cli, ["runs", "--json", "--db", db_url])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [r["id"] for r in rows] == [second.run_id, first.run_id] and rows[0]["kind"] == "scan"
    assert rows[1]["findings"] == len(first.ok[0].findings) and rows[1]["pages"] == 1
    report = runner.invoke(cli, ["report", "--run", "latest", "--db", db_url, "--format", "json",
                                 "-o", str(tmp_path / "latest.json")])
    assert report.exit_code == 0, report.output
    assert json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))["runs"][0]["id"] == second.run_id
    bad = runner.invoke(cli, ["report", "--run", "newest", "--db", db_url])
    assert bad.exit_code == 2 and "latest" in bad.output
    table = runner.invoke(cli, ["runs", "--db", db_url])
    assert table.exit_code == 0 and "扫描" in table.output
