"""``mdwatch campaign …`` and ``mdwatch lead …``: regulator campaigns and their leads (线索).

Registered on the root group in ``scheduler/cli.py``. Output in Chinese; errors one sentence on
stderr (exit 2); ``campaign run`` exits 3 when no target could be reached.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from mdwatch.lead_status import LEAD_STATUSES, STATUS_ZH, UPDATE_STATUSES
from mdwatch.scheduler.outputs.terminal import SEVERITY_STYLE, SEVERITY_ZH, make_console
from mdwatch.scheduler.settings import BEIJING, display_tz, option

if TYPE_CHECKING:  # the storage stack is imported by the commands that use it, not to start the CLI
    from mdwatch.storage.custody import CustodyEntry
    from mdwatch.storage.leads import Lead, LeadStore

EXIT_OK, EXIT_USAGE, EXIT_FETCH = 0, 2, 3
DISPLAY_TZ = display_tz()
DB_OPTION = option("db")
RUN_STATUS_ZH = {"running": "运行中", "done": "完成", "partial": "部分目标无法访问", "failed": "全部目标无法访问"}
RECHECK_ZH = {"fixed": "已整改", "still_present": "问题仍在", "unreachable": "无法访问"}
CUSTODY_ACTION_ZH = {"export": "导出证据包", "verify": "校验证据包"}
CUSTODY_TARGET_ZH = {"finding": "问题", "lead": "线索", "run": "运行", "campaign": "监测任务", "unknown": "未知"}


def _err(message: str) -> None:
    click.echo(f"mdwatch: {message}", err=True)


def _local(at: datetime | None) -> str:
    return "—" if at is None else at.astimezone(DISPLAY_TZ).strftime("%Y-%m-%d %H:%M")


def _severity(level: str) -> str:
    return f"[{SEVERITY_STYLE.get(level, '')}]{SEVERITY_ZH.get(level, level)}[/]"


def _lead_json(lead: Lead) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(lead):
        value = getattr(lead, f.name)
        out[f.name] = value.isoformat() if isinstance(value, datetime) else (list(value) if isinstance(value, tuple)
                                                                           else value)
    return out


# ============================================================================ campaign


@click.group(help="监测任务（专项监测）：创建、运行、查看状态。")
def campaign() -> None:
    pass


def _register_schedule(name: str, cron: str, db_url: str | None) -> str:
    """Add the schedule ``campaign-NAME`` running ``mdwatch campaign run NAME``; returns its name.

    The scheduler hands its database to each job (``MDWATCH_DB_URL``), so the job needs no ``--db``.
    """
    from mdwatch.scheduler.service import add_schedule

    info = add_schedule(db_url, f"campaign-{name}", ["campaign", "run", name], cron=cron, replace=True)
    return info.name


@campaign.command(name="create", help="创建监测任务：目标为网址、网址列表文件（每行一个）或平台配置（--profile）。")
@click.argument("name")
@click.argument("more_targets", nargs=-1, metavar="[TARGET...]")
@click.option("--targets", "targets", multiple=True, metavar="FILE|URL", help="目标网址或网址列表文件（可多次给出）。")
@click.option("--profile", help="巡查整个平台所用的平台配置（如 demo）。")
@click.option("--base-url", help="平台地址，填入平台配置中的 {base}。")
@option("packs", required=True)
@click.option("--cron", help="执行计划（cron 表达式，如 '0 2 * * *'），由调度器按时运行。")
@DB_OPTION
def campaign_create(name: str, more_targets: tuple[str, ...], targets: tuple[str, ...], profile: str | None,
                    base_url: str | None, packs: str, cron: str | None, db_url: str | None) -> int:
    from mdwatch.scheduler.jobs.campaigns import CampaignError, create_campaign
    from mdwatch.scheduler.service import ScheduleError, parse_cron, resolve_tz

    if cron is not None:
        try:
            parse_cron(cron, resolve_tz())
        except (ScheduleError, ValueError) as exc:
            _err(f"执行计划无效：{exc}")
            return EXIT_USAGE
    try:
        created = create_campaign(name, [*targets, *more_targets], packs, profile=profile, base_url=base_url,
                                  cron=cron, db_url=db_url)
    except CampaignError as exc:
        _err(str(exc))
        return EXIT_USAGE
    parts = [f"{len(created.url_targets)} 个网址"] + ([f"平台配置 {created.profile}"] if created.profile else [])
    click.echo(f"已创建监测任务 {created.name}：{'、'.join(parts)}；规则包 {'、'.join(created.packs)}。")
    if cron:
        try:
            schedule_name = _register_schedule(created.name, cron, db_url)
        except ScheduleError as exc:
            _err(f"监测任务已创建，但未能添加执行计划：{exc}")
            return EXIT_USAGE
        click.echo(f"已添加执行计划 {schedule_name}（{cron}），由 mdwatch scheduler run 按时运行。")
    return EXIT_OK


@campaign.command(name="run", help="立即运行一次监测任务：抓取目标、按规则包检查、生成或复查线索。")
@click.argument("name")
@option("timeout")
@option("ocr-engine")
@DB_OPTION
def campaign_run(name: str, timeout: float, ocr_engine: str, db_url: str | None) -> int:
    from mdwatch.crawler.capture import FetchSettings
    from mdwatch.scheduler.jobs.campaigns import CampaignError, run_campaign

    console = make_console()
    try:
        result = run_campaign(name, db_url=db_url, settings=FetchSettings(timeout_s=timeout),
                              ocr_engine=None if ocr_engine == "none" else ocr_engine, console=console)
    except CampaignError as exc:
        _err(str(exc))
        return EXIT_USAGE
    for target, error in result.unreachable:
        _err(f"目标无法访问：{target}：{error}")
    s = result.stats
    console.print(
        f"监测任务 {result.campaign} 第 {result.campaign_run_id} 次运行：{RUN_STATUS_ZH.get(result.status, result.status)}。"
        f"目标 {s['targets']} 个（可访问 {s['targets_ok']}，无法访问 {s['targets_unreachable']}），"
        f"页面 {s['pages']} 个，问题 {s['findings']} 条（严重 {s['critical']} 条）。")
    console.print(f"线索：新增 {s['leads_created']} 条，再次发现 {s['leads_touched']} 条，"
                  f"整改复查重新打开 {s['leads_reopened']} 条，复查已整改 {s['rechecked_fixed']} 条。")
    for alert in s.get("precision_guard") or ():  # the sweep's precision guard held these findings
        console.print(f"{alert['line']}（本次暂缓 {alert['held']} 条）", style="bold yellow", markup=False,
                      highlight=False, soft_wrap=True)
    _notify(db_url, result.run_ids)
    return EXIT_FETCH if result.status == "failed" else EXIT_OK


def _notify(db_url: str | None, run_ids: tuple[int, ...]) -> None:
    """Notifications of the runs' critical findings (``scheduler.notify``; nothing when unconfigured)."""
    from mdwatch.scheduler.outputs.notify import notify_after_run

    for run_id in run_ids:
        outcome = notify_after_run(db_url, run_id)
        if outcome is not None:
            for channel, reason in outcome.failed.items():
                _err(f"通知发送失败（{channel}）：{reason}")


