"""RapidOCR (PP-OCRv4 det/cls/rec on onnxruntime), the default engine.

The models ship inside the ``rapidocr_onnxruntime`` wheel, so it runs offline. Each session
uses one intra-op and one inter-op thread: parallelism comes from the OCR process pool, and
oversubscribing the cores only makes every worker slower.

``max_side``: above about 1200×1200 pixels the engine reads no better, only slower (its own
cap is 2000 px on the longer side): a 2200 px certificate scan read at 1200 px gives the same
text and numbers in 1.7 instead of 4.7 CPU seconds (``benchmarks/bench_ocr.py --scaling``).
The OCR stage decodes and reduces images to ``max_side``² pixels before reading them.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from mdwatch.analyzers.ocr.engine import OcrLine, OcrResult, prepare

if TYPE_CHECKING:
    from PIL import Image


class RapidOcrEngine:
    name = "rapidocr"
    max_side = 1280  # measured optimum 1200 (bench_ocr.py --scaling), a little headroom

    def __init__(self, *, threads: int = 1) -> None:
        self._threads = threads
        self._ocr: Any = None
        self._lock = threading.Lock()

    def _model(self) -> Any:
        if self._ocr is None:
            from rapidocr_onnxruntime import RapidOCR

            self._ocr = RapidOCR(intra_op_num_threads=self._threads, inter_op_num_threads=self._threads)
        return self._ocr

    def read(self, image: Image.Image) -> OcrResult:
        start = time.perf_counter()
        prepared, scale = prepare(image)
        arr = np.asarray(prepared.convert("RGB"))[:, :, ::-1]  # RapidOCR expects BGR like cv2
        with self._lock:  # the onnxruntime sessions are shared by this instance
            result, _ = self._model()(np.ascontiguousarray(arr))
        lines: list[OcrLine] = []
        for box, text, score in result or ():
            text = str(text).strip()
            if not text:
                continue
            pts = tuple((float(x) / scale, float(y) / scale) for x, y in box)
            lines.append(OcrLine(text, float(score), pts))
        return OcrResult(self.name, tuple(lines), time.perf_counter() - start)
