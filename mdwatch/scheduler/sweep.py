"""``mdwatch sweep PROFILE``: crawl a whole platform and run ``scan``'s analyzers on every page.

The composition root of a sweep (docs/sweep-design.md): :func:`run_sweep` loads the run state
(new, or ``--resume ID``), builds the Scrapy settings (throughput, politeness, robots.txt, the
browser when ``mdwatch.crawler.browser`` is available), runs :class:`SweepSpider` with
:class:`SweepPipeline` in this process (``CrawlerProcess``; a sweep is one process, so
``run_sweep`` runs once per process) and records how the sweep ended:

- every page is committed on its own, so ``kill -9`` loses nothing committed; the run stays
  ``running`` and ``--resume ID`` continues it;
- Ctrl-C stops gracefully (pages in flight are finished and stored) and marks it ``interrupted``;
- a crawl that ran out of pages (or budget) marks it ``done``.

Distributed (``redis_url``, i.e. ``MDWATCH_REDIS_URL``; ``mdwatch.crawler.distributed``): the
frontier is in Redis, shared by this process and any number of workers
(``mdwatch sweep PROFILE --worker --resume ID``) writing to one database. The seeder creates the
run (or, with ``--resume``, restarts its frontier from the start URLs, skipping stored products);
a worker waits until the run is open, then joins. The last process to leave marks the run
``done`` (or ``interrupted``), records the per-URL fetch counts and the workers' summaries in the
run's stats and deletes the sweep's Redis keys.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from mdwatch.analyzers.catalogue import rules
from mdwatch.analyzers.packs import PackError, RuleSelection, parse_pack_names, select_packs
from mdwatch.crawler.capture import FetchSettings
from mdwatch.crawler.netguard import apply_fetch_policy
from mdwatch.crawler.profile import Profile, ProfileError, load_profile
from mdwatch.crawler.sweep_spider import SweepSpider
from mdwatch.scheduler import precision_guard as pguard
from mdwatch.scheduler.render import SEVERITY_ORDER, SEVERITY_STYLE, SEVERITY_ZH
from mdwatch.scheduler.sweep_pipeline import ProcessorConfig, SweepRuntime, history_sweep_finished
from mdwatch.storage.config import default_db_url, normalize_db_url
from mdwatch.storage.sweeps import (
    done_urls,
    finish_sweep,
    get_sweep,
    open_sweep_store,
    peek_sweep_status,
    resume_sweep,
    rule_pages,
    start_sweep,
    sweep_counts,
)

__all__ = ["SweepError", "SweepOptions", "SweepResult", "print_sweep_summary", "run_sweep", "sweep_settings"]

PIPELINE_PATH = "mdwatch.scheduler.sweep_pipeline.SweepPipeline"
log = logging.getLogger(__name__)


class SweepError(Exception):
    """A sweep that cannot start (bad profile, unknown run id); the message is one Chinese sentence."""


class SweepFinishedElsewhere(SweepError):
    """A worker arrived after the sweep it was to join had been completed by others: nothing to do
    (exit 0); the message says so."""


@dataclass(frozen=True, slots=True)
class SweepOptions:
    """How to run a sweep (the options of ``mdwatch sweep``)."""

    db_url: str | None = None
    base_url: str | None = None
    budget: int | None = None  # pages stored by the whole sweep (resumed parts included)
    resume: int | None = None  # run id of the sweep to continue
    obey_robots: bool = True
    concurrency: int = 16  # requests in flight per domain
    workers: int | None = None  # analysis processes; None: by CPU count; 0: inline
    browser: bool = True  # use the headless browser (profile-marked / content-less pages)
    autothrottle: bool = True
    retries: int = 2
    timeout_s: float = 20.0
    user_agent: str = "mdwatch/0.1 (+compliance monitoring)"
    extra_settings: tuple[tuple[str, Any], ...] = ()
    redis_url: str | None = None  # distributed: the shared frontier (MDWATCH_REDIS_URL)
    worker: bool = False  # distributed: join the sweep ``resume`` instead of seeding it
    seed_wait_s: float = 120.0  # distributed worker: how long to wait for the seeder
    ocr_engine: str | None = None  # rapidocr | tesseract; None: no image is downloaded or read
    ocr_workers: int | None = None  # OCR processes; None: one per core
    guard_share: float | None = None  # precision guard: overrides MDWATCH_GUARD_SHARE and the profile
    guard_min_pages: int | None = None  # precision guard: overrides MDWATCH_GUARD_MIN_PAGES and the profile
    packs: tuple[str, ...] = ()  # rule packs (enabled rules, severities); () every rule at catalogue severity


@dataclass(frozen=True, slots=True)
class SweepResult:
    run_id: int
    status: str  # done | interrupted
    profile: str
    pages: int  # stored by the whole sweep
    flagged: int
    findings: int
    rule_pages: list[tuple[str, str, int]]  # (rule, severity, pages)
    pages_this_run: int = 0
    errors: int = 0
    error_messages: tuple[str, ...] = ()
    seconds: float = 0.0
    via_browser: int = 0
    resumed_from: int = 0  # pages already stored when this run started
    stats: dict[str, Any] = field(default_factory=dict)
    distributed: str | None = None  # None | seeder | worker
    last: bool = True  # distributed: this process finished the run (False: others carried on)

    @property
    def pages_per_second(self) -> float:
        return self.pages_this_run / self.seconds if self.seconds > 0 else 0.0


def default_workers() -> int:
    """Analysis processes: one per CPU beyond the crawl's own, at least one, at most four."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus - 1, 4))


