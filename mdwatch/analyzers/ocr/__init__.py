"""OCR of listing images: safe loading (``imageguard``), triage, and engines behind one Protocol.

Public surface::

    load_image(data) -> LoadedImage | Skipped     # size/pixel caps, bomb guard, first GIF frame
    needs_ocr(image) -> (bool, reason)             # skip icons and text-free photos
    get_engine(name).read(image) -> OcrResult      # "rapidocr" (default) or "tesseract"
    examine(data, engine) -> Examined              # all three, at the cost they need (scaling.py)
"""

from __future__ import annotations

from mdwatch.analyzers.ocr.engine import (
    DEFAULT_ENGINE,
    ENGINES,
    OcrEngine,
    OcrLine,
    OcrResult,
    get_engine,
)
from mdwatch.analyzers.ocr.imageguard import LoadedImage, Skipped, load_image
from mdwatch.analyzers.ocr.scaling import Examined, Shortcuts, examine
from mdwatch.analyzers.ocr.triage import needs_ocr

__all__ = [
    "DEFAULT_ENGINE",
    "ENGINES",
    "Examined",
    "LoadedImage",
    "OcrEngine",
    "OcrLine",
    "OcrResult",
    "Shortcuts",
    "Skipped",
    "examine",
    "get_engine",
    "load_image",
    "needs_ocr",
]
