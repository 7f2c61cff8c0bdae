"""Building a :class:`Report` of runs, or of every run of a campaign, from the database."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from mdwatch.analyzers.catalogue import Rule, rules
from mdwatch.scheduler.outputs.precision_guard import guard_result
from mdwatch.storage.evidence import EvidenceStore
from mdwatch.storage.schema import Run
from mdwatch.storage.store import Store

from .labels import RUN_KIND_ZH, platform_of, shanghai
from .model import PrecisionAlert, Report, ReportError, RunInfo
from .offenders import REPEAT_RUNS, repeat_offenders
from .screenshots import screenshots
from .source import RunData, campaign_run_ids, read_runs
from .tally import Tally


def build_report(
    db_url: str | None,
    *,
    run_ids: Sequence[int] = (),
    campaign: str | None = None,
    scope: str | None = None,
    thumbnails: bool = True,
    repeat_runs: int = REPEAT_RUNS,
) -> Report:
    """Read the report of ``run_ids`` (or of every run of ``campaign``) from the database."""
    store = Store.open(db_url)
    try:
        EvidenceStore(store.engine).close()  # creates evidence_files if absent
        ids = list(dict.fromkeys(int(i) for i in run_ids))
        if campaign is not None:
            ids = campaign_run_ids(store, campaign)
            if not ids:
                raise ReportError(f"专项监测活动 {campaign} 还没有运行记录。")
        if not ids:
            raise ReportError("未指定要生成报告的运行。")
        return _build(store.engine, ids, campaign, scope, thumbnails, repeat_runs)
    finally:
        store.close()


def _build(engine: Engine, ids: list[int], campaign: str | None, scope: str | None,
           thumbnails: bool, repeat_runs: int) -> Report:
    catalogue = rules()
    data = read_runs(engine, ids)
    runs_sorted = sorted(data.runs.values(), key=lambda r: (r.started_at, r.id))
    runs = _run_infos(runs_sorted, data)
    tally = Tally(catalogue)
    for record in data.findings:
        tally.add(record, platform_of(dict(data.runs[record.finding.run_id].stats), record.url))
    shots = screenshots(engine, tally.pages.keys(), thumbnails)
    shop_here = tally.findings_by_shop()
    cutoff = max(r.started_at for r in runs_sorted)  # history up to the report's last run, not later ones
    offenders = repeat_offenders(engine, set(shop_here), cutoff, shop_here, tally.shop_names, repeat_runs)
    scope_kind, label = _scope(runs, campaign, scope)
    first, last = runs_sorted[0], runs_sorted[-1]
    return Report(
        title=f"医疗器械网络销售监测报告（{label}）",
        scope=scope_kind,
        scope_label=label,
        generated_at=shanghai(datetime.now(UTC)),
        period=f"{shanghai(first.started_at)} 至 {shanghai(last.finished_at or last.started_at)}",
        platforms=sorted({p for r in runs for p in r.platform.split("、")}),
        runs=runs,
        total_findings=len(data.findings),
        total_pages=sum(r.pages for r in runs),
        flagged_pages=len(tally.pages),
        shops_with_findings=len(tally.shop_names),
        by_rule=tally.by_rule(),
        by_severity=tally.by_severity(),
        by_shop=tally.by_shop(),
        by_platform=tally.by_platform(),
        repeat_offenders=offenders,
        repeat_runs=repeat_runs,
        pages=tally.page_items(shots),
        precision_alerts=_precision_alerts(runs_sorted, catalogue),
    )


def _run_infos(runs_sorted: list[Run], data: RunData) -> list[RunInfo]:
    """The runs, oldest first; a run's platform is that of its flagged pages, else that of its target."""
    finding_counts: Counter[int] = Counter(record.finding.run_id for record in data.findings)
    platforms: dict[int, set[str]] = defaultdict(set)
    for record in data.findings:
        run_id = record.finding.run_id
        platforms[run_id].add(platform_of(dict(data.runs[run_id].stats), record.url))
    return [
        RunInfo(id=r.id, kind=r.kind, kind_zh=RUN_KIND_ZH.get(r.kind, r.kind), target=r.target,
                platform="、".join(sorted(platforms[r.id])) or platform_of(dict(r.stats), r.target),
                status=r.status, started_at=shanghai(r.started_at), finished_at=shanghai(r.finished_at),
                pages=int(data.page_counts.get(r.id, 0)), findings=finding_counts[r.id])
        for r in runs_sorted
    ]


def _precision_alerts(runs_sorted: list[Run], catalogue: Mapping[str, Rule]) -> list[PrecisionAlert]:
    """The rules the precision guard held in each sweep (runs never judged have none)."""
    return [
        PrecisionAlert(run_id=r.id, rule=a.rule, title=catalogue[a.rule].title if a.rule in catalogue else a.rule,
                       kind=a.kind, pages=a.pages, total=a.total, share=round(a.share, 4), samples=list(a.samples),
                       line=a.line())
        for r in runs_sorted if (verdict := guard_result(dict(r.stats or {}), r.id)) is not None
        for a in verdict.alerts
    ]


def _scope(runs: list[RunInfo], campaign: str | None, scope: str | None) -> tuple[str, str]:
    """The report's scope (``campaign``, ``sweep`` or ``run``; ``scope`` overrides) and its Chinese label."""
    if campaign is not None:
        return "campaign", f"专项监测 {campaign}"
    if len(runs) == 1:
        return scope or ("sweep" if runs[0].kind == "sweep" else "run"), f"{runs[0].kind_zh} {runs[0].id}"
    return scope or "run", "运行 " + "、".join(str(r.id) for r in runs)