def _browser_settings() -> dict[str, Any]:
    """The browser's Scrapy settings (crawler/browser.py), or none while it is unavailable."""
    try:
        from mdwatch.crawler.browser import browser_settings
    except ImportError:
        return {}
    try:
        import scrapy_playwright  # noqa: F401
    except ImportError:
        return {}
    return dict(browser_settings())


def sweep_settings(options: SweepOptions) -> dict[str, Any]:
    """The Scrapy settings of a sweep (also used by the benchmark's bare spider, minus the pipeline)."""
    fetch = FetchSettings(timeout_s=options.timeout_s, user_agent=options.user_agent)
    concurrency = max(int(options.concurrency), 1)
    settings: dict[str, Any] = {
        "LOG_ENABLED": True,
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,  # no local remote-control endpoint
        "REMOTE_CONTROL_ENABLED": False,
        "COOKIES_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "ROBOTSTXT_OBEY": options.obey_robots,
        "USER_AGENT": options.user_agent,
        "DOWNLOAD_TIMEOUT": options.timeout_s,
        "DNS_TIMEOUT": options.timeout_s,
        "DOWNLOAD_MAXSIZE": fetch.max_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_ENABLED": options.retries > 0,
        "RETRY_TIMES": max(options.retries, 0),
        "REDIRECT_MAX_TIMES": fetch.max_redirects,
        "METAREFRESH_ENABLED": False,
        # politeness per domain; the global cap only keeps several platforms' slots apart
        "CONCURRENT_REQUESTS": concurrency * 4,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": options.autothrottle,
        "AUTOTHROTTLE_START_DELAY": 0.0,
        "AUTOTHROTTLE_MAX_DELAY": 10.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(concurrency),
        # each response yields at most one item plus its links: a few parallel tasks suffice
        # (the default starts 100 per response)
        "CONCURRENT_ITEMS": 8,
        "EXTENSIONS": {
            "scrapy.extensions.telnet.TelnetConsole": None,
            "scrapy.extensions.memusage.MemoryUsage": None,
            "scrapy.extensions.logstats.LogStats": None,
        },
        "ITEM_PIPELINES": {PIPELINE_PATH: 300},
    }
    if options.browser:
        for key, value in _browser_settings().items():
            if key == "DOWNLOADER_MIDDLEWARES":
                settings.setdefault(key, {}).update(value)
            else:
                settings[key] = value
    settings.update(dict(options.extra_settings))
    return settings