@campaign.command(name="status", help="查看监测任务：目标、最近运行与线索统计。")
@click.argument("name")
@option("json")
@DB_OPTION
def campaign_status_cmd(name: str, as_json: bool, db_url: str | None) -> int:
    from mdwatch.scheduler.jobs.campaigns import CampaignError, campaign_status

    try:
        st = campaign_status(name, db_url)
    except CampaignError as exc:
        _err(str(exc))
        return EXIT_USAGE
    c = st.campaign
    if as_json:
        click.echo(json.dumps({
            "name": c.name, "packs": list(c.packs), "profile": c.profile, "base_url": c.base_url, "cron": c.cron,
            "created_at": c.created_at.isoformat(),
            "targets": [{"kind": t.kind, "target": t.target, "last_status": t.last_status, "last_error": t.last_error,
                         "last_checked_at": t.last_checked_at.isoformat() if t.last_checked_at else None,
                         "last_run_id": t.last_run_id} for t in c.targets],
            "runs": [{"id": r.id, "status": r.status, "run_ids": list(r.run_ids), "started_at": r.started_at.isoformat(),
                      "finished_at": r.finished_at.isoformat() if r.finished_at else None, "stats": r.stats}
                     for r in st.runs],
            "leads": st.lead_counts,
        }, ensure_ascii=False, indent=2))
        return EXIT_OK
    console = make_console()
    console.print(f"监测任务：{c.name}（规则包 {'、'.join(c.packs)}；执行计划 {c.cron or '无'}；创建于 {_local(c.created_at)}）")
    targets = Table(title="目标")
    for col in ("类型", "目标", "最近状态", "最近检查", "说明"):
        targets.add_column(col)
    for t in c.targets:
        state = {"ok": "可访问", "unreachable": "[red]无法访问[/red]"}.get(t.last_status or "", "未检查")
        targets.add_row("网址" if t.kind == "url" else "平台配置", t.target, state, _local(t.last_checked_at),
                        t.last_error or "")
    console.print(targets)
    runs = Table(title="运行记录")
    for col in ("编号", "开始", "结束", "状态", "页面", "问题", "新增线索", "重新打开"):
        runs.add_column(col)
    for r in st.runs[-10:]:
        runs.add_row(str(r.id), _local(r.started_at), _local(r.finished_at), RUN_STATUS_ZH.get(r.status, r.status),
                     str(r.stats.get("pages", "")), str(r.stats.get("findings", "")),
                     str(r.stats.get("leads_created", "")), str(r.stats.get("leads_reopened", "")))
    console.print(runs)
    console.print("线索：" + "，".join(f"{STATUS_ZH[s]} {n}" for s, n in st.lead_counts.items()))
    return EXIT_OK


