"""History across sweeps (issue 5 item 5): a re-sweep of a small local platform after one
product's price rose by 60 %, another lost its mandated warning and a third was taken down.

The second sweep gives PRICE_ANOMALY and LISTING_CHANGED on those two, marks the deleted listing
gone (its row is kept), and stores the unchanged pages' captures once (deduplicated by SHA-256;
the listing snapshot of an unchanged product is not repeated, only its ``seen_until`` moves).
A budget-limited sweep never marks anything gone. Each sweep is its own ``mdwatch`` process.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from localsite import LocalSite, html

from mdwatch.storage.store import Store
from mdwatch.storage.sweeps import get_sweep, sweep_findings

SITE = Path(__file__).resolve().parents[1] / "mdwatch" / "demo" / "site" / "products"
WARNING = "温馨提示：购买和使用前请仔细阅读产品说明书或者在医务人员的指导下购买和使用。"

PROFILE = """\
name: histsite
title: 历史测试站点
start_urls: ["{base}/index.html"]
shop_links: ['/shops/[^/]+/index\\.html$']
product_links: ['/products/p\\d+\\.html$']
pagination: []
qualification_link_words: []
"""


def _product(name: str) -> str:
    # the demo's product pages link to the demo's shop; keep them on this site
    return (SITE / name).read_text(encoding="utf-8").replace("/shops/yikang/", "/shops/s1/")


class Site:
    """Mutable pages behind one LocalSite (the same port for every sweep)."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {
            "/products/p1.html": _product("p013.html"),  # ¥259.00 → ¥414.40 (+60 %)
            "/products/p2.html": _product("p014.html"),  # loses its retail warning
            "/products/p3.html": _product("p015.html"),  # taken down
            "/products/p4.html": _product("p028.html"),  # unchanged
        }

    def _index(self) -> str:
        return '<html><head><meta charset="utf-8"><title>历史测试平台</title></head><body>' \
               '<a href="/shops/s1/index.html">测试店铺</a></body></html>'

    def _shop(self) -> str:
        links = "".join(f'<li><a href="{p}">商品 {p}</a></li>' for p in sorted(self.pages))
        return f'<html><head><meta charset="utf-8"><title>测试店铺</title></head><body><ul>{links}</ul></body></html>'

    def handler(self, path: str) -> Callable[[BaseHTTPRequestHandler], None]:
        def serve(h: BaseHTTPRequestHandler) -> None:
            if path == "/index.html":
                body = self._index()
            elif path == "/shops/s1/index.html":
                body = self._shop()
            elif path in self.pages:
                body = self.pages[path]
            else:
                html("not found", status=404)(h)
                return
            html(body)(h)

        return serve

    def routes(self) -> dict[str, Callable[[BaseHTTPRequestHandler], None]]:
        paths = ["/index.html", "/shops/s1/index.html", *(f"/products/p{i}.html" for i in range(1, 5))]
        return {p: self.handler(p) for p in paths}


def _sweep(db: Path, profile: Path, base: str, *args: str) -> None:
    cmd = [sys.executable, "-m", "mdwatch.scheduler.cli", "sweep", str(profile), "--base-url", base,
           "--db", f"sqlite:///{db}", "--no-browser", "--workers", "0", "--ocr-engine", "none", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "巡查已完成" in proc.stdout


def _rows(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql, params).fetchall())


def test_resweep_history_changes_gone_and_dedup(tmp_path: Path) -> None:
    site = Site()
    profile = tmp_path / "histsite.yaml"
    profile.write_text(PROFILE, encoding="utf-8")
    db = tmp_path / "hist.db"
    with LocalSite(site.routes()) as server:
        base = server.base
        url = {i: f"{base}/products/p{i}.html" for i in range(1, 5)}

        _sweep(db, profile, base)
        with Store.open(f"sqlite:///{db}") as store:
            first = sweep_findings(store, 1)
        assert not any(rule in ("PRICE_ANOMALY", "LISTING_CHANGED") for _, rule in first)  # first sight
        warnings = _rows(db, "SELECT warnings FROM listing_snapshots WHERE listing_url = ?", url[2])[0][0]
        assert json.loads(str(warnings)) == ["retail"]
        captures_1 = _rows(db, "SELECT count(*) FROM captures")[0][0]
        assert _rows(db, "SELECT count(*) FROM listing_snapshots")[0][0] == 4

        site.pages["/products/p1.html"] = site.pages["/products/p1.html"].replace("¥259.00", "¥414.40")
        assert WARNING in site.pages["/products/p2.html"]
        site.pages["/products/p2.html"] = site.pages["/products/p2.html"].replace(WARNING, "")
        del site.pages["/products/p3.html"]

        _sweep(db, profile, base)
        with Store.open(f"sqlite:///{db}") as store:
            second = sweep_findings(store, 2)
            run2 = get_sweep(store, 2)
        assert run2 is not None and run2.status == "done"

        history = {(u, r) for u, r in second if r in ("PRICE_ANOMALY", "LISTING_CHANGED")}
        assert (url[1], "PRICE_ANOMALY") in history
        assert (url[2], "LISTING_CHANGED") in history
        assert (url[2], "PRODUCT_WARNING_RETAIL_MISSING") in second
        assert not any(u == url[4] for u, _ in history)
        # the unchanged product keeps its (non-history) findings in the second sweep
        assert sorted(r for u, r in second if u == url[4]) == sorted(r for u, r in first if u == url[4])

        # the deleted listing is marked gone, never deleted; the others are not gone
        gone: dict[object, object] = {row[0]: row[1] for row in _rows(db, "SELECT url, gone_at FROM listings")}
        assert set(gone) == set(url.values())
        assert gone[url[3]] is not None
        assert all(gone[url[i]] is None for i in (1, 2, 4))

        # unchanged pages: capture stored once (same SHA-256), no second snapshot, seen_until moved
        captures_2 = _rows(db, "SELECT count(*) FROM captures")[0][0]
        changed = 3  # p1, p2 and the shop page (one product link fewer)
        assert captures_2 == captures_1 + changed  # type: ignore[operator]
        assert _rows(db, "SELECT count(*) FROM captures WHERE url = ?", url[4])[0][0] == 1
        snaps = _rows(db, "SELECT run_id, seen_until FROM listing_snapshots WHERE listing_url = ?", url[4])
        assert len(snaps) == 1 and snaps[0][0] == 1 and snaps[0][1] is not None
        assert {r[0] for r in _rows(db, "SELECT run_id FROM listing_snapshots WHERE listing_url = ?",
                                    url[1])} == {1, 2}
        # every product seen by the second sweep counts as done (resume ledger)
        done = {str(u) for (u,) in _rows(db, "SELECT url FROM sweep_pages WHERE run_id = 2")}
        assert {url[1], url[2], url[4]} <= done and url[3] not in done

        # a budget-limited sweep never marks a listing gone
        del site.pages["/products/p4.html"]
        _sweep(db, profile, base, "--budget", "2")
        gone = {row[0]: row[1] for row in _rows(db, "SELECT url, gone_at FROM listings")}
        assert gone[url[4]] is None
