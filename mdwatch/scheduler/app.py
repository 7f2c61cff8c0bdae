"""The application object: one place that builds what every entry point uses.

``build_app(AppConfig(...))`` resolves the settings once (the database URL, the rule packs, the OCR
engine, the browser, the clock, the display time zone) and gives the jobs their arguments from
them, so the command line, the tests and the coming web console drive the same application and
the same page pipeline (Scrapyd builds its application the same way). Nothing is opened until a
job asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from mdwatch.analyzers.packs import RuleSelection, select_packs
from mdwatch.scheduler.settings import display_tz

if TYPE_CHECKING:
    from rich.console import Console

    from mdwatch.analyzers.model import PageKind
    from mdwatch.crawler.capture import FetchResult, FetchSettings
    from mdwatch.crawler.fetch import StartedFetch
    from mdwatch.scheduler.jobs.campaigns import CampaignRunResult
    from mdwatch.scheduler.jobs.scan import RunResult
    from mdwatch.scheduler.jobs.sweep import SweepOptions, SweepResult
    from mdwatch.scheduler.pipeline.capture import RunEvidence
    from mdwatch.storage.store import Store

__all__ = ["App", "AppConfig", "build_app"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AppConfig:
    """The settings of one application (the shared options of ``scheduler/settings.py``)."""

    db_url: str | None = None  # None: $MDWATCH_DB_URL, else the user's SQLite file
    packs: str | Sequence[str] | None = None  # None: every rule at its catalogue severity
    ocr_engine: str | None = "rapidocr"  # None or "none": no image is fetched or read
    browser: bool = True
    timeout_s: float = 20.0
    evidence: bool = True  # a stored scan preserves its pages (WARC, screenshots of pages with findings)
    clock: Callable[[], datetime] = _utc_now  # tests pass a fixed clock
    # the console's scan form: origins (http://10.1.2.3:8080) or hosts that may be internal addresses
    scan_allow: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class App:
    """What the jobs need, resolved once; its methods run the jobs with it."""

    config: AppConfig
    db_url: str
    selection: RuleSelection
    ocr_engine: str | None
    tz: ZoneInfo
    extra: dict[str, Any] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.config.clock()

    def fetch_settings(self) -> FetchSettings:
        from mdwatch.crawler.capture import FetchSettings

        return FetchSettings(timeout_s=self.config.timeout_s)

    def web_fetch_settings(self) -> FetchSettings:
        """Fetch settings for URLs typed into the console (a web form, not the user's terminal): no
        typed URL is trusted, so the target, every redirect hop and everything the page links to must
        resolve to a public address unless allow-listed in ``scan_allow``."""
        origins, hosts = _split_allow(self.config.scan_allow)
        return replace(self.fetch_settings(), trusted_urls=origins, allow_hosts=hosts)

    def web_target_refusal(self, url: str) -> str | None:
        """One Chinese line if the console may not fetch ``url`` (a private, loopback or link-local
        target not allow-listed, another scheme); None if it may. The crawl checks again at every
        hop, against the address it connects to."""
        return _web_refusal(url, self.config.scan_allow)

    def store(self) -> Store:
        from mdwatch.storage.store import Store

        return Store.open(self.db_url)

    def scan(self, urls: Sequence[str], *, kind: PageKind | None = None, store: bool = True,
             progress: Callable[[FetchResult], None] | None = None, preserve: bool | None = None,
             web: bool = False, started: StartedFetch | None = None) -> RunResult:
        """``mdwatch scan``: fetch, analyze with the app's packs, store one run; ``preserve``
        (default: the app's ``evidence`` setting) takes its evidence before returning, else the
        caller may call :meth:`preserve` once it has shown the findings. ``web``: the URLs come
        from the console (:meth:`web_fetch_settings`); ``started``: their crawl begun earlier."""
        from mdwatch.scheduler.jobs.scan import scan_urls

        # --no-store without --db writes nothing anywhere (not even the OCR cache)
        db_url = self.db_url if store or self.config.db_url else None
        settings = self.web_fetch_settings() if web else self.fetch_settings()
        return scan_urls(list(urls), kind=kind, db_url=db_url, store=store, settings=settings,
                         progress=progress, ocr_engine=self.ocr_engine, selection=self.selection,
                         browser=self.config.browser,
                         evidence=store and (self.config.evidence if preserve is None else preserve),
                         early_fetch=started)

    def preserve(self, result: RunResult) -> RunEvidence | None:
        """The evidence of a stored scan taken after it was shown (still in the same run: the WARC
        and screenshots come from the run's own captures, at their fetch time)."""
        from mdwatch.scheduler.jobs.scan import run_captures
        from mdwatch.scheduler.pipeline.capture import capture_run_evidence

        if result.run_id is None or not self.config.evidence:
            return None
        return capture_run_evidence(self.db_url, result.run_id, run_captures(result.outcomes))

    def sweep(self, profile: str, options: SweepOptions | None = None,
              console: Console | None = None) -> SweepResult:
        """``mdwatch sweep``: the app's database, packs, OCR engine and browser over ``options``."""
        from mdwatch.scheduler.jobs.sweep import SweepOptions, run_sweep

        base = options or SweepOptions()
        merged = replace(base, db_url=self.db_url, packs=self.selection.packs, ocr_engine=self.ocr_engine,
                         browser=self.config.browser and base.browser, timeout_s=self.config.timeout_s)
        return run_sweep(profile, merged, console=console)

    def run_campaign(self, name: str, console: Console | None = None,
                     sweep_options: dict[str, Any] | None = None) -> CampaignRunResult:
        """One run of a campaign (its own packs, stored with it)."""
        from mdwatch.scheduler.jobs.campaigns import run_campaign

        return run_campaign(name, db_url=self.db_url, settings=self.fetch_settings(), ocr_engine=self.ocr_engine,
                            console=console, sweep_options=sweep_options)


def _split_allow(entries: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``scan_allow`` as (origin URLs, hosts): ``http://h:p`` and ``h:p`` are origins (that host
    and port only), a bare name or address is a host (any port, its subdomains too)."""
    origins: list[str] = []
    hosts: list[str] = []
    for raw in entries:
        entry = raw.strip().rstrip("/")
        if not entry:
            continue
        if "://" in entry:
            origins.append(entry)
        elif entry.rsplit(":", 1)[-1].isdigit() and (entry.count(":") == 1 or entry.startswith("[")):
            origins.append("http://" + entry)
        else:
            hosts.append(entry)
    return tuple(origins), tuple(hosts)


def _web_refusal(url: str, allow: Sequence[str]) -> str | None:
    """Why the console may not fetch ``url`` (one Chinese line), or None: the scheme, then each
    address the host resolves to, judged as a link from a page (only public addresses) with the
    allow-list as the only trusted origins and hosts."""
    import socket

    from mdwatch.crawler.netpolicy import (
        FetchPolicy,
        address_class,
        allow_hosts_from_env,
        check_scheme,
        literal_ip,
        origin_of,
    )

    bad_scheme = check_scheme(url)
    if bad_scheme is not None:
        return bad_scheme.message
    origin = origin_of(url)
    if origin is None:
        return f"已拒绝：{url} 不是有效的 http(s) 网址。"
    host, port = origin
    origins, hosts = _split_allow(allow)
    policy = FetchPolicy.build(origins, (*hosts, *allow_hosts_from_env()))  # the crawl adds the same
    if policy.trusts(host, port):
        return None
    literal = literal_ip(host)
    try:
        addresses = [str(literal)] if literal is not None else sorted(
            {str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})
    except (OSError, UnicodeError):
        return None  # unresolvable: the crawl says so itself (and checks again what it connects to)
    for address in addresses:
        ip = literal_ip(address)
        found = address_class(ip) if ip is not None else ("?", "无法识别的地址")
        if found is not None:
            return (f"已拒绝：{host}:{port} 指向{found[1]}（{address}），工作台只检测公网地址；"
                    f"如需检测内网目标，请管理员在扫描白名单（--scan-allow / MDWATCH_CONSOLE_SCAN_ALLOW）中加入该来源。")
    return None


def build_app(config: AppConfig | None = None) -> App:
    """The application for ``config``: settings resolved and checked (an unknown pack raises
    ``analyzers.packs.PackError``, a malformed database URL ``storage.DatabaseError``)."""
    from mdwatch.storage.database import resolve_db_url

    config = config or AppConfig()
    db_url = resolve_db_url(config.db_url)
    engine = None if config.ocr_engine in (None, "none") else config.ocr_engine
    return App(config=config, db_url=db_url, selection=select_packs(config.packs), ocr_engine=engine, tz=display_tz())
