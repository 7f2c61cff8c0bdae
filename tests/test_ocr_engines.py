"""OCR engines on real rendered images (no mocks), the engine Protocol, and triage.

Slow (a few seconds per image): marked ``ocr``. The accuracy run over the whole generated set
is ``benchmarks/bench_ocr.py``, not a test.
"""

from __future__ import annotations

import os

import pytest

from mdwatch.analyzers.numbers import extract_numbers
from mdwatch.analyzers.ocr import ENGINES, OcrEngine, OcrResult, get_engine, needs_ocr
from mdwatch.analyzers.ocr.engine import OcrLine, reading_order
from mdwatch.demo.ocrimages import GeneratedImage, degrade, generate_certificates, generate_photos

os.environ.setdefault("OMP_THREAD_LIMIT", "1")


@pytest.fixture(scope="module")
def certs() -> list[GeneratedImage]:
    return generate_certificates(2, seed=4)  # a 注册证 and a 备案信息表


def _numbers(text: str) -> set[str]:
    return {n.normalized.rstrip("号") for n in extract_numbers(text, year_now=2025)}


def test_engines_conform_to_protocol() -> None:
    for name in ENGINES:
        engine = get_engine(name)
        assert isinstance(engine, OcrEngine)
        assert engine.name == name
        assert get_engine(name) is engine  # one instance per process
    with pytest.raises(ValueError):
        get_engine("nope")


def test_reading_order_merges_rows() -> None:
    def box(x: float, y: float, w: float = 50, h: float = 20) -> tuple[tuple[float, float], ...]:
        return ((x, y), (x + w, y), (x + w, y + h), (x, y + h))

    lines = (OcrLine("值", 0.9, box(200, 102)), OcrLine("第二行", 0.9, box(10, 140)), OcrLine("标签", 0.9, box(10, 100)))
    assert OcrResult("x", lines, 0.0).text == "标签 值\n第二行"
    assert [len(r) for r in reading_order(lines)] == [2, 1]


@pytest.mark.ocr
@pytest.mark.parametrize("name", ENGINES)
def test_engine_reads_clean_certificate_number(name: str, certs: list[GeneratedImage]) -> None:
    cert = certs[0]
    result = get_engine(name).read(cert.image)
    assert result.engine == name and result.lines and result.seconds > 0
    assert cert.truth["number"].rstrip("号") in _numbers(result.text), result.text


@pytest.mark.ocr
def test_rapidocr_reads_degraded_certificate(certs: list[GeneratedImage]) -> None:
    cert = certs[1]
    img = degrade(degrade(cert.image, "scale06"), "jpeg30")
    result = get_engine("rapidocr").read(img)
    assert cert.truth["number"].rstrip("号") in _numbers(result.text), result.text
    assert 0.5 < result.confidence <= 1.0


def test_triage(certs: list[GeneratedImage]) -> None:
    ok, why = needs_ocr(certs[0].image)
    assert ok, why
    photo = generate_photos(1, seed=4)[0].image
    ok, why = needs_ocr(photo)
    assert not ok and "实拍" in why
    ok, why = needs_ocr(certs[0].image.resize((40, 40)))
    assert not ok and "图标" in why