class _ProgressLine:
    """One live line: pages, findings, errors, pages/s."""

    def __init__(self, console: Console | None, already: int) -> None:
        self.console = console
        self.already = already
        self._live: Live | None = None
        self._last = 0.0

    def __enter__(self) -> _ProgressLine:
        if self.console is not None and self.console.is_terminal:
            self._live = Live(Text("准备中……"), console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def line(self, rt: SweepRuntime) -> Text:
        done = rt.pages + self.already
        resumed = f"（含续扫前 {self.already} 页）" if self.already else ""
        return Text.assemble(
            ("巡查中 ", "bold"),
            f"已完成 {done} 页{resumed} · ",
            (f"发现 {rt.findings} 项", "red" if rt.findings else ""),
            f"（{rt.flagged} 页） · ",
            (f"错误 {rt.errors}", "yellow" if rt.errors else ""),
            f" · {rt.rate():.1f} 页/秒",
        )

    def update(self, rt: SweepRuntime) -> None:
        if self.console is None:
            return
        now = time.monotonic()
        if now - self._last < (0.2 if self._live is not None else 10.0):
            return
        self._last = now
        if self._live is not None:
            self._live.update(self.line(rt))
        else:  # not a terminal: a line every 10 s
            self.console.print(self.line(rt), soft_wrap=True)

    def final(self, rt: SweepRuntime) -> None:
        if self._live is not None:
            self._live.update(self.line(rt))
        elif self.console is not None:
            self.console.print(self.line(rt), soft_wrap=True)


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


def _open_distributed(options: SweepOptions) -> None:
    """Checks before a distributed sweep touches anything; a worker waits here for its seeder."""
    from mdwatch.crawler.distributed import DistributedSweep

    if options.redis_url is None:
        if options.worker:
            raise SweepError("--worker 需要设置 MDWATCH_REDIS_URL（共享队列所在的 Redis）。")
        return
    if options.budget is not None:
        raise SweepError("分布式巡查（设置了 MDWATCH_REDIS_URL）暂不支持页面预算 --budget。")
    if options.worker:
        if options.resume is None:
            raise SweepError("--worker 需要 --resume ID：要加入的巡查的运行编号。")
        run_id = options.resume
        db_url = normalize_db_url(options.db_url or default_db_url())

        def done_in_database() -> bool:
            return peek_sweep_status(db_url, run_id) == "done"

        try:
            state = DistributedSweep.wait_open(options.redis_url, run_id, options.seed_wait_s,
                                               finished_elsewhere=done_in_database)
        except Exception as exc:
            raise SweepError(f"无法连接 Redis（{options.redis_url}）：{exc}") from exc
        if state == "finished":
            raise SweepFinishedElsewhere(_finished_elsewhere_message(run_id))
        if state != "open":
            raise SweepError(f"等待 {options.seed_wait_s:.0f} 秒后，巡查 {run_id} 仍未在 Redis 中开始；"
                             f"请先用不带 --worker 的 mdwatch sweep 启动它。")


def _finished_elsewhere_message(run_id: int) -> str:
    return f"巡查 {run_id} 已由其他进程完成，本工作进程无需加入，正常退出。"


def _prepare_schema(db_url: str) -> None:
    """Create every table now, before any worker opens the database: processes creating the same
    tables at once collide on PostgreSQL (``pg_type_typname_nsp_index``)."""
    import contextlib
    import importlib

    from mdwatch.scheduler.registry import RegistrySource

    for module in ("mdwatch.storage.images", "mdwatch.storage.evidence", "mdwatch.storage.leads"):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)  # their tables join the metadata Store.open creates
    open_sweep_store(db_url).close()
    RegistrySource(db_url).close()


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


