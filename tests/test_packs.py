"""Rule packs: loading, combining, severity overrides, and scans limited to a pack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mdwatch.analyzers.catalogue import finding, rules
from mdwatch.analyzers.model import Evidence
from mdwatch.analyzers.packs import (
    PackError,
    apply_severity,
    combine,
    load_pack,
    pack_names,
    parse_pack_names,
    select_packs,
)
from mdwatch.demo.server import DemoServer, serve


def test_shipped_packs_load_and_name_only_catalogue_rules() -> None:
    assert set(pack_names()) >= {"device-national", "hainan", "drug-yunnan"}
    known = set(rules())
    for name in pack_names():
        pack = load_pack(name)
        assert pack.name == name and pack.title
        assert pack.rules and pack.rules <= known
        assert set(pack.severities) <= pack.rules


def test_device_national_is_the_device_rules_without_the_hainan_ones() -> None:
    pack = load_pack("device-national")
    assert "SHOP_QUALIFICATION_MISSING" in pack.rules and "PRODUCT_UNREGISTERED" in pack.rules
    assert "PRODUCT_RETAIL_BANNED" not in pack.rules and "CLAIM_NONDEVICE_MEDICAL" not in pack.rules
    assert not any(r.startswith("DRUG_") for r in pack.rules)
    assert pack.severities == {}


def test_hainan_extends_national_and_raises_its_emphasis() -> None:
    hainan, national = load_pack("hainan"), load_pack("device-national")
    assert national.rules < hainan.rules
    assert {"PRODUCT_RETAIL_BANNED", "CLAIM_NONDEVICE_MEDICAL"} <= hainan.rules
    assert hainan.severities["PRODUCT_RETAIL_BANNED"] == "critical"
    assert hainan.severities["CLAIM_NONDEVICE_MEDICAL"] == "critical"
    assert rules()["CLAIM_NONDEVICE_MEDICAL"].severity == "high"  # the catalogue itself is untouched


def test_drug_yunnan_is_drug_rules_and_claims() -> None:
    pack = load_pack("drug-yunnan")
    assert {r for r in rules() if r.startswith("DRUG_")} <= pack.rules
    assert "CLAIM_GUARANTEE" in pack.rules
    assert not any(r.startswith(("SHOP_", "PRODUCT_")) for r in pack.rules)


def test_combine_unions_rules_and_takes_the_most_severe_override() -> None:
    enabled, overrides = combine(["device-national", "drug-yunnan"])
    assert load_pack("device-national").rules | load_pack("drug-yunnan").rules == enabled
    assert overrides == {}
    enabled, overrides = combine(["hainan", "device-national"])
    assert overrides["CLAIM_NONDEVICE_MEDICAL"] == "critical"


def test_unknown_pack_and_empty_selection_are_errors() -> None:
    with pytest.raises(PackError, match="没有名为"):
        combine(["no-such-pack"])
    with pytest.raises(PackError):
        combine([])


def test_parse_pack_names() -> None:
    assert parse_pack_names("device-national,hainan") == ("device-national", "hainan")
    assert parse_pack_names(["hainan， drug-yunnan", "hainan"]) == ("hainan", "drug-yunnan")


def test_apply_severity_is_pure_and_only_touches_overridden_rules() -> None:
    a = finding("CLAIM_NONDEVICE_MEDICAL", [Evidence("text", "治疗高血压", "治疗")])
    b = finding("CLAIM_ABSOLUTE")
    out = apply_severity([a, b], {"CLAIM_NONDEVICE_MEDICAL": "critical"})
    assert [f.severity for f in out] == ["critical", "medium"]
    assert out[0].evidence == a.evidence and out[0].message == a.message
    assert a.severity == "high"  # the input is unchanged
    assert apply_severity([a], {}) == [a]


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with serve() as server:
        yield server


@pytest.mark.network
def test_scan_urls_with_a_pack_runs_only_its_rules_at_its_severities(demo: DemoServer, sqlite_url: str) -> None:
    from mdwatch.scheduler.jobs.scan import scan_urls

    url = demo.url("/products/p037.html")  # PRODUCT_REGNO_MISSING, PRODUCT_CERT_MISSING, ...
    everything = scan_urls([url], store=False, db_url=sqlite_url)
    found = {f.rule: f.severity for f in everything.ok[0].findings}
    assert found["PRODUCT_REGNO_MISSING"] == "high"
    hainan = scan_urls([url], store=True, db_url=sqlite_url, selection=select_packs("hainan"))
    assert {f.rule: f.severity for f in hainan.ok[0].findings}["PRODUCT_REGNO_MISSING"] == "critical"
    from mdwatch.storage.store import Store

    with Store.open(sqlite_url) as db:  # the overridden severity is the one stored
        assert hainan.run_id is not None
        assert {f.severity for f in db.findings(hainan.run_id, rule="PRODUCT_REGNO_MISSING")} == {"critical"}
    drug, _ = combine(["drug-yunnan"])
    limited = scan_urls([url], store=False, db_url=sqlite_url, selection=select_packs(["drug-yunnan"]))
    assert {f.rule for f in limited.ok[0].findings} <= drug
    assert "PRODUCT_REGNO_MISSING" not in {f.rule for f in limited.ok[0].findings}
