"""The runs stored (scans, sweeps, demo runs, campaign runs): listed for operators, and ``latest``
resolved to a run number wherever a command takes one."""

from __future__ import annotations

from dataclasses import dataclass

from mdwatch.scheduler.outputs.labels import RUN_KIND_ZH
from mdwatch.scheduler.params import LATEST
from mdwatch.storage.records import StoredRun
from mdwatch.storage.store import Store

__all__ = ["RunsError", "latest_run_id", "recent_runs", "resolve_run"]


class RunsError(Exception):
    """No such run (one Chinese sentence)."""


@dataclass(frozen=True, slots=True)
class RunLine:
    id: int
    kind: str
    status: str
    started_at: str  # ISO 8601, UTC
    seconds: float | None
    pages: int
    findings: int
    target: str


def recent_runs(db_url: str | None, limit: int = 20, kind: str | None = None) -> list[StoredRun]:
    with Store.open(db_url) as store:
        return store.runs(limit, kind)


def latest_run_id(db_url: str | None, kind: str | None = None) -> int:
    """The newest run (of ``kind``: scan | sweep | demo | campaign), else :class:`RunsError`."""
    for run in recent_runs(db_url, limit=1, kind=kind):
        return run.id
    named = RUN_KIND_ZH.get(kind or "", "") or ""
    raise RunsError(f"数据库中还没有{named}运行记录。")


def resolve_run(db_url: str | None, ref: int | str, kind: str | None = None) -> int:
    """``ref`` as a run number: ``latest`` is the newest run (of ``kind``)."""
    return latest_run_id(db_url, kind) if ref == LATEST else int(ref)


def run_line(run: StoredRun) -> RunLine:
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    stats = run.stats or {}
    return RunLine(run.id, run.kind, run.status, run.started_at.isoformat(), seconds,
                   int(stats.get("pages", 0) or 0), int(stats.get("findings", 0) or 0), run.target)
