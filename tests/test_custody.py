"""Chain of custody (保管链): every ``evidence export`` and ``evidence verify`` appends one entry
(who, what, which target, when, the manifest's SHA-256, the result) to an append-only table made
by migration 0003, on SQLite and PostgreSQL; ``lead show`` lists a lead's entries in Beijing time.
"""

from __future__ import annotations

import getpass
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from mdwatch.scheduler.cli import main
from mdwatch.storage.custody import CustodyStore
from mdwatch.storage.database import schema_head
from mdwatch.storage.leads import LeadFinding, LeadStore, UrlCheck
from mdwatch.storage.records import CaptureRecord, FindingRecord, PageRecord, RunRecord
from mdwatch.storage.store import Store

URL = "https://shop.example.cn/p/1.html"
QUAL = "https://shop.example.cn/qualification.html"


@dataclass(frozen=True)
class Stored:
    db: str
    lead_id: int
    finding_id: int
    run_id: int


def _capture(url: str, body: bytes, at: datetime) -> CaptureRecord:
    import hashlib

    return CaptureRecord(url=url, final_url=url, status=200, headers={"content-type": "text/html; charset=utf-8"},
                         body=body, sha256=hashlib.sha256(body).hexdigest(), fetched_at=at)


@pytest.fixture
def stored(db_url: str) -> Stored:
    """One run with one finding on a page stored with a related capture, and the lead it made."""
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    page = PageRecord(capture=_capture(URL, "<html>根治高血压</html>".encode(), at), url=URL, kind="product",
                      title="血压计", findings=[FindingRecord("CLAIM_GUARANTEE", "high", "第十条", "保证治愈", [])],
                      related_captures=[_capture(QUAL, "<html>资质</html>".encode(), at)])
    with Store.open(db_url) as store:
        run_id = store.save_run(RunRecord("campaign", URL, at, at, [page]))
        finding_id = store.findings(run_id)[0].id
        leads = LeadStore(store)
        campaign = leads.create_campaign("保管链测试", ["hainan"], urls=[URL])
        campaign_run = leads.start_campaign_run(campaign.id)
        leads.finish_campaign_run(campaign_run, "done", [run_id], {})
        result = leads.sync(campaign.id, campaign_run, [LeadFinding(URL, "CLAIM_GUARANTEE", "high", "保证治愈",
                                                                    run_id=run_id, finding_id=finding_id)],
                            [UrlCheck(URL, True, run_id)])
    return Stored(db_url, result.created[0], finding_id, run_id)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def _manifest_sha(stdout: str) -> str:
    line = next(x for x in stdout.splitlines() if x.startswith("清单 manifest.json 的 SHA-256："))
    return line.split("：", 1)[1].split("（", 1)[0]


# -------------------------------------------------------------------- the table


