"""Claim rules: corpus precision/recall per rule, and specific cases."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from mdwatch.analyzers.claims import RULES, analyze, find_claims, find_claims_and_vetoes, sentence_rules
from mdwatch.analyzers.model import Context, Page, TextBlock

CORPUS = Path(__file__).parent / "corpus" / "sentences.yaml"


def _corpus() -> list[dict[str, object]]:
    data = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


def _scores() -> dict[str, tuple[float, float, int, int, int]]:
    counts = {r: [0, 0, 0] for r in RULES}
    for item in _corpus():
        got = sentence_rules(str(item["text"]))
        expected = set(item["rules"])  # type: ignore[call-overload]
        for r in RULES:
            if r in got and r in expected:
                counts[r][0] += 1
            elif r in got:
                counts[r][1] += 1
            elif r in expected:
                counts[r][2] += 1
    out = {}
    for r, (tp, fp, fn) in counts.items():
        out[r] = (tp / max(1, tp + fp), tp / max(1, tp + fn), tp, fp, fn)
    return out


def test_corpus_size_and_labels() -> None:
    items = _corpus()
    assert len(items) >= 300
    for item in items:
        assert set(item["rules"]) <= set(RULES)  # type: ignore[call-overload]
    for r in RULES:
        assert sum(r in item["rules"] for item in items) >= 30  # type: ignore[operator]


@pytest.mark.parametrize("rule", RULES)
def test_corpus_precision_recall(rule: str) -> None:
    precision, recall, tp, fp, fn = _scores()[rule]
    print(f"{rule}: P={precision:.3f} R={recall:.3f} (tp={tp} fp={fp} fn={fn})")
    assert precision >= 0.9
    assert recall >= 0.9


def _one(text: str) -> list[tuple[str, str]]:
    return [(h.rule, h.matched) for h in find_claims(text)]


def test_evidence_quotes_the_original_text() -> None:
    text = "本品可根 * 治高血壓，無副作用！１００％有效"
    hits = find_claims(text)
    assert [(h.rule, h.term, h.matched) for h in hits] == [
        ("CLAIM_GUARANTEE", "根治", "根 * 治"),
        ("CLAIM_GUARANTEE", "无副作用", "無副作用"),
        ("CLAIM_GUARANTEE", "100%有效", "１００％有效"),
    ]
    for h in hits:
        assert text[h.start : h.end] == h.matched


def test_pinyin_and_homophones() -> None:
    assert _one("gen zhi 静脉曲张") == [("CLAIM_GUARANTEE", "gen zhi")]
    assert _one("根zhi老寒腿") == [("CLAIM_GUARANTEE", "根zhi")]
    assert _one("无腹作用") == [("CLAIM_GUARANTEE", "无腹作用")]
    assert _one("无fu作用") == [("CLAIM_GUARANTEE", "无fu作用")]
    assert _one("百分百有效") == [("CLAIM_GUARANTEE", "百分百有效")]
    assert _one("Origen治疗仪") == []  # pinyin must not continue an ASCII word


def test_negation() -> None:
    assert _one("我们不敢说是最好的") == []
    assert _one("并非第一") == []
    assert _one("不保证100%有效") == []
    assert _one("本品不能根治疾病") == []
    # negative in form, still a guarantee
    assert _one("无副作用") == [("CLAIM_GUARANTEE", "无副作用")]
    assert _one("零风险") == [("CLAIM_GUARANTEE", "零风险")]
    assert _one("用完不反弹") == [("CLAIM_GUARANTEE", "不反弹")]
    # a cue in another clause does not negate
    assert _one("不是吹，最好的血压计") == [("CLAIM_ABSOLUTE", "最好")]


@pytest.mark.parametrize(
    "text",
    [
        "最大测量范围0-300mmHg",
        "最小分度值0.1℃",
        "最近更新",
        "第一次使用前请阅读说明书",
        "第一步：缠绕袖带",
        "第一类医疗器械",
        "治愈系小熊",
        "最高温度可达55℃",
        "面料：100%纯棉",
        "湿度10%-100%RH",
        "国家级高新技术企业",
        "适用于乳腺癌根治术后上肢水肿",
        "建议最好在早晨测量",
        "限时秒杀",
    ],
)
def test_exceptions(text: str) -> None:
    assert _one(text) == []


def test_no_match_across_blocks() -> None:
    page = Page(url="https://shop.example/p/1", kind="product", title="家用血压计", blocks=(TextBlock("根"), TextBlock("治")))
    assert analyze(page, Context(now=datetime.now(UTC))) == []


def test_analyze_findings_and_related_pages() -> None:
    rel = Page(url="https://shop.example/about", kind="shop", blocks=(TextBlock("医生推荐，品质保证"),))
    page = Page(
        url="https://shop.example/p/1",
        kind="product",
        title="最好的血压计",
        blocks=(TextBlock("全国销量第一，無副作用"),),
        related=(rel,),
    )
    findings = analyze(page, Context(now=datetime.now(UTC)))
    by_rule = {f.rule: f for f in findings}
    assert set(by_rule) == {"CLAIM_ABSOLUTE", "CLAIM_GUARANTEE", "CLAIM_ENDORSEMENT"}
    absolute = by_rule["CLAIM_ABSOLUTE"]
    assert [e.match for e in absolute.evidence] == ["最好", "销量第一"]
    assert absolute.evidence[0].snippet.startswith("最好的血压计")
    assert absolute.evidence[0].detail == {"term": "最好"}
    assert by_rule["CLAIM_GUARANTEE"].evidence[0].match == "無副作用"
    endorsement = by_rule["CLAIM_ENDORSEMENT"].evidence[0]
    assert endorsement.page_url == "https://shop.example/about"
    assert endorsement.source == "text"
    only = analyze(page, Context(now=datetime.now(UTC), enabled_rules=frozenset({"CLAIM_GUARANTEE"})))
    assert [f.rule for f in only] == ["CLAIM_GUARANTEE"]


def test_speed_report() -> None:
    """Prints claims throughput on ~3k-character pages (not a timed assertion)."""
    items = _corpus()
    lookalikes = ("\n".join(str(i["text"]) for i in items if not i["rules"]) * 3)[:3000]
    dense = ("\n".join(str(i["text"]) for i in items) * 3)[:3000]
    spec = "【适用范围】用于测量人体血压。采用示波法测量，大屏幕显示，一键操作，双人记忆各90组。Model BP-100, 4 x AAA.\n"
    typical = (spec * 40)[:3000]
    find_claims(typical)
    for label, text in (("spec-like", typical), ("look-alike-dense", lookalikes), ("claim-dense", dense)):
        n = 300
        t0 = time.perf_counter()
        for _ in range(n):
            find_claims(text)
        per = (time.perf_counter() - t0) / n
        print(f"claims {label} 3k-char page: {per * 1e3:.3f} ms/page ({1 / per:.0f} pages/s)")


@pytest.mark.parametrize("notice", [
    "根据新广告法规定，本店所有商品页面不含“最”“第一”“顶级”等极限词，如有遗漏不作为退款理由。",
    "因新广告法实施，页面中如出现「最」「第一」「国家级」等词语，均不作为商品宣传用语。",
    "新广告法声明：本店页面中的极限用语（如最佳、最好、第一）已全部删除，如有遗漏请联系客服。",
    '根据广告法要求，本店不使用"最""第一"等用语，产品描述仅供参考。',
    "本店禁止使用‘根治’‘无副作用’等宣传用语。",
])
def test_words_named_in_an_ad_law_notice_are_not_claims(notice: str) -> None:
    hits, vetoed = find_claims_and_vetoes(notice)
    assert hits == []
    assert vetoed  # named, and ruled out: the claim classifier does not bring them back


@pytest.mark.parametrize(("text", "rule"), [
    ("宣传语：“三天见效，无副作用”", "CLAIM_GUARANTEE"),  # a slogan in quotes names no wording
    ("全网“最好”的血压计，买它就对了。", "CLAIM_ABSOLUTE"),
    ("这是“全网最好”的血压计，用语朴实。", "CLAIM_ABSOLUTE"),  # the wording word is in another clause
])
def test_quoted_claims_that_name_no_wording_still_fire(text: str, rule: str) -> None:
    assert rule in {h.rule for h in find_claims(text)}


@pytest.mark.parametrize("text", ["安装视频在详情页最下面，卡扣听到咔的一声就装好了。", "检测报告放在详情页最下方。",
                                  "最外层为防水面料，最内层是纯棉。"])
def test_a_place_is_not_a_rank(text: str) -> None:
    assert "CLAIM_ABSOLUTE" not in sentence_rules(text)
    assert "CLAIM_ABSOLUTE" in sentence_rules(text + "全网最好的一款。")


@pytest.mark.parametrize("text", [
    "支持分期，最多六期免息。",  # a limit in words
    "注水时请勿超过最高水位线。",  # a mark on the product
    "新地址已更新，寄回请以最新地址为准。",  # the latest of something that changes
    "小腿处压力最高，往上逐渐减小。",  # a pressure gradient
    "舒服最重要。",  # what matters most
    "多试几种模式，选最适合自己的就好。",  # the buyer's choice
    "请问有没有最安静的档位？",  # a question
    "老人穿针引线最吃力。",  # the buyer's burden
    "我们不争第一，只把每双鞋垫做好。",  # a rank declined
    "说这款是“第一”的都是吹的。",  # a quoted rank called bragging
])
def test_ordinary_uses_of_rank_words_are_not_claims(text: str) -> None:
    assert "CLAIM_ABSOLUTE" not in sentence_rules(text)


@pytest.mark.parametrize("text", ["国内最大的一家生产商。", "全网风速最大。", "压力最高可达第一品牌的两倍，最好用的一款。"])
def test_ranks_beside_those_words_stay_claims(text: str) -> None:
    assert "CLAIM_ABSOLUTE" in sentence_rules(text)


def test_sizing_advice_is_not_a_rank() -> None:
    assert "CLAIM_ABSOLUTE" not in sentence_rules("腿围在两个尺码之间的，建议选大一码，穿着最合身。")
    assert "CLAIM_ABSOLUTE" in sentence_rules("号称穿着最舒适的鞋垫。")
