"""APScheduler's job store in mdwatch's own database, and the engine it runs on."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, ProgrammingError

from mdwatch.storage.config import default_db_url, normalize_db_url
from mdwatch.storage.schedule_tables import create_schedule_tables

DEFAULT_MISFIRE_GRACE = 3600
JOBS_TABLE = "apscheduler_jobs"


def _job_store(engine: Engine) -> Any:
    from apscheduler.jobstores.base import JobLookupError
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    class MdwatchJobStore(SQLAlchemyJobStore):
        """Tolerates a job removed by another process while the scheduler was updating it."""

        def update_job(self, job: Any) -> None:
            try:
                super().update_job(job)
            except JobLookupError:
                logging.getLogger(__name__).info("job %s was removed meanwhile", job.id)

        def start(self, scheduler: Any, alias: str) -> None:
            try:
                super().start(scheduler, alias)
            except (IntegrityError, ProgrammingError):  # created by another process at the same moment
                super().start(scheduler, alias)

        def shutdown(self) -> None:  # the engine belongs to the caller
            pass

    return MdwatchJobStore(engine=engine, tablename=JOBS_TABLE)


def open_engine(db_url: str | None) -> tuple[Engine, str]:
    """An engine on mdwatch's database with the scheduler's tables; and the resolved URL."""
    from mdwatch.storage.store import create_store_engine

    url = normalize_db_url(db_url) if db_url else default_db_url()
    engine = create_store_engine(url)
    create_schedule_tables(engine)
    return engine, url


def _job_defaults(misfire_grace: int | None) -> dict[str, Any]:
    """Never two runs of a job in one scheduler; a backlog of missed runs is one run."""
    return {"coalesce": True, "max_instances": 1, "misfire_grace_time": misfire_grace}

