"""Triage: which images are worth an OCR run.

Tiny icons are skipped by size. Text-free product photos are skipped by a cheap measure of
"text-likeness": the image is reduced to 256 px wide greyscale, binarised against its local
mean, and the connected components of the dark-on-light and light-on-dark masks are counted;
text makes many small, compact, high-contrast blobs (strokes and glyphs), smooth photos and
renders make few. The thresholds are calibrated on ``mdwatch.demo.ocrimages`` (certificates,
promotional banners, their degraded variants, and photo-like renders); see
``benchmarks/bench_ocr.py --triage`` for the measured accuracy. Costs a few milliseconds.

Two halves, so the OCR stage can triage before it decodes: :func:`too_small` needs only the
declared size (the header), :func:`assess` the pixels, at any size from 256 px wide up (a
JPEG decoded at 1/8 scale gives the same verdict as the full image, measured in
``benchmarks/bench_ocr.py --scaling``). The count of glyph-like blobs is also the image's
text score: the OCR stage reads the images of a listing highest score first when it caps them
(certificates, dense with small glyphs, score highest; banners next; photos lowest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

MIN_SIDE = 48
MIN_PIXELS = 10_000
WORK_WIDTH = 256
MIN_TEXT_BLOBS = 28  # small high-contrast components per image at 256 px wide
CONTRAST = 40  # grey levels above/below the 15×15 local mean
MIN_AREA = 4  # pixels: smaller specks are noise


def text_blobs(image: Image.Image) -> int:
    """Number of small, high-contrast connected components (glyph-like) at 256 px wide."""
    import cv2
    from PIL import Image as PILImage

    grey = image.convert("L")
    if grey.width != WORK_WIDTH:
        h = max(1, round(grey.height * WORK_WIDTH / grey.width))
        grey = grey.resize((WORK_WIDTH, h), PILImage.Resampling.BOX)
    arr = np.asarray(grey)
    mean = cv2.blur(arr.astype(np.float32), (15, 15))
    count = 0
    for mask in ((arr.astype(np.float32) < mean - CONTRAST), (arr.astype(np.float32) > mean + CONTRAST)):
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        if n <= 1:
            continue
        cw = stats[1:, cv2.CC_STAT_WIDTH]
        ch = stats[1:, cv2.CC_STAT_HEIGHT]
        area = stats[1:, cv2.CC_STAT_AREA]
        small = (area >= MIN_AREA) & (cw <= 24) & (ch <= 24) & (area <= 200)
        count += int(small.sum())
    return count


@dataclass(frozen=True, slots=True)
class Triage:
    """The verdict on one image: read it or not, why (Chinese), and its text score (blobs)."""

    wanted: bool
    reason: str
    score: int = 0


def too_small(width: int, height: int) -> str | None:
    """Why an image of the declared size is not worth reading (an icon, a spacer), else None."""
    if width < MIN_SIDE or height < MIN_SIDE or width * height < MIN_PIXELS:
        return f"图标或小图（{width}×{height}），不做文字识别"
    return None


def assess(img: Image.Image, size: tuple[int, int] | None = None) -> Triage:
    """Triage ``img``; ``size`` is its declared size when ``img`` is a reduced decode of it."""
    w, h = size if size is not None else img.size
    small = too_small(w, h)
    if small is not None:
        return Triage(False, small)
    blobs = text_blobs(img)
    if blobs < MIN_TEXT_BLOBS:
        return Triage(False, f"未发现文字特征（疑似商品实拍图，文字样斑块 {blobs} 个），不做文字识别", blobs)
    return Triage(True, f"含文字特征（文字样斑块 {blobs} 个）", blobs)


def needs_ocr(img: Image.Image) -> tuple[bool, str]:
    """(True, why) when ``img`` may carry text worth reading; (False, why in Chinese) otherwise."""
    verdict = assess(img)
    return verdict.wanted, verdict.reason
