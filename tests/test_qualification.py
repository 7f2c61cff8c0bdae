"""Seller qualification rules (analyzers/qualification.py) on hand-built shop pages."""

from __future__ import annotations

from datetime import UTC, date, datetime

from mdwatch.analyzers import qualification
from mdwatch.analyzers.model import Context, ImageRef, Link, Page, TextBlock
from mdwatch.analyzers.qualification import licence_validity_dates

NOW = datetime(2026, 11, 25, tzinfo=UTC)
CTX = Context(now=NOW)
LICENCE_IMG = ImageRef("https://shop.example/img/lic.png", alt="医疗器械经营许可证")


def _shop(
    *lines: str,
    products: tuple[str, ...] = ("电子血压计 KR-W5", "医用外科口罩"),
    images: tuple[ImageRef, ...] = (LICENCE_IMG,),
    links: tuple[Link, ...] = (),
    related: tuple[Page, ...] = (),
) -> Page:
    product_links = tuple(Link(f"https://shop.example/products/p{i}.html", n) for i, n in enumerate(products))
    return Page(
        url="https://shop.example/shops/a/index.html",
        kind="shop",
        title="某某医疗器械旗舰店",
        blocks=tuple(TextBlock(line) for line in lines),
        images=images,
        links=(Link("/index.html", "首页"), *product_links, *links),
        related=related,
    )


def _qual_page(*lines: str, images: tuple[ImageRef, ...] = ()) -> Page:
    return Page(
        url="https://shop.example/shops/a/qualification.html",
        kind="shop",
        title="店铺资质",
        blocks=tuple(TextBlock(line) for line in lines),
        images=images,
    )


def _rules(page: Page, ctx: Context = CTX) -> list[str]:
    return [f.rule for f in qualification.analyze(page, ctx)]


# --- SHOP_QUALIFICATION_MISSING ---------------------------------------------------------------


def test_qualification_missing_fires() -> None:
    page = _shop(images=(ImageRef("https://s/img/bizlic.png", alt="营业执照"),))
    assert "SHOP_QUALIFICATION_MISSING" in _rules(page)


def test_qualification_missing_not_by_text_mention_only() -> None:
    page = _shop("医疗器械经营许可证：苏锡药监械经营许20200001号", images=())
    assert "SHOP_QUALIFICATION_MISSING" in _rules(page)


def test_qualification_shown_by_image_file_name_link_or_related_page() -> None:
    variants = [
        _shop(images=(ImageRef("https://s/img/a.png", caption="第二类医疗器械经营备案凭证"),)),
        _shop(images=(ImageRef("https://s/img/jyxkz.jpg"),)),
        _shop(images=(), links=(Link("https://s/e", "电子证照"),)),
        _shop(images=(ImageRef("https://s/img/a.png", alt="医疗器械生产许可证"),)),
        _shop(images=(), related=(_qual_page(images=(LICENCE_IMG,)),)),
    ]
    for page in variants:
        assert "SHOP_QUALIFICATION_MISSING" not in _rules(page)


def test_qualification_exempt_for_class1_and_filing_exempt_class2_only() -> None:
    exempt = _shop(
        images=(), products=("创口贴 72mm×19mm", "电子血压计 KR-W5", "天然胶乳橡胶避孕套", "医用棉签")
    )
    assert "SHOP_QUALIFICATION_MISSING" not in _rules(exempt)
    # one ordinary class II product (体温计 is not filing-exempt) ends the exemption
    mixed = _shop(images=(), products=("创口贴", "医用电子体温计 AC-T10"))
    assert "SHOP_QUALIFICATION_MISSING" in _rules(mixed)
    # a shop with no product links is not exempt
    assert "SHOP_QUALIFICATION_MISSING" in _rules(_shop(images=(), products=()))


# --- SHOP_SCOPE_EXCEEDED ----------------------------------------------------------------------


def test_scope_exceeded_class3_with_filing_only_or_nothing() -> None:
    lenses = ("软性亲水接触镜 日抛型", "彩色隐形眼镜 美瞳")
    filing_only = _shop("第二类医疗器械经营备案凭证：苏锡药监械经营备20200001号", products=lenses)
    [f] = [f for f in qualification.analyze(filing_only, CTX) if f.rule == "SHOP_SCOPE_EXCEEDED"]
    assert "仅展示第二类医疗器械经营备案" in f.message
    assert [e.match for e in f.evidence] == list(lenses)
    assert "SHOP_SCOPE_EXCEEDED" in _rules(_shop(products=("胰岛素泵 P1",)))