@campaign.command(name="list", help="列出全部监测任务。")
@DB_OPTION
def campaign_list(db_url: str | None) -> int:
    from mdwatch.storage.leads import LeadStore

    with LeadStore.open(db_url) as leads:
        rows = [(c, leads.counts(c.id)) for c in leads.campaigns()]
    table = Table(title="监测任务")
    for col in ("名称", "规则包", "目标数", "执行计划", "未办结线索"):
        table.add_column(col)
    for c, counts in rows:
        table.add_row(c.name, "、".join(c.packs), str(len(c.targets)), c.cron or "—",
                      str(counts["new"] + counts["assigned"] + counts["verified"]))
    make_console().print(table)
    return EXIT_OK


# ============================================================================ lead


@click.group(help="线索：列出、交办、更新处置结果（线上固证 → 线索交办 → 核查处置 → 结果反馈）。")
def lead() -> None:
    pass


@lead.command(name="list", help="列出线索。")
@click.option("--campaign", "campaign_name", help="只列出该监测任务的线索。")
@click.option("--status", type=click.Choice(LEAD_STATUSES), help="只列出该状态的线索。")
@option("json")
@DB_OPTION
def lead_list(campaign_name: str | None, status: str | None, as_json: bool, db_url: str | None) -> int:
    from mdwatch.storage.leads import LeadStore

    with LeadStore.open(db_url) as leads:
        if campaign_name is not None and leads.get_campaign(campaign_name) is None:
            _err(f"没有名为 {campaign_name} 的监测任务。")
            return EXIT_USAGE
        rows = leads.leads(campaign_name, status)
    if as_json:
        click.echo(json.dumps([_lead_json(x) for x in rows], ensure_ascii=False, indent=2))
        return EXIT_OK
    table = Table(title=f"线索（共 {len(rows)} 条）")
    for col in ("编号", "状态", "规则", "级别", "页面", "承办单位", "更新时间"):
        table.add_column(col, overflow="fold")
    for x in rows:
        table.add_row(str(x.id), STATUS_ZH.get(x.status, x.status), x.rule, _severity(x.severity), x.page_url,
                      x.assignee or "—", _local(x.updated_at))
    make_console().print(table)
    return EXIT_OK


