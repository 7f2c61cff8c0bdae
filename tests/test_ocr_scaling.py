"""OCR that scales with the work (issue 15): the per-page cap, triage before the full decode, downscaling.

The cap tests run the real OCR stage (grouping, probes, ranking, the cache) with its pool
replaced by threads and the engine by a stand-in that reads instantly, so they take seconds;
the downscale test reads real generated certificates with RapidOCR.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from PIL import Image

from mdwatch.analyzers.model import ImageText
from mdwatch.analyzers.numbers import extract_numbers
from mdwatch.analyzers.ocr import engine as engine_module
from mdwatch.analyzers.ocr.engine import OcrLine, OcrResult, get_engine
from mdwatch.analyzers.ocr.imageguard import fit_within
from mdwatch.analyzers.ocr.scaling import BEFORE, Shortcuts, examine
from mdwatch.crawler.images import ImageCapture
from mdwatch.demo.ocrimages import generate_certificates, generate_photos, generate_promos
from mdwatch.scheduler.pipeline.ocr import CAP_CODE, ImageSkip, OcrStage, available_cores
from mdwatch.scheduler.pipeline.sweep.processor import _ocr_limit


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "PNG")
    return out.getvalue()


class _InstantEngine:
    """Reads nothing, instantly: the image's size as its text (the stage's logic is under test)."""

    name = "rapidocr"
    max_side = 1280

    def __init__(self) -> None:
        self.reads: list[tuple[int, int]] = []

    def read(self, image: Image.Image) -> OcrResult:
        self.reads.append(image.size)
        return OcrResult(self.name, (OcrLine(f"图片 {image.width}×{image.height}", 1.0, ()),), 0.0)


@pytest.fixture
def instant() -> Iterator[_InstantEngine]:
    fake = _InstantEngine()
    saved = engine_module._instances.get("rapidocr")
    engine_module._instances["rapidocr"] = fake
    try:
        yield fake
    finally:
        if saved is None:
            engine_module._instances.pop("rapidocr", None)
        else:
            engine_module._instances["rapidocr"] = saved


def _stage() -> OcrStage:
    # threads instead of the process pool: the stand-in engine lives in this process
    return OcrStage("rapidocr", use_db=False, queue=ThreadPoolExecutor(max_workers=2))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def page_images() -> dict[str, Any]:
    """One listing's images: 6 certificates, 8 banners (14 with text) and 4 photos."""
    certs = [(f"http://shop.test/cert{i}.png", _png(g.image)) for i, g in enumerate(generate_certificates(6, seed=21))]
    promos = [(f"http://shop.test/promo{i}.png", _png(g.image)) for i, g in enumerate(generate_promos(8, seed=21))]
    photos = [(f"http://shop.test/photo{i}.jpg", _jpeg(g.image)) for i, g in enumerate(generate_photos(4, seed=21))]
    return {"certs": certs, "promos": promos, "photos": photos}


def _captures(pairs: list[tuple[str, bytes]]) -> list[ImageCapture]:
    return [ImageCapture.downloaded(url, 200, "image/png", body) for url, body in pairs]


def test_cap_reads_the_most_text_like_and_records_the_rest(instant: _InstantEngine, page_images: dict[str, Any]) -> None:
    certs, promos, photos = page_images["certs"], page_images["promos"], page_images["photos"]
    captures = _captures([*promos, *photos, *certs])  # certificates last on the page: read first all the same
    with _stage() as stage:
        batch = stage.run(captures, cap=12)
    results = batch.results
    assert len(results) == 18
    read = [url for url, r in results.items() if isinstance(r, ImageText)]
    capped = [r for r in results.values() if isinstance(r, ImageSkip) and r.code == CAP_CODE]
    triaged = [r for r in results.values() if isinstance(r, ImageSkip) and r.code == "triage"]
    assert len(read) == 12 and len(capped) == 2 and len(triaged) == 4
    assert all(url in read for url, _ in certs)  # certificates before banners
    assert {r.url for r in triaged} == {url for url, _ in photos}
    # the reviewer's line, on each capped image and as the page's one line (sweep processor)
    assert capped[0].reason.startswith("OCR 上限：已读 12 张，余 2 张未读")
    assert _ocr_limit(results) == capped[0].reason
    assert batch.stats.capped == 2 and batch.stats.ocr_runs == 12 and batch.stats.probed == 18
    assert len(instant.reads) == 12


