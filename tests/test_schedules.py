"""The scheduler: cron parsing, lock rows, the schedule book, and real ``mdwatch scheduler run`` processes.

The process tests run the scheduler as a subprocess against SQLite and PostgreSQL, with schedules
every second (six-field cron), and check what the issue asks: a schedule runs repeatedly, a
scheduler killed with SIGKILL mid-run loses no schedule, its child keeps the lock until it ends,
and no two runs of one schedule ever overlap (checked from the children's own start/end marks).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from mdwatch.scheduler.service import (
    ScheduleBook,
    ScheduleError,
    _dow_to_apscheduler,
    acquire_lock,
    break_stale_locks,
    current_locks,
    open_engine,
    parse_cron,
    pid_alive,
    release_lock,
)
from mdwatch.storage.schedule_tables import ScheduleRun

SHANGHAI = ZoneInfo("Asia/Shanghai")


# ------------------------------------------------------------------------------------------ cron


@pytest.mark.parametrize(("field", "expected"), [
    ("*", "*"),
    ("0", "sun"),
    ("7", "sun"),
    ("1-5", "mon,tue,wed,thu,fri"),
    ("0,6", "sun,sat"),
    ("*/2", "sun,tue,thu,sat"),
    ("mon-fri", "mon,tue,wed,thu,fri"),
    ("5-7", "sun,fri,sat"),
])
def test_day_of_week_follows_crontab(field: str, expected: str) -> None:
    assert _dow_to_apscheduler(field) == expected


def test_cron_five_and_six_fields_in_shanghai() -> None:
    now = datetime(2025, 3, 7, 1, 30, tzinfo=SHANGHAI)  # a Friday
    nightly = parse_cron("0 2 * * *", SHANGHAI)
    assert nightly.get_next_fire_time(None, now) == datetime(2025, 3, 7, 2, 0, tzinfo=SHANGHAI)
    sunday = parse_cron("0 2 * * 0", SHANGHAI)
    assert sunday.get_next_fire_time(None, now) == datetime(2025, 3, 9, 2, 0, tzinfo=SHANGHAI)
    every_minute = parse_cron("*/1 * * * *", SHANGHAI)
    assert every_minute.get_next_fire_time(None, now) == datetime(2025, 3, 7, 1, 30, tzinfo=SHANGHAI)
    seconds = parse_cron("*/5 * * * * *", SHANGHAI)
    first = seconds.get_next_fire_time(None, datetime(2025, 3, 7, 1, 30, 1, tzinfo=SHANGHAI))
    assert first == datetime(2025, 3, 7, 1, 30, 5, tzinfo=SHANGHAI)
    for bad in ("0 2 * *", "61 * * * *", "0 2 * * 8"):
        with pytest.raises(ScheduleError):
            parse_cron(bad, SHANGHAI)


# ----------------------------------------------------------------------------------------- locks


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng, _ = open_engine(db_url)
    yield eng
    eng.dispose()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_lock_is_exclusive_and_stale_locks_are_broken(engine: Engine) -> None:
    me = os.getpid()
    assert acquire_lock(engine, "夜间巡查", me) is None
    holder = acquire_lock(engine, "夜间巡查", me + 1)
    assert holder is not None and holder.pid == me
    assert release_lock(engine, "夜间巡查", me)
    assert current_locks(engine) == {}

    dead = _dead_pid()
    assert not pid_alive(dead)
    assert acquire_lock(engine, "nightly", dead) is None
    with engine.begin() as conn:
        conn.execute(ScheduleRun.__table__.insert().values(  # type: ignore[attr-defined]
            name="nightly", started_at=datetime.now(UTC), pid=dead, host=current_locks(engine)["nightly"].host,
            status="running", command="mdwatch sweep demo"))
    assert acquire_lock(engine, "nightly", me) is None  # the dead holder's lock is broken
    assert current_locks(engine)["nightly"].pid == me
    with engine.connect() as conn:
        run = conn.execute(select(ScheduleRun)).one()
    assert run.status == "orphaned" and run.finished_at is not None

    assert acquire_lock(engine, "elsewhere", dead, host="another-host") is None
    held = acquire_lock(engine, "elsewhere", me)  # another host's pid cannot be checked: held
    assert held is not None and held.host == "another-host"
    assert [h.name for h in break_stale_locks(engine)] == []
    assert set(current_locks(engine)) == {"nightly", "elsewhere"}


def test_reused_pid_does_not_hold_a_lock() -> None:
    me = os.getpid()
    assert pid_alive(me)
    assert pid_alive(me, started_before=datetime.now(UTC))
    assert not pid_alive(me, started_before=datetime(2000, 1, 1, tzinfo=UTC))


# ---------------------------------------------------------------------------------- schedule book


def test_schedule_book_round_trip(db_url: str) -> None:
    with ScheduleBook(db_url) as book:
        info = book.add("夜间巡查", ["sweep", "demo"], cron="0 2 * * *")
        assert info.plan == "cron：0 2 * * *（Asia/Shanghai）"
        assert info.next_run_time is not None and info.next_run_time.astimezone(SHANGHAI).hour == 2
        with pytest.raises(ScheduleError, match="已存在"):
            book.add("夜间巡查", ["sweep", "demo"], cron="0 3 * * *")
        book.add("夜间巡查", ["sweep", "demo", "--budget", "5"], cron="0 3 * * *", replace=True)
        book.add("tick", ["rules", "--json"], every=30, tz="UTC")
        with pytest.raises(ScheduleError):
            book.add("loop", ["scheduler", "run"], every=5)
        with pytest.raises(ScheduleError):
            book.add("both", ["rules"], cron="* * * * *", every=5)
    with ScheduleBook(db_url) as book:  # a new process would see the same
        infos = {i.name: i for i in book.schedules()}
        assert set(infos) == {"夜间巡查", "tick"}
        assert infos["夜间巡查"].args == ["sweep", "demo", "--budget", "5"]
        assert infos["tick"].plan == "每 30 秒" and infos["tick"].state == "等待中"
        assert book.pause("tick").state == "已暂停"
        assert book.get("tick").next_run_time is None
        assert book.resume("tick").next_run_time is not None
        book.remove("tick")
        with pytest.raises(ScheduleError, match="没有名为"):
            book.remove("tick")
        with pytest.raises(ScheduleError, match="没有名为"):
            book.pause("tick")
        assert [i.name for i in book.schedules()] == ["夜间巡查"]
        assert acquire_lock(book.engine, "夜间巡查", _dead_pid()) is None
        assert book.get("夜间巡查").state == "等待中"  # a stale lock is no running job
        assert acquire_lock(book.engine, "夜间巡查", os.getpid()) is None  # breaks the stale one
        assert book.get("夜间巡查").state == "运行中"


# ------------------------------------------------------------------------- the scheduler process


def mdwatch(*args: str, db_url: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MDWATCH_DB_URL": db_url}
    return subprocess.run([sys.executable, "-m", "mdwatch.scheduler.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120, check=check)


@contextmanager
def scheduler_process(db_url: str, tmp_path: Path, tag: str) -> Iterator[subprocess.Popen[bytes]]:
    out = open(tmp_path / f"scheduler-{tag}.out", "wb")  # noqa: SIM115
    env = {**os.environ, "MDWATCH_DB_URL": db_url}
    proc = subprocess.Popen([sys.executable, "-m", "mdwatch.scheduler.cli", "scheduler", "run",
                             "--log-dir", str(tmp_path / "logs"), "--poll", "0.5", "--stop-timeout", "30"],
                            stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def finished_runs(engine: Engine, name: str) -> list[ScheduleRun]:
    with Session(engine) as session:
        return list(session.scalars(select(ScheduleRun).where(ScheduleRun.name == name)
                                    .order_by(ScheduleRun.started_at)))


def assert_no_overlap(intervals: list[tuple[float, float]]) -> None:
    intervals = sorted(intervals)
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert end <= start, f"overlapping runs: {intervals}"


def marks(path: Path) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            what, pid, at = line.split()
            out.setdefault(int(pid), {})[what] = float(at)
    return out


def test_scheduled_command_runs_repeatedly_and_stops_cleanly(db_url: str, engine: Engine, tmp_path: Path) -> None:
    added = mdwatch("schedule", "add", "tick", "--cron", "*/1 * * * * *", "--", "rules", "--json", db_url=db_url)
    assert "已添加计划 tick：cron：*/1 * * * * *（Asia/Shanghai）" in added.stdout
    with scheduler_process(db_url, tmp_path, "a") as proc:
        wait_for(lambda: sum(r.exit_code == 0 for r in finished_runs(engine, "tick")) >= 2, 60, "two runs")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
    output = (tmp_path / "scheduler-a.out").read_text()
    assert "调度器已启动" in output and "开始运行 tick" in output and "调度器已停止" in output
    runs = finished_runs(engine, "tick")
    assert all(r.status == "finished" and r.exit_code == 0 for r in runs)  # SIGTERM waited for the last one
    assert_no_overlap([(r.started_at.timestamp(), r.finished_at.timestamp()) for r in runs if r.finished_at])
    log = Path(runs[0].log_path or "")
    assert json.loads(log.read_text())[0]["rule"]  # the child's output went to its log file
    assert current_locks(engine) == {}
    listed = json.loads(mdwatch("schedule", "list", "--json", db_url=db_url).stdout)
    assert [s["name"] for s in listed] == ["tick"] and listed[0]["state"] == "等待中"


def test_killed_scheduler_loses_no_schedule_and_never_overlaps(db_url: str, engine: Engine, tmp_path: Path) -> None:
    mark = tmp_path / "marks.txt"
    hold = tmp_path / "hold"  # a run lasts while this file exists, then one more second
    hold.touch()
    with ScheduleBook(db_url) as book:
        book.add("slow", ["scheduler", "_sleep", "1", "--mark", str(mark), "--hold", str(hold)], cron="*/1 * * * * *")
    with scheduler_process(db_url, tmp_path, "a") as first:
        wait_for(lambda: len(marks(mark)) == 1, 60, "the first run to start")
        locks = current_locks(engine)
        child = next(iter(marks(mark)))
        assert locks["slow"].pid == child  # the lock belongs to the child, not the scheduler
        first.kill()  # SIGKILL mid-run
        first.wait()
    assert pid_alive(child)  # the child outlives its scheduler and keeps its lock
    assert current_locks(engine)["slow"].pid == child
    with ScheduleBook(db_url) as book:
        listed = book.schedules()
    assert [(s.name, s.state) for s in listed] == [("slow", "运行中")]

    with scheduler_process(db_url, tmp_path, "b") as second:
        out_b = tmp_path / "scheduler-b.out"
        wait_for(lambda: "跳过 slow" in out_b.read_text(), 60, "the new scheduler to meet the lock")
        time.sleep(1.5)  # more due seconds pass while the old child runs
        assert len(marks(mark)) == 1
        hold.unlink()
        wait_for(lambda: sum("end" in m for m in marks(mark).values()) >= 2, 60, "a second complete run")
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=40) == 0
    output = (tmp_path / "scheduler-b.out").read_text()
    # the first run's lock held off the new scheduler; said once, not at every due second
    assert output.count(f"跳过 slow：上一次运行仍在进行（主机 {socket.gethostname()}，进程 {child}，") == 1

    seen = marks(mark)
    assert all("end" in m for m in seen.values()), seen  # nobody was killed, every run ended
    assert_no_overlap([(m["start"], m["end"]) for m in seen.values()])
    runs = finished_runs(engine, "slow")
    assert runs[0].pid == child and runs[0].status == "orphaned" and runs[0].finished_at is not None
    assert runs[0].finished_at.timestamp() >= seen[child]["end"]
    assert all(r.status == "finished" and r.exit_code == 0 for r in runs[1:])
    assert_no_overlap([(r.started_at.timestamp(), r.finished_at.timestamp()) for r in runs if r.finished_at])
    assert current_locks(engine) == {}


def _campaign_commands() -> bool:
    from mdwatch.scheduler.cli import cli

    return {"campaign", "lead"} <= set(cli.commands)


@pytest.mark.network
def test_campaign_scheduled_every_minute_runs_twice_without_duplicate_leads(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite only: the scheduler's own tests cover PostgreSQL, test_leads the leads on it."""
    if not _campaign_commands():
        pytest.skip("mdwatch campaign / lead are not registered yet")
    db_url = sqlite_url
    engine, _ = open_engine(db_url)
    from mdwatch.demo.server import page_paths, serve

    monkeypatch.setenv("MDWATCH_OCR_ENGINE", "none")  # inherited by the scheduler and its children
    with serve() as demo:
        targets = [f"{demo.base_url}/{path.lstrip('/')}" for path in page_paths("product")[:2]]
        # "every minute", at every second of it, so that the test needs seconds rather than minutes
        created = mdwatch("campaign", "create", "demo-watch", *targets, "--packs", "device-national",
                          "--cron", "*/1 * * * * *", db_url=db_url)
        assert "campaign-demo-watch" in created.stdout, created.stdout + created.stderr
        listed = json.loads(mdwatch("schedule", "list", "--json", db_url=db_url).stdout)
        assert [(s["name"], s["args"][:3]) for s in listed] == [("campaign-demo-watch", ["campaign", "run", "demo-watch"])]
        with scheduler_process(db_url, tmp_path, "campaign") as proc:
            wait_for(lambda: len(finished_runs(engine, "campaign-demo-watch")) >= 2, 100, "a second campaign run")
            with ScheduleBook(db_url) as book:  # no third run: SIGTERM need not wait for one
                book.pause("campaign-demo-watch")
            wait_for(lambda: sum(r.exit_code is not None for r in finished_runs(engine, "campaign-demo-watch")) >= 2,
                     100, "two campaign runs")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
    runs = finished_runs(engine, "campaign-demo-watch")
    assert len(runs) == 2
    assert all(r.exit_code == 0 for r in runs), [Path(r.log_path or "").read_text() for r in runs]
    assert_no_overlap([(r.started_at.timestamp(), r.finished_at.timestamp()) for r in runs if r.finished_at])
    status = json.loads(mdwatch("campaign", "status", "demo-watch", "--json", db_url=db_url).stdout)
    assert len(status["runs"]) >= 2
    assert status["runs"][0]["stats"]["leads_created"] > 0
    assert all(r["stats"]["leads_created"] == 0 for r in status["runs"][1:])  # no duplicates after the first
    leads = json.loads(mdwatch("lead", "list", "--campaign", "demo-watch", "--json", db_url=db_url).stdout)
    keys = [(lead["page_url"], lead["rule"]) for lead in leads]
    assert leads and len(keys) == len(set(keys))
    _campaign_report_renders_in_chromium(db_url, engine, tmp_path)


