"""ImageStore: images by SHA-256 and the OCR cache, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest

from mdwatch.storage.images import ImageStore
from mdwatch.storage.store import Store


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_ocr_cache_round_trip(db_url: str) -> None:
    sha = _sha(b"certificate")
    other = _sha(b"banner")
    lines = [{"text": "国械注准20243092361", "confidence": 0.98, "box": [[0, 0], [10, 0], [10, 5], [0, 5]]}]
    with ImageStore(db_url) as store:
        assert store.get_ocr(sha, "rapidocr") is None
        assert store.get_ocr_many([sha, other], "rapidocr") == {}
        assert store.save_ocr(sha, "rapidocr", "国械注准20243092361", lines, 1.5) is True
        assert store.save_ocr(sha.upper(), "rapidocr", "something else", [], 9.0) is False  # idempotent
        assert store.save_ocr(sha, "tesseract", "国械注准2024309236l", [], 0.5) is True
        got = store.get_ocr(sha, "rapidocr")
        assert got is not None
        assert got.text == "国械注准20243092361" and got.lines == lines and got.seconds == 1.5
        assert got.created_at.tzinfo is not None
        many = store.get_ocr_many([sha, other, sha], "tesseract")
        assert set(many) == {sha} and many[sha].text.endswith("l")
        assert store.counts()["ocr_results"] == 2
    # a second open of the same database sees the cache
    with ImageStore(db_url) as again:
        assert again.get_ocr(sha, "rapidocr") is not None


def test_images_stored_once_by_sha(db_url: str) -> None:
    body = b"\x89PNG fake"
    sha = _sha(body)
    skipped = _sha(b"bomb")
    with ImageStore(db_url) as store:
        assert store.save_image(sha, "http://a/1.png", "image/png", body, width=3, height=2, format="PNG")
        assert not store.save_image(sha, "http://b/2.png", "image/png", body)
        assert store.save_image(skipped, "http://a/bomb.png", "image/png", None, skip_reason="像素过多")
        first = store.get_image(sha)
        assert first is not None and first.url == "http://a/1.png" and first.body == body
        assert (first.width, first.height, first.format) == (3, 2, "PNG")
        bomb = store.get_image(skipped)
        assert bomb is not None and bomb.body is None and bomb.skip_reason == "像素过多"
        assert store.known_images([sha, skipped, _sha(b"x")]) == {sha, skipped}
        assert store.counts()["images"] == 2
        with pytest.raises(ValueError):
            store.get_ocr("not-a-sha", "rapidocr")


def test_shares_the_main_store_database(db_url: str) -> None:
    main = Store.open(db_url)
    try:
        with ImageStore(main.engine) as store:  # an engine it does not own: not disposed on close
            store.save_ocr(_sha(b"x"), "rapidocr", "文字", [], 0.1)
        assert ImageStore(main.engine).get_ocr(_sha(b"x"), "rapidocr") is not None
        assert main.counts()["runs"] == 0
    finally:
        main.close()