def test_cap_picks_the_same_images_whatever_is_cached(instant: _InstantEngine, page_images: dict[str, Any]) -> None:
    certs, promos = page_images["certs"], page_images["promos"]
    page = _captures([*certs, *promos])
    with _stage() as stage:
        # another page read every banner first: cached text does not change what this page reads
        stage.run(_captures(promos))
        batch = stage.run(list(reversed(page)), cap=12)
        again = stage.run(page, cap=12)
    for b in (batch, again):
        read = {url for url, r in b.results.items() if isinstance(r, ImageText)}
        assert {url for url, _ in certs} <= read and len(read) == 12
    assert {u for u, r in batch.results.items() if isinstance(r, ImageText)} == {
        u for u, r in again.results.items() if isinstance(r, ImageText)}
    assert again.stats.ocr_runs == 0  # everything it reads was read before
    assert _ocr_limit(again.results) is not None


def test_no_cap_or_under_the_cap_reads_everything(instant: _InstantEngine, page_images: dict[str, Any]) -> None:
    page = _captures([*page_images["certs"], *page_images["promos"]])
    with _stage() as stage:
        assert stage.run(page).stats.ocr_runs == 14  # scan: no cap
    with _stage() as stage:
        batch = stage.run(page, cap=14)
        assert batch.stats.ocr_runs == 14 and batch.stats.probed == 0 and _ocr_limit(batch.results) is None


def test_triage_before_decode_skips_a_huge_photo_without_decoding_it() -> None:
    photo = generate_photos(1, seed=22)[0].image.resize((6000, 4000), Image.Resampling.BILINEAR)
    data = _jpeg(photo, quality=85)
    out = examine(data, None, Shortcuts())
    assert out.skip_code == "triage" and "实拍" in (out.skip_reason or "")
    assert (out.width, out.height) == (6000, 4000)
    assert 0 < out.triage_pixels <= 6000 * 4000 // 64 * 2  # decoded at 1/8 scale, never in full
    assert examine(data, None, BEFORE).triage_pixels == 6000 * 4000  # as before: the full decode
    # an icon is triaged out on its header: not a pixel decoded
    icon = examine(_png(Image.new("RGB", (40, 40), "red")), None, Shortcuts())
    assert icon.skip_code == "triage" and icon.triage_pixels == 0


def test_triage_verdict_and_score_survive_the_reduced_decode(page_images: dict[str, Any]) -> None:
    cert = generate_certificates(1, seed=23)[0].image
    scan = _jpeg(cert.resize((cert.width * 2, cert.height * 2), Image.Resampling.BICUBIC))
    early, full = examine(scan, None, Shortcuts()), examine(scan, None, BEFORE)
    assert early.wanted and full.wanted
    assert early.triage_pixels <= full.triage_pixels // 15  # 1/4 scale: 1800 px / 8 would be under 256
    assert early.score > 100 and abs(early.score - full.score) <= early.score // 4


def test_pixel_budget_keeps_a_long_strip_readable() -> None:
    assert fit_within(2400, 2400, 1280) == (1280, 1280)
    assert fit_within(750, 2000, 1280) == (750, 2000)  # under the budget: untouched
    w, h = fit_within(750, 4000, 1280)
    assert w >= 500 and h > 2000  # a long detail strip keeps most of its width
    assert fit_within(800, 600, 1280) == (800, 600)


@pytest.mark.skipif(not os.path.exists("/usr/share/fonts/opentype/noto"), reason="fonts-noto-cjk missing")
def test_downscaled_read_keeps_certificate_numbers() -> None:
    engine = get_engine("rapidocr")
    for cert in generate_certificates(2, seed=24):
        scan = cert.image.convert("RGB").resize((cert.image.width * 2, cert.image.height * 2),
                                                Image.Resampling.BICUBIC)
        out = examine(_jpeg(scan), engine, Shortcuts())
        assert out.read_size is not None and out.read_size[0] * out.read_size[1] <= 1280 * 1280 + 2600
        assert out.result is not None
        numbers = {n.normalized.rstrip("号") for n in extract_numbers(out.result.text, year_now=2025)}
        assert str(cert.truth["number"]).rstrip("号") in numbers, (cert.name, out.result.text)


def test_pool_is_sized_to_the_cores_this_process_may_use() -> None:
    cores = available_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        assert cores <= len(os.sched_getaffinity(0))
    assert OcrStage("rapidocr", use_db=False).workers == cores