def run_sweep(
    profile: Profile | str,
    options: SweepOptions = SweepOptions(),
    console: Console | None = None,
    on_update: Callable[[SweepRuntime], None] | None = None,
) -> SweepResult:
    """Run (or resume, or join) one sweep in this process; ``console`` shows the progress line."""
    _open_distributed(options)
    db_url = normalize_db_url(options.db_url or default_db_url())
    store = open_sweep_store(db_url)
    try:
        already: set[str] = set()
        if options.resume is not None:
            previous = get_sweep(store, options.resume)
            if previous is None:
                raise SweepError(f"没有编号为 {options.resume} 的巡查记录。")
            if previous.status == "done":
                if options.worker:
                    raise SweepFinishedElsewhere(_finished_elsewhere_message(previous.id))
                raise SweepError(f"巡查 {options.resume} 已完成，无需续扫。")
            base_url = options.base_url or previous.stats.get("base_url")
            loaded = _load(profile, base_url)
            guard = _guard_config(loaded, options)
            if isinstance(profile, str) and previous.stats.get("profile") not in (None, loaded.name):
                raise SweepError(
                    f"巡查 {options.resume} 使用的平台配置是 {previous.stats.get('profile')}，不是 {loaded.name}。"
                )
            packs = _resumed_packs(previous.stats, options.packs, previous.id)
            run_id = previous.id
            already = done_urls(store, run_id)
            if not options.worker:
                resume_sweep(store, run_id)
            started = previous.started_at
        else:
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
    finally:
        store.close()

    distributed = None
    settings = sweep_settings(options)
    # the fetch policy: the start URLs' hosts are the user's; the rest must be public or allow-listed
    apply_fetch_policy(settings, loaded.start_urls, loaded.allow_hosts)
    if options.redis_url is not None:
        from mdwatch.crawler.distributed import DistributedSweep, redis_settings

        distributed = DistributedSweep(options.redis_url, run_id, seeder=not options.worker,
                                       seed_wait_s=options.seed_wait_s)
        if distributed.seeder:
            _prepare_schema(db_url)
            distributed.reset()  # a new sweep, or a resume: the frontier restarts from the start URLs
        if not distributed.join():  # the others finished between our wait and our join
            distributed.close()
            raise SweepFinishedElsewhere(_finished_elsewhere_message(run_id))
        for key, value in redis_settings(options.redis_url, distributed.keys).items():
            if key == "EXTENSIONS":
                settings.setdefault(key, {}).update(value)
            else:
                settings[key] = value

    workers = default_workers() if options.workers is None else max(options.workers, 0)
    progress = _ProgressLine(console, len(already))

    def update(rt: SweepRuntime) -> None:
        progress.update(rt)
        if on_update is not None:
            on_update(rt)

    selection = _selection(packs)
    runtime = SweepRuntime(ProcessorConfig(db_url, run_id, started, selection), workers=workers, on_update=update,
                           ocr_engine=options.ocr_engine, ocr_workers=options.ocr_workers)
    budget = None if options.budget is None else max(options.budget - len(already), 0)
    fetch = FetchSettings(timeout_s=options.timeout_s, user_agent=options.user_agent,
                          fetch_images=options.ocr_engine is not None)

    from scrapy.crawler import CrawlerProcess

    t0 = time.monotonic()
    process = CrawlerProcess(settings)
    failures: list[str] = []
    with progress:
        done = process.crawl(SweepSpider, profile=loaded, done_urls=already, budget=budget,
                             fetch_settings=fetch, sweep_runtime=runtime, distributed=distributed)
        done.addErrback(lambda failure: failures.append(failure.getErrorMessage()))
        process.start()
        progress.final(runtime)
    seconds = time.monotonic() - t0
    if failures:
        runtime.error(f"抓取引擎出错：{failures[0]}")
    if runtime.close_reason == "not_seeded":
        runtime.error(f"巡查 {run_id} 的起始网址在 {options.seed_wait_s:.0f} 秒内没有放入共享队列，本工作进程退出。")
    status = "done" if runtime.close_reason == "finished" and not failures else "interrupted"

    stats: dict[str, Any] = {"pages_this_run": runtime.pages, "errors_this_run": runtime.errors,
             "seconds_this_run": round(seconds, 3), "via_browser": runtime.via_browser,
             "close_reason": runtime.close_reason, "workers": workers,
             "responses_this_run": int(runtime.extra.get("responses", 0))}
    if "ocr" in runtime.extra:
        stats["ocr_this_run"] = runtime.extra["ocr"]
    last = True
    if distributed is not None:
        summary = {"worker": distributed.worker_id, "role": "seeder" if distributed.seeder else "worker",
                   "fetches": distributed.fetches, **stats}
        try:
            last = distributed.leave(summary)
            if runtime.close_reason == "not_seeded":
                last = False  # never judge a sweep this process did not take part in
            if last:
                queued = distributed.queued()
                if queued:
                    status = "interrupted"
                stats["distributed"] = {**distributed.fetch_report(), "queued_at_end": queued,
                                        "processes": distributed.worker_summaries()}
                distributed.mark_finished(status)
                if status == "done":
                    distributed.cleanup()
        finally:
            distributed.close()

    store = open_sweep_store(db_url)
    try:
        counts = sweep_counts(store, run_id)
        if last:  # a distributed process that is not the last leaves the run to the others
            stats.update(counts)
            verdict = pguard.sweep_guard(store, run_id, guard)
            stats[pguard.STATS_KEY] = verdict.to_stats()
            finish_sweep(store, run_id, status, stats)
            for line in verdict.lines():  # the log and stderr: one line per held rule
                log.warning(line)
                print(f"mdwatch: {line}", file=sys.stderr, flush=True)
            history_sweep_finished(store, run_id, status)
        by_rule = rule_pages(store, run_id)
    finally:
        store.close()
    return SweepResult(
        run_id=run_id, status=status, profile=loaded.name, pages=counts["pages"], flagged=counts["flagged"],
        findings=counts["findings"], rule_pages=by_rule, pages_this_run=runtime.pages, errors=runtime.errors,
        error_messages=tuple(runtime.error_messages), seconds=seconds, via_browser=runtime.via_browser,
        resumed_from=len(already), stats=stats,
        distributed=None if distributed is None else ("seeder" if distributed.seeder else "worker"), last=last,
    )


