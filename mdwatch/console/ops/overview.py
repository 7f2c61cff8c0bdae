"""总览: findings by severity, rule, platform and shop over time (the charts' data), the last runs,
what changed since the previous run of the same sweep or campaign (new / still present / fixed),
the shops with the most serious findings and the precision guard's warnings."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mdwatch.console.ops.runs import RunView, runs
from mdwatch.scheduler.outputs.labels import SEVERITIES, SEVERITY_ZH
from mdwatch.scheduler.outputs.precision_guard import GuardAlert, guard_result
from mdwatch.scheduler.settings import BEIJING
from mdwatch.storage import dashboard

if TYPE_CHECKING:
    from mdwatch.console.core import Console

__all__ = ["Change", "Overview", "overview"]

DAYS = 30
SAMPLES = 5


@dataclass(frozen=True, slots=True)
class Change:
    """What changed between the last two runs of one sweep target or campaign."""

    label: str
    latest_run: str
    previous_run: str
    new: int
    still: int
    fixed: int
    samples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # new/fixed → (URL, rule)


@dataclass(frozen=True, slots=True)
class Overview:
    charts: dict[str, Any]
    severity_totals: dict[str, int]
    runs: list[RunView]
    changes: list[Change]
    shops: list[dashboard.ShopTally]
    alerts: list[GuardAlert]


def _platform(url: str) -> str:
    return urlsplit(url).netloc or url


def _charts(console: Console, since: datetime, now: datetime) -> dict[str, Any]:
    offset = (now.astimezone(BEIJING).utcoffset() or timedelta(hours=8)).total_seconds() / 3600
    days = [(now - timedelta(days=n)).astimezone(BEIJING).strftime("%Y-%m-%d") for n in range(DAYS - 1, -1, -1)]
    per_day: dict[tuple[str, str], int] = {}
    for day, severity, n in dashboard.findings_by_day(console.engine, since, offset_hours=offset):
        per_day[(day, severity)] = n
    platforms: Counter[str] = Counter()
    for url, n in dashboard.page_finding_counts(console.engine, since):
        platforms[_platform(url)] += n
    shops = dashboard.top_shops(console.engine, since, limit=10)
    return {
        "days": days,
        "severities": [{"key": s, "name": SEVERITY_ZH[s], "data": [per_day.get((d, s), 0) for d in days]}
                       for s in SEVERITIES],
        "rules": [{"name": r, "value": n} for r, n in dashboard.rule_totals(console.engine, since, limit=12)],
        "platforms": [{"name": p, "value": n} for p, n in platforms.most_common(10)],
        "shops": [{"name": s.name or s.url, "critical": s.by_severity.get("critical", 0),
                   "high": s.by_severity.get("high", 0), "other": s.total - s.by_severity.get("critical", 0)
                   - s.by_severity.get("high", 0)} for s in shops],
    }


def _diff(console: Console, label: str, latest: tuple[str, list[int]],
          previous: tuple[str, list[int]]) -> Change:
    now_keys = dashboard.run_finding_keys(console.engine, latest[1])
    before = dashboard.run_finding_keys(console.engine, previous[1])
    checked = dashboard.run_page_urls(console.engine, latest[1])
    new = sorted(now_keys - before)
    fixed = sorted(k for k in before - now_keys if k[0] in checked)  # a page not checked again is not fixed
    return Change(label, latest[0], previous[0], len(new), len(now_keys & before), len(fixed),
                  {"new": new[:SAMPLES], "fixed": fixed[:SAMPLES]})


def _changes(console: Console, sweeps: list[RunView]) -> list[Change]:
    out: list[Change] = []
    by_target: dict[str, list[RunView]] = {}
    for run in sweeps:
        if run.status == "done":
            by_target.setdefault(run.target, []).append(run)
    for target, done in by_target.items():
        if len(done) >= 2:
            out.append(_diff(console, f"巡查 {target}", (f"运行 {done[0].id}", [done[0].id]),
                             (f"运行 {done[1].id}", [done[1].id])))
    for campaign in console.leads.campaigns():
        finished = [r for r in console.leads.campaign_runs(campaign.id) if r.status != "running"]
        if len(finished) >= 2:
            last, prev = finished[-1], finished[-2]
            out.append(_diff(console, f"监测任务 {campaign.name}", (f"第 {last.id} 次运行", list(last.run_ids)),
                             (f"第 {prev.id} 次运行", list(prev.run_ids))))
    return out[:8]


def overview(console: Console) -> Overview:
    now = console.now()
    since = now - timedelta(days=DAYS)
    sweeps = runs(console, limit=40, kind="sweep")
    alerts = [a for r in sweeps[:10] if (verdict := guard_result(r.stats, r.id)) is not None for a in verdict.alerts]
    return Overview(
        charts=_charts(console, since, now),
        severity_totals=dashboard.severity_totals(console.engine, since),
        runs=runs(console, limit=8),
        changes=_changes(console, sweeps),
        shops=dashboard.top_shops(console.engine, since, limit=10),
        alerts=alerts,
    )
