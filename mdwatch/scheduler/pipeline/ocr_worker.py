"""The OCR stage's worker side: what one pool (or queue) worker does with one image, and what it
sends back (:class:`_Read`: no pixels, it crosses the process boundary).

:func:`_read_image` guards, triages and reads one image; :func:`_probe_image` only guards and
triages it (a capped page's images are ranked before any is read). Both measure the worker's CPU
(the engine's child process included: Tesseract runs as one). The functions stay at module level
so a process pool and the OCR queue (``ocr_queue.RqExecutor``) can pickle them by name; the stage
re-exports them from ``mdwatch.scheduler.pipeline.ocr``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mdwatch.analyzers.ocr.scaling import Examined, Shortcuts

__all__ = ["available_cores", "ocr_lines_json"]


def available_cores() -> int:
    """CPUs this process may use: its CPU affinity, bounded by a cgroup v2 CPU quota (a container
    limited to two CPUs on a large host sees all of the host's in ``os.cpu_count()``)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as fh:
            quota, period = fh.read().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


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
    score: int = 0  # the triage's text score (glyph-like blobs)
    scored: bool = False  # ``score`` is the triage's (not a cached text's unknown)
    cpu: float = 0.0  # the worker's CPU seconds for this image
    triage_pixels: int = 0  # pixels decoded before the triage's verdict (0: the header decided)
    read_size: tuple[int, int] | None = None  # the size the engine read

    @property
    def reduced(self) -> bool:
        """Triaged on fewer pixels than the image has (a reduced decode or the header alone)."""
        return self.width is not None and self.height is not None and self.triage_pixels < self.width * self.height


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


def _read_image(body: bytes, engine_name: str, shortcuts: Shortcuts | None = None, triaged: bool = False) -> _Read:
    """Guard, triage and read one image (runs in a pool worker; the engine is created once per process).

    ``triaged``: a probe has triaged it already (a capped page): read it. Positional arguments
    only: the OCR queue (``ocr_queue.RqExecutor``) submits this function too.
    """
    from mdwatch.analyzers.ocr.engine import get_engine
    from mdwatch.analyzers.ocr.scaling import Shortcuts, cpu_seconds, examine

    shortcuts = shortcuts or Shortcuts()
    started = cpu_seconds()
    examined = examine(body, get_engine(engine_name), shortcuts, triaged=triaged)
    return _as_read(examined, cpu_seconds() - started, shortcuts.triage and not triaged)


def _probe_image(body: bytes, shortcuts: Shortcuts | None = None) -> _Read:
    """Guard and triage one image, no engine: its verdict and text score (a capped page's ranking)."""
    from mdwatch.analyzers.ocr.scaling import Shortcuts, cpu_seconds, examine

    shortcuts = shortcuts or Shortcuts()
    started = cpu_seconds()
    examined = examine(body, None, shortcuts)
    return _as_read(examined, cpu_seconds() - started, shortcuts.triage)


def _as_read(examined: Examined, cpu: float, scored: bool) -> _Read:
    result = examined.result
    reason, code = examined.skip_reason, examined.skip_code
    if code == "triage":
        reason = f"未做文字识别：{reason}"
    return _Read(
        text=result.text if result is not None else "",
        lines=ocr_lines_json(result.lines) if result is not None else (),
        seconds=float(result.seconds) if result is not None else 0.0,
        skip_reason=reason, skip_code=code, width=examined.width, height=examined.height, format=examined.format,
        ran=result is not None or code == "ocr_error", score=examined.score, scored=scored, cpu=cpu,
        triage_pixels=examined.triage_pixels, read_size=examined.read_size,
    )
