"""OCR workers on other machines: the OCR stage's reads as RQ jobs over the sweep's Redis.

A nightly sweep of a large platform is bound by OCR (about two CPU seconds per image), not by
the crawl, so OCR must grow by itself: ``mdwatch ocr-worker --redis URL`` on as many machines
and cores as needed, each worker pulling reads from one queue. The queue is RQ's:

- RQ needs nothing but the Redis the distributed sweep already uses (Celery wants a broker
  and a result backend configured, Dramatiq its own actors and middleware): one dependency,
  no new server, jobs that are plain calls of :func:`mdwatch.scheduler.pipeline.ocr._read_image`;
- its workers are ordinary processes with a CLI and a registry of failed jobs an operator
  can inspect with RQ's own tools (``rq info``).

Workers are RQ ``SimpleWorker``s (a job runs in the worker process itself, not in a fork per
job), so each keeps its OCR engine loaded across jobs, as the local pool's workers do.

:class:`RqExecutor` gives the stage the one thing it uses of a process pool: ``submit`` →
:class:`~concurrent.futures.Future`. A polling thread resolves the futures; a job RQ marks
failed (the worker died, the job timed out) resolves to an exception, which the stage records
as an image not read, never as a failed sweep.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["OcrQueueError", "RqExecutor", "queue_name", "run_workers"]
_POLL_S = 0.05
_JOB_TIMEOUT_S = 300  # one image: far beyond any engine's time on a guarded image
_KEEP_S = 3600  # results and failures kept this long for a stage that polls late


class OcrQueueError(RuntimeError):
    """A read the queue could not do (the job failed or vanished); one Chinese sentence."""


def queue_name() -> str:
    """The queue sweeps and workers meet on: ``MDWATCH_OCR_QUEUE``, else ``mdwatch-ocr``."""
    return os.environ.get("MDWATCH_OCR_QUEUE", "").strip() or "mdwatch-ocr"


class RqExecutor:
    """``submit(fn, *args)`` as an RQ job on ``queue`` of the Redis at ``redis_url``."""

    def __init__(self, redis_url: str, queue: str | None = None) -> None:
        from redis import Redis
        from rq import Queue

        self._redis = Redis.from_url(redis_url)
        self._queue = Queue(queue or queue_name(), connection=self._redis)
        self._pending: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="mdwatch-ocr-queue", daemon=True)
        self._poller.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        if self._closed.is_set():
            raise RuntimeError("cannot submit after shutdown")
        future: Future[Any] = Future()
        job = self._queue.enqueue_call(fn, args=args, timeout=_JOB_TIMEOUT_S, result_ttl=_KEEP_S,
                                       failure_ttl=_KEEP_S)
        with self._lock:
            self._pending[job.id] = future
        return future

    def _poll(self) -> None:
        from rq.job import Job

        while not self._closed.wait(_POLL_S):
            with self._lock:
                ids = list(self._pending)
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                try:
                    jobs = Job.fetch_many(chunk, connection=self._redis)
                except Exception:  # Redis away for a moment: the next poll tries again
                    break
                for job_id, job in zip(chunk, jobs, strict=True):
                    self._settle(job_id, job)

    def _settle(self, job_id: str, job: Any) -> None:
        if job is None:
            outcome: BaseException | None = OcrQueueError("文字识别任务在队列中丢失。")
        elif job.is_finished:
            outcome = None
        elif job.is_failed or job.is_stopped or job.is_canceled:
            outcome = OcrQueueError("文字识别任务失败（队列工作进程出错或超时）。")
        else:
            return
        with self._lock:
            future = self._pending.pop(job_id, None)
        if future is None or future.done():
            return
        if outcome is None:
            future.set_result(job.return_value())
        else:
            future.set_exception(outcome)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop polling; futures still pending are cancelled (their jobs may still run: their
        results expire in Redis)."""
        self._closed.set()
        if wait:
            self._poller.join(timeout=5)
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.cancel()
        with contextlib.suppress(Exception):
            self._redis.close()


def run_workers(redis_url: str, queue: str | None = None, processes: int = 1, *, burst: bool = False,
                max_idle_s: int | None = None) -> int:
    """Run ``processes`` OCR workers on ``queue`` until stopped (or, with ``burst``, until the
    queue is empty); the exit status of the last one to fail, else 0."""
    queue = queue or queue_name()
    if processes <= 1:
        _worker_main(redis_url, queue, burst, max_idle_s)
        return 0
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # a clean process per worker: no inherited Redis socket
    children = [ctx.Process(target=_worker_main, args=(redis_url, queue, burst, max_idle_s),
                            name=f"mdwatch-ocr-worker-{n}") for n in range(processes)]
    for child in children:
        child.start()
    status = 0
    try:
        for child in children:
            child.join()
            status = child.exitcode or status
    except KeyboardInterrupt:
        for child in children:
            child.terminate()
        for child in children:
            child.join()
    return status


def _worker_main(redis_url: str, queue: str, burst: bool, max_idle_s: int | None) -> None:
    from redis import Redis
    from rq import Queue, SimpleWorker

    # one thread per worker for the numeric libraries: the workers are the parallelism
    for name in ("OMP_THREAD_LIMIT", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    connection = Redis.from_url(redis_url)
    worker = SimpleWorker([Queue(queue, connection=connection)], connection=connection,
                          name=f"mdwatch-ocr-{os.uname().nodename}-{os.getpid()}-{int(time.time())}")
    worker.work(burst=burst, max_idle_time=max_idle_s, logging_level="WARNING")
