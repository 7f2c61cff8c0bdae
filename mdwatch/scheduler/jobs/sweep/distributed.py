"""The glue between a sweep and its shared Redis frontier (``mdwatch.crawler.distributed``).

Before anything is touched a worker waits for its seeder (:func:`open_distributed`); once the run
record is known the process joins the frontier (:func:`join_distributed`); at the end it leaves,
and the last process to leave judges and cleans up the whole sweep (:func:`leave_distributed`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mdwatch.scheduler.jobs.sweep.model import SweepError, SweepFinishedElsewhere, SweepOptions
from mdwatch.storage.config import default_db_url, normalize_db_url
from mdwatch.storage.sweeps import open_sweep_store, peek_sweep_status

if TYPE_CHECKING:
    from mdwatch.crawler.distributed import DistributedSweep

__all__ = ["finished_elsewhere_message", "join_distributed", "leave_distributed", "open_distributed"]


def open_distributed(options: SweepOptions) -> None:
    """Checks before a distributed sweep touches anything; a worker waits here for its seeder."""
    if options.redis_url is None:
        if options.worker:
            raise SweepError("--worker 需要设置 MDWATCH_REDIS_URL（共享队列所在的 Redis）。")
        return
    # only now: scrapy-redis brings redis and OpenTelemetry, ≈ 8 MB a local sweep does not need
    from mdwatch.crawler.distributed import DistributedSweep

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
            raise SweepFinishedElsewhere(finished_elsewhere_message(run_id))
        if state != "open":
            raise SweepError(f"等待 {options.seed_wait_s:.0f} 秒后，巡查 {run_id} 仍未在 Redis 中开始；"
                             f"请先用不带 --worker 的 mdwatch sweep 启动它。")


def finished_elsewhere_message(run_id: int) -> str:
    return f"巡查 {run_id} 已由其他进程完成，本工作进程无需加入，正常退出。"


def prepare_schema(db_url: str) -> None:
    """Create every table now, before any worker opens the database: processes creating the same
    tables at once collide on PostgreSQL (``pg_type_typname_nsp_index``)."""
    import contextlib
    import importlib

    from mdwatch.scheduler.pipeline.registry import RegistrySource

    for module in ("mdwatch.storage.images", "mdwatch.storage.evidence", "mdwatch.storage.leads"):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)  # their tables join the metadata Store.open creates
    open_sweep_store(db_url).close()
    RegistrySource(db_url).close()


def join_distributed(options: SweepOptions, run_id: int, db_url: str,
                     settings: dict[str, Any]) -> DistributedSweep | None:
    """Join run ``run_id``'s shared frontier and route ``settings`` through it (None: not distributed).

    The seeder creates the schema and restarts the frontier from the start URLs (a new sweep, or
    a resume); a worker that finds the run finished meanwhile raises :class:`SweepFinishedElsewhere`.
    """
    if options.redis_url is None:
        return None
    from mdwatch.crawler.distributed import DistributedSweep, redis_settings

    distributed = DistributedSweep(options.redis_url, run_id, seeder=not options.worker,
                                   seed_wait_s=options.seed_wait_s)
    if distributed.seeder:
        prepare_schema(db_url)
        distributed.reset()  # a new sweep, or a resume: the frontier restarts from the start URLs
    if not distributed.join():  # the others finished between our wait and our join
        distributed.close()
        raise SweepFinishedElsewhere(finished_elsewhere_message(run_id))
    for key, value in redis_settings(options.redis_url, distributed.keys).items():
        if key == "EXTENSIONS":
            settings.setdefault(key, {}).update(value)
        else:
            settings[key] = value
    return distributed


def leave_distributed(distributed: DistributedSweep, close_reason: str | None, stats: dict[str, Any],
                      status: str) -> tuple[str, bool]:
    """Leave the shared frontier with this process's ``stats``: (the sweep's status, whether this
    process was the last to leave).

    The last process records the per-URL fetch counts and every process's summary in ``stats``,
    marks the sweep finished (``interrupted`` while URLs are still queued) and, when it is
    ``done``, deletes its Redis keys.
    """
    summary = {"worker": distributed.worker_id, "role": "seeder" if distributed.seeder else "worker",
               "fetches": distributed.fetches, **stats}
    try:
        last = distributed.leave(summary)
        if close_reason == "not_seeded":
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
        return status, last
    finally:
        distributed.close()