def test_scope_exceeded_silent_with_licence_number_or_no_class3() -> None:
    lic = _shop(
        products=("软性亲水接触镜 日抛型",),
        related=(_qual_page("许可证编号：苏锡药监械经营许20200001号"),),
    )
    assert "SHOP_SCOPE_EXCEEDED" not in _rules(lic)
    assert "SHOP_SCOPE_EXCEEDED" not in _rules(
        _shop(products=("隐形眼镜伴侣盒", "美瞳线眼线笔", "电子血压计"))
    )


# --- SHOP_LICENSE_EXPIRED / EXPIRING ----------------------------------------------------------


def _licence_shop(*lines: str) -> Page:
    return _shop(related=(_qual_page(*lines),))


def test_expired_formats() -> None:
    for shown in (
        "有效期至：2026-08-31",
        "有效期至 2026/8/31",
        "有效期至2026年8月31日",
        "有效期限：2021年09月01日至2026年08月31日",
    ):
        page = _licence_shop("医疗器械经营许可证", "许可证编号：苏锡药监械经营许20210001号", shown)
        findings = [f for f in qualification.analyze(page, CTX) if f.rule == "SHOP_LICENSE_EXPIRED"]
        assert len(findings) == 1, shown
        assert findings[0].evidence[0].detail["valid_until"] == "2026-08-31"
        assert findings[0].evidence[0].page_url == "https://shop.example/shops/a/qualification.html"


def test_expiring_within_30_days_and_today() -> None:
    for until, expected in (
        ("2026-11-25", True),
        ("2026-12-25", True),
        ("2026-12-26", False),
        ("2030-01-01", False),
    ):
        page = _licence_shop("医疗器械经营许可证", f"有效期至：{until}")
        fired = _rules(page)
        assert ("SHOP_LICENSE_EXPIRING" in fired) is expected, until
        assert "SHOP_LICENSE_EXPIRED" not in fired


def test_today_is_shanghai_date() -> None:
    page = _licence_shop("医疗器械经营许可证", "有效期至：2026-11-25")
    late = Context(now=datetime(2026, 11, 25, 17, 0, tzinfo=UTC))  # 2026-11-26 in Shanghai
    assert "SHOP_LICENSE_EXPIRED" in _rules(page, late)
    assert "SHOP_LICENSE_EXPIRED" not in _rules(page)


def test_dates_of_filings_and_business_licences_ignored() -> None:
    page = _licence_shop(
        "第二类医疗器械经营备案凭证",
        "备案编号：苏锡药监械经营备20150012号",
        "备案日期：2015年03月01日",
        "有效期至：2020-01-01",
        "营业执照",
        "营业期限：2015年03月01日至长期",
        "有效期：2010-01-01至2020-01-01",
    )
    fired = _rules(page)
    assert "SHOP_LICENSE_EXPIRED" not in fired and "SHOP_LICENSE_EXPIRING" not in fired


def test_licence_then_business_licence_on_one_page() -> None:
    text = (
        "医疗器械经营许可证\n许可证编号：苏锡药监械经营许20200001号\n有效期限：2020年05月09日至2025年05月08日\n"
        "营业执照\n有效期：2015年01月01日至2035年01月01日"
    )
    assert [v.until for v in licence_validity_dates(text)] == [date(2025, 5, 8)]


def test_production_licence_counts_and_promotion_range_does_not() -> None:
    assert [v.until for v in licence_validity_dates("医疗器械生产许可证 有效期至2026-01-31")] == [
        date(2026, 1, 31)
    ]
    assert licence_validity_dates("经营许可证 见资质页。双十一活动时间：2026.11.01-2026.11.11") == []


def test_non_shop_pages_ignored() -> None:
    page = Page(url="https://s/p", kind="product", blocks=(TextBlock("经营许可证 有效期至2020-01-01"),))
    assert qualification.analyze(page, CTX) == []
