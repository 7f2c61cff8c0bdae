"""Registry rules and product-certificate display (analyzers/registry_rules.py) on hand-built pages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from mdwatch.analyzers import registry_rules
from mdwatch.analyzers.model import Context, ImageRef, Link, Page, Registration, RegistrySnapshot, TextBlock
from mdwatch.analyzers.registry_rules import model_matches, same_company, same_product_name

NOW = datetime(2026, 11, 25, tzinfo=UTC)
NUMBER = "苏械注准20172070123"
CERT_IMG = ImageRef("https://shop.example/img/zcz.png", alt="医疗器械注册证")
REC = Registration(
    number=NUMBER,
    product_name="电子血压计",
    registrant="无锡康瑞医疗科技有限公司",
    manufacturer="无锡康瑞医疗科技有限公司",
    model_specs=("KR-W5", "KR-B21"),
    valid_until=date(2027, 5, 31),
    brand_names=("康瑞",),
    source="csv",
)


def _page(
    *lines: str,
    fields: dict[str, str] | None = None,
    images: tuple[ImageRef, ...] = (CERT_IMG,),
    links: tuple[Link, ...] = (),
    title: str = "康瑞电子血压计 家用上臂式",
) -> Page:
    return Page(
        url="https://shop.example/item/1",
        kind="product",
        title=title,
        blocks=tuple(TextBlock(line) for line in lines),
        images=images,
        links=links,
        fields=fields or {},
    )


def _product(number: str = NUMBER, **fields: str) -> Page:
    shown = {"product_name": "电子血压计", "registration_no": number, **fields}
    lines = [f"{'产品名称' if k == 'product_name' else k}：{v}" for k, v in shown.items()]
    return _page(*lines, fields=shown)


def _ctx(*records: Registration, looked_up: tuple[str, ...] = (NUMBER,), complete: bool = False) -> Context:
    snap = RegistrySnapshot(
        records={r.number: r for r in records},
        looked_up=frozenset(looked_up),
        loaded=True,
        complete=complete,
        description="UDID 2026-11 (12,345 条)",
    )
    return Context(now=NOW, registry=snap)


def _rules(page: Page, ctx: Context) -> list[str]:
    return [f.rule for f in registry_rules.analyze(page, ctx)]


# --- PRODUCT_UNREGISTERED ---------------------------------------------------------------------


def test_unregistered_fires_with_registry_description_and_partial_note() -> None:
    findings = registry_rules.analyze(_product(), _ctx())
    [f] = [f for f in findings if f.rule == "PRODUCT_UNREGISTERED"]
    assert "UDID 2026-11 (12,345 条)" in f.message
    assert "（非全量注册数据库，结果仅供参考）" in f.message
    assert f.evidence[0].match == NUMBER
    assert f.severity == "critical"


def test_unregistered_complete_registry_has_no_partial_note() -> None:
    [f] = [
        f for f in registry_rules.analyze(_product(), _ctx(complete=True)) if f.rule == "PRODUCT_UNREGISTERED"
    ]
    assert "非全量" not in f.message


def test_unregistered_silent_when_found_not_looked_up_or_invalid() -> None:
    assert "PRODUCT_UNREGISTERED" not in _rules(_product(), _ctx(REC))
    assert "PRODUCT_UNREGISTERED" not in _rules(_product(), _ctx(looked_up=()))
    # malformed number (class digit 1): PRODUCT_REGNO_INVALID's job, not "unregistered"
    bad = "苏械注准20171070123"
    assert "PRODUCT_UNREGISTERED" not in _rules(_product(bad), _ctx(looked_up=(bad,)))


def test_unregistered_one_finding_per_number() -> None:
    page = _product()  # the number is in the text and in fields: one finding
    assert _rules(page, _ctx()).count("PRODUCT_UNREGISTERED") == 1


def test_no_registry_registry_rules_silent() -> None:
    page = _product(registrant="别的公司", model_spec="XX-9")
    for ctx in (Context(now=NOW), _ctx_unloaded()):
        fired = _rules(page, ctx)
        assert not {"PRODUCT_UNREGISTERED", "PRODUCT_REG_INVALID_STATUS", "PRODUCT_INFO_MISMATCH"} & set(
            fired
        )


def _ctx_unloaded() -> Context:
    snap = RegistrySnapshot(
        records={}, looked_up=frozenset({NUMBER}), loaded=False, complete=False, description=""
    )
    return Context(now=NOW, registry=snap)


# --- PRODUCT_REG_INVALID_STATUS ---------------------------------------------------------------


def _with(**changes: object) -> Registration:
    return replace(REC, **changes)  # type: ignore[arg-type]


def test_status_cancelled_revoked_expired_fire() -> None:
    for status in ("cancelled", "revoked", "expired"):
        assert "PRODUCT_REG_INVALID_STATUS" in _rules(_product(), _ctx(_with(status=status)))


def test_valid_until_passed_fires_future_does_not() -> None:
    assert "PRODUCT_REG_INVALID_STATUS" in _rules(_product(), _ctx(_with(valid_until=date(2026, 11, 24))))
    assert "PRODUCT_REG_INVALID_STATUS" not in _rules(_product(), _ctx(_with(valid_until=date(2026, 11, 25))))
    assert "PRODUCT_REG_INVALID_STATUS" not in _rules(_product(), _ctx(REC))


def test_valid_until_uses_china_date() -> None:
    # 2026-11-24T17:00Z is already 2026-11-25 in Shanghai
    ctx = _ctx(_with(valid_until=date(2026, 11, 24)))
    late = Context(now=datetime(2026, 11, 24, 17, 0, tzinfo=UTC), registry=ctx.registry)
    early = Context(now=datetime(2026, 11, 24, 15, 0, tzinfo=UTC), registry=ctx.registry)
    assert "PRODUCT_REG_INVALID_STATUS" in _rules(_product(), late)
    assert "PRODUCT_REG_INVALID_STATUS" not in _rules(_product(), early)


def test_udid_record_status_ignored_but_valid_until_used() -> None:
    udid = _with(source="udid", status="cancelled", valid_until=None)
    assert "PRODUCT_REG_INVALID_STATUS" not in _rules(_product(), _ctx(udid))
    udid_expired = _with(source="udid", valid_until=date(2025, 1, 1))
    assert "PRODUCT_REG_INVALID_STATUS" in _rules(_product(), _ctx(udid_expired))


def test_legacy_number_fires_without_registry() -> None:
    legacy = "苏食药监械(准)字2013第2200456号"
    page = _page(f"注册证编号：{legacy}", fields={"registration_no": legacy})
    findings = [
        f for f in registry_rules.analyze(page, Context(now=NOW)) if f.rule == "PRODUCT_REG_INVALID_STATUS"
    ]
    assert len(findings) == 1
    assert "旧格式" in findings[0].message


# --- PRODUCT_INFO_MISMATCH --------------------------------------------------------------------


def test_info_mismatch_lists_every_field() -> None:
    page = _product(product_name="电子体温计", registrant="深圳某某科技有限公司", model_spec="KR-W55")
    [f] = [f for f in registry_rules.analyze(page, _ctx(REC)) if f.rule == "PRODUCT_INFO_MISMATCH"]
    fields = [e.detail["field"] for e in f.evidence]
    assert fields == ["产品名称", "注册人", "型号规格"]
    name_ev = f.evidence[0]
    assert name_ev.detail == {"field": "产品名称", "shown": "电子体温计", "registered": "电子血压计"}
    assert name_ev.match == "电子体温计" and "电子体温计" in name_ev.snippet
    assert "KR-W5" in f.evidence[2].detail["registered"]


def test_info_mismatch_tolerant_matches_do_not_fire() -> None:
    page = _product(
        product_name="康瑞 电子血压计",
        registrant="无锡康瑞医疗科技有限公司 ",
        manufacturer="无锡康瑞医疗科技有限公司",
        model_spec="kr w5 腕式",
    )
    assert "PRODUCT_INFO_MISMATCH" not in _rules(page, _ctx(REC))
    # full-width, spacing, page brand field
    page2 = _product(product_name="欧姆 电子 血压计", brand="欧姆", model_spec="ＫＲ－Ｂ２１")
    assert "PRODUCT_INFO_MISMATCH" not in _rules(page2, _ctx(REC))


def test_info_mismatch_only_shown_fields() -> None:
    page = _page(f"注册证编号：{NUMBER}", fields={"registration_no": NUMBER})
    assert "PRODUCT_INFO_MISMATCH" not in _rules(page, _ctx(REC))


def test_helpers() -> None:
    assert same_product_name("康瑞 电子血压计", "电子血压计")
    assert same_product_name("【康瑞】电子血压计", "电子血压计", ("康瑞",))
    assert not same_product_name("电子血压计", "电子体温计")
    assert not same_product_name("血压计", "电子血压计")
    assert same_company("无锡康瑞医疗科技有限公司", ["无锡 康瑞医疗科技有限公司"])
    assert not same_company("苏州康瑞医疗科技有限公司", ["无锡康瑞医疗科技有限公司"])
    assert model_matches("KR-W5 腕式", ["KR-W5"])
    assert model_matches("kr_w5", ["KR-W5"])
    assert model_matches("KR-W5/KR-W6", ["KR-W5、KR-W6"])
    # every model a page lists must be registered: KR-W5 is not on this registration
    assert not model_matches("KR-W5/KR-W6", ["KR-W6"])
    assert not model_matches("KR-W55", ["KR-W5"])
    assert not model_matches("KR-W6", ["KR-W5"])


# --- PRODUCT_CERT_MISSING ---------------------------------------------------------------------


def test_cert_missing_fires_without_cert_image_or_link() -> None:
    page = _page("产品名称：电子血压计", images=(ImageRef("https://s/x/main.png", alt="电子血压计主图"),))
    assert "PRODUCT_CERT_MISSING" in _rules(page, Context(now=NOW))


def test_cert_shown_by_alt_caption_file_name_or_link() -> None:
    shown = [
        dict(images=(ImageRef("https://s/a.png", alt="第一类医疗器械备案信息表"),)),
        dict(images=(ImageRef("https://s/a.png", caption="医疗器械注册证"),)),
        dict(images=(ImageRef("https://s/img/zhucezheng-01.jpg"),)),
        dict(images=(ImageRef("https://s/img/%E6%B3%A8%E5%86%8C%E8%AF%81.jpg"),)),
        dict(images=(), links=(Link("https://s/cert", "查看电子证书"),)),
    ]
    for kw in shown:
        page = _page("产品名称：电子血压计", **kw)  # type: ignore[arg-type]
        assert "PRODUCT_CERT_MISSING" not in _rules(page, Context(now=NOW)), kw


def test_device_rules_skip_drug_listing() -> None:
    page = _page("通用名称：布洛芬缓释胶囊", "批准文号：国药准字H10900089", images=(), title="布洛芬")
    assert _rules(page, _ctx()) == []


# --- PRODUCT_RETAIL_BANNED --------------------------------------------------------------------


def test_retail_banned_by_name_and_by_registration_category() -> None:
    page = _page("产品名称：冠脉支架", fields={"product_name": "药物洗脱冠脉支架"})
    assert "PRODUCT_RETAIL_BANNED" in _rules(page, Context(now=NOW))
    number = "国械注准20163130001"
    rec = Registration(number=number, product_name="透明质酸钠凝胶", category_code="13-09-02")
    page2 = _page(
        f"注册证编号：{number}", fields={"registration_no": number, "product_name": "透明质酸钠凝胶"}
    )
    assert "PRODUCT_RETAIL_BANNED" in _rules(page2, _ctx(rec, looked_up=(number,)))


def test_retail_banned_silent_for_home_devices() -> None:
    for name in ("电子血压计", "手机支架", "家用医用冷敷贴"):
        page = _page(f"产品名称：{name}", fields={"product_name": name}, title=name)
        assert "PRODUCT_RETAIL_BANNED" not in _rules(page, _ctx(REC)), name