@lead.command(name="show", help="查看一条线索的详情、处置记录、整改复查记录和证据包保管链。")
@click.argument("lead_id", type=int, metavar="ID")
@DB_OPTION
def lead_show(lead_id: int, db_url: str | None) -> int:
    from mdwatch.storage.leads import LeadStore

    with LeadStore.open(db_url) as leads:
        x = leads.get_lead(lead_id)
        if x is None:
            _err(f"没有编号为 {lead_id} 的线索。")
            return EXIT_USAGE
        events = leads.events(lead_id)
        custody = _custody_entries(leads, lead_id)
    console = make_console()
    console.print(f"线索 {x.id}（监测任务 {x.campaign}）：{STATUS_ZH.get(x.status, x.status)}，{x.rule}，"
                  f"{_severity(x.severity)}")
    console.print(f"页面：{x.page_url}")
    console.print(f"问题：{x.message}")
    console.print(f"承办单位：{x.assignee or '—'}；首次发现 {_local(x.first_seen)}；最近发现 {_local(x.last_seen)}"
                  f"（共 {x.seen_count} 次）")
    for r in x.recheck:
        console.print(f"整改复查 {_local(datetime.fromisoformat(r['at']))}：{RECHECK_ZH.get(r['result'], r['result'])}"
                      f"（运行 {r.get('run_id') or '—'}）")
    table = Table(title="处置记录")
    for col in ("时间", "事项", "状态", "说明"):
        table.add_column(col)
    for e in events:
        change = STATUS_ZH.get(e.to_status or "", "") if e.from_status == e.to_status else \
            f"{STATUS_ZH.get(e.from_status or '', '—')} → {STATUS_ZH.get(e.to_status or '', '—')}"
        table.add_row(_local(e.at), e.kind, change, e.note)
    console.print(table)
    console.print(_custody_table(custody))
    return EXIT_OK


def _custody_entries(leads: LeadStore, lead_id: int) -> list[CustodyEntry]:
    """The custody entries of the lead's packages and of packages of any one of its findings."""
    from mdwatch.storage.custody import CustodyStore
    from mdwatch.storage.leads import lead_finding_ids

    targets = [("lead", str(lead_id))]
    targets += [("finding", str(f)) for f in lead_finding_ids(leads.store.engine, lead_id) or ()]
    with CustodyStore(leads.store.engine) as custody:
        return custody.entries(targets)


def _custody_table(entries: list[CustodyEntry]) -> Table:
    """保管链 in Beijing time (what is handed to a bureau says Beijing time, whatever MDWATCH_TZ is)."""
    table = Table(title=f"保管链（北京时间，共 {len(entries)} 条）")
    for col in ("时间", "操作人", "操作", "对象", "清单 SHA-256", "结果"):
        table.add_column(col, overflow="fold")
    for e in entries:
        target = f"{CUSTODY_TARGET_ZH.get(e.target_kind, e.target_kind)} {e.target}".strip()
        result = "成功" if e.result == "ok" else f"失败{f'：{e.detail}' if e.detail else ''}"
        table.add_row(e.at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"), e.operator,
                      CUSTODY_ACTION_ZH.get(e.action, e.action), target, e.manifest_sha256 or "—", result)
    return table


@lead.command(name="assign", help="交办线索给承办单位（如某市场监督管理局）。")
@click.argument("lead_id", type=int, metavar="ID")
@click.argument("bureau", metavar="BUREAU")
@click.option("--note", help="交办说明。")
@DB_OPTION
def lead_assign(lead_id: int, bureau: str, note: str | None, db_url: str | None) -> int:
    from mdwatch.storage.leads import LeadError, LeadStore

    with LeadStore.open(db_url) as leads:
        try:
            x = leads.assign(lead_id, bureau, note)
        except LeadError as exc:
            _err(str(exc))
            return EXIT_USAGE
    click.echo(f"线索 {x.id} 已交办：{x.assignee}。")
    return EXIT_OK


@lead.command(name="update", help="更新线索的核查处置结果：verified（已核查）、resolved（已处置）、dismissed（已排除）。")
@click.argument("lead_id", type=int, metavar="ID")
@click.option("--status", type=click.Choice(UPDATE_STATUSES), help="新状态。")
@click.option("--note", help="处置说明。")
@DB_OPTION
def lead_update(lead_id: int, status: str | None, note: str | None, db_url: str | None) -> int:
    from mdwatch.storage.leads import LeadError, LeadStore

    with LeadStore.open(db_url) as leads:
        try:
            x = leads.update(lead_id, status, note)
        except LeadError as exc:
            _err(str(exc))
            return EXIT_USAGE
    click.echo(f"线索 {x.id}：{STATUS_ZH.get(x.status, x.status)}。")
    return EXIT_OK
