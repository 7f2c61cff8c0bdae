"""The OCR engine interface: ``OcrEngine`` (a Protocol), its result types and ``get_engine``.

Engines read a Pillow image and return lines with confidences and boxes; ``OcrResult.text``
puts them in reading order (top to bottom, fragments on one row joined left to right). Models
load lazily, once per process: the OCR stage runs engines in a process pool, one instance
per worker. Nothing is downloaded at run time (RapidOCR's models ship in its wheel; Tesseract's
``chi_sim`` comes from Debian's ``tesseract-ocr-chi-sim``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PIL import Image

Point = tuple[float, float]
ENGINES = ("rapidocr", "tesseract")
DEFAULT_ENGINE = "rapidocr"


@dataclass(frozen=True, slots=True)
class OcrLine:
    """One line (or line fragment) read: text, confidence in 0…1 and its polygon in pixels."""

    text: str
    confidence: float
    box: tuple[Point, ...]

    @property
    def top(self) -> float:
        return min(p[1] for p in self.box) if self.box else 0.0

    @property
    def bottom(self) -> float:
        return max(p[1] for p in self.box) if self.box else 0.0

    @property
    def left(self) -> float:
        return min(p[0] for p in self.box) if self.box else 0.0


def reading_order(lines: tuple[OcrLine, ...] | list[OcrLine]) -> list[list[OcrLine]]:
    """Rows of fragments: sorted top to bottom; a fragment whose vertical centre lies inside the
    current row's span (by more than half its own height) joins that row; rows sorted left to right."""
    rows: list[list[OcrLine]] = []
    spans: list[tuple[float, float]] = []
    for line in sorted(lines, key=lambda ln: (ln.top + ln.bottom) / 2):
        centre = (line.top + line.bottom) / 2
        if rows:
            top, bottom = spans[-1]
            if top < centre < bottom:
                rows[-1].append(line)
                spans[-1] = (min(top, line.top), max(bottom, line.bottom))
                continue
        rows.append([line])
        spans.append((line.top, line.bottom))
    return [sorted(row, key=lambda ln: ln.left) for row in rows]


@dataclass(frozen=True, slots=True)
class OcrResult:
    engine: str
    lines: tuple[OcrLine, ...]
    seconds: float

    @property
    def text(self) -> str:
        """All text read, one row per line, in reading order (fragments on a row joined by a space)."""
        return "\n".join(" ".join(ln.text for ln in row) for row in reading_order(self.lines))

    @property
    def confidence(self) -> float:
        """Mean line confidence weighted by text length (0.0 when nothing was read)."""
        total = sum(len(ln.text) for ln in self.lines)
        return sum(ln.confidence * len(ln.text) for ln in self.lines) / total if total else 0.0


@runtime_checkable
class OcrEngine(Protocol):
    """An OCR engine. It may also say, as ``max_side``, the side of the square pixel budget it
    gains nothing above: the OCR stage then reduces larger images before :meth:`read`
    (``scaling.examine``); without it images are read at their own size."""

    name: str

    def read(self, image: Image.Image) -> OcrResult: ...


_instances: dict[str, OcrEngine] = {}
_lock = threading.Lock()


def get_engine(name: str = DEFAULT_ENGINE) -> OcrEngine:
    """The process-wide engine called ``name`` (one of ``ENGINES``); models load on first read."""
    if name not in ENGINES:
        raise ValueError(f"unknown OCR engine {name!r}; choose one of {', '.join(ENGINES)}")
    with _lock:
        engine = _instances.get(name)
        if engine is None:
            if name == "rapidocr":
                from mdwatch.analyzers.ocr.rapid import RapidOcrEngine

                engine = RapidOcrEngine()
            else:
                from mdwatch.analyzers.ocr.tesseract import TesseractEngine

                engine = TesseractEngine()
            _instances[name] = engine
        return engine


UPSCALE_BELOW = 1000  # images whose longer side is shorter are enlarged before reading
MAX_UPSCALE = 2.0


def prepare(image: Image.Image, *, upscale_below: int = UPSCALE_BELOW) -> tuple[Image.Image, float]:
    """RGB on white (transparency flattened), small images enlarged; returns (image, scale).

    Boxes found on the prepared image divide by ``scale`` to map back to the original.
    """
    from PIL import Image as PILImage

    img = image
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = PILImage.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, (0, 0), rgba)
        img = flat
    elif img.mode != "RGB":
        img = img.convert("RGB")
    longer = max(img.size)
    scale = 1.0
    if 0 < longer < upscale_below:
        scale = min(MAX_UPSCALE, upscale_below / longer)
        img = img.resize((round(img.width * scale), round(img.height * scale)), PILImage.Resampling.LANCZOS)
    return img, scale
