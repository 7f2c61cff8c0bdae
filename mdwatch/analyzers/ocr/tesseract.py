"""Tesseract through pytesseract with ``chi_sim+eng``, the alternative engine.

Debian's ``tesseract-ocr`` and ``tesseract-ocr-chi-sim`` provide the binary and the model.
``OMP_THREAD_LIMIT=1`` is set for the child process (unless the operator set it): Tesseract's
OpenMP threads only fight the OCR process pool, and a single thread is about twice as fast per
image here. Words come from ``image_to_data`` and are grouped into lines by Tesseract's own
block/paragraph/line numbers; CJK characters are joined without the spaces Tesseract puts
between them.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from mdwatch.analyzers.ocr.engine import OcrLine, OcrResult, prepare

if TYPE_CHECKING:
    from PIL import Image

LANG = "chi_sim+eng"
PSM = 4  # a single column of text of variable sizes: psm 6 loses whole table-ruled certificates (measured, benchmarks/bench_ocr.py)
# chi_sim reads glyphs of ~40 px far better than the ~25 px of a 1000 px wide certificate
UPSCALE_BELOW = 1800


def _is_cjk(ch: str) -> bool:
    return "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"


def join_words(words: list[str]) -> str:
    """Words of one line: no space where either neighbour is CJK, one space between Latin words."""
    out = ""
    for w in words:
        if out and not (_is_cjk(out[-1]) or _is_cjk(w[0])):
            out += " "
        out += w
    return out


class TesseractEngine:
    name = "tesseract"
    max_side = 2000  # it enlarges below 1800 px anyway (UPSCALE_BELOW); see bench_ocr.py --scaling

    def __init__(self, *, lang: str = LANG, psm: int = PSM) -> None:
        self.lang = lang
        self.psm = psm
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")

    def read(self, image: Image.Image) -> OcrResult:
        import pytesseract

        start = time.perf_counter()
        prepared, scale = prepare(image, upscale_below=UPSCALE_BELOW)
        data = pytesseract.image_to_data(
            prepared.convert("L"), lang=self.lang, config=f"--psm {self.psm}", output_type=pytesseract.Output.DICT
        )
        groups: dict[tuple[int, int, int], list[int]] = {}
        for i, word in enumerate(data["text"]):
            if str(word).strip() and float(data["conf"][i]) >= 0:
                key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
                groups.setdefault(key, []).append(i)
        lines: list[OcrLine] = []
        for idx in groups.values():
            text = join_words([str(data["text"][i]).strip() for i in idx])
            conf = sum(float(data["conf"][i]) for i in idx) / len(idx) / 100.0
            x0 = min(int(data["left"][i]) for i in idx) / scale
            y0 = min(int(data["top"][i]) for i in idx) / scale
            x1 = max(int(data["left"][i]) + int(data["width"][i]) for i in idx) / scale
            y1 = max(int(data["top"][i]) + int(data["height"][i]) for i in idx) / scale
            lines.append(OcrLine(text, conf, ((x0, y0), (x1, y0), (x1, y1), (x0, y1))))
        return OcrResult(self.name, tuple(lines), time.perf_counter() - start)
