"""The OCR stage end to end: a local site serves pages with images; scan_urls(ocr_engine=...) reads them.

A real certificate image (generated with Pillow and Noto CJK) is read by RapidOCR in the process
pool; the cache in the database makes a second scan read nothing; pages sharing one image
cause one OCR run; broken images (bomb, zero bytes, truncated, 404, a 1,000-frame GIF) are skipped with a reason.
"""

from __future__ import annotations

import functools
import importlib
import io
import time
from collections.abc import Iterator

import pytest
from localsite import LocalSite, Reply, html
from PIL import Image, ImageDraw, ImageFont

from mdwatch.analyzers.model import ImageText
from mdwatch.analyzers.ocr.imageguard import LoadedImage, load_image
from mdwatch.analyzers.ocr.triage import needs_ocr
from mdwatch.crawler.images import ImageCapture
from mdwatch.scheduler.jobs.scan import scan_urls
from mdwatch.scheduler.pipeline.ocr import ImageSkip, OcrStage
from mdwatch.storage.images import ImageStore
from mdwatch.storage.store import Store

pytestmark = pytest.mark.network

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
NUMBER = "国械注准20213162540"


def _engine_ready() -> bool:
    try:
        importlib.import_module("mdwatch.analyzers.ocr.rapid")
        importlib.import_module("mdwatch.analyzers.ocr.imageguard")
        importlib.import_module("mdwatch.analyzers.ocr.triage")
    except ImportError:
        return False
    return True


needs_engine = pytest.mark.skipif(not _engine_ready(), reason="OCR engine modules not available yet")


def _certificate() -> tuple[bytes, str]:
    """A certificate PNG and its number: the demo generator's if present, else a simple rendering."""
    try:
        from mdwatch.demo.ocrimages import generate_certificates

        cert = generate_certificates(1)[0]
        image, number = cert.image, str(cert.truth["number"])
    except ImportError:
        image = Image.new("RGB", (900, 400), "white")
        draw = ImageDraw.Draw(image)
        font = ImageFont.truetype(FONT, 40, index=2)
        draw.text((40, 60), "医疗器械注册证", fill="black", font=font)
        draw.text((40, 160), f"注册证编号：{NUMBER}", fill="black", font=font)
        draw.text((40, 260), "产品名称：电子血压计", fill="black", font=font)
        number = NUMBER
    out = io.BytesIO()
    image.convert("RGB").save(out, "PNG")
    return out.getvalue(), number


def _bomb() -> bytes:
    """A 100-megapixel PNG that compresses to a few kB."""
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000), 1).save(out, "PNG")
    return out.getvalue()


