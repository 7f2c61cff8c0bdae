""":func:`run_sweep`: open (or resume, or join) a sweep's run record, crawl, record how it ended."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console

from mdwatch.analyzers.packs import PackError, RuleSelection, parse_pack_names, select_packs
from mdwatch.crawler.capture import FetchSettings
from mdwatch.crawler.netguard import apply_fetch_policy
from mdwatch.crawler.profile import Profile, ProfileError, load_profile
from mdwatch.crawler.sweep_spider import SweepSpider
from mdwatch.crawler.traps import TRAP_LOGGER, TrapCount
from mdwatch.scheduler.jobs.sweep.distributed import (
    finished_elsewhere_message,
    join_distributed,
    leave_distributed,
    open_distributed,
)
from mdwatch.scheduler.jobs.sweep.model import SweepError, SweepFinishedElsewhere, SweepOptions, SweepResult
from mdwatch.scheduler.jobs.sweep.progress import ProgressLine
from mdwatch.scheduler.jobs.sweep.settings import default_workers, sweep_settings
from mdwatch.scheduler.outputs import precision_guard as pguard
from mdwatch.scheduler.pipeline.sweep import ProcessorConfig, SweepRuntime, history_sweep_finished
from mdwatch.storage.config import default_db_url, normalize_db_url
from mdwatch.storage.store import Store
from mdwatch.storage.sweeps import (
    done_urls,
    finish_sweep,
    get_sweep,
    open_sweep_store,
    resume_sweep,
    rule_pages,
    start_sweep,
    sweep_counts,
)

if TYPE_CHECKING:
    from mdwatch.crawler.distributed import DistributedSweep

__all__ = ["run_sweep"]

# the logger's name from before the sweep became a package: log configuration may refer to it
log = logging.getLogger("mdwatch.scheduler.jobs.sweep")


@dataclass(frozen=True, slots=True)
class _Run:
    """The run record this process works on: new, resumed or joined."""

    run_id: int
    profile: Profile
    guard: pguard.GuardConfig
    packs: tuple[str, ...]
    started: datetime  # the sweep's analysis time (the first part's start when resumed)
    already: set[str]  # URLs stored by earlier parts of the sweep


@dataclass(frozen=True, slots=True)
class _Crawl:
    """What this process's crawl left behind."""

    runtime: SweepRuntime
    workers: int
    seconds: float
    failures: list[str]  # the crawl engine's own errors
    traps: list[TrapCount]  # URLs the spider's trap guard stopped, per rule and pattern


class _TrapLines(logging.Handler):
    """Each crawl-trap stop's one line (crawler/traps.py logs it once per pattern) as it happens."""

    def __init__(self, console: Console | None) -> None:
        super().__init__(logging.WARNING)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        if self.console is not None:
            self.console.print(line, style="yellow", markup=False, highlight=False, soft_wrap=True)
        else:
            print(f"mdwatch: {line}", file=sys.stderr, flush=True)


def _load(profile: Profile | str, base_url: str | None) -> Profile:
    if isinstance(profile, Profile):
        return profile
    try:
        return load_profile(profile, base_url)
    except ProfileError as exc:
        raise SweepError(str(exc)) from exc


def _guard_config(profile: Profile, options: SweepOptions) -> pguard.GuardConfig:
    """The precision guard of this sweep: options, environment, profile, defaults."""
    try:
        return pguard.guard_config(profile.precision_guard, share=options.guard_share, min_pages=options.guard_min_pages)
    except pguard.GuardConfigError as exc:
        raise SweepError(f"平台配置 {profile.name} 的精度警戒设置无效：{exc}") from exc


def _selection(packs: tuple[str, ...]) -> RuleSelection:
    try:
        return select_packs(packs)
    except PackError as exc:
        raise SweepError(str(exc)) from exc


def _resumed_packs(stats: dict[str, Any], asked: tuple[str, ...], run_id: int) -> tuple[str, ...]:
    """A resumed (or joined) sweep runs the packs it started with; naming other ones is an error."""
    stored = tuple(str(p) for p in stats.get("packs") or ())
    if asked and parse_pack_names(asked) != stored:
        shown = "、".join(stored) if stored else "全部规则"
        raise SweepError(f"巡查 {run_id} 开始时使用的规则包是 {shown}，续扫时不能更换。")
    return stored


def _open_run(profile: Profile | str, options: SweepOptions, db_url: str) -> _Run:
    """Start a new run record, or take up the one ``options.resume`` names."""
    store = open_sweep_store(db_url)
    try:
        if options.resume is not None:
            return _resume_run(store, profile, options, options.resume)
        return _start_run(store, profile, options)
    finally:
        store.close()


