"""CLAIM_SCOPE_EXCEEDED and CLAIM_NONDEVICE_MEDICAL against the labelled corpus tests/corpus/scope_cases.yaml."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from mdwatch.analyzers import scope
from mdwatch.analyzers.model import Context, ImageText, Page, Registration, RegistrySnapshot, TextBlock

CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "corpus" / "scope_cases.yaml").read_text(encoding="utf-8")
)["cases"]
NUMBER = "苏械注准20172090123"
NOW = datetime(2026, 11, 26)


def _page_and_ctx(case: dict[str, Any]) -> tuple[Page, Context]:
    lines = [line for line in case["page_text"].split("\n") if line]
    fields: dict[str, str] = {}
    if case["has_registration_number"]:
        lines.append(f"注册证编号：{NUMBER}")
        fields["registration_no"] = NUMBER
    ocr = (ImageText("https://shop.example/detail.jpg", case["ocr_text"]),) if case.get("ocr_text") else ()
    page = Page(
        url=f"https://shop.example/item/{case['id']}",
        kind="product",
        title=lines[0],
        blocks=tuple(TextBlock(line) for line in lines[1:]),
        fields=fields,
        image_texts=ocr,
    )
    records: dict[str, Registration] = {}
    if case["registered_scope"]:
        records[NUMBER] = Registration(number=NUMBER, product_name=lines[0], scope=case["registered_scope"])
    registry = RegistrySnapshot(
        records=records,
        looked_up=frozenset({NUMBER}),
        loaded=True,
        complete=False,
        description="test registry",
    )
    return page, Context(now=NOW, registry=registry)


def _fired(case: dict[str, Any]) -> set[str]:
    page, ctx = _page_and_ctx(case)
    return {f.rule for f in scope.analyze(page, ctx)}


def test_corpus_size() -> None:
    assert len(CASES) >= 60
    for rule in scope.RULES:
        assert sum(rule in c["rules"] for c in CASES) >= 10


@pytest.mark.parametrize("rule", scope.RULES)
def test_precision_recall(rule: str) -> None:
    tp = fp = fn = 0
    misses: list[str] = []
    for case in CASES:
        expected = rule in case["rules"]
        got = rule in _fired(case)
        tp += expected and got
        fp += got and not expected
        fn += expected and not got
        if got != expected:
            misses.append(f"{case['id']}: expected={expected} got={got}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(
        f"\n{rule}: precision={precision:.3f} recall={recall:.3f} (tp={tp} fp={fp} fn={fn}) misses={misses}"
    )
    assert precision >= 0.9, misses
    assert recall >= 0.9, misses


def test_evidence_shape() -> None:
    case = next(c for c in CASES if c["id"] == "bp-lower")
    page, ctx = _page_and_ctx(case)
    [found] = [f for f in scope.analyze(page, ctx) if f.rule == "CLAIM_SCOPE_EXCEEDED"]
    claimed = {e.detail["claimed"] for e in found.evidence}
    assert claimed == {"降血压", "高血压"}
    ev = found.evidence[0]
    assert ev.source == "text" and ev.match and ev.match in ev.snippet
    assert ev.detail["registered_scope"] == "用于测量人体血压"
    assert found.severity == "high"


def test_ocr_evidence_carries_image() -> None:
    case = next(c for c in CASES if c["id"] == "ocr-claim")
    page, ctx = _page_and_ctx(case)
    [found] = scope.analyze(page, ctx)
    assert found.evidence[0].source == "ocr"
    assert found.evidence[0].image_url == "https://shop.example/detail.jpg"


def test_no_registry_skips_scope_rule() -> None:
    case = next(c for c in CASES if c["id"] == "bp-lower")
    page, _ = _page_and_ctx(case)
    assert scope.analyze(page, Context(now=NOW)) == []


def test_measuring_is_not_a_claim() -> None:
    assert scope.find_claims("测量血压，数据准确") == []
    assert [c.canonical for c in scope.find_claims("降血压、治疗高血压")] == ["降血压", "高血压"]
    assert scope.find_claims("本品不能代替药物治疗高血压") == []


def test_coverage_examples() -> None:
    [neck] = scope.find_claims("缓解颈椎疼痛")
    assert scope.covered(neck, "用于缓解颈肩腰腿痛")
    [sleep] = scope.find_claims("治疗失眠")
    assert not scope.covered(sleep, "用于缓解颈肩腰腿痛")
    [bp] = scope.find_claims("治疗高血压")
    assert not scope.covered(bp, "用于测量高血压患者的血压")
    assert scope.covered(bp, "用于原发性高血压的辅助治疗")


def test_evasion_seen_through_with_original_evidence() -> None:
    text = "本品根 治 頸椎病，效果好"
    [claim] = scope.find_claims(text)
    assert claim.canonical == "颈椎病" and claim.kind == "cure"
    assert text[claim.start : claim.end] == "頸椎病"
    assert claim.match == "根 治 頸椎病"


def test_offsets_hold_for_every_clause_after_the_first_claim() -> None:
    """Regression: the evidence of a later claim quoted the wrong text (offset carried over)."""
    from mdwatch.analyzers.scope import find_claims

    text = "用于缓解颈肩肌肉疼痛\n禁忌症：皮肤破损处禁用\n治愈率高达98%，告别腰酸背痛。\n無副作用，长期使用"
    for start in range(0, 20, 3):
        for claim in find_claims(text[start:]):
            assert text[start:][claim.start : claim.end] == claim.form or claim.form in claim.match


@pytest.mark.parametrize("text", [
    "这个牙膏没有治牙周炎的功效，牙龈出血厉害的要去看牙医。",
    "本茶饮并无降压作用。",
    "我不说鱼油能降血脂，只说每粒的含量。",
    "我们从不宣传能降血糖。",
    "茯苓糕就是个点心，别说什么祛湿不祛湿的。",
    "控糖的朋友还是少吃。",
])
def test_denials_and_topics_are_no_claims(text: str) -> None:
    assert scope.find_claims(text) == []


@pytest.mark.parametrize("text", [
    "这款护腰治不好腰间盘突出，别信夸大宣传。",  # a denial right after the verb
    "我们不敢说能降血脂。",  # the seller declining to say it
    "颈椎痛一直不缓解的，请及时就医。",  # the condition's state, not the product's effect
    "胃病要去医院规范治疗。",  # someone else treats it
    "治鼻炎要去医院，我们只是洗鼻器。",  # the act as a topic, the buyer sent to a doctor
    "降糖还得听医生的，这个仪器只管记录。",  # the effect as a topic
    "定时30分钟，到点后有5秒延时关机。",  # a timer's delay
])
def test_denials_advice_and_states_are_no_claims(text: str) -> None:
    assert scope.find_claims(text) == []


@pytest.mark.parametrize(("text", "term"), [
    ("用了三天，腰痛就缓解了。", "腰腿痛"),
    ("治鼻炎效果好，不用去医院。", "鼻炎"),
    ("延时持久，男人的加油站", "壮阳"),
])
def test_claims_beside_those_words_stay(text: str, term: str) -> None:
    assert term in [c.canonical for c in scope.find_claims(text)]


@pytest.mark.parametrize(("text", "term", "kind"), [
    ("用了两个月，便秘慢慢就好了。", "便秘", "treat"),  # the result said after the condition
    ("贴了三天，关节痛也减轻了不少。", "关节痛", "treat"),
    ("坚持用，颈椎病可根治。", "颈椎病", "cure"),  # a cure, as 根治颈椎病 is
])
def test_a_result_said_after_the_condition_is_a_claim(text: str, term: str, kind: str) -> None:
    claims = [(c.canonical, c.kind) for c in scope.find_claims(text)]
    assert any(t == term and k == kind for t, k in claims), claims


def test_listen_up_is_no_recovery() -> None:
    assert scope.find_claims("颈椎病的朋友们听好了，今天直播间有福利。") == []


def test_a_denial_in_another_clause_leaves_the_claim() -> None:
    assert [c.canonical for c in scope.find_claims("不说别的，降压效果真的好。")] == ["降血压"]


@pytest.mark.parametrize(("text", "term"), [("能治颈椎病", "颈椎病"), ("可治失眠，一贴见效", "失眠"), ("能治高血压", "高血压")])
def test_a_modal_before_the_verb_still_makes_a_claim(text: str, term: str) -> None:
    # jieba reads 能治 / 可治 as one word; the verb must still count as standing on a word boundary
    assert term in [c.canonical for c in scope.find_claims(text)]
    assert scope.find_claims("不" + text) == []  # 不能治, 不可治: negated
    assert scope.find_claims(f"这个{text.split('，')[0]}吗？") == []  # a buyer's question asserts nothing


def test_jieba_loads_without_pkg_resources() -> None:
    """jieba finds its files next to its modules; pkg_resources (0.12 s of start-up) is never imported."""
    import subprocess
    import sys

    code = ("import sys, mdwatch.analyzers.scope as s; "
            "print('pkg_resources' in sys.modules, len(list(s.jieba.Tokenizer().cut('医用冷敷贴'))) > 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]
