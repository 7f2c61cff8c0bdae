"""One image, at the cost it needs: guard, triage before the full decode, read no larger than useful.

:func:`examine` is what an OCR worker does with one downloaded image (issue 15):

1. the header (``imageguard.read_header``): caps, format, declared size; an icon or spacer is
   triaged out here (``triage.too_small``) and never decoded;
2. the triage on a reduced decode: a JPEG is decoded at the DCT scale that still gives the
   triage its 256 px (1/8 of a 2000 px photo: 1/64 of the pixels), so a large product photo is
   skipped without ever existing at full size; other formats are decoded once, and that decode
   is reused for the reading;
3. the reading at the size the engine gains from (``engine.max_side``, a pixel budget of
   ``max_side``²; measured in ``benchmarks/bench_ocr.py --scaling``): a 2400 px scan of a
   certificate is read at about 1280 px, which reads the same text in a third of the time.

:class:`Shortcuts` switches each of these off (the benchmarks measure what each one costs and
saves); ``BEFORE`` is the stage as it was before them (full decode, then triage, then the
engine at full size), ``NONE`` reads every image.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mdwatch.analyzers.ocr.imageguard import LoadedImage, Skipped, fit_within, load_image, read_header
from mdwatch.analyzers.ocr.triage import WORK_WIDTH, Triage, assess, too_small

if TYPE_CHECKING:
    from PIL import Image

    from mdwatch.analyzers.ocr.engine import OcrEngine, OcrResult

__all__ = ["BEFORE", "NONE", "Examined", "Shortcuts", "cpu_seconds", "examine", "reading_size"]


@dataclass(frozen=True, slots=True)
class Shortcuts:
    """Which of the cost savers :func:`examine` uses (all by default)."""

    triage: bool = True  # skip icons and text-free photos
    early_triage: bool = True  # triage on the header and a reduced decode, before any full decode
    downscale: bool = True  # decode / reduce to the engine's ``max_side``² pixels before reading


BEFORE = Shortcuts(early_triage=False, downscale=False)
NONE = Shortcuts(triage=False, early_triage=False, downscale=False)


@dataclass(frozen=True, slots=True)
class Examined:
    """What became of one image: skipped (why), or triaged in (its score) and, with an engine, read."""

    skip_reason: str | None = None
    skip_code: str | None = None
    sha256: str = ""
    width: int | None = None  # declared size
    height: int | None = None
    format: str | None = None
    score: int = 0  # the triage's text score (glyph-like blobs); 0 when not triaged
    triage_pixels: int = 0  # pixels decoded before the triage's verdict (0: decided on the header)
    read_size: tuple[int, int] | None = None  # the size handed to the engine
    result: OcrResult | None = None

    @property
    def wanted(self) -> bool:
        return self.skip_reason is None


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children waited for: Tesseract reads in a child process."""
    times = os.times()
    return time.process_time() + times.children_user + times.children_system


def reading_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """The size an image of ``width``×``height`` is read at by an engine gaining nothing above ``max_side``."""
    return (width, height) if not max_side else fit_within(width, height, max_side)


def _skip(why: Skipped) -> Examined:
    return Examined(skip_reason=str(why.reason), skip_code=str(why.code), sha256=why.sha256)


def examine(
    data: bytes, engine: OcrEngine | None, shortcuts: Shortcuts = Shortcuts(), *, triaged: bool = False
) -> Examined:
    """Guard, triage and (given an ``engine``) read one image; never raises for a bad image.

    ``engine=None`` stops after the triage (a probe: the stage ranks a listing's images before it
    decides which to read). ``triaged``: the triage has been done already (by a probe): read.
    """
    triage = shortcuts.triage and not triaged
    loaded: LoadedImage | None = None
    verdict: Triage | None = None
    pixels = 0
    if shortcuts.early_triage:
        header = read_header(data)
        if isinstance(header, Skipped):
            return _skip(header)
        sha, fmt, width, height = header.sha256, header.format, header.width, header.height
        small = too_small(width, height) if triage else None
        if small is not None:
            return Examined(small, "triage", sha, width, height, fmt)
        if triage and fmt == "JPEG":
            probe = load_image(data, fit=(WORK_WIDTH, max(1, round(height * WORK_WIDTH / width))), exact=False)
            if isinstance(probe, Skipped):
                return _skip(probe)
            verdict, pixels = assess(probe.image, (width, height)), probe.image.width * probe.image.height
    if verdict is None and (triage or engine is not None or not shortcuts.early_triage):
        full = load_image(data)
        if isinstance(full, Skipped):
            return _skip(full)
        loaded, sha, fmt, width, height = full, full.sha256, full.format, full.width, full.height
        if triage:
            verdict, pixels = assess(full.image), full.image.width * full.image.height
    if verdict is not None and not verdict.wanted:
        return Examined(verdict.reason, "triage", sha, width, height, fmt, verdict.score, pixels)
    base = Examined(None, None, sha, width, height, fmt, verdict.score if verdict else 0, pixels)
    if engine is None:
        return base
    return _read(data, engine, shortcuts, base, loaded)


def _read(data: bytes, engine: OcrEngine, shortcuts: Shortcuts, base: Examined, loaded: LoadedImage | None) -> Examined:
    assert base.width is not None and base.height is not None
    target = reading_size(base.width, base.height, getattr(engine, "max_side", None) if shortcuts.downscale else None)
    if loaded is None:  # a JPEG triaged on its reduced decode: decode it once more, at the reading size
        again = load_image(data, fit=target)
        if isinstance(again, Skipped):
            return _skip(again)
        image: Image.Image = again.image
    else:
        image = loaded.image
        if image.width > target[0] or image.height > target[1]:
            from PIL import Image as PILImage

            image = image.resize(target, PILImage.Resampling.LANCZOS, reducing_gap=3.0)
    try:
        result = engine.read(image)
    except Exception as exc:  # an engine failure skips this image, never the scan
        return Examined(f"文字识别出错：{type(exc).__name__}。", "ocr_error", base.sha256, base.width, base.height,
                        base.format, base.score, base.triage_pixels, image.size)
    return Examined(None, None, base.sha256, base.width, base.height, base.format, base.score, base.triage_pixels,
                    image.size, result)