def _resume_run(store: Store, profile: Profile | str, options: SweepOptions, resume: int) -> _Run:
    """Resume (or, as a worker, join) run ``resume``: same profile, same packs, its stored pages done."""
    previous = get_sweep(store, resume)
    if previous is None:
        raise SweepError(f"没有编号为 {resume} 的巡查记录。")
    if previous.status == "done":
        if options.worker:
            raise SweepFinishedElsewhere(finished_elsewhere_message(previous.id))
        raise SweepError(f"巡查 {resume} 已完成，无需续扫。")
    base_url = options.base_url or previous.stats.get("base_url")
    loaded = _load(profile, base_url)
    guard = _guard_config(loaded, options)
    if isinstance(profile, str) and previous.stats.get("profile") not in (None, loaded.name):
        raise SweepError(
            f"巡查 {resume} 使用的平台配置是 {previous.stats.get('profile')}，不是 {loaded.name}。"
        )
    packs = _resumed_packs(previous.stats, options.packs, previous.id)
    run_id = previous.id
    already = done_urls(store, run_id)
    if not options.worker:  # a worker joins a running sweep; only its seeder reopens it
        resume_sweep(store, run_id)
    return _Run(run_id, loaded, guard, packs, previous.started_at, already)


def _start_run(store: Store, profile: Profile | str, options: SweepOptions) -> _Run:
    """A new run record; its stats keep what a resume needs (profile, base URL, budget, packs)."""
    loaded = _load(profile, options.base_url)
    guard = _guard_config(loaded, options)
    packs = options.packs
    started = datetime.now(UTC)
    run_id = start_sweep(
        store,
        target=f"{loaded.name}: {loaded.start_urls[0]}",
        stats={"profile": loaded.name, "base_url": options.base_url, "budget": options.budget,
               "start_urls": list(loaded.start_urls), "packs": list(packs),
               "distributed": options.redis_url is not None},
        started_at=started,
    )
    return _Run(run_id, loaded, guard, packs, started, set())


def ocr_cap(options: SweepOptions, profile: Profile) -> int | None:
    """Distinct images read per page: the command line's, else the profile's; None: the default."""
    return options.ocr_max_images if options.ocr_max_images is not None else profile.ocr_max_images


def _crawler_settings(options: SweepOptions, run: _Run, db_url: str) -> tuple[dict[str, Any], DistributedSweep | None]:
    """The crawl's Scrapy settings and, when distributed, the shared frontier this process joined."""
    settings = sweep_settings(options)
    if (cap := ocr_cap(options, run.profile)) is not None:
        settings["MDWATCH_OCR_MAX_IMAGES"] = cap
    # the fetch policy: the start URLs' hosts are the user's; the rest must be public or allow-listed
    apply_fetch_policy(settings, run.profile.start_urls, run.profile.allow_hosts)
    distributed = join_distributed(options, run.run_id, db_url, settings)
    return settings, distributed


def _crawl(options: SweepOptions, run: _Run, db_url: str, settings: dict[str, Any],
           distributed: DistributedSweep | None, console: Console | None,
           on_update: Callable[[SweepRuntime], None] | None) -> _Crawl:
    """Run the spider and its pipeline in this process until the crawl ends (or Ctrl-C stops it)."""
    workers = default_workers() if options.workers is None else max(options.workers, 0)
    progress = ProgressLine(console, len(run.already))

    def update(rt: SweepRuntime) -> None:
        progress.update(rt)
        if on_update is not None:
            on_update(rt)

    selection = _selection(run.packs)
    runtime = SweepRuntime(ProcessorConfig(db_url, run.run_id, run.started, selection), workers=workers,
                           on_update=update, ocr_engine=options.ocr_engine, ocr_workers=options.ocr_workers,
                           ocr_queue=options.ocr_queue)
    budget = None if options.budget is None else max(options.budget - len(run.already), 0)
    fetch = FetchSettings(timeout_s=options.timeout_s, user_agent=options.user_agent,
                          fetch_images=options.ocr_engine is not None)

    from scrapy.crawler import CrawlerProcess

    t0 = time.monotonic()
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(SweepSpider)
    failures: list[str] = []
    lines, trap_log = _TrapLines(console), logging.getLogger(TRAP_LOGGER)
    trap_log.addHandler(lines)
    try:
        with progress:
            done = process.crawl(crawler, profile=run.profile, done_urls=run.already, budget=budget,
                                 fetch_settings=fetch, sweep_runtime=runtime, distributed=distributed)
            done.addErrback(lambda failure: failures.append(failure.getErrorMessage()))
            process.start()
            progress.final(runtime)
    finally:
        trap_log.removeHandler(lines)
    seconds = time.monotonic() - t0
    if crawler.stats is not None:
        runtime.extra["responses"] = int(crawler.stats.get_value("response_received_count", 0) or 0)
    guard = getattr(crawler.spider, "traps", None)
    traps = guard.report() if guard is not None else []
    return _Crawl(runtime, workers, seconds, failures, traps)


