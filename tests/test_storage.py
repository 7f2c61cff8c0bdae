"""Storage on every backend: SQLite and PostgreSQL (see ``db_url`` in conftest)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from mdwatch.storage import (
    CaptureRecord,
    FindingRecord,
    PageRecord,
    RunRecord,
    Store,
    default_db_url,
    normalize_db_url,
)
from mdwatch.storage.database import DatabaseUnavailable
from mdwatch.storage.schema import Listing, Shop

SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2025, 3, 1, 10, 0, tzinfo=SHANGHAI)


def capture(body: bytes, url: str = "https://shop.example.cn/item/1", at: datetime = T0) -> CaptureRecord:
    return CaptureRecord(
        url=url,
        final_url=url,
        status=200,
        headers={"Content-Type": "text/html; charset=utf-8"},
        body=body,
        sha256=hashlib.sha256(body).hexdigest(),
        fetched_at=at,
        method="http",
        encoding="utf-8",
    )


def finding(rule: str = "CLAIM_GUARANTEE", severity: str = "high") -> FindingRecord:
    return FindingRecord(
        rule=rule,
        severity=severity,
        article="《医疗器械广告审查发布标准》第七条",
        message="保证治愈",
        evidence=[{"source": "text", "snippet": "保证治愈，无效退款", "span": [0, 4]}],
    )


def product_page(
    url: str = "https://shop.example.cn/item/1",
    body: bytes = "<html>血糖仪 保证治愈</html>".encode(),
    at: datetime = T0,
    title: str = "血糖仪",
    findings: list[FindingRecord] | None = None,
) -> PageRecord:
    return PageRecord(
        capture=capture(body, url, at),
        url=url,
        kind="product",
        title=title,
        extracted={"registration_numbers": ["国械注准20193070001"], "shop_url": "https://shop.example.cn/"},
        findings=[finding()] if findings is None else findings,
        related_captures=[capture(b"\x89PNG fake image", url + "/img.png", at)],
    )


def shop_page(at: datetime = T0) -> PageRecord:
    return PageRecord(
        capture=capture("<html>某某医疗器械旗舰店</html>".encode(), "https://shop.example.cn/", at),
        url="https://shop.example.cn/",
        kind="shop",
        title="某某医疗器械旗舰店",
        extracted={"license_numbers": ["京食药监械经营许20150001号"]},
        findings=[finding("SHOP_NO_LICENSE", "medium")],
    )


def run_of(*pages: PageRecord, at: datetime = T0) -> RunRecord:
    return RunRecord(
        kind="scan",
        target="https://shop.example.cn/",
        started_at=at,
        finished_at=at + timedelta(seconds=5),
        pages=list(pages),
        stats={"pages": len(pages)},
    )


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    try:
        yield s
    finally:
        s.close()


def test_tables_created(store: Store) -> None:
    names = set(inspect(store.engine).get_table_names())
    assert {"captures", "runs", "shops", "listings", "pages", "findings"} <= names
    finding_indexes = {tuple(ix["column_names"]) for ix in inspect(store.engine).get_indexes("findings")}
    assert ("rule",) in finding_indexes and ("run_id",) in finding_indexes and ("severity",) in finding_indexes
    assert all(v == 0 for v in store.counts().values())
    if store.dialect == "postgresql":  # isolated in the fixture's throw-away schema
        with store.engine.connect() as conn:
            assert str(conn.execute(text("SELECT current_schema()")).scalar()).startswith("mdw_test_")


def test_open_twice_keeps_data(db_url: str) -> None:
    with Store.open(db_url) as s:
        s.save_run(run_of(product_page()))
    with Store.open(db_url) as s:
        assert s.counts()["runs"] == 1


def test_save_run_round_trip(store: Store) -> None:
    page = product_page()
    run_id = store.save_run(run_of(shop_page(), page))
    counts = store.counts()
    assert counts["runs"] == 1
    assert counts["pages"] == 2
    assert counts["captures"] == 3  # shop page, product page, product image
    assert counts["page_captures"] == 1
    assert counts["shops"] == 1
    assert counts["listings"] == 1
    assert counts["findings"] == 2

    [stored_run] = store.runs(10)
    assert stored_run.id == run_id
    assert stored_run.kind == "scan"
    assert stored_run.status == "ok"
    assert stored_run.stats == {"pages": 2}
    assert stored_run.started_at == T0

    got = store.get_capture(page.capture.sha256)
    assert got == page.capture.__class__(**{**page.capture.__dict__, "fetched_at": T0.astimezone(UTC)})
    assert got is not None and got.body == page.capture.body
    assert store.get_capture("0" * 64) is None

    findings = store.findings(run_id=run_id, rule="CLAIM_GUARANTEE")
    assert len(findings) == 1
    f = findings[0]
    assert f.page_url == page.url
    assert f.capture_sha256 == page.capture.sha256
    assert f.article == "《医疗器械广告审查发布标准》第七条"
    assert f.evidence == [{"source": "text", "snippet": "保证治愈，无效退款", "span": [0, 4]}]
    assert len(store.findings()) == 2
    assert store.findings(run_id=run_id + 1) == []

    with store._sessions() as session:
        listing = session.scalars(select(Listing)).one()
        shop = session.scalars(select(Shop)).one()
        assert listing.shop_id == shop.id
        assert shop.name == "某某医疗器械旗舰店"
        assert listing.title == "血糖仪"
        assert listing.gone_at is None


def test_same_body_stored_once(store: Store) -> None:
    a = store.save_run(run_of(product_page()))
    b = store.save_run(run_of(product_page(at=T0 + timedelta(days=1))))
    assert a != b
    counts = store.counts()
    assert counts["captures"] == 2  # page + image, once each
    assert counts["pages"] == 2
    # the first capture is immutable evidence: its fetch time is not overwritten
    got = store.get_capture(product_page().capture.sha256)
    assert got is not None and got.fetched_at == T0


def test_failure_mid_save_leaves_no_rows(store: Store) -> None:
    bad = PageRecord(
        capture=capture(b"other body"),
        url=None,  # type: ignore[arg-type]  # violates NOT NULL after earlier rows were flushed
        kind="product",
        title="x",
    )
    with pytest.raises(Exception):  # noqa: B017 - IntegrityError (driver-specific wrapping)
        store.save_run(run_of(shop_page(), product_page(), bad))
    assert all(v == 0 for v in store.counts().values()), store.counts()


def test_exception_inside_save_rolls_back(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.save_run(run_of(product_page()))
    before = store.counts()
    original = Store._save_page
    calls = 0

    def failing(self: Store, *args: object, **kwargs: object) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("boom")
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "_save_page", failing)
    later = T0 + timedelta(days=3)
    with pytest.raises(RuntimeError, match="boom"):
        store.save_run(run_of(product_page(body=b"new body", at=later), shop_page(later), at=later))
    assert store.counts() == before
    with store._sessions() as session:
        assert session.scalars(select(Listing.last_seen)).one() == T0


def test_naive_datetime_refused(store: Store) -> None:
    naive = datetime(2025, 3, 1, 10, 0)
    with pytest.raises(Exception, match="naive"):
        store.save_run(run_of(product_page(), at=naive))
    assert store.counts()["runs"] == 0


def test_listing_upsert_updates_last_seen(store: Store) -> None:
    later = T0 + timedelta(days=7)
    store.save_run(run_of(product_page(title="旧标题")))
    assert store.mark_listing_gone("https://shop.example.cn/item/1", T0 + timedelta(days=1))
    store.save_run(run_of(product_page(body=b"changed", at=later, title="新标题"), at=later))
    # an older sighting arriving late neither moves last_seen back nor overwrites the title
    earlier = T0 - timedelta(days=2)
    store.save_run(run_of(product_page(body=b"older", at=earlier, title="更旧"), at=earlier))
    with store._sessions() as session:
        listing = session.scalars(select(Listing)).one()
        assert listing.first_seen == earlier
        assert listing.last_seen == later
        assert listing.title == "新标题"
        assert listing.gone_at is None  # seen again after it was marked gone
        shop = session.scalars(select(Shop)).one()
        assert shop.first_seen == earlier and shop.last_seen == later
    assert store.counts()["listings"] == 1
    assert store.counts()["pages"] == 3
    assert not store.mark_listing_gone("https://nowhere.example/", later)


def test_datetimes_tz_aware(store: Store) -> None:
    run_id = store.save_run(run_of(product_page()))
    [run] = store.runs(1)
    assert run.started_at.tzinfo is not None and run.started_at.utcoffset() == timedelta(0)
    assert run.started_at == T0
    assert run.finished_at == T0 + timedelta(seconds=5)
    [f] = store.findings(run_id)
    assert f.created_at.tzinfo is not None
    cap = store.get_capture(product_page().capture.sha256)
    assert cap is not None and cap.fetched_at.tzinfo is not None
    with store._sessions() as session:
        listing = session.scalars(select(Listing)).one()
        assert listing.first_seen.tzinfo is not None and listing.first_seen == T0


def test_rule_summary_counts(store: Store) -> None:
    page1 = product_page(findings=[finding(), finding(), finding("WARNING_MISSING", "low")])
    page2 = product_page(
        url="https://shop.example.cn/item/2", body=b"two", findings=[finding(), finding("X", "medium")]
    )
    run_id = store.save_run(run_of(page1, page2))
    other = store.save_run(run_of(product_page(body=b"three")))
    assert store.rule_summary(run_id) == [
        ("CLAIM_GUARANTEE", "high", 3),
        ("WARNING_MISSING", "low", 1),
        ("X", "medium", 1),
    ]
    assert store.rule_summary(other) == [("CLAIM_GUARANTEE", "high", 1)]
    assert store.rule_summary(other + 100) == []
    assert len(store.findings(rule="CLAIM_GUARANTEE")) == 4


def test_runs_newest_first_and_limit(store: Store) -> None:
    ids = [store.save_run(run_of(product_page(), at=T0 + timedelta(hours=i))) for i in range(3)]
    assert [r.id for r in store.runs(2)] == [ids[2], ids[1]]


def test_default_db_url_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MDWATCH_DB_URL", "postgresql://u@db.example/mdwatch")
    assert default_db_url() == "postgresql+psycopg://u@db.example/mdwatch"
    monkeypatch.setenv("MDWATCH_DB_URL", "sqlite:///" + (tmp_path / "x.db").as_posix())
    assert default_db_url() == "sqlite:///" + (tmp_path / "x.db").as_posix()


def test_default_db_url_without_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MDWATCH_DB_URL", raising=False)
    monkeypatch.setattr("platformdirs.user_data_dir", lambda *a, **k: str(tmp_path / "data" / "mdwatch"))
    url = default_db_url()
    assert url == "sqlite:///" + (tmp_path / "data" / "mdwatch" / "mdwatch.sqlite3").as_posix()
    assert (tmp_path / "data" / "mdwatch").is_dir()


def test_normalize_db_url(tmp_path: Path) -> None:
    assert normalize_db_url("postgres://a@h/d") == "postgresql+psycopg://a@h/d"
    assert normalize_db_url("postgresql://a@h:5432/d") == "postgresql+psycopg://a@h:5432/d"
    assert normalize_db_url("postgresql+psycopg://a@h/d") == "postgresql+psycopg://a@h/d"
    assert normalize_db_url(str(tmp_path / "f.sqlite3")) == "sqlite:///" + (tmp_path / "f.sqlite3").as_posix()
    assert normalize_db_url("sqlite:///rel.db") == "sqlite:///rel.db"
    assert normalize_db_url(":memory:") == "sqlite://"


def test_open_plain_path_and_memory(tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnavailable, match="目录不存在"):  # a missing directory is not created (issue 10)
        Store.open(str(tmp_path / "sub" / "db.sqlite3"))
    assert not (tmp_path / "sub").exists()
    (tmp_path / "sub").mkdir()
    with Store.open(str(tmp_path / "sub" / "db.sqlite3")) as s:
        s.save_run(run_of(product_page()))
    assert (tmp_path / "sub" / "db.sqlite3").exists()
    with Store.open(":memory:") as s:
        s.save_run(run_of(product_page()))
        assert s.counts()["runs"] == 1