def _campaign_report_renders_in_chromium(db_url: str, engine: Engine, tmp_path: Path) -> None:
    """Issue 6 acceptance: the campaign's HTML report opens from disk in headless Chromium, with the
    Chinese headings and the counts of the database."""
    from playwright.sync_api import sync_playwright
    from sqlalchemy import func

    from mdwatch.storage.leads import LeadStore
    from mdwatch.storage.schema import FindingRow as Finding
    from mdwatch.storage.store import Store

    chromium = Path("/usr/lib/chromium/chromium")
    if not chromium.exists():
        pytest.skip("no Chromium")
    out = tmp_path / "campaign.html"
    mdwatch("report", "--campaign", "demo-watch", "--format", "html", "-o", str(out), db_url=db_url)
    store = Store.open(db_url)
    try:
        run_ids = LeadStore(store).campaign_run_ids("demo-watch")
    finally:
        store.close()
    with Session(engine) as session:
        total = session.scalar(select(func.count()).select_from(Finding).where(Finding.run_id.in_(run_ids)))
    png = tmp_path / "campaign.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(out.as_uri(), wait_until="load")
            page.screenshot(path=str(png), full_page=True)
            h1 = page.inner_text("h1")
            h2 = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent.trim())")
            shown_total = int(page.inner_text("#total-findings"))
        finally:
            browser.close()
    assert h1 == "监测报告"
    assert {"按规则统计", "按级别统计", "重复违规店铺", "问题明细"} <= set(h2)
    assert total and shown_total == total
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