def print_sweep_summary(console: Console, result: SweepResult, max_errors: int = 10) -> None:
    """The end of ``mdwatch sweep`` / ``mdwatch demo run``: totals and a per-rule table (Chinese)."""
    for message in result.error_messages[:max_errors]:
        console.print(f"[yellow]{message}[/yellow]", soft_wrap=True, markup=True)
    if len(result.error_messages) > max_errors:
        console.print(f"[yellow]…另有 {len(result.error_messages) - max_errors} 个错误[/yellow]")
    state = "已完成" if result.status == "done" else f"已中断（可用 --resume {result.run_id} 续扫）"
    if result.distributed is not None:
        role = "发起进程" if result.distributed == "seeder" else "工作进程"
        if result.last:
            console.print(f"分布式巡查：本进程（{role}）最后退出，已汇总整个巡查。")
        else:
            state = "（本进程部分）已完成"
            console.print(f"分布式巡查：本进程（{role}）已完成自己的部分，其余进程仍在运行；"
                          f"下列统计为此刻整个巡查的进度。", soft_wrap=True)
    resumed = f"（续扫：此前已完成 {result.resumed_from} 页）" if result.resumed_from else ""
    browser = f"，其中 {result.via_browser} 页经浏览器渲染" if result.via_browser else ""
    console.print(
        f"巡查{state}：平台配置 {result.profile}，共 {result.pages} 个页面{resumed}，"
        f"{result.flagged} 个页面存在问题，共 {result.findings} 项发现；本次抓取 {result.pages_this_run} 页{browser}，"
        f"错误 {result.errors} 个，用时 {result.seconds:.1f} 秒（{result.pages_per_second:.1f} 页/秒）；"
        f"运行编号 {result.run_id}（已写入数据库）。",
        soft_wrap=True,
    )
    verdict = pguard.guard_result(result.stats)
    held = verdict.held_rules if verdict is not None else frozenset()
    for line in verdict.lines() if verdict is not None else ():
        console.print(line, style="bold yellow", soft_wrap=True, markup=False, highlight=False)
    catalogue = rules()
    table = Table(title="各规则汇总（涉及页面数）")
    table.add_column("规则", no_wrap=True, min_width=31)
    table.add_column("名称")
    table.add_column("级别")
    table.add_column("涉及页面数", justify="right")
    ordered = sorted(
        result.rule_pages,
        key=lambda r: (SEVERITY_ORDER.get(r[1], 9), r[0]),
    )
    for rule_id, severity, count in ordered:
        spec = catalogue.get(rule_id)
        style = SEVERITY_STYLE.get(severity, "")
        table.add_row(rule_id, spec.title if spec else rule_id,
                      f"[{style}]{SEVERITY_ZH.get(severity, severity)}[/]",
                      f"{count}（精度警戒）" if rule_id in held else str(count))
    console.print(table)


# ---------------------------------------------------------------------------- mdwatch profile check


def _browser_verdict(body: bytes) -> bool | None:
    try:
        from mdwatch.crawler.browser import needs_browser
    except ImportError:
        return None
    return bool(needs_browser(body))


