"""Regulator monitoring campaigns: create, run, status (HAINAN 13: 线上固证 → 线索交办).

A campaign run scans the campaign's URL targets with its rule packs (enabled rules and severity
overrides), or sweeps its profile target, records each target's outcome (an unreachable target
is recorded and the run goes on), re-checks the URLs of its resolved leads (整改复查) and then
syncs leads (``storage.leads.LeadStore.sync``): one lead per (campaign, page URL, rule).

The findings of a rule that tripped the sweep's precision guard (``scheduler/precision_guard.py``:
the rule fired on most pages of its kind, likely an unrecognised page structure) are held for
review instead of filed: the campaign run's stats record them (``precision_guard``,
``leads_held``) and :func:`release_held` files them once a reviewer has confirmed the rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console

from mdwatch.analyzers.model import Severity
from mdwatch.analyzers.packs import PackError, RuleSelection, combine, parse_pack_names
from mdwatch.crawler.capture import FetchSettings
from mdwatch.scheduler.outputs.precision_guard import GuardAlert, guard_result
from mdwatch.storage.leads import (
    Campaign,
    CampaignRun,
    LeadError,
    LeadFinding,
    LeadStore,
    SyncResult,
    UrlCheck,
    run_findings,
    run_page_urls,
)

__all__ = [
    "CampaignError",
    "CampaignRunResult",
    "CampaignStatus",
    "campaign_status",
    "create_campaign",
    "read_targets",
    "release_held",
    "run_campaign",
]

RUN_KIND = "campaign"


class CampaignError(Exception):
    """A campaign that cannot be created or run; the message is one Chinese sentence."""


@dataclass(frozen=True, slots=True)
class CampaignRunResult:
    campaign: str
    campaign_run_id: int
    status: str  # done | partial (some targets unreachable) | failed (no target reachable)
    run_ids: tuple[int, ...]
    checks: tuple[UrlCheck, ...]  # URL targets and re-checked lead URLs, as tried
    unreachable: tuple[tuple[str, str], ...]  # (target, error)
    findings: int
    sync: SyncResult
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CampaignStatus:
    campaign: Campaign
    runs: tuple[CampaignRun, ...]
    lead_counts: dict[str, int]


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def read_targets(values: Sequence[str]) -> list[str]:
    """URLs from ``values``: each a URL, or a file with one URL a line (``#`` comments, blanks skipped)."""
    out: dict[str, None] = {}
    for value in values:
        value = value.strip()
        if not value:
            continue
        if _is_url(value):
            out.setdefault(value, None)
            continue
        path = Path(value)
        if not path.is_file():
            raise CampaignError(f"目标既不是 http(s) 网址，也不是可读取的文件：{value}")
        for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if not _is_url(line):
                raise CampaignError(f"{path} 第 {n} 行不是 http(s) 网址：{line}")
            out.setdefault(line, None)
    return list(out)


def create_campaign(
    name: str,
    targets: Sequence[str],
    packs: str | Sequence[str],
    *,
    profile: str | None = None,
    base_url: str | None = None,
    cron: str | None = None,
    db_url: str | None = None,
) -> Campaign:
    """Create a campaign; ``targets`` are URLs or files of URLs, ``packs`` pack names (or "a,b")."""
    names = parse_pack_names(packs)
    try:
        combine(names)
    except PackError as exc:
        raise CampaignError(str(exc)) from exc
    urls = read_targets(targets)
    with LeadStore.open(db_url) as leads:
        try:
            return leads.create_campaign(name, names, urls=urls, profile=profile, base_url=base_url, cron=cron)
        except LeadError as exc:
            raise CampaignError(str(exc)) from exc


def _sweep(campaign: Campaign, db_url: str | None, console: Console | None,
           sweep_options: dict[str, Any] | None) -> tuple[int | None, list[str], str | None]:
    """(run id, page URLs stored, error) of the campaign's profile sweep."""
    from mdwatch.scheduler.jobs.sweep import SweepError, SweepOptions, run_sweep

    assert campaign.profile is not None
    # the sweep runs the campaign's packs itself: its stored findings are the campaign's
    options = SweepOptions(db_url=db_url, base_url=campaign.base_url, packs=tuple(campaign.packs),
                           **(sweep_options or {}))
    try:
        result = run_sweep(campaign.profile, options, console=console)
    except SweepError as exc:
        return None, [], str(exc)
    except Exception as exc:  # a broken platform never stops the campaign's other targets
        return None, [], f"巡查 {campaign.profile} 出错：{type(exc).__name__}：{exc}"
    with LeadStore.open(db_url) as leads:
        urls = run_page_urls(leads.store, result.run_id)
    if not urls:
        message = result.error_messages[0] if result.error_messages else f"巡查 {campaign.profile} 没有取得任何页面。"
        return result.run_id, [], message
    return result.run_id, urls, None


@dataclass(slots=True)
class _Tried:
    """What a campaign run tried: the runs it made, every URL check and each target's outcome."""

    run_ids: list[int] = field(default_factory=list)
    target_checks: list[tuple[str, str, UrlCheck]] = field(default_factory=list)  # (kind, target, check)
    checks: list[UrlCheck] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Opened:
    """A campaign run just started: the campaign, its packs combined, the URLs of its resolved leads."""

    campaign: Campaign
    enabled: frozenset[str]
    overrides: dict[str, Severity]
    crun: int
    resolved_urls: list[str]


def run_campaign(
    name: str,
    *,
    db_url: str | None = None,
    settings: FetchSettings | None = None,
    ocr_engine: str | None = None,
    console: Console | None = None,
    sweep_options: dict[str, Any] | None = None,
) -> CampaignRunResult:
    """Run the campaign ``name`` once: sweep / scan its targets with its packs, then sync leads.

    ``sweep_options`` are extra :class:`~mdwatch.scheduler.jobs.sweep.SweepOptions` fields for a
    profile target (e.g. ``{"budget": 50, "workers": 0}``).
    """
    from mdwatch.scheduler.jobs.scan import scan_urls

    opened = _open_campaign_run(name, db_url)
    campaign = opened.campaign
    tried = _Tried()
    swept: set[str] = set()
    if campaign.profile:
        swept = _sweep_target(campaign, db_url, console, sweep_options, tried)

    url_targets = campaign.url_targets
    to_scan = list(dict.fromkeys([*url_targets, *(u for u in opened.resolved_urls if u not in swept)]))
    if to_scan:
        result = scan_urls(to_scan, db_url=db_url, run_kind=RUN_KIND, settings=settings, ocr_engine=ocr_engine,
                           selection=RuleSelection(opened.enabled, opened.overrides, tuple(campaign.packs)),
                           evidence=True)  # a lead's evidence is taken when its finding is (HAINAN 13)
        scan_run_id = result.run_id
        if scan_run_id is not None:
            tried.run_ids.append(scan_run_id)
        skipped = _unevaluated(opened.enabled, result.registry_loaded, ocr_engine is not None)
        for outcome in result.outcomes:
            check = UrlCheck(outcome.url, outcome.ok, scan_run_id if outcome.ok else None,
                             None if outcome.ok else (outcome.error or f"无法获取 {outcome.url}。"),
                             skipped if outcome.ok else frozenset())
            tried.checks.append(check)
            if outcome.url in url_targets:
                tried.target_checks.append(("url", outcome.url, check))
    return _finish_campaign_run(opened, tried, db_url)


def _open_campaign_run(name: str, db_url: str | None) -> _Opened:
    """Start a run of campaign ``name`` (its packs checked first)."""
    with LeadStore.open(db_url) as leads:
        try:
            campaign = leads.require_campaign(name)
        except LeadError as exc:
            raise CampaignError(str(exc)) from exc
        try:
            enabled, overrides = combine(campaign.packs)
        except PackError as exc:
            raise CampaignError(str(exc)) from exc
        started = datetime.now(UTC)
        crun = leads.start_campaign_run(campaign.id, started)
        resolved_urls = leads.lead_urls(campaign.id, "resolved")
    return _Opened(campaign, enabled, overrides, crun, resolved_urls)


def _sweep_target(campaign: Campaign, db_url: str | None, console: Console | None,
                  sweep_options: dict[str, Any] | None, tried: _Tried) -> set[str]:
    """Sweep the campaign's profile target into ``tried``; the page URLs it stored."""
    assert campaign.profile is not None
    run_id, pages, error = _sweep(campaign, db_url, console, sweep_options)
    if run_id is not None:
        tried.run_ids.append(run_id)
    skipped = frozenset[str]()
    if pages:
        from mdwatch.storage.database import resolve_db_url
        from mdwatch.storage.registry_store import RegistryStore

        with RegistryStore.open(resolve_db_url(db_url)) as registry:
            skipped = _unevaluated(combine(campaign.packs)[0], registry.is_loaded(),
                                   (sweep_options or {}).get("ocr_engine") is not None)
    tried.checks.extend(UrlCheck(u, True, run_id, None, skipped) for u in pages)
    tried.target_checks.append(("profile", campaign.profile, UrlCheck(campaign.profile, error is None, run_id, error)))
    return set(pages)


def _unevaluated(enabled: frozenset[str], registry_loaded: bool, ocr: bool) -> frozenset[str]:
    """The rules a run could not judge: not enabled, needing the registry it lacked, or OCR it
    ran without. A resolved lead of such a rule is not 'fixed' by its finding's absence."""
    from mdwatch.analyzers.catalogue import rules

    return frozenset(r.id for r in rules().values()
                     if r.id not in enabled or (r.needs == "registry" and not registry_loaded)
                     or (r.needs == "ocr" and not ocr))


def _finish_campaign_run(opened: _Opened, tried: _Tried, db_url: str | None) -> CampaignRunResult:
    """Sync the leads of the runs' findings (a guard-tripped rule's held), record the targets, close the run."""
    campaign, enabled, overrides, crun = opened.campaign, opened.enabled, opened.overrides, opened.crun
    run_ids, target_checks, checks = tried.run_ids, tried.target_checks, tried.checks
    findings: list[LeadFinding] = []
    with LeadStore.open(db_url) as leads:
        alerts = _guard_alerts(leads, run_ids)
        held = {(a.run_id, a.rule) for a in alerts}
        for rid in run_ids:
            stored = [f for f in run_findings(leads.store, rid) if f.rule in enabled]
            for f in stored:
                severity = overrides.get(f.rule, f.severity)
                findings.append(LeadFinding(page_url=f.page_url, rule=f.rule, severity=severity, message=f.message,
                                            run_id=rid, finding_id=f.finding_id, shop_url=f.shop_url,
                                            title=f.title))
        sync = leads.sync(campaign.id, crun, findings, checks, held=held)
        leads.record_targets(campaign.id, target_checks)
        unreachable = tuple((t, c.error or "无法访问") for _k, t, c in target_checks if not c.ok)
        reachable = sum(1 for _k, _t, c in target_checks if c.ok)
        status = "done" if not unreachable else ("partial" if reachable else "failed")
        stats: dict[str, Any] = {
            "packs": list(campaign.packs), "targets": len(target_checks), "targets_ok": reachable,
            "targets_unreachable": len(unreachable), "rechecked_urls": len(opened.resolved_urls),
            "pages": sum(1 for c in checks if c.ok), "findings": len(findings),
            "critical": sum(1 for f in findings if f.severity == "critical"), **sync.as_dict(),
        }
        if alerts:
            stats["precision_guard"] = [
                {**a.to_dict(), "run_id": a.run_id,
                 "held": sum(1 for f in findings if f.run_id == a.run_id and f.rule == a.rule)}
                for a in alerts if a.rule in enabled]
        leads.finish_campaign_run(crun, status, run_ids, stats)
    return CampaignRunResult(
        campaign=campaign.name, campaign_run_id=crun, status=status, run_ids=tuple(run_ids), checks=tuple(checks),
        unreachable=unreachable, findings=len(findings), sync=sync, stats=stats,
    )


def _guard_alerts(leads: LeadStore, run_ids: Sequence[int]) -> list[GuardAlert]:
    """The precision guard's alerts of the sweeps among ``run_ids`` (each with its run id)."""
    from mdwatch.storage.sweeps import get_sweep

    out: list[GuardAlert] = []
    for rid in run_ids:
        sweep = get_sweep(leads.store, rid)
        verdict = guard_result(sweep.stats, rid) if sweep is not None else None
        if verdict is not None:
            out.extend(verdict.alerts)
    return out


def release_held(name: str, campaign_run_id: int, rule: str, *, db_url: str | None = None) -> SyncResult:
    """After review (the rule is right on that platform): file the findings of ``rule`` that the
    precision guard held in campaign run ``campaign_run_id`` as leads (each lead's history says so)."""
    with LeadStore.open(db_url) as leads:
        try:
            campaign = leads.require_campaign(name)
            enabled, overrides = combine(campaign.packs)
        except (LeadError, PackError) as exc:
            raise CampaignError(str(exc)) from exc
        crun = next((r for r in leads.campaign_runs(campaign.id) if r.id == campaign_run_id), None)
        if crun is None:
            raise CampaignError(f"监测任务 {name} 没有编号为 {campaign_run_id} 的运行。")
        run_ids = [int(a["run_id"]) for a in crun.stats.get("precision_guard") or () if a.get("rule") == rule]
        if not run_ids or rule not in enabled:
            raise CampaignError(f"监测运行 {campaign_run_id} 没有因精度警戒暂缓的 {rule} 线索。")
        findings = [
            LeadFinding(page_url=f.page_url, rule=f.rule, severity=overrides.get(f.rule, f.severity),
                        message=f.message, run_id=f.run_id, finding_id=f.finding_id, shop_url=f.shop_url,
                        title=f.title)
            for rid in run_ids for f in run_findings(leads.store, rid) if f.rule == rule
        ]
        return leads.sync(campaign.id, campaign_run_id, findings, ())


def campaign_status(name: str, db_url: str | None = None) -> CampaignStatus:
    with LeadStore.open(db_url) as leads:
        try:
            campaign = leads.require_campaign(name)
        except LeadError as exc:
            raise CampaignError(str(exc)) from exc
        return CampaignStatus(campaign, tuple(leads.campaign_runs(campaign.id)), leads.counts(campaign.id))

