"""History: PRICE_ANOMALY / LISTING_CHANGED (pure) and listing snapshots / gone marking (storage)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from mdwatch.analyzers.extract import extract_page
from mdwatch.analyzers.history import (
    ListingSnapshot,
    from_stored,
    history_findings,
    parse_price,
    snapshot,
)
from mdwatch.analyzers.model import Context, Finding
from mdwatch.analyzers.registry import analyze
from mdwatch.storage import CaptureRecord, PageRecord, RunRecord, Store
from mdwatch.storage.history import HistoryStore
from mdwatch.storage.schema import Listing

URL = "https://mall.example.cn/products/p1.html"
T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def snap(
    at: datetime,
    content: str,
    price: float | None = 100.0,
    original: float | None = None,
    rules: frozenset[str] = frozenset(),
    warnings: frozenset[str] = frozenset({"retail"}),
    claims: frozenset[str] = frozenset(),
) -> ListingSnapshot:
    return ListingSnapshot(URL, at, sha(content), price, original, rules, warnings, claims)


def rules_of(findings: Sequence[Finding]) -> list[str]:
    return [f.rule for f in findings]


# ---------------------------------------------------------------------------------- pure


def test_parse_price() -> None:
    assert parse_price("¥1,299.00") == 1299.0
    assert parse_price("￥ 58") == 58.0
    assert parse_price("29.80元") == 29.8
    assert parse_price("¥99-199") == 99.0
    assert parse_price("1.2万") == 12000.0
    assert parse_price("面议") is None and parse_price(None) is None


@pytest.mark.parametrize(("new", "fires"), [(160.0, True), (45.0, True), (110.0, False), (150.0, True)])
def test_price_move(new: float, fires: bool) -> None:
    prev = snap(T0, "a", price=100.0)
    cur = snap(T0 + timedelta(days=1), "b", price=new)
    found = history_findings(cur, [prev], T0 + timedelta(days=1))
    assert ("PRICE_ANOMALY" in rules_of(found)) is fires
    if fires:
        f = next(f for f in found if f.rule == "PRICE_ANOMALY")
        assert f.severity == "medium"
        assert f.evidence[0].detail["kind"] == "price_move"
        assert ("上涨" if new > 100 else "下降") in f.message
        assert "¥100.00" in f.evidence[0].snippet


def test_price_move_minus_55_percent_message() -> None:
    found = history_findings(snap(T0 + timedelta(hours=5), "b", price=45.0), [snap(T0, "a")], T0)
    (f,) = found
    assert "下降 55%" in f.message and f.evidence[0].detail["change"] == "-55.0%"


def test_original_price_never_seen_in_window() -> None:
    now = T0 + timedelta(days=10)
    history = [
        snap(now - timedelta(days=1), "c", price=200.0),
        snap(now - timedelta(days=3), "b", price=210.0),
        snap(now - timedelta(days=9), "a", price=500.0),  # outside the 7-day window
    ]
    cur = snap(now, "d", price=200.0, original=500.0)
    (f,) = history_findings(cur, history, now)
    assert f.rule == "PRICE_ANOMALY"
    ev = f.evidence[0]
    assert ev.detail["kind"] == "original_price_unseen" and ev.detail["captures_in_window"] == "2"
    assert "¥500.00" in f.message and "近7日" in f.message and "2 次采集" in f.message
    assert "¥200.00、¥210.00" in ev.snippet


def test_original_price_seen_as_actual_price_is_fine() -> None:
    now = T0 + timedelta(days=10)
    history = [
        snap(now - timedelta(days=1), "c", price=200.0),
        snap(now - timedelta(days=2), "b", price=500.0),
    ]
    assert history_findings(snap(now, "d", price=200.0, original=500.0), history, now) == []


def test_original_price_needs_a_capture_in_the_window() -> None:
    now = T0 + timedelta(days=30)
    old = [snap(T0, "a", price=200.0)]
    assert history_findings(snap(now, "d", price=200.0, original=500.0), old, now) == []
    # an unchanged page seen again recently counts as a capture in the window (seen_until)
    recent = [dataclasses.replace(old[0], seen_until=now - timedelta(days=1))]
    assert rules_of(history_findings(snap(now, "d", price=200.0, original=500.0), recent, now)) == [
        "PRICE_ANOMALY"
    ]


def test_original_price_below_current_is_not_a_discount_claim() -> None:
    now = T0 + timedelta(days=1)
    assert history_findings(snap(now, "b", price=200.0, original=150.0), [snap(T0, "a", 200.0)], now) == []


def test_warning_removed() -> None:
    prev = snap(T0, "a", warnings=frozenset({"retail", "fitting"}))
    cur = snap(
        T0 + timedelta(days=1),
        "b",
        warnings=frozenset({"fitting"}),
        rules=frozenset({"PRODUCT_WARNING_RETAIL_MISSING"}),
    )
    (f,) = history_findings(cur, [prev], T0 + timedelta(days=1))
    assert f.rule == "LISTING_CHANGED" and f.severity == "info"
    assert "删除了警示语" in f.message
    # the missing-warning rule is reported as the removal, not again as a new problem
    assert [e.detail["change"] for e in f.evidence] == ["warning_removed"]
    assert f.evidence[0].detail["warning"] == "retail"


def test_claim_added_and_new_rule() -> None:
    prev = snap(T0, "a", claims=frozenset({"根治"}), rules=frozenset({"CLAIM_ABSOLUTE"}))
    cur = snap(
        T0 + timedelta(days=1),
        "b",
        claims=frozenset({"根治", "无效退款"}),
        rules=frozenset({"CLAIM_ABSOLUTE", "CLAIM_GUARANTEE"}),
    )
    (f,) = history_findings(cur, [prev], T0 + timedelta(days=1))
    assert f.rule == "LISTING_CHANGED"
    changes = {(e.detail["change"], e.match) for e in f.evidence}
    assert changes == {("claim_added", "无效退款"), ("rule_new", "CLAIM_GUARANTEE")}
    assert "新增宣称用语：「无效退款」" in f.message


def test_claim_removed_or_warning_added_is_not_a_change() -> None:
    prev = snap(T0, "a", claims=frozenset({"根治"}), warnings=frozenset())
    cur = snap(T0 + timedelta(days=1), "b", claims=frozenset(), warnings=frozenset({"retail"}))
    assert history_findings(cur, [prev], T0 + timedelta(days=1)) == []


def test_unchanged_hash_gives_nothing() -> None:
    prev = snap(T0, "same", price=100.0)
    cur = snap(T0 + timedelta(days=1), "same", price=300.0, original=900.0, claims=frozenset({"根治"}))
    assert history_findings(cur, [prev], T0 + timedelta(days=1)) == []


def test_first_capture_gives_nothing() -> None:
    assert history_findings(snap(T0, "a", price=100.0, original=900.0), [], T0) == []


def test_price_and_change_together() -> None:
    prev = snap(T0, "a", price=100.0, claims=frozenset())
    cur = snap(T0 + timedelta(days=1), "b", price=40.0, original=100.0, claims=frozenset({"根治"}))
    found = history_findings(cur, [prev], T0 + timedelta(days=1))
    # original 100 was the actual price the day before: only the move fires
    assert rules_of(found) == ["PRICE_ANOMALY", "LISTING_CHANGED"]
    assert [e.detail["kind"] for e in found[0].evidence] == ["price_move"]


PAGE_OK = """<html><head><title>鱼跃电子血压计 YE660</title></head><body>
<h1>鱼跃电子血压计 YE660</h1>
<p>价格：<span class="price">¥1,299.00</span> <del>¥2,599.00</del></p>
<p>注册证编号：苏械注准20192070001</p>
<p>购买和使用前请仔细阅读产品说明书或者在医务人员的指导下购买和使用</p>
</body></html>"""
PAGE_BAD = """<html><head><title>鱼跃电子血压计 YE660</title></head><body>
<h1>鱼跃电子血压计 YE660</h1>
<p>价格：<span class="price">¥499.00</span></p>
<p>注册证编号：苏械注准20192070001</p>
<p>根治高血压，无效退款！</p>
</body></html>"""


def test_snapshot_from_real_pages() -> None:
    ctx = Context(now=T0)
    ok = extract_page(URL, PAGE_OK.encode(), kind="product")
    assert ok.price == "¥1,299.00" and ok.fields["original_price"] == "¥2,599.00"
    s1 = snapshot(ok, analyze(ok, ctx), T0, sha(PAGE_OK))
    assert s1.price == 1299.0 and s1.original_price == 2599.0
    assert "retail" in s1.warnings and "PRODUCT_WARNING_RETAIL_MISSING" not in s1.rules

    bad = extract_page(URL, PAGE_BAD.encode(), kind="product")
    findings = analyze(bad, ctx)
    s2 = snapshot(bad, findings, T0 + timedelta(days=1), sha(PAGE_BAD))
    assert "retail" not in s2.warnings and s2.claims, s2
    found = history_findings(s2, [s1], T0 + timedelta(days=1))
    assert rules_of(found) == ["PRICE_ANOMALY", "LISTING_CHANGED"]
    kinds = {e.detail["change"] for e in found[1].evidence}
    assert {"warning_removed", "claim_added"} <= kinds

    # a disabled warning rule leaves the warning unknown (not "present")
    s3 = snapshot(bad, [], T0, sha(PAGE_BAD), enabled_rules=frozenset({"CLAIM_ABSOLUTE"}))
    assert s3.warnings == frozenset()


# ---------------------------------------------------------------------------------- storage


@pytest.fixture
def stores(db_url: str) -> Iterator[tuple[Store, HistoryStore]]:
    store = Store.open(db_url)
    try:
        yield store, HistoryStore(store)
    finally:
        store.close()


def page_record(url: str, at: datetime, body: str) -> PageRecord:
    raw = body.encode()
    cap = CaptureRecord(url, url, 200, {}, raw, hashlib.sha256(raw).hexdigest(), at)
    return PageRecord(capture=cap, url=url, kind="product", title="血压计")


def run(store: Store, at: datetime, pages: list[PageRecord]) -> int:
    return store.save_run(
        RunRecord(kind="sweep", target="demo", started_at=at, finished_at=None, pages=pages)
    )


def save(h: HistoryStore, run_id: int, s: ListingSnapshot) -> int:
    return h.save_snapshot(
        run_id,
        s.url,
        s.fetched_at,
        s.sha256,
        price=s.price,
        original_price=s.original_price,
        rules=s.rules,
        warnings=s.warnings,
        claims=s.claims,
    )


def test_snapshot_round_trip(stores: tuple[Store, HistoryStore]) -> None:
    store, h = stores
    r1 = run(store, T0, [page_record(URL, T0, "a")])
    r2 = run(store, T0 + timedelta(days=1), [page_record(URL, T0 + timedelta(days=1), "b")])
    s1 = snap(
        T0,
        "a",
        price=1299.0,
        original=2599.0,
        rules=frozenset({"CLAIM_ABSOLUTE"}),
        claims=frozenset({"根治"}),
    )
    s2 = snap(T0 + timedelta(days=1), "b", price=499.0)
    save(h, r1, s1)
    first_id = save(h, r2, s2)
    assert save(h, r2, s2) == first_id  # idempotent per (run, URL): a resumed sweep saves again

    prev = h.previous_snapshots(URL, before=T0 + timedelta(days=2))
    assert [p.sha256 for p in prev] == [s2.sha256, s1.sha256]  # newest first
    back = from_stored(prev[1])
    assert back == s1
    assert back.fetched_at.tzinfo is not None
    assert h.previous_snapshots(URL, before=T0 + timedelta(days=2), exclude_run_id=r2)[0].sha256 == s1.sha256
    assert h.previous_snapshots(URL, before=T0 + timedelta(hours=1)) == [prev[1]]
    assert h.previous_snapshots("https://mall.example.cn/other", before=T0 + timedelta(days=2)) == []

    assert h.unchanged(URL, s2.sha256) and not h.unchanged(URL, s1.sha256)
    assert not h.unchanged(URL, s2.sha256, exclude_run_id=r2)
    assert not h.unchanged("https://mall.example.cn/other", s2.sha256)

    # an unchanged re-capture moves seen_until and last_seen forward, nothing new stored
    later = T0 + timedelta(days=5)
    assert h.seen_again(URL, later)
    last = h.last_snapshot(URL)
    assert last is not None and last.seen_until == later and last.sha256 == s2.sha256
    assert len(h.previous_snapshots(URL, before=later + timedelta(days=1))) == 2
    with Session(store.engine) as session:
        listing = session.query(Listing).filter_by(url=URL).one()
        assert listing.last_seen == later
    assert not h.seen_again("https://mall.example.cn/other", later)

    # the history rules on stored rows
    cur = snap(T0 + timedelta(days=6), "c", price=499.0, original=2599.0)
    previous = [from_stored(p) for p in h.previous_snapshots(URL, before=cur.fetched_at)]
    found = history_findings(cur, previous, cur.fetched_at)
    assert rules_of(found) == ["PRICE_ANOMALY"]  # 2599 was only ever shown as the original price
    assert found[0].evidence[0].detail["kind"] == "original_price_unseen"


def test_mark_gone_and_seen_again(stores: tuple[Store, HistoryStore]) -> None:
    store, h = stores
    a, b, c = (f"https://mall.example.cn/products/p{i}.html" for i in (1, 2, 3))
    other = "https://elsewhere.example.com/products/p9.html"
    sub = "https://m.mall.example.cn/products/p4.html"
    run(store, T0, [page_record(u, T0, u) for u in (a, b, c, other, sub)])

    t1 = T0 + timedelta(days=1)
    r2 = run(store, t1, [page_record(a, t1 + timedelta(minutes=1), "a2")])  # a stored again in sweep 2
    h.seen_again(a, t1 + timedelta(minutes=1))  # no-op without snapshot; store already updated last_seen
    gone_at = t1 + timedelta(hours=2)
    # b was seen unchanged (not stored again): passed in seen_urls
    assert h.mark_gone(r2, seen_urls={b}, domain="mall.example.cn", now=gone_at) == 2  # c and m.mall…
    with Session(store.engine) as session:
        rows = {row.url: row.gone_at for row in session.query(Listing)}
    assert rows[a] is None and rows[b] is None and rows[other] is None
    assert rows[c] == gone_at and rows[sub] == gone_at
    assert store.counts()["listings"] == 5  # never deleted

    # already gone: keeps its first gone_at
    assert (
        h.mark_gone(r2, seen_urls=set(), domain="mall.example.cn", now=gone_at + timedelta(days=1)) == 1
    )  # b
    with Session(store.engine) as session:
        assert session.query(Listing).filter_by(url=c).one().gone_at == gone_at

    # c comes back in a later sweep: the listing upsert clears gone_at
    t3 = T0 + timedelta(days=3)
    run(store, t3, [page_record(c, t3, "c-back")])
    with Session(store.engine) as session:
        assert session.query(Listing).filter_by(url=c).one().gone_at is None

    with pytest.raises(ValueError):
        h.mark_gone(999_999, seen_urls=(), domain="mall.example.cn")


def test_mark_gone_host_and_port(stores: tuple[Store, HistoryStore]) -> None:
    store, h = stores
    a = "http://127.0.0.1:8765/products/p1.html"
    b = "http://127.0.0.1:9999/products/p1.html"
    run(store, T0, [page_record(a, T0, "a"), page_record(b, T0, "b")])
    r2 = run(store, T0 + timedelta(days=1), [])
    assert h.mark_gone(r2, seen_urls=(), domain="127.0.0.1:8765", now=T0 + timedelta(days=1)) == 1