def _crawl_status(crawl: _Crawl, run_id: int, options: SweepOptions) -> str:
    """``done`` when the crawl ran out of pages (or budget) cleanly, else ``interrupted``."""
    runtime = crawl.runtime
    if crawl.failures:
        runtime.error(f"抓取引擎出错：{crawl.failures[0]}")
    if runtime.close_reason == "not_seeded":
        runtime.error(f"巡查 {run_id} 的起始网址在 {options.seed_wait_s:.0f} 秒内没有放入共享队列，本工作进程退出。")
    return "done" if runtime.close_reason == "finished" and not crawl.failures else "interrupted"


def _crawl_stats(crawl: _Crawl) -> dict[str, Any]:
    """This process's part of the sweep, as recorded in the run's stats."""
    runtime = crawl.runtime
    stats: dict[str, Any] = {"pages_this_run": runtime.pages, "errors_this_run": runtime.errors,
             "seconds_this_run": round(crawl.seconds, 3), "via_browser": runtime.via_browser,
             "close_reason": runtime.close_reason, "workers": crawl.workers,
             "responses_this_run": int(runtime.extra.get("responses", 0))}
    if "ocr" in runtime.extra:
        stats["ocr_this_run"] = runtime.extra["ocr"]
    if crawl.traps:  # this process's trap stops (a distributed sweep applies the limits per process)
        stats["traps_this_run"] = [count.to_stats() for count in crawl.traps]
    for key in ("screenshots", "screenshots_during_crawl", "evidence_tail_s", "cpu_s",  # cpu_s: pipeline/sweep/cputime.py
                "analysis_batches"):
        if key in runtime.extra:
            stats[f"{key}_this_run" if key != "evidence_tail_s" else key] = runtime.extra[key]
    return stats


def _record_end(db_url: str, run: _Run, status: str, stats: dict[str, Any],
                last: bool) -> tuple[dict[str, int], list[tuple[str, str, int]]]:
    """Close the run record (unless other processes carry on): (the sweep's counts, pages per rule)."""
    store = open_sweep_store(db_url)
    try:
        counts = sweep_counts(store, run.run_id)
        if last:  # a distributed process that is not the last leaves the run to the others
            stats.update(counts)
            verdict = pguard.sweep_guard(store, run.run_id, run.guard)
            stats[pguard.STATS_KEY] = verdict.to_stats()
            finish_sweep(store, run.run_id, status, stats)
            for line in verdict.lines():  # the log and stderr: one line per held rule
                log.warning(line)
                print(f"mdwatch: {line}", file=sys.stderr, flush=True)
            history_sweep_finished(store, run.run_id, status)
        by_rule = rule_pages(store, run.run_id)
    finally:
        store.close()
    return counts, by_rule


def run_sweep(
    profile: Profile | str,
    options: SweepOptions = SweepOptions(),  # noqa: B008 - frozen, safe as a default
    console: Console | None = None,
    on_update: Callable[[SweepRuntime], None] | None = None,
) -> SweepResult:
    """Run (or resume, or join) one sweep in this process; ``console`` shows the progress line."""
    open_distributed(options)
    db_url = normalize_db_url(options.db_url or default_db_url())
    run = _open_run(profile, options, db_url)
    settings, distributed = _crawler_settings(options, run, db_url)
    crawl = _crawl(options, run, db_url, settings, distributed, console, on_update)
    status = _crawl_status(crawl, run.run_id, options)
    stats = _crawl_stats(crawl)
    last = True
    if distributed is not None:
        status, last = leave_distributed(distributed, crawl.runtime.close_reason, stats, status)
    counts, by_rule = _record_end(db_url, run, status, stats, last)
    runtime = crawl.runtime
    return SweepResult(
        run_id=run.run_id, status=status, profile=run.profile.name, pages=counts["pages"], flagged=counts["flagged"],
        findings=counts["findings"], rule_pages=by_rule, pages_this_run=runtime.pages, errors=runtime.errors,
        error_messages=tuple(runtime.error_messages), seconds=crawl.seconds, via_browser=runtime.via_browser,
        resumed_from=len(run.already), stats=stats,
        distributed=None if distributed is None else ("seeder" if distributed.seeder else "worker"), last=last,
    )
