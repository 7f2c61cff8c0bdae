"""The console's services: the application object (the CLI's ``App``), one database engine shared
by the stores it reads and writes, the console's settings and the clock.

Built once by :func:`mdwatch.console.create_console`; every route gets it from
``request.app.state.console``.
"""

from __future__ import annotations

import functools
import json
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any

from mdwatch.storage.accounts import AccountStore
from mdwatch.storage.audit import Actor, AuditStore
from mdwatch.storage.database import open_engine
from mdwatch.storage.evidence import EvidenceStore
from mdwatch.storage.leads import LeadStore
from mdwatch.storage.reviews import ReviewStore
from mdwatch.storage.store import Store

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from mdwatch.console.jobs import ScanJobs
    from mdwatch.scheduler.app import App
    from mdwatch.storage.accounts import User

__all__ = ["Console", "ConsoleSettings"]


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """How the console behaves (the database, packs and scan allow-list are the ``App``'s)."""

    session_hours: float = 12.0
    secure_cookies: bool | None = None  # None: Secure when the request came over https
    page_size: int = 50
    scan_workers: int = 1  # on-demand scans at a time (each crawl is its own process)


class Console:
    """What every route uses: the App, the shared engine and the stores on it."""

    def __init__(self, app: App, settings: ConsoleSettings | None = None) -> None:
        self.app = app
        self.settings = settings or ConsoleSettings()
        self.engine: Engine = open_engine(app.db_url)
        self.store = Store(self.engine)
        self.accounts = AccountStore(self.engine)
        self.audit_log = AuditStore(self.engine)
        self.reviews = ReviewStore(self.engine)
        self.leads = LeadStore(self.store)
        self.evidence = EvidenceStore(self.engine)
        self._jobs: ScanJobs | None = None
        self.children: list[subprocess.Popen[bytes]] = []  # campaign runs started here, reaped as they end

    @property
    def jobs(self) -> ScanJobs:
        if self._jobs is None:
            from mdwatch.console.jobs import ScanJobs

            self._jobs = ScanJobs(self.app, workers=self.settings.scan_workers)
        return self._jobs

    def now(self) -> datetime:
        """The application's clock (UTC; tests fix it)."""
        return self.app.now()

    @property
    def session_ttl(self) -> timedelta:
        return timedelta(hours=self.settings.session_hours)

    def audit(self, user: User | None, address: str | None, action: str, target_kind: str, target: str | int,
              detail: dict[str, Any] | None = None) -> None:
        """Record one change: who, when (the app's clock), from which address."""
        actor = Actor(user.name if user else "（未登录）", user.role if user else None, user.org if user else None,
                      address or "未知")
        self.audit_log.record(actor, action, target_kind, target, detail, at=self.now())

    def reap(self) -> None:
        """Forget the campaign runs that have ended (their exit status is collected)."""
        self.children = [p for p in self.children if p.poll() is None]

    def close(self) -> None:
        self.reap()
        if self._jobs is not None:
            self._jobs.close()
        self.engine.dispose()


@functools.cache
def corpus_precision() -> dict[str, Any]:
    """The per-rule precision on the labelled corpus shipped with the console
    (``data/corpus_precision.json``, from ``python -m devtools.evaluation``)."""
    try:
        text = resources.files("mdwatch.console").joinpath("data/corpus_precision.json").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return {"rules": {}}
    data: dict[str, Any] = json.loads(text)
    return data
