"""OCR workers over Redis (RQ): a stage whose reads go to ``mdwatch ocr-worker`` processes.

Needs Redis (127.0.0.1:6379): skipped when unreachable, failed under MDWATCH_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest
from conftest import REDIS_URL
from PIL import Image

from mdwatch.analyzers.model import ImageText
from mdwatch.crawler.images import ImageCapture
from mdwatch.scheduler.pipeline.ocr import ImageSkip, OcrStage
from mdwatch.scheduler.pipeline.ocr_queue import RqExecutor

ENGINE = "tesseract"  # starts fastest; the queue is engine-agnostic


def _capture(url: str, image: Image.Image) -> ImageCapture:
    import hashlib

    out = io.BytesIO()
    image.save(out, "PNG")
    body = out.getvalue()
    return ImageCapture(url, 200, "image/png", body, hashlib.sha256(body).hexdigest())


def _certificate() -> tuple[Image.Image, str]:
    from mdwatch.demo.ocrimages import generate_certificates

    cert = generate_certificates(1)[0]
    return cert.image, str(cert.truth["number"])


def _worker(queue: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MDWATCH_OCR_QUEUE": queue}
    # output not piped: nobody reads it here, and a full pipe would block the worker's writes
    return subprocess.Popen([sys.executable, "-m", "mdwatch.scheduler.cli", "ocr-worker", "--redis", REDIS_URL,
                             "--processes", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            text=True)


def test_reads_go_to_the_queue_workers_and_come_back(redis_prefix: str) -> None:
    image, number = _certificate()
    icon = Image.new("RGB", (16, 16), "red")
    worker = _worker(redis_prefix)
    try:
        with OcrStage(ENGINE, use_db=False, queue=RqExecutor(REDIS_URL, redis_prefix)) as stage:
            batch = stage.run([_capture("http://shop.test/cert.png", image), _capture("http://shop.test/i.png", icon)])
            assert not stage.pool_started  # no local OCR process: the workers read
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:  # how the worker stops is not what this test is about
            worker.kill()
            worker.wait(timeout=30)
    cert = batch.results["http://shop.test/cert.png"]
    assert isinstance(cert, ImageText), cert
    digits = "".join(ch for ch in number if ch.isdigit())
    assert digits[-8:] in "".join(ch for ch in cert.text if ch.isdigit())
    assert isinstance(batch.results["http://shop.test/i.png"], ImageSkip)
    assert batch.stats.ocr_runs == 1


def test_a_job_no_worker_takes_is_cancelled_on_close(redis_prefix: str) -> None:
    executor = RqExecutor(REDIS_URL, redis_prefix)
    future = executor.submit(time.sleep, 0)
    executor.shutdown()
    assert future.cancelled()
    with pytest.raises(RuntimeError):
        executor.submit(time.sleep, 0)


def test_the_sweep_asks_for_redis_with_the_queue() -> None:
    proc = subprocess.run([sys.executable, "-m", "mdwatch.scheduler.cli", "sweep", "demo", "--ocr-queue"],
                          env={k: v for k, v in os.environ.items() if k != "MDWATCH_REDIS_URL"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--redis" in proc.stderr