def _check_rendered(url: str, allow_hosts: tuple[str, ...], console: Console, timeout_s: float) -> None:
    """Render the page as the sweep would (pinned browser, fetch policy); each refused request on stderr."""
    import sys

    from mdwatch.crawler.browser import BrowserOptions, browser_unavailable, render_html, visible_text

    opts = BrowserOptions(timeout_s=timeout_s)
    reason = browser_unavailable(opts)
    if reason is not None:
        console.print(reason, markup=False)
        return
    refusals: list[str] = []
    try:
        html, final_url = render_html(url, opts, allow_hosts=allow_hosts, refusals=refusals)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        console.print(f"浏览器渲染失败：{first}", markup=False)
        html, final_url = "", url
    finally:
        for line in refusals:  # what the page asked for and the fetch policy refused: one line each
            sys.stderr.write(line + "\n")
        sys.stderr.flush()
    if html:
        text = visible_text(html.encode("utf-8"))
        shown = f"（最终网址：{final_url}）" if final_url != url else ""
        console.print(f"浏览器渲染后：可见文字 {len(text)} 字{shown}", markup=False)


def check_profile(profile_name: str, url: str, console: Console, timeout_s: float = 20.0) -> int:
    """``mdwatch profile check PROFILE URL``: what the profile extracts from one page (Chinese)."""
    from urllib.parse import urlsplit

    from mdwatch.analyzers.extract import ExtractError
    from mdwatch.crawler.fetch import fetch_pages
    from mdwatch.scheduler.pipeline import page_from_capture
    from mdwatch.scheduler.render import KIND_ZH

    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    try:
        profile = load_profile(profile_name, base)
    except ProfileError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        return 2
    result = fetch_pages([url], FetchSettings(timeout_s=timeout_s, max_related=profile.max_related,
                                              qualification_link_words=profile.qualification_link_words))[0]
    if result.capture is None:
        console.print(f"[red]{result.error.message if result.error else '无法获取 ' + url}[/red]", soft_wrap=True)
        return 3
    capture = result.capture
    role = "platform" if url in profile.start_urls else profile.role_of(capture.final_url)
    role_zh = {"platform": "平台首页（起始网址）", "shop": "店铺页", "product": "商品页",
               "pagination": "列表分页", None: "未匹配任何链接规则"}
    console.print(f"[bold]平台配置：{profile.name}（{profile.title}）[/bold]  来源：{profile.source}")
    console.print(f"网址：{url}", markup=False)
    if capture.final_url != url:
        console.print(f"最终网址：{capture.final_url}", markup=False)
    shown_role = role_zh.get(role, "普通页面") if not (role is None and profile.follow_all) else "普通页面（按页面内容识别类型）"
    console.print(f"按链接规则的角色：{shown_role}")
    try:
        page = page_from_capture(capture, profile.page_kind(role) if role else None)
        detected = page_from_capture(capture).kind
    except ExtractError as exc:
        console.print(f"[red]无法解析页面：{exc}[/red]")
        return 3
    console.print(f"页面类型：{KIND_ZH[page.kind]}（页面内容识别：{KIND_ZH[detected]}）　标题：{page.title or '无'}",
                  markup=False)
    # scripted links (pop-ups) point at the page itself, "#": nothing to follow
    links = profile.links_of(capture.final_url, [link.href for link in page.links if not link.href.endswith("#")])
    for label, found in (("店铺链接", links.shops), ("商品链接", links.products),
                         ("分页链接", links.pagination), ("其他同站链接", links.other)):
        console.print(f"{label}：{len(found)} 个")
        for link in found[:10]:
            console.print(f"  {link}", markup=False)
        if len(found) > 10:
            console.print(f"  …另有 {len(found) - 10} 个")
    if result.related:
        console.print(f"资质页（与店铺一并检查）：{len(result.related)} 个")
        for rel in result.related:
            console.print(f"  {rel.url}", markup=False)
    marked = profile.needs_browser(capture.final_url)
    auto = _browser_verdict(capture.body)
    if marked:
        verdict = "是（平台配置标记此类页面需要浏览器）"
    elif auto:
        verdict = "是（静态 HTML 缺少内容，将自动改用浏览器渲染）"
    elif auto is None:
        verdict = "否（浏览器模块不可用）"
    else:
        verdict = "否（静态 HTML 已包含内容）"
    console.print(f"使用浏览器：{verdict}")
    if marked or auto:
        _check_rendered(url, profile.allow_hosts, console, timeout_s)
    if profile.fields:
        console.print("字段选择器：" + "，".join(f"{k}={v}" for k, v in profile.fields.items()), markup=False)
    return 0