def _truncated_jpeg() -> bytes:
    image = Image.effect_noise((400, 300), 60).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    data = out.getvalue()
    return data[: len(data) // 2]


@functools.lru_cache(maxsize=1)
def _many_frames_gif() -> bytes:
    """A 1,000-frame animated GIF (200×150, a square moving across white; about 100 kB)."""
    frames = []
    for i in range(1000):
        frame = Image.new("L", (200, 150), 255)
        x, y = i % 180, (i // 180) * 20
        ImageDraw.Draw(frame).rectangle((x, y, x + 20, y + 20), fill=0)
        frames.append(frame)
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=20, loop=0)
    return out.getvalue()


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _page(title: str, images: list[str]) -> Reply:
    tags = "".join(f'<img src="{src}">' for src in images)
    return html(f"<html><head><title>{title}</title></head><body><p>{title} 电子血压计</p>{tags}</body></html>")


@pytest.fixture(scope="module")
def cert() -> tuple[bytes, str]:
    return _certificate()


@pytest.fixture
def site(cert: tuple[bytes, str]) -> Iterator[LocalSite]:
    body, _ = cert
    routes = {
        "/img/cert.png": Reply(body=body, headers={"Content-Type": "image/png"}),
        "/img/bomb.png": Reply(body=_bomb(), headers={"Content-Type": "image/png"}),
        "/img/empty.jpg": Reply(body=b"", headers={"Content-Type": "image/jpeg"}),
        "/img/cut.jpg": Reply(body=_truncated_jpeg(), headers={"Content-Type": "image/jpeg"}),
        "/img/icon.png": Reply(body=_png(Image.new("RGB", (16, 16), (255, 0, 0))), headers={"Content-Type": "image/png"}),
        "/img/anim.gif": Reply(body=_many_frames_gif(), headers={"Content-Type": "image/gif"}),
        "/broken": _page("坏图页面", ["/img/bomb.png", "/img/empty.jpg", "/img/cut.jpg", "/img/gone.png",
                                    "/img/icon.png", "/img/anim.gif"]),
        **{f"/p{i}": _page(f"商品{i}", ["/img/cert.png"]) for i in range(5)},
    }
    with LocalSite(routes) as s:
        yield s


@needs_engine
def test_certificate_read_once_and_cached(site: LocalSite, cert: tuple[bytes, str], sqlite_url: str) -> None:
    _, number = cert
    urls = [site.url(f"/p{i}") for i in range(5)]
    first = scan_urls(urls, db_url=sqlite_url, ocr_engine="rapidocr", ocr_workers=1)
    assert first.ocr_stats is not None
    # five pages share one image: one download (crawl dedupe), one OCR run
    assert site.hits.count("/img/cert.png") == 1
    assert first.ocr_stats.ocr_runs == 1 and first.ocr_stats.distinct == 1
    for outcome in first.outcomes:
        assert outcome.page is not None
        texts = outcome.page.image_texts
        assert len(texts) == 1 and texts[0].image_url == site.url("/img/cert.png")
        assert number in texts[0].text.replace(" ", "")
        assert outcome.extracted["images_read"] == 1 and outcome.extracted["images_skipped"] == []
    with Store.open(sqlite_url) as db:
        stats = db.runs(1)[0].stats
    assert stats["ocr"]["engine"] == "rapidocr" and stats["ocr"]["ocr_runs"] == 1
    with ImageStore(sqlite_url) as images:
        assert images.counts() == {"images": 1, "ocr_results": 1}

    # second scan: the cache in the database answers, nothing is read again
    second = scan_urls(urls[:2], db_url=sqlite_url, ocr_engine="rapidocr", ocr_workers=1)
    assert second.ocr_stats is not None
    assert second.ocr_stats.ocr_runs == 0 and second.ocr_stats.cache_hits == 1
    page = second.outcomes[0].page
    assert page is not None and number in page.image_texts[0].text.replace(" ", "")


@needs_engine
def test_stage_dedupes_by_sha_and_in_flight(cert: tuple[bytes, str]) -> None:
    body, number = cert
    captures = [ImageCapture.downloaded(f"http://shop{i}.example/cert.png", 200, "image/png", body) for i in range(5)]
    with OcrStage("rapidocr", workers=1, use_db=False) as stage:
        # two pages submitted at once share the one read in flight
        futures = [stage.submit(captures[:3]), stage.submit(captures[3:])]
        batches = [f.result(timeout=120) for f in futures]
        assert stage.stats.ocr_runs == 1
        results = {**batches[0].results, **batches[1].results}
        assert len(results) == 5
        assert all(isinstance(r, ImageText) and number in r.text.replace(" ", "") for r in results.values())
        again = stage.run(captures)
        assert again.stats.ocr_runs == 0 and again.stats.cache_hits == 1


@needs_engine
def test_bad_images_are_skipped_with_reasons(site: LocalSite, sqlite_url: str) -> None:
    result = scan_urls([site.url("/broken")], db_url=sqlite_url, ocr_engine="rapidocr", ocr_workers=1)
    outcome = result.outcomes[0]
    assert outcome.ok and outcome.page is not None
    listed = outcome.extracted["images_skipped"]
    assert isinstance(listed, list)
    skipped = {item["url"].rsplit("/", 1)[-1]: item for item in listed}
    assert set(skipped) == {"bomb.png", "empty.jpg", "cut.jpg", "gone.png", "icon.png", "anim.gif"}
    assert skipped["bomb.png"]["code"] == "too_many_pixels"
    assert skipped["empty.jpg"]["code"] == "empty"
    assert skipped["cut.jpg"]["code"] == "truncated"
    assert skipped["gone.png"]["code"] == "http_status" and "404" in skipped["gone.png"]["reason"]
    assert skipped["icon.png"]["code"] == "triage"
    # 1,000 frames: only the first is decoded (a text-free square), so triage keeps it from the engine
    assert skipped["anim.gif"]["code"] == "triage" and "文字" in skipped["anim.gif"]["reason"]
    assert all(item["reason"] for item in skipped.values())
    assert result.ocr_stats is not None and result.ocr_stats.ocr_runs == 0
    assert outcome.page.image_texts == ()
    assert result.run_id is not None  # the scan went on and was stored


def test_thousand_frame_gif_decodes_one_frame() -> None:
    data = _many_frames_gif()
    with Image.open(io.BytesIO(data)) as im:
        assert getattr(im, "n_frames", 1) == 1000
    started = time.perf_counter()
    loaded = load_image(data)
    assert isinstance(loaded, LoadedImage) and loaded.format == "GIF" and (loaded.width, loaded.height) == (200, 150)
    wanted, why = needs_ocr(loaded.image)
    assert time.perf_counter() - started < 2.0  # the other 999 frames are never decoded
    assert not wanted and why


def test_failed_downloads_skip_without_a_pool() -> None:
    failed = ImageCapture.skipped("http://x.example/a.png", "http_status", "图片下载失败：服务器返回 HTTP 404。", 404)
    with OcrStage("rapidocr", workers=1, use_db=False) as stage:
        batch = stage.run([failed])
        assert not stage.pool_started
    assert batch.results == {failed.url: ImageSkip(failed.url, failed.error or "", "http_status")}
    assert batch.stats.skipped == 1 and batch.stats.ocr_runs == 0


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="未知"):
        OcrStage("nope", use_db=False)


def test_scan_without_ocr_fetches_no_images(site: LocalSite, sqlite_url: str) -> None:
    result = scan_urls([site.url("/p0")], db_url=sqlite_url)
    assert result.ocr_stats is None
    assert "/img/cert.png" not in site.hits
    outcome = result.outcomes[0]
    assert "images_skipped" not in outcome.extracted
    with ImageStore(sqlite_url) as images:
        assert images.counts() == {"images": 0, "ocr_results": 0}
