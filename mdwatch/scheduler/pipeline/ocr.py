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

A caller waits only for its own images. The pool starts on the first image that needs OCR, so
a batch answered from the cache starts no process at all.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from typing import Any

from mdwatch.analyzers.model import ImageText
from mdwatch.crawler.images import ImageCapture
from mdwatch.storage.images import ImageStore

__all__ = ["ImageOutcome", "ImageSkip", "OcrBatch", "OcrStage", "OcrStats", "ocr_lines_json"]


@dataclass(frozen=True, slots=True)
class ImageSkip:
    """An image that was not read, and why (``reason`` is one Chinese sentence)."""

    url: str
    reason: str
    code: str  # download error kind, the guard's code, "triage" or "ocr_error"


ImageOutcome = ImageText | ImageSkip


@dataclass(slots=True)
class OcrStats:
    images: int = 0  # image captures handed in
    distinct: int = 0  # distinct SHA-256 among those downloaded
    cache_hits: int = 0  # distinct images answered from memory or the ocr_results table
    shared: int = 0  # distinct images being read for another caller at the same time
    ocr_runs: int = 0  # engine calls made for this batch
    triaged_out: int = 0  # distinct images the triage kept from the engine
    skipped: int = 0  # image captures not read (download failure, guard, triage, error)
    ocr_seconds: float = 0.0  # engine time of the OCR runs
    wall_seconds: float = 0.0

    def add(self, other: OcrStats) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int | float]:
        out: dict[str, int | float] = {name: getattr(self, name) for name in self.__slots__}
        out["ocr_seconds"] = round(self.ocr_seconds, 3)
        out["wall_seconds"] = round(self.wall_seconds, 3)
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


@dataclass(frozen=True, slots=True)
class _Read:
    """What the worker made of one distinct image (no pixels: it crosses the process boundary)."""

    text: str = ""
    lines: tuple[dict[str, Any], ...] = ()
    seconds: float = 0.0
    skip_reason: str | None = None
    skip_code: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    ran: bool = False  # the engine was called


def ocr_lines_json(lines: Iterable[Any]) -> tuple[dict[str, Any], ...]:
    """``OcrLine`` objects (text, confidence, box) as JSON-able dicts."""
    out: list[dict[str, Any]] = []
    for line in lines:
        if isinstance(line, str):
            out.append({"text": line})
            continue
        item: dict[str, Any] = {"text": str(getattr(line, "text", ""))}
        confidence = getattr(line, "confidence", None)
        if confidence is not None:
            item["confidence"] = round(float(confidence), 4)
        box = getattr(line, "box", None)
        if box:
            item["box"] = [[round(float(x), 1), round(float(y), 1)] for x, y in box]
        out.append(item)
    return tuple(out)


# ----------------------------------------------------------------------------- worker side


def _init_worker(owner: int | None = None) -> None:
    """Pool initializer: one thread per worker for the numeric libraries (the pool is the parallelism);
    the worker ends with ``owner``, the process whose pool it is (``kill -9`` of a sweep leaves none behind)."""
    from mdwatch.crawler.lifeline import die_with_parent

    # the pool may be started from a short-lived thread (spawn, fork): the owner is watched, no kernel signal
    die_with_parent(owner=owner, kernel=False)
    for name in ("OMP_THREAD_LIMIT", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def _read_image(body: bytes, engine_name: str) -> _Read:
    """Guard, triage and read one image (runs in a pool worker; the engine is created once per process)."""
    from mdwatch.analyzers.ocr.engine import get_engine
    from mdwatch.analyzers.ocr.imageguard import LoadedImage, load_image
    from mdwatch.analyzers.ocr.triage import needs_ocr

    loaded = load_image(body)
    if not isinstance(loaded, LoadedImage):
        return _Read(skip_reason=str(loaded.reason), skip_code=str(loaded.code))
    base = _Read(width=loaded.width, height=loaded.height, format=loaded.format)
    wanted, why = needs_ocr(loaded.image)
    if not wanted:
        return replace(base, skip_reason=f"未做文字识别：{why}", skip_code="triage")
    try:
        result = get_engine(engine_name).read(loaded.image)
    except Exception as exc:  # an engine failure skips this image, never the scan
        return replace(base, skip_reason=f"文字识别出错：{type(exc).__name__}。", skip_code="ocr_error", ran=True)
    return replace(
        base, text=result.text, lines=ocr_lines_json(result.lines), seconds=float(result.seconds), ran=True
    )


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


class OcrStage:
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
    ) -> None:
        from mdwatch.analyzers.ocr.engine import ENGINES

        if engine_name not in ENGINES:
            raise ValueError(f"未知的文字识别引擎 {engine_name!r}；可选：{'、'.join(ENGINES)}。")
        self.engine_name = engine_name
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self._mp_context = mp_context
        self._owns_store = store is None and use_db
        self._store: ImageStore | None = store if store is not None else (ImageStore(db_url) if use_db else None)
        self._pool: ProcessPoolExecutor | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._memo: dict[str, _Read] = {}  # sha → read, this stage's lifetime (text only)
        self._inflight: dict[str, Future[_Read]] = {}
        self.stats = OcrStats()  # cumulative over every batch

    # -- lifecycle

    def _executor(self) -> ProcessPoolExecutor:
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
        if self._store is not None and self._owns_store:
            self._store.close()

    def __enter__(self) -> OcrStage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- API

    def submit(self, captures: Sequence[ImageCapture]) -> Future[OcrBatch]:
        """Start reading ``captures`` (one page's images, say); the future resolves to its batch."""
        with self._lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mdwatch-ocr")
            threads = self._threads
        return threads.submit(self.run, captures)

    def ocr_images(self, captures: Sequence[ImageCapture]) -> dict[str, ImageOutcome]:
        return self.run(captures).results

    def run(self, captures: Sequence[ImageCapture]) -> OcrBatch:
        """Read every image of ``captures``; per URL the text or the reason it was skipped."""
        started = time.perf_counter()
        stats = OcrStats(images=len(captures))
        results, by_sha, bodies = _group(captures)
        stats.distinct = len(by_sha)
        # 1. memory, then the database
        reads, missing = self._cached(by_sha, stats)
        # 2. share reads in flight; submit the rest
        own, shared = self._claim(missing, bodies, reads, stats)
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
        stats.wall_seconds = time.perf_counter() - started
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
               stats: OcrStats) -> tuple[dict[str, Future[_Read]], dict[str, Future[_Read]]]:
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
                    future = self._submit(bodies[sha].body)
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
                if read.skip_code != "ocr_error":  # not remembered: the next batch tries it again
                    self._memo[sha] = read
                self._inflight.pop(sha, None)
            if read.ran:
                stats.ocr_runs += 1
                stats.ocr_seconds += read.seconds
            if read.skip_code == "triage":
                stats.triaged_out += 1
        for sha, future in shared.items():
            reads[sha] = self._outcome(future)

    def _submit(self, body: bytes) -> Future[_Read]:
        try:
            return self._executor().submit(_read_image, body, self.engine_name)
        except BrokenProcessPool:
            self._pool = None  # a worker died earlier: start a fresh pool
            return self._executor().submit(_read_image, body, self.engine_name)

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