def test_migration_0003_makes_an_append_only_table(db_url: str) -> None:
    with CustodyStore(db_url) as custody:
        entry = custody.append(operator="张三", action="export", target_kind="lead", target="3", result="ok",
                               manifest_sha256="a" * 64, package="lead-3.zip")
        assert not any(hasattr(custody, name) for name in ("update", "delete", "remove", "clear", "edit"))
    engine = create_engine(db_url)
    try:
        assert "custody_log" in inspect(engine).get_table_names()
        with engine.connect() as conn:  # migrated to the newest revision, 0003 and those after it
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == schema_head()
        for statement in ("UPDATE custody_log SET operator = '李四'", "DELETE FROM custody_log"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
    finally:
        engine.dispose()
    with CustodyStore(db_url) as custody:
        assert custody.entries() == [entry]
        assert entry.at.tzinfo is not None and entry.operator == "张三"


def test_entries_are_read_by_target_oldest_first(db_url: str) -> None:
    at = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
    with CustodyStore(db_url) as custody:
        for i, (kind, target) in enumerate([("lead", "1"), ("finding", "7"), ("lead", "2"), ("lead", "1")]):
            custody.append(operator="x", action="verify", target_kind=kind, target=target, result="ok",
                           at=at + timedelta(minutes=i))
        assert [(e.target_kind, e.target) for e in custody.entries([("lead", "1"), ("finding", "7")])] == \
            [("lead", "1"), ("finding", "7"), ("lead", "1")]
        assert custody.entries([]) == []
        with pytest.raises(ValueError):
            custody.append(operator="x", action="delete", target_kind="lead", target="1", result="ok")
        with pytest.raises(ValueError):
            custody.append(operator="x", action="export", target_kind="lead", target="1", result="ok",
                           at=datetime(2026, 1, 1))  # naive on purpose


# -------------------------------------------------------------------- export and verify append


def test_export_and_verify_append_who_what_which_when_and_the_result(
        stored: Stored, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MDWATCH_OPERATOR", raising=False)
    out = tmp_path / "lead.zip"
    before = datetime.now(UTC)
    code, stdout, err = _cli(capsys, "evidence", "export", "--lead", str(stored.lead_id), str(out), "--db", stored.db,
                             "--no-screenshot", "--operator", "海南省药监局 张三")
    assert code == 0, err
    sha = _manifest_sha(stdout)
    monkeypatch.setenv("MDWATCH_OPERATOR", "海口市市场监督管理局 李四")
    code, _, err = _cli(capsys, "evidence", "verify", str(out), "--db", stored.db)
    assert code == 0, err
    bad = tmp_path / "bad.zip"  # one byte of the page changed
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data + b" " if item.filename.endswith("page.html") else data)
    monkeypatch.delenv("MDWATCH_OPERATOR")
    code, _, _ = _cli(capsys, "evidence", "verify", str(bad), "--db", stored.db)
    assert code == 1
    code, _, _ = _cli(capsys, "evidence", "export", "--lead", "424242", str(tmp_path / "none.zip"), "--db", stored.db)
    assert code == 2
    with CustodyStore(stored.db) as custody:
        entries = custody.entries()
    assert [(e.action, e.target_kind, e.target, e.result) for e in entries] == [
        ("export", "lead", str(stored.lead_id), "ok"), ("verify", "lead", str(stored.lead_id), "ok"),
        ("verify", "lead", str(stored.lead_id), "failed"), ("export", "lead", "424242", "failed")]
    assert [e.operator for e in entries] == ["海南省药监局 张三", "海口市市场监督管理局 李四", getpass.getuser(),
                                             getpass.getuser()]
    assert entries[0].manifest_sha256 == entries[1].manifest_sha256 == sha
    assert entries[0].package == "lead.zip" and entries[2].package == "bad.zip"
    assert entries[2].detail and "1 个问题" in entries[2].detail
    assert entries[3].manifest_sha256 is None and "424242" in (entries[3].detail or "")
    assert all(before - timedelta(seconds=5) <= e.at <= datetime.now(UTC) for e in entries)


def test_verify_of_a_package_naming_no_target_is_recorded_as_unknown(
        stored: Stored, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.zip"
    with zipfile.ZipFile(junk, "w") as zf:
        zf.writestr("manifest.json", b"[1, 2")
    code, _, _ = _cli(capsys, "evidence", "verify", str(junk), "--db", stored.db, "--operator", "王五")
    assert code == 1
    with CustodyStore(stored.db) as custody:
        (entry,) = custody.entries()
    assert (entry.action, entry.target_kind, entry.result, entry.operator) == ("verify", "unknown", "failed", "王五")


# -------------------------------------------------------------------- lead show


def test_lead_show_lists_the_custody_of_the_lead_and_its_findings_in_beijing_time(
        stored: Stored, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    at = datetime(2026, 12, 5, 16, 30, 5, tzinfo=UTC)  # 2026-12-06 00:30:05 in Beijing
    with CustodyStore(stored.db) as custody:
        custody.append(operator="张三", action="export", target_kind="lead", target=str(stored.lead_id), result="ok",
                       manifest_sha256="b" * 64, at=at)
        custody.append(operator="李四", action="verify", target_kind="finding", target=str(stored.finding_id),
                       result="failed", detail="发现 1 个问题", at=at + timedelta(hours=1))
        custody.append(operator="王五", action="export", target_kind="lead", target="999", result="ok", at=at)
    monkeypatch.setenv("COLUMNS", "250")
    code, stdout, err = _cli(capsys, "lead", "show", str(stored.lead_id), "--db", stored.db)
    assert code == 0, err
    assert "保管链（北京时间，共 2 条）" in stdout
    assert "2026-12-06 00:30:05" in stdout and "2026-12-06 01:30:05" in stdout
    assert "张三" in stdout and "李四" in stdout and "王五" not in stdout
    assert "导出证据包" in stdout and "校验证据包" in stdout and "失败" in stdout

