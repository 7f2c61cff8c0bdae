"""The per-page cap of the OCR stage (issue 15, docs/design/ocr-scaling.md), mixed into ``OcrStage``.

A page with more distinct images than the cap has each triaged first (a probe in the pool:
guard and triage, no engine), and only the ``cap`` most text-like (the triage's score: glyph-like
blobs, highest for certificates, then specification sheets, then banners) are read. The ranking
ignores what is cached, so a page reads the same images whatever the order of the crawl; the
rest are skipped with :data:`CAP_CODE` and the reviewer's line (``OCR 上限：已读 12 张，余 6 张未读…``).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from mdwatch.scheduler.pipeline.ocr_worker import _probe_image, _Read

if TYPE_CHECKING:
    from mdwatch.analyzers.ocr.scaling import Shortcuts
    from mdwatch.crawler.images import ImageCapture
    from mdwatch.scheduler.pipeline.ocr import OcrStats

__all__ = ["CAP_CODE", "MAX_IMAGES_PER_PAGE", "PageCap", "cap_reason"]

#: the per-page cap of a sweep (``MDWATCH_OCR_MAX_IMAGES``): distinct images read per page at most
MAX_IMAGES_PER_PAGE = 12
CAP_CODE = "ocr_cap"


def cap_reason(read: int, left: int, cap: int) -> str:
    return f"OCR 上限：已读 {read} 张，余 {left} 张未读（每页最多识别 {cap} 张图片，文字特征多的优先）"


class PageCap:
    """``OcrStage``'s ranking of a page's images under the cap (the stage's state, its methods)."""

    _lock: threading.Lock
    _memo: dict[str, _Read]
    _probes: dict[str, _Read]  # sha → triage verdict of an image triaged in by a probe (no text)
    _pool: Any
    shortcuts: Shortcuts

    def _executor(self) -> Any:
        raise NotImplementedError

    def _outcome(self, future: Future[_Read]) -> _Read:
        raise NotImplementedError

    def _persist(self, sha: str, cap: ImageCapture, read: _Read) -> None:
        raise NotImplementedError

    def _rank(self, by_sha: dict[str, list[str]], bodies: dict[str, ImageCapture], reads: dict[str, _Read],
              cap: int, stats: OcrStats) -> set[str]:
        """Triage every image of a page over its cap, keep the ``cap`` most text-like: the others'
        skips (cap, triage) go to ``reads``; returns the kept ones a probe has triaged already.

        The verdict of an image comes from this stage's memory (a read or a probe) or from a probe
        now; a text cached in the database has no score, so it is probed too. Probes of one image
        by two pages at once are not shared (a probe costs milliseconds, a read seconds).
        """
        verdicts: dict[str, _Read] = {}
        with self._lock:
            for sha in by_sha:
                known = reads.get(sha)
                if known is not None and known.skip_reason is not None:
                    verdicts[sha] = known  # skipped by the guard or the triage: settled
                elif sha in self._probes:
                    verdicts[sha] = self._probes[sha]
                elif known is not None and known.scored:
                    verdicts[sha] = known
        probes = {sha: self._submit_probe(bodies[sha].body) for sha in by_sha if sha not in verdicts}
        if probes:
            wait(probes.values())
        for sha, future in probes.items():
            verdicts[sha] = probe = self._outcome(future)
            self._settle_probe(sha, probe, bodies[sha], reads, stats)
        order = {sha: n for n, sha in enumerate(by_sha)}
        wanted = sorted((sha for sha, v in verdicts.items() if v.skip_reason is None),
                        key=lambda sha: (-verdicts[sha].score, order[sha]))
        kept, left = wanted[:cap], wanted[cap:]
        for sha in left:
            reads[sha] = _Read(skip_reason=cap_reason(len(kept), len(left), cap), skip_code=CAP_CODE)
        return {sha for sha in kept if sha in probes or sha in self._probes}

    def _settle_probe(self, sha: str, probe: _Read, body: ImageCapture, reads: dict[str, _Read],
                      stats: OcrStats) -> None:
        stats.probed += 1
        stats.worker_cpu_seconds += probe.cpu
        if probe.skip_code == "ocr_error":
            reads[sha] = probe
            return
        with self._lock:
            first = sha not in self._memo and sha not in self._probes
            if probe.skip_reason is None:
                self._probes[sha] = probe
        if first:
            stats.examined += 1
            self._count_triage(probe, stats)
        if probe.skip_reason is not None:  # guard or triage: settled like a read
            reads[sha] = probe
            self._persist(sha, body, probe)
            with self._lock:
                self._memo[sha] = probe

    def _submit_probe(self, body: bytes) -> Future[_Read]:
        try:
            return self._executor().submit(_probe_image, body, self.shortcuts)
        except BrokenProcessPool:
            self._pool = None  # a worker died earlier: start a fresh pool
            return self._executor().submit(_probe_image, body, self.shortcuts)

    @staticmethod
    def _count_triage(read: _Read, stats: OcrStats) -> None:
        if read.skip_code == "triage":
            stats.triaged_out += 1
            if read.triage_pixels == 0:
                stats.header_skips += 1
        if read.reduced and read.triage_pixels > 0:
            stats.reduced_triage += 1
