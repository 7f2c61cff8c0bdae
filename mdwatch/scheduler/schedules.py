"""Kept for schedules stored before the application layer was organised by role: their jobs name
``mdwatch.scheduler.schedules:run_job``. The scheduler service is ``mdwatch.scheduler.service``."""

from mdwatch.scheduler.service import run_job

__all__ = ["run_job"]
