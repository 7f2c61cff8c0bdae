"""What a sweep is asked to do (:class:`SweepOptions`), what it reports (:class:`SweepResult`) and
why it cannot start (:class:`SweepError`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["SweepError", "SweepFinishedElsewhere", "SweepOptions", "SweepResult"]


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
    ocr_queue: str | None = None  # a Redis URL: images are read by ``mdwatch ocr-worker`` processes there
    ocr_max_images: int | None = None  # distinct images read per page; None: the profile's, else 12; 0: all
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
