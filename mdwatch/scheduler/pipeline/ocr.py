"""The OCR stage: downloaded images → text, each distinct image read once per engine.

For a batch of :class:`~mdwatch.crawler.images.ImageCapture` (one page's or a whole run's):

1. images that failed to download are skipped with the crawler's reason;
2. the rest are grouped by SHA-256; a SHA already read by this engine (this stage's memory,
   then the ``ocr_results`` table) is not read again, and one being read right now for another
   caller is waited for rather than read twice;
3. the remaining distinct images go to a process pool (``forkserver``; each worker creates its
   engine once, on first use), which guards them (``imageguard.load_image``: size, pixel and
   frame caps, formats), triages them (``triage.needs_ocr``: icons and text-free photos are not
   read) and runs the engine;
4. results are cached (``ocr_results``) and images stored once by SHA-256 (``images``).

Issue 15 (docs/design/ocr-scaling.md): the workers (``ocr_worker``) triage before a full decode
and read at the engine's ``max_side``; the pool has one worker per usable core
(:func:`available_cores`); ``run(captures, cap=N)`` (a sweep's ``MDWATCH_OCR_MAX_IMAGES``) reads
the ``cap`` most text-like distinct images of a page, whatever is cached, and skips the rest with
code ``ocr_cap`` and the reviewer's line (``OCR 上限：已读 12 张，余 6 张未读…``); ``scan`` has no cap.

A caller waits only for its own images. The pool starts on the first image that needs OCR, so
a batch answered from the cache starts no process at all.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from typing import TYPE_CHECKING

from mdwatch.analyzers.model import ImageText
from mdwatch.crawler.images import ImageCapture
from mdwatch.scheduler.pipeline.ocr_cap import CAP_CODE, MAX_IMAGES_PER_PAGE, PageCap
from mdwatch.scheduler.pipeline.ocr_worker import (
    _Read,
    _read_image,
    available_cores,
    ocr_lines_json,
)
from mdwatch.storage.images import ImageStore

if TYPE_CHECKING:
    from mdwatch.analyzers.ocr.scaling import Shortcuts
    from mdwatch.scheduler.pipeline.ocr_queue import RqExecutor

__all__ = ["MAX_IMAGES_PER_PAGE", "ImageOutcome", "ImageSkip", "OcrBatch", "OcrStage", "OcrStats", "available_cores",
           "ocr_lines_json"]


@dataclass(frozen=True, slots=True)
class ImageSkip:
    """An image that was not read, and why (``reason`` is one Chinese sentence)."""

    url: str
    reason: str
    code: str  # download error kind, the guard's code, "triage", "ocr_cap" or "ocr_error"


ImageOutcome = ImageText | ImageSkip


@dataclass(slots=True)
class OcrStats:
    images: int = 0  # image captures handed in
    distinct: int = 0  # distinct SHA-256 among those downloaded
    cache_hits: int = 0  # distinct images answered from memory or the ocr_results table
    shared: int = 0  # distinct images being read for another caller at the same time
    ocr_runs: int = 0  # engine calls made for this batch
    triaged_out: int = 0  # distinct images the triage kept from the engine
    skipped: int = 0  # image captures not read (download failure, guard, triage, error, cap)
    ocr_seconds: float = 0.0  # engine time of the OCR runs
    wall_seconds: float = 0.0
    not_downloaded: int = 0  # image captures that had failed to download
    examined: int = 0  # distinct images this stage's workers guarded and triaged (read or not)
    capped: int = 0  # image captures left unread by the per-page cap
    probed: int = 0  # distinct images triaged ahead of reading, to rank a capped page's images
    header_skips: int = 0  # distinct images triaged out on their header alone (icons): nothing decoded
    reduced_triage: int = 0  # distinct images triaged on a reduced decode (JPEG at 1/2 to 1/8 scale)
    downscaled: int = 0  # distinct images read below their own size (the engine's pixel budget)
    worker_cpu_seconds: float = 0.0  # CPU of the OCR workers (decode, triage, engine)
    stage_cpu_seconds: float = 0.0  # CPU of the calling threads (grouping, cache look-ups, storing images)

    def add(self, other: OcrStats) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int | float]:
        out: dict[str, int | float] = {name: getattr(self, name) for name in self.__slots__}
        for name, value in out.items():
            if isinstance(value, float):
                out[name] = round(value, 3)
        return out


@dataclass(frozen=True, slots=True)
class OcrBatch:
    """Per image URL: the text read, or why it was skipped."""

    results: dict[str, ImageOutcome]
    stats: OcrStats = field(default_factory=OcrStats)

    @property
    def texts(self) -> list[ImageText]:
        return [r for r in self.results.values() if isinstance(r, ImageText)]

    @property
    def skipped(self) -> list[ImageSkip]:
        return [r for r in self.results.values() if isinstance(r, ImageSkip)]


# ----------------------------------------------------------------------------- worker side


def _init_worker(owner: int | None = None) -> None:
    """Pool initializer: one thread per worker for the numeric libraries (the pool is the parallelism);
    the worker ends with ``owner``, the process whose pool it is (``kill -9`` of a sweep leaves none behind)."""
    from mdwatch.crawler.lifeline import die_with_parent

    # the pool may be started from a short-lived thread (spawn, fork): the owner is watched, no kernel signal
    die_with_parent(owner=owner, kernel=False)
    for name in ("OMP_THREAD_LIMIT", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def _group(
    captures: Sequence[ImageCapture],
) -> tuple[dict[str, ImageOutcome], dict[str, list[str]], dict[str, ImageCapture]]:
    """(skips of images that failed to download, URLs per SHA-256, one capture per SHA-256)."""
    results: dict[str, ImageOutcome] = {}
    by_sha: dict[str, list[str]] = {}
    bodies: dict[str, ImageCapture] = {}
    for cap in captures:
        if cap.url in results:
            continue
        if not cap.ok or not cap.sha256:
            results[cap.url] = ImageSkip(cap.url, cap.error or "图片未能下载。", cap.error_kind or "download")
            continue
        urls = by_sha.setdefault(cap.sha256, [])
        if cap.url not in urls:
            urls.append(cap.url)
        bodies.setdefault(cap.sha256, cap)
    return results, by_sha, bodies


# ----------------------------------------------------------------------------- stage


class OcrStage(PageCap):
    """OCR of downloaded images in a process pool, with the cache in the main database.

    ``db_url=None`` uses the default database; ``use_db=False`` keeps the cache in memory only.
    Thread-safe: several scans may call :meth:`run` at once and share in-flight reads.
    """

    def __init__(
        self,
        engine_name: str = "rapidocr",
        workers: int | None = None,
        db_url: str | None = None,
        *,
        use_db: bool = True,
        store: ImageStore | None = None,
        mp_context: str = "forkserver",
        queue: RqExecutor | None = None,
        shortcuts: Shortcuts | None = None,
    ) -> None:
        from mdwatch.analyzers.ocr.engine import ENGINES
        from mdwatch.analyzers.ocr.scaling import Shortcuts

        if engine_name not in ENGINES:
            raise ValueError(f"未知的文字识别引擎 {engine_name!r}；可选：{'、'.join(ENGINES)}。")
        self.engine_name = engine_name
        self.workers = max(1, workers if workers is not None else available_cores())
        self.shortcuts = shortcuts or Shortcuts()  # the benchmarks switch them off to measure them
        self._mp_context = mp_context
        self._owns_store = store is None and use_db
        self._store: ImageStore | None = store if store is not None else (ImageStore(db_url) if use_db else None)
        self._pool: ProcessPoolExecutor | None = None
        self._queue = queue  # reads go to OCR workers over Redis instead of a local pool
        self._threads: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._memo: dict[str, _Read] = {}  # sha → read, this stage's lifetime (text only)
        self._probes: dict[str, _Read] = {}  # sha → a probe's verdict on an image it triaged in (ocr_cap.py)
        self._inflight: dict[str, Future[_Read]] = {}
        self.stats = OcrStats()  # cumulative over every batch

    # -- lifecycle

    def _executor(self) -> ProcessPoolExecutor | RqExecutor:
        if self._queue is not None:
            return self._queue
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=get_context(self._mp_context), initializer=_init_worker,
                initargs=(os.getpid(),),
            )
        return self._pool

    @property
    def pool_started(self) -> bool:
        return self._pool is not None

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            threads, self._threads = self._threads, None
        if threads is not None:
            threads.shutdown(wait=True)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._queue is not None:
            self._queue.shutdown(wait=True, cancel_futures=True)
        if self._store is not None and self._owns_store:
            self._store.close()

    def __enter__(self) -> OcrStage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- API

    def submit(self, captures: Sequence[ImageCapture], *, cap: int | None = None) -> Future[OcrBatch]:
        """Start reading ``captures`` (one page's images, say); the future resolves to its batch."""
        with self._lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mdwatch-ocr")
            threads = self._threads
        return threads.submit(self.run, captures, cap=cap)

    def ocr_images(self, captures: Sequence[ImageCapture]) -> dict[str, ImageOutcome]:
        return self.run(captures).results

    def run(self, captures: Sequence[ImageCapture], *, cap: int | None = None) -> OcrBatch:
        """Read every image of ``captures`` (at most ``cap`` distinct ones: one page's images);
        per URL the text or the reason it was skipped."""
        started, cpu_started = time.perf_counter(), time.thread_time()
        stats = OcrStats(images=len(captures))
        results, by_sha, bodies = _group(captures)
        stats.distinct = len(by_sha)
        stats.not_downloaded = len(results)
        # 1. memory, then the database
        reads, missing = self._cached(by_sha, stats)
        triaged: set[str] = set()
        if cap is not None and len(by_sha) > cap:
            # 1b. rank the page's images; those beyond the cap get their skip in ``reads``
            triaged = self._rank(by_sha, bodies, reads, max(cap, 0), stats)
            missing = [sha for sha in missing if sha not in reads]
        # 2. share reads in flight; submit the rest
        own, shared = self._claim(missing, bodies, reads, stats, triaged)
        stats.shared = len(shared)
        # 3. wait for this batch's own images only
        self._collect(own, shared, bodies, reads, stats)
        for sha, urls in by_sha.items():
            read = reads[sha]
            for url in urls:
                if read.skip_reason is not None:
                    results[url] = ImageSkip(url, read.skip_reason, read.skip_code or "skipped")
                else:
                    results[url] = ImageText(url, read.text)
        stats.skipped = sum(1 for r in results.values() if isinstance(r, ImageSkip))
        stats.capped = sum(1 for r in results.values() if isinstance(r, ImageSkip) and r.code == CAP_CODE)
        stats.wall_seconds = time.perf_counter() - started
        stats.stage_cpu_seconds = time.thread_time() - cpu_started
        with self._lock:
            self.stats.add(stats)
        return OcrBatch(results, stats)

    # -- internals

    def _cached(self, by_sha: dict[str, list[str]], stats: OcrStats) -> tuple[dict[str, _Read], list[str]]:
        """(reads known already: this stage's memory, then the database; the SHAs still to read)."""
        reads: dict[str, _Read] = {}
        with self._lock:
            for sha in by_sha:
                if sha in self._memo:
                    reads[sha] = self._memo[sha]
        stats.cache_hits += len(reads)
        missing = [sha for sha in by_sha if sha not in reads]
        if missing and self._store is not None:
            for sha, record in self._store.get_ocr_many(missing, self.engine_name).items():
                reads[sha] = _Read(text=record.text, lines=tuple(record.lines), seconds=record.seconds)
                stats.cache_hits += 1
            missing = [sha for sha in missing if sha not in reads]
        return reads, missing

    def _claim(self, missing: list[str], bodies: dict[str, ImageCapture], reads: dict[str, _Read],
               stats: OcrStats, triaged: set[str] | None = None) -> tuple[dict[str, Future[_Read]], dict[str, Future[_Read]]]:
        """(reads this batch submits, reads in flight for another caller) of the ``missing`` SHAs.

        Under the lock, so two callers never submit the same image: one read finished meanwhile
        goes to ``reads``, one in flight is shared, the rest are submitted and marked in flight.
        """
        own: dict[str, Future[_Read]] = {}
        shared: dict[str, Future[_Read]] = {}
        with self._lock:
            for sha in missing:
                if sha in self._memo:
                    reads[sha] = self._memo[sha]
                    stats.cache_hits += 1
                elif sha in self._inflight:
                    shared[sha] = self._inflight[sha]
                else:
                    future = self._submit(bodies[sha].body, sha in (triaged or ()))
                    self._inflight[sha] = own[sha] = future
        return own, shared

    def _collect(self, own: dict[str, Future[_Read]], shared: dict[str, Future[_Read]],
                 bodies: dict[str, ImageCapture], reads: dict[str, _Read], stats: OcrStats) -> None:
        """Wait for ``own`` and ``shared`` reads into ``reads``; store and remember this batch's own."""
        if own or shared:
            wait([*own.values(), *shared.values()])
        for sha, future in own.items():
            read = self._outcome(future)
            reads[sha] = read
            self._persist(sha, bodies[sha], read)
            with self._lock:
                probe = self._probes.get(sha)
                if read.skip_code != "ocr_error":  # not remembered: the next batch tries it again
                    # the text only (the lines are stored): the memory holds every image of a sweep
                    self._memo[sha] = replace(read, lines=(), score=probe.score, scored=True) if probe else replace(
                        read, lines=())
                self._inflight.pop(sha, None)
            stats.worker_cpu_seconds += read.cpu
            if probe is None:
                stats.examined += 1
                self._count_triage(read, stats)
            if read.ran:
                stats.ocr_runs += 1
                stats.ocr_seconds += read.seconds
            if read.read_size is not None and read.width is not None and read.read_size[0] < read.width:
                stats.downscaled += 1
        for sha, future in shared.items():
            reads[sha] = self._outcome(future)

    def _submit(self, body: bytes, triaged: bool = False) -> Future[_Read]:
        try:
            return self._executor().submit(_read_image, body, self.engine_name, self.shortcuts, triaged)
        except BrokenProcessPool:
            self._pool = None  # a worker died earlier: start a fresh pool
            return self._executor().submit(_read_image, body, self.engine_name, self.shortcuts, triaged)

    def _outcome(self, future: Future[_Read]) -> _Read:
        try:
            return future.result()
        except BrokenProcessPool:
            with self._lock:
                self._pool = None
            return _Read(skip_reason="文字识别进程意外退出，图片未识别。", skip_code="ocr_error")
        except Exception as exc:
            return _Read(skip_reason=f"文字识别出错：{type(exc).__name__}。", skip_code="ocr_error")

    def _persist(self, sha: str, cap: ImageCapture, read: _Read) -> None:
        if self._store is None or read.skip_code == "ocr_error":
            return
        skipped = read.skip_reason is not None and read.skip_code != "triage"
        self._store.save_image(
            sha,
            cap.url,
            cap.content_type,
            None if skipped else cap.body,
            width=read.width,
            height=read.height,
            format=read.format,
            skip_reason=read.skip_reason,
        )
        if read.ran and read.skip_reason is None:
            self._store.save_ocr(sha, self.engine_name, read.text, read.lines, read.seconds)
