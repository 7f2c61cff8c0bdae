"""Screenshots taken during a sweep hold only what is in flight, however long the sweep."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from mdwatch.crawler.evidence import CHROMIUM_PATH
from mdwatch.scheduler.pipeline.sweep import evidence

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM_PATH).exists(), reason=f"no Chromium at {CHROMIUM_PATH}")


@needs_chromium
def test_shots_leave_once_saved_and_the_overflow_goes_to_the_final_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    kept: list[int] = []

    def keep(store: Any, page_id: int, url: str, sha: str, png: bytes, writer: Any) -> None:
        assert png.startswith(b"\x89PNG")
        kept.append(page_id)

    from mdwatch.scheduler.pipeline import capture

    monkeypatch.setattr(capture, "keep_screenshot", keep)
    monkeypatch.setattr(evidence.LiveShots, "MAX_IN_FLIGHT", 8)
    live = evidence.LiveShots("sqlite://", writer=None, lock=threading.Lock())  # type: ignore[arg-type]
    class NoStore:
        def close(self) -> None:
            pass

    live._store = NoStore()  # where pictures are kept is not what is tested: kept above
    body = "<html><body><h1>电子血压计</h1><p>注册证编号：苏械注准20172070123</p></body></html>".encode()
    for page_id in range(30):
        live.add(page_id, f"http://shop.test/p/{page_id}.html", body, "text/html; charset=utf-8", "0" * 64)
    assert live.deferred >= 30 - 8  # submitted faster than Chromium renders: the rest left for later
    live.drain(wait=True)
    live.close()
    assert not live.pending
    assert live.saved == len(kept) == 30 - live.deferred and live.failed == []
