"""``mdwatch sweep PROFILE``: crawl a whole platform and run ``scan``'s analyzers on every page.

The composition root of a sweep (docs/design/sweeps.md): :func:`run_sweep` loads the run state
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

Modules: ``model`` (options, result, errors), ``settings`` (Scrapy settings), ``run``
(:func:`run_sweep`), ``distributed`` (the Redis frontier's glue), ``progress`` (the live line),
``summary`` (:func:`print_sweep_summary`) and ``profile_check`` (``mdwatch profile check``).
"""

from __future__ import annotations

from mdwatch.scheduler.jobs.sweep.model import SweepError, SweepFinishedElsewhere, SweepOptions, SweepResult
from mdwatch.scheduler.jobs.sweep.profile_check import check_profile
from mdwatch.scheduler.jobs.sweep.run import run_sweep
from mdwatch.scheduler.jobs.sweep.settings import PIPELINE_PATH, default_workers, sweep_settings
from mdwatch.scheduler.jobs.sweep.summary import print_sweep_summary

__all__ = [
    "PIPELINE_PATH",
    "SweepError",
    "SweepFinishedElsewhere",
    "SweepOptions",
    "SweepResult",
    "check_profile",
    "default_workers",
    "print_sweep_summary",
    "run_sweep",
    "sweep_settings",
]
