"""任务: campaigns (targets, rule packs, cron, the bureau running them) and their schedules — pause,
resume, the next run time — through ``jobs.campaigns`` and ``scheduler.service`` as the CLI
does. A campaign started from the console runs as ``mdwatch campaign run NAME`` in its own
process (the scheduler's way), so the server holds no crawl state."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mdwatch.console.auth import Principal, can
from mdwatch.console.errors import ConsoleError, bad_request, conflict, forbidden, not_found
from mdwatch.storage.leads import Campaign

if TYPE_CHECKING:
    from mdwatch.console.core import Console
    from mdwatch.scheduler.service import ScheduleInfo

__all__ = ["CampaignView", "campaigns", "create", "pause_schedule", "resume_schedule", "run_now", "schedules"]

MAX_TARGETS = 500


@dataclass(frozen=True, slots=True)
class CampaignView:
    campaign: Campaign
    counts: dict[str, int]
    schedule: ScheduleInfo | None
    last_status: str | None

    def as_json(self) -> dict[str, Any]:
        c = self.campaign
        return {"name": c.name, "org": c.org, "packs": list(c.packs), "cron": c.cron, "profile": c.profile,
                "targets": [t.target for t in c.targets], "leads": self.counts,
                "schedule": None if self.schedule is None else self.schedule.to_json(),
                "last_status": self.last_status}


def _require(who: Principal, permission: str) -> None:
    if not can(who.user, permission):
        raise forbidden(f"{who.user.role_zh}无权{'管理监测任务' if permission == 'campaign' else '管理计划'}。")


def schedules(console: Console) -> list[ScheduleInfo]:
    from mdwatch.scheduler.service import ScheduleBook

    with ScheduleBook(console.app.db_url) as book:
        return book.schedules()


def campaigns(console: Console) -> list[CampaignView]:
    by_name = {s.name: s for s in schedules(console)}
    out = []
    for c in console.leads.campaigns():
        runs = console.leads.campaign_runs(c.id)
        out.append(CampaignView(c, console.leads.counts(c.id), by_name.get(f"campaign-{c.name}"),
                                runs[-1].status if runs else None))
    return out


def _targets(console: Console, text: str | list[str]) -> list[str]:
    lines = text.splitlines() if isinstance(text, str) else list(text)
    urls = list(dict.fromkeys(line.strip() for line in lines if line.strip()))
    if not urls:
        raise bad_request("请至少填写一个目标网址（每行一个）。")
    if len(urls) > MAX_TARGETS:
        raise bad_request(f"目标网址不超过 {MAX_TARGETS} 个。")
    for url in urls:  # only URLs: a console user names no file on the server
        refusal = console.app.web_target_refusal(url)
        if refusal is not None:
            raise bad_request(refusal)
    return urls


def create(console: Console, who: Principal, *, name: str, targets: str | list[str], packs: list[str],
           cron: str | None, org: str | None) -> Campaign:
    from mdwatch.scheduler.jobs.campaigns import CampaignError, create_campaign
    from mdwatch.scheduler.service import ScheduleError, add_schedule, parse_cron, resolve_tz

    _require(who, "campaign")
    name = (name or "").strip()
    if not name or len(name) > 150 or any(not ch.isprintable() for ch in name):
        raise bad_request("监测任务名称须为 1–150 个可见字符。")
    cron = (cron or "").strip() or None
    if cron is not None:
        try:
            parse_cron(cron, resolve_tz())
        except (ScheduleError, ValueError) as exc:
            raise bad_request(f"执行计划无效：{exc}") from exc
    urls = _targets(console, targets)
    if not packs:
        raise bad_request("请至少选择一个规则包。")
    try:
        created = create_campaign(name, urls, list(packs), cron=cron, db_url=console.app.db_url)
    except CampaignError as exc:
        raise (conflict(str(exc)) if "已存在" in str(exc) else bad_request(str(exc))) from exc
    org = (org or "").strip() or who.user.org
    if org:
        console.leads.set_org(created.id, org[:200], at=console.now())
    if cron is not None:
        try:
            add_schedule(console.app.db_url, f"campaign-{name}", ["campaign", "run", name], cron=cron, replace=True)
        except ScheduleError as exc:
            raise bad_request(f"监测任务已创建，但未能添加执行计划：{exc}") from exc
    console.audit(who.user, who.address, "campaign.create", "campaign", name,
                  {"targets": len(urls), "packs": list(packs), "cron": cron, "org": org})
    found = console.leads.get_campaign(name)
    assert found is not None
    return found


def run_now(console: Console, who: Principal, name: str) -> int:
    """Start ``mdwatch campaign run NAME`` in its own process (with the app's OCR engine and
    timeout, as the console's own scans use them); its pid."""
    _require(who, "campaign")
    if console.leads.get_campaign(name) is None:
        raise not_found(f"没有名为 {name} 的监测任务。")
    from mdwatch.storage.config import default_data_dir

    log_dir = default_data_dir() / "console-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    # the database goes by environment, as the scheduler hands it: a password in the URL stays
    # out of the process list
    with open(log_dir / "campaign-runs.log", "ab") as log:
        proc = subprocess.Popen(  # an argument list, never a shell: the name is data
            [sys.executable, "-m", "mdwatch.scheduler.cli", "campaign", "run", name,
             "--ocr-engine", console.app.ocr_engine or "none", "--timeout", str(console.app.config.timeout_s)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "MDWATCH_DB_URL": console.app.db_url})
    console.children.append(proc)
    console.audit(who.user, who.address, "campaign.run", "campaign", name, {"pid": proc.pid})
    return proc.pid


def _schedule(console: Console, who: Principal, name: str, action: str) -> ScheduleInfo:
    from mdwatch.scheduler.service import ScheduleBook, ScheduleError

    _require(who, "schedule")
    try:
        with ScheduleBook(console.app.db_url) as book:
            info = book.pause(name) if action == "pause" else book.resume(name)
    except ScheduleError as exc:
        raise (not_found(str(exc)) if "没有名为" in str(exc) else ConsoleError(409, str(exc))) from exc
    console.audit(who.user, who.address, f"schedule.{action}", "schedule", name,
                  {"next_run_time": info.next_run_time.isoformat() if info.next_run_time else None})
    return info


def pause_schedule(console: Console, who: Principal, name: str) -> ScheduleInfo:
    return _schedule(console, who, name, "pause")


def resume_schedule(console: Console, who: Principal, name: str) -> ScheduleInfo:
    return _schedule(console, who, name, "resume")
