"""The claim classifier (issue 14): deterministic training, numpy scoring equal to scikit-learn's,
thresholds, what model findings carry, the rule-pack switch, and no scikit-learn at CLI start."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mdwatch.analyzers import claim_model, claims
from mdwatch.analyzers.claim_model import (
    CLASSES,
    DETECTOR,
    MODEL_NOTE,
    claim_model_wanted,
    model_text,
    scorable,
    sentence_spans,
)
from mdwatch.analyzers.model import Context, ImageText, Page, TextBlock
from mdwatch.analyzers.packs import RuleSelection, pack_names

NOW = datetime(2026, 12, 5, tzinfo=UTC)

# a small fixed sample: two writers, every class and plain sentences (enough for 2-fold CV)
_SAMPLE = {
    "guarantee": ["贴上半小时保证退烧，不退全额退款", "坚持用一个月，腰痛一定能好", "用了就见效，无效包退",
                  "戴上当天就能听清，效果有保障", "三天见效，不见效退钱", "坚持一个疗程保证不复发"],
    "absolute": ["全网销量第一的理疗仪", "行业最顶尖的材料，没有之一", "史上最舒服的护腰",
                 "同类产品中效果最好的一款", "国内唯一一款双重过滤口罩", "精度天花板，业内无敌"],
    "endorsement": ["三甲医院骨科主任推荐使用", "很多老顾客反馈用了腰不疼了", "专家团队联合推荐",
                    "护士长都说好用的护理垫", "明星同款，冠军都在用", "经某医院临床验证有效"],
    "comparative": ["比进口牌子好用多了，价格只要一半", "别家的护膝戴两天就松，我们的不会",
                    "比普通口罩防护强三倍", "吃药不如戴我们的护腰", "其他牌子要等十分钟，我们三分钟出结果",
                    "比传统膏药见效快得多"],
    "disease": ["长期佩戴可以改善颈椎病", "贴在肚脐上能调理失眠", "用了以后血压慢慢降下来",
                "帮助缓解关节炎疼痛", "对鼻炎有很好的效果", "治疗腰椎间盘突出"],
    "": ["本品为一次性使用产品，请勿重复使用", "下单后四十八小时内发货", "请按说明书使用",
         "包装内含主机一台、说明书一份", "使用前请清洁皮肤", "如有疑问请联系客服", "本店支持七天无理由退货",
         "产品颜色以实物为准", "请放置在儿童接触不到的地方", "快递默认顺丰"],
}


def _write_sample(folder: Path) -> None:
    rows: dict[str, list[str]] = {"w1": [], "w2": []}
    n = 0
    for cls, texts in _SAMPLE.items():
        for i, text in enumerate(t for base in texts for t in (base, f"亲，{base}", f"{base}哦")):
            n += 1
            writer = "w1" if i % 2 == 0 else "w2"
            rows[writer].append(json.dumps({
                "id": f"{writer}-{n:04d}", "text": text, "labels": [cls] if cls else [],
                "hard_negative": False, "context": "listing", "product": "理疗仪", "source": "own"},
                ensure_ascii=False))
    folder.mkdir(parents=True, exist_ok=True)
    for writer, lines in rows.items():
        (folder / f"{writer}_part01.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (folder / f"{writer}.done").write_text("", encoding="utf-8")


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("claims")
    _write_sample(folder)
    return folder


# --- training ------------------------------------------------------------------------------------


def test_training_is_deterministic(sample_dir: Path, tmp_path: Path) -> None:
    from mdwatch.models.claim_training import Params, fit, load_sentences, train

    sentences = load_sentences(sample_dir)
    assert len(sentences) == 3 * sum(len(v) for v in _SAMPLE.values())
    params = Params(C=10.0)
    a, b = fit(sentences, params), fit(list(reversed(sentences)), params)
    texts = [s.norm for s in sentences]
    assert a.probabilities(texts) != []
    # the same sentences in another order: the sorted input makes the same model
    a2 = fit(sorted(sentences, key=lambda s: (s.writer, s.id)), params)
    assert a.probabilities(texts) == a2.probabilities(texts)
    assert (a.keys == b.keys).all()
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    kwargs = {"params": params, "trained_on": "2026-12-05", "folds": 2, "leave_one_writer_out": False}
    train(sample_dir, one, **kwargs)  # type: ignore[arg-type]
    train(sample_dir, two, **kwargs)  # type: ignore[arg-type]
    assert one.read_bytes() == two.read_bytes()  # byte for byte


def test_numpy_scoring_equals_scikit_learn(sample_dir: Path) -> None:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from mdwatch.models.claim_classifier import char_ngrams
    from mdwatch.models.claim_training import Params, fit, load_sentences

    sentences = load_sentences(sample_dir)
    model = fit(sentences, Params(C=3.0))
    vectorizer = TfidfVectorizer(analyzer=char_ngrams, sublinear_tf=True, dtype=np.float64)
    vectorizer.fit([s.norm for s in sentences])
    probe = ["保证三天见效", "比别家好用", "", "x", "请按说明书使用，有问题联系客服", "\U00020000最好"]
    expected = vectorizer.transform(probe).toarray() @ model.coef + model.intercept
    assert np.allclose(model.decision(probe), expected, atol=1e-9)


def test_saved_model_loads_back_identical(sample_dir: Path, tmp_path: Path) -> None:
    from mdwatch.models.claim_classifier import ClaimClassifier
    from mdwatch.models.claim_training import Params, fit, load_sentences

    sentences = load_sentences(sample_dir)
    model = replace(fit(sentences, Params()), thresholds=dict.fromkeys(CLASSES, 0.7))
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = ClaimClassifier.load(path)
    texts = [s.norm for s in sentences]
    assert loaded.probabilities(texts) == model.probabilities(texts)
    assert loaded.thresholds == model.thresholds


def test_split_rule_is_the_written_one() -> None:
    import hashlib

    from mdwatch.models.claim_training import is_heldout

    for text in ("保证有效", "全网第一", "請按說明書使用", "ＡＢＣ１２３"):
        norm = model_text(text)
        assert is_heldout(norm) == (int(hashlib.sha1(norm.encode("utf-8")).hexdigest(), 16) % 4 == 0)
    # traditional characters and full-width forms normalise to one text: one side of the split
    assert model_text("無副作用，１００％有效") == model_text("无副作用，100%有效")


def test_malformed_lines_are_skipped_and_reported(tmp_path: Path) -> None:
    from mdwatch.models.claim_training import load_sentences

    (tmp_path / "w1_part01.jsonl").write_text(
        '{"id": "a", "text": "保证有效", "labels": ["guarantee"]}\n'
        '{"id": "b", "text": "x", "labels": ["nonsense"]}\n'
        'not json\n'
        '{"id": "c", "text": "y", "labels": ["guarantee", "absolute", "disease"]}\n', encoding="utf-8")
    problems: list[str] = []
    assert [s.id for s in load_sentences(tmp_path, problems)] == ["a"]
    assert len(problems) == 3


# --- what the analyzer does with a model ------------------------------------------------------------


@dataclass
class _Scorer:
    """A stand-in classifier: fixed probabilities per sentence (by a word it contains)."""

    table: dict[str, dict[str, float]]
    thresholds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0.9))
    classes: tuple[str, ...] = CLASSES
    seen: list[str] = field(default_factory=list)

    def probabilities(self, texts: Sequence[str]) -> list[list[float]]:
        self.seen.extend(texts)
        out = []
        for text in texts:
            probs = next((v for k, v in self.table.items() if k in text), {})
            out.append([probs.get(c, 0.0) for c in self.classes])
        return out


def _page(*lines: str, kind: str = "product", images: tuple[ImageText, ...] = ()) -> Page:
    return Page(url="http://127.0.0.1/p.html", kind=kind,  # type: ignore[arg-type]
                blocks=tuple(TextBlock(t) for t in lines), image_texts=images)


def _ctx(scorer: _Scorer | None) -> Context:
    return Context(now=NOW, claim_model=scorer)


def test_model_findings_respect_thresholds_and_say_where_they_came_from() -> None:
    scorer = _Scorer({"老主任": {"endorsement": 0.95}, "王阿姨": {"endorsement": 0.89}},
                     thresholds={**dict.fromkeys(CLASSES, 0.9), "endorsement": 0.9})
    page = _page("省城一家大医院的老主任也一直让病人回家用我们这款。", "楼下的王阿姨买了两盒，说挺好用的。")
    found = {f.rule: f for f in claims.analyze(page, _ctx(scorer))}
    assert set(found) == {"CLAIM_ENDORSEMENT"}
    finding = found["CLAIM_ENDORSEMENT"]
    assert finding.message.endswith(f"（{MODEL_NOTE}）")
    (ev,) = finding.evidence  # 0.89 < 0.9: the second sentence is not a finding
    assert ev.source == "text" and "老主任" in ev.match
    assert ev.detail == {"detector": DETECTOR, "class": "endorsement", "probability": "0.950", "note": MODEL_NOTE}
    assert claims.analyze(page, _ctx(None)) == []  # no model: the lexicon alone, which finds nothing here


def test_model_evidence_joins_the_lexicon_finding_and_skips_what_the_lexicon_flagged() -> None:
    scorer = _Scorer({"最好": {"absolute": 0.99}, "省心": {"absolute": 0.99}})
    page = _page("这是全网最好的护腰，没有之一。", "戴上它出门，一整天都省心省力不费劲。")
    (finding,) = [f for f in claims.analyze(page, _ctx(scorer)) if f.rule == "CLAIM_ABSOLUTE"]
    sources = [e.detail.get("detector", "lexicon") for e in finding.evidence]
    assert sources == ["lexicon", DETECTOR]  # one finding; the lexicon's sentence is not repeated
    assert not finding.message.endswith(f"（{MODEL_NOTE}）")  # the lexicon found it too
    assert "省心" in finding.evidence[1].match


def test_model_reads_ocr_text_and_keeps_its_source() -> None:
    scorer = _Scorer({"睡得香": {"endorsement": 0.97}})
    page = _page("医用冷敷贴，独立包装。", images=(ImageText("http://127.0.0.1/a.png", "宝妈们都说贴上以后孩子睡得香"),))
    (finding,) = claims.analyze(page, _ctx(scorer))
    (ev,) = finding.evidence
    assert ev.source == "ocr" and ev.image_url == "http://127.0.0.1/a.png" and ev.detail["detector"] == DETECTOR


def test_model_skips_labels_menus_titles_and_other_page_kinds() -> None:
    scorer = _Scorer({"": dict.fromkeys(CLASSES, 1.0)})  # says yes to everything it is asked
    page = replace(_page("生产企业：江南安平医疗器械有限公司", "首页 · 全部商品 · 血压计 · 购物车",
                         "康复之家医疗器械专营店", "短句。"), title="某某牌电子血压计 - 官方旗舰店")
    assert claims.analyze(page, _ctx(scorer)) == []
    assert scorer.seen == []
    shop = _page("我们家的护腰是全网口碑最好的，很多顾客回购。", kind="shop")
    assert all(DETECTOR not in str(f.evidence) for f in claims.analyze(shop, _ctx(scorer)))
    assert scorable("本店承诺：佩戴满两周没有改善，全款退回", model_text("本店承诺：佩戴满两周没有改善，全款退回"))
    assert not scorable("【产品名称】医用外科口罩", model_text("【产品名称】医用外科口罩"))


def test_disease_becomes_nondevice_medical_only_without_a_device_number() -> None:
    scorer = _Scorer({"颈椎": {"disease": 0.99}})
    words = "每天戴二十分钟，颈椎那股僵劲慢慢就松开了，手也不麻了。"
    nondevice = claims.analyze(_page(words), _ctx(scorer))
    assert [f.rule for f in nondevice] == ["CLAIM_NONDEVICE_MEDICAL"]
    assert nondevice[0].evidence[0].detail["class"] == "disease"
    registered = _page(words, "注册证编号：国械注准20153210001")
    assert claims.analyze(registered, _ctx(scorer)) == []  # CLAIM_SCOPE_EXCEEDED needs what is claimed
    drug_off = Context(now=NOW, claim_model=scorer, enabled_rules=frozenset({"CLAIM_ABSOLUTE"}))
    assert claims.analyze(_page(words), drug_off) == []  # a rule the packs did not enable


def test_model_never_brings_back_what_the_lexicon_ruled_out() -> None:
    scorer = _Scorer({"": dict.fromkeys(CLASSES, 0.99)})
    # 国家级高新技术企业 is a lexicon exception, 不保证 a negation: the model adds neither rule there
    one, two = "本公司为国家级高新技术企业，专注研发十年。", "我们不保证百分之百有效，效果因人而异。"
    added = {(e.match, e.detail["class"]) for f in claims.analyze(_page(one, two), _ctx(scorer))
             for e in f.evidence if e.detail.get("detector") == DETECTOR}
    assert (one, "absolute") not in added and (two, "guarantee") not in added
    assert (one, "guarantee") in added and (two, "endorsement") in added  # other classes are still read
    hits, vetoed = claims.find_claims_and_vetoes("本公司为国家级高新技术企业，我们不保证百分之百有效")
    assert hits == [] and {v.rule for v in vetoed} == {"CLAIM_ABSOLUTE", "CLAIM_GUARANTEE"}


_PRODUCT_HTML = ("<html><head><title>颈椎按摩仪</title></head><body><h1>颈椎按摩仪 N8</h1><p>¥199.00</p>"
                 "<button>加入购物车</button><p>{}</p></body></html>")


def test_guard_floors_raise_thresholds_above_false_findings(tmp_path: Path) -> None:
    from mdwatch.models.claim_training import guard_floors

    writer = tmp_path / "w1"
    writer.mkdir()
    (writer / "a.html").write_text(_PRODUCT_HTML.format("省城一家大医院的老主任也一直让病人回家用我们这款。"),
                                   encoding="utf-8")
    (writer / "b.html").write_text(_PRODUCT_HTML.format("很多城里的顾客买回去是给父母用的，图个安心。"),
                                   encoding="utf-8")
    (writer / "labels.yaml").write_text(
        "- {file: a.html, kind: product, rules: [CLAIM_ENDORSEMENT]}\n- {file: b.html, kind: product, rules: []}\n",
        encoding="utf-8")
    sentences = tmp_path / "sentences.yaml"
    sentences.write_text("- {text: 比起价格，我们更重视质量, rules: []}\n", encoding="utf-8")
    scorer = _Scorer({"老主任": {"endorsement": 0.99}, "顾客": {"endorsement": 0.95}, "比起": {"comparative": 0.97}})
    floors, info = guard_floors(scorer, tmp_path, sentences)  # type: ignore[arg-type]
    assert info["pages"] == 2 and info["sentences"] == 1
    assert 0.95 < floors["endorsement"] < 0.99  # above the false one (b), below the true one (a)
    assert 0.97 < floors["comparative"] < 0.98
    assert floors["guarantee"] == 0.9  # nothing false: the threshold stays


def test_sentences_are_cut_at_sentence_marks_and_lines() -> None:
    text = "第一句。第二句！\n第三行；  第四句？ "
    assert [text[s:e] for s, e in sentence_spans(text)] == ["第一句。", "第二句！", "第三行；", "第四句？"]


# --- rule packs and loading ---------------------------------------------------------------------


def test_pack_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    specs = {"quiet": {"rules": [], "claim_model": False}, "loud": {"rules": []},
             "quiet-child": {"extends": ["quiet"]}, "loud-child": {"extends": ["quiet"], "claim_model": True}}
    monkeypatch.setattr(claim_model, "_pack_spec", lambda name: specs[name])
    claim_model.pack_claim_model.cache_clear()
    try:
        assert claim_model_wanted(()) is True
        assert claim_model_wanted(("loud",)) is True
        assert claim_model_wanted(("quiet",)) is False
        assert claim_model_wanted(("quiet-child",)) is False  # inherited
        assert claim_model_wanted(("loud-child",)) is True  # its own setting wins
        assert claim_model_wanted(("quiet", "loud")) is True  # one pack that wants it is enough

        from mdwatch.scheduler.pipeline import _with_claim_model

        ctx = Context(now=NOW)
        assert _with_claim_model(ctx, RuleSelection(packs=("quiet",))).claim_model is None
        assert _with_claim_model(ctx, RuleSelection(packs=("loud",))).claim_model is not None
    finally:
        claim_model.pack_claim_model.cache_clear()


def test_shipped_packs_keep_the_model_on() -> None:
    assert all(claim_model_wanted((name,)) for name in pack_names())


def test_shipped_model_is_small_and_complete() -> None:
    from mdwatch.models.claim_classifier import load_claim_model, model_path

    assert model_path().stat().st_size <= 5 * 1024 * 1024
    model = load_claim_model()
    assert model is not None and model is load_claim_model()  # loaded once per process
    assert model.classes == CLASSES and set(model.thresholds) == set(CLASSES)
    assert all(0.5 <= t <= 1.0 for t in model.thresholds.values())
    assert {"heldout", "dev_cv", "split_rule", "thresholds"} <= set(model.meta)


@pytest.mark.parametrize("module", ["mdwatch.scheduler.cli", "mdwatch.scheduler.pipeline"])
def test_cli_and_pipeline_import_no_scikit_learn(module: str) -> None:
    code = (f"import sys, {module}; "
            "print(sorted(m for m in ('sklearn', 'scipy', 'mdwatch.models.claim_classifier') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


_RENDERED_HTML = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>冲牙器 F3 - 齿康优品</title></head>
<body><main id="detail"></main>
<script id="goods" type="text/plain">{"name":"冲牙器 F3 家用便携","price":"199.00",
"paragraphs":["三档水压，冲洗牙缝和正畸托槽。","如需推荐合作诊所，请咨询客服。"]}</script>
<script>
var d = JSON.parse(document.getElementById('goods').textContent), html = '<h1>' + d.name + '</h1>';
html += '<p>¥' + d.price + '</p><button>加入购物车</button>';
d.paragraphs.forEach(function(p){ html += '<p>' + p + '</p>'; });
document.getElementById('detail').innerHTML = html;
</script></body></html>"""


def test_training_reads_corpus_pages_as_the_scan_does(tmp_path: Path) -> None:
    """The floors and the page negatives see what a scan (and make eval) sees: a page that renders its
    description from embedded JSON is read rendered, not as its empty file."""
    from mdwatch.analyzers.extract import extract_page
    from mdwatch.analyzers.voices import page_seller_text
    from mdwatch.models.page_negatives import LabelledPage, read_page

    writer = tmp_path / "w1"
    (writer / "pages").mkdir(parents=True)
    page_file = writer / "pages" / "p01.html"
    page_file.write_text(_RENDERED_HTML, encoding="utf-8")
    (writer / "labels.yaml").write_text("- {file: pages/p01.html, kind: product, rules: []}\n", encoding="utf-8")
    sentence = "如需推荐合作诊所，请咨询客服。"
    assert sentence not in page_seller_text(extract_page("http://127.0.0.1/p01.html", page_file.read_bytes()))
    page = read_page(LabelledPage(page_file, "w1/pages/p01.html", frozenset(), served_from=writer))
    assert page is not None and sentence in page_seller_text(page)


def test_by_sentence_counts_claim_sentences() -> None:
    from mdwatch.models.claim_training import Sentence, by_sentence

    def sent(labels: set[str]) -> Sentence:
        return Sentence("x", "w1", "t", frozenset(labels), False, "", "", "own", "t")

    sentences = [sent({"guarantee", "disease"}), sent({"absolute"}), sent(set()), sent({"endorsement"})]
    predicted = [{"guarantee"}, {"comparative"}, {"absolute"}, {"endorsement", "absolute"}]
    got = by_sentence(sentences, predicted)
    # found: the first (one of its two classes) and the last; the second got the wrong class
    assert (got["claim_sentences"], got["found"], got["recall"]) == (3, 2, round(2 / 3, 4))
    # flagged 4, right 2 (the first and the last); every class right only in the first
    assert (got["flagged"], got["right"], got["precision"], got["precision_every_class"]) == (4, 2, 0.5, 0.25)


def test_a_model_written_with_its_ngrams_as_text_still_loads(sample_dir: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import zipfile

    import numpy as np

    from mdwatch.models.claim_classifier import ClaimClassifier
    from mdwatch.models.claim_training import Params, fit, load_sentences

    sentences = load_sentences(sample_dir)
    model = replace(fit(sentences, Params()), thresholds=dict.fromkeys(CLASSES, 0.7))
    new, old = tmp_path / "new.npz", tmp_path / "old.npz"
    model.save(new)
    # the earlier layout: vocabulary.npy (the n-grams as strings) instead of keys.npy
    grams = ["".join(chr(int(k) >> (16 * (3 - j)) & 0xFFFF) for j in range(4)).rstrip("\0") for k in model.keys]
    with zipfile.ZipFile(new) as src, zipfile.ZipFile(old, "w") as dst:
        for name in src.namelist():
            if name == "keys.npy":
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.array(grams, dtype="<U4"), allow_pickle=False)
                dst.writestr("vocabulary.npy", buf.getvalue())
            else:
                dst.writestr(name, src.read(name))
    texts = [s.norm for s in sentences]
    assert ClaimClassifier.load(old).probabilities(texts) == ClaimClassifier.load(new).probabilities(texts)
    # a scan cannot read that layout without numpy: it gets no light scorer, and the page pipeline
    # loads the vectorised model instead
    import mdwatch.models.claim_classifier as classifier_module
    from mdwatch.models import light_scorer

    light_scorer.load_light_claim_model.cache_clear()
    monkeypatch.setattr(classifier_module, "model_path", lambda: old)
    try:
        assert light_scorer.load_light_claim_model() is None
    finally:
        light_scorer.load_light_claim_model.cache_clear()


def test_the_numpy_free_scorer_gives_the_same_probabilities(sample_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from mdwatch.analyzers.claim_model import model_text
    from mdwatch.models.claim_training import Params, fit, load_sentences
    from mdwatch.models.light_scorer import load_light

    monkeypatch.setenv("MDWATCH_CACHE_DIR", str(tmp_path / "cache"))
    sentences = load_sentences(sample_dir)
    model = replace(fit(sentences, Params()), thresholds=dict.fromkeys(CLASSES, 0.6))
    path = tmp_path / "m.npz"
    model.save(path)
    texts = [s.norm for s in sentences] + [model_text(t) for t in ["", "x", "\U00020000最好", "包\0治百病"]]
    first = load_light(path)  # writes the cache
    assert list((tmp_path / "cache").glob("claim-model-*.bin"))
    mapped = load_light(path)  # maps it
    (cache_file,) = (tmp_path / "cache").glob("claim-model-*.bin")
    damaged_bytes = cache_file.read_bytes()[:-8]
    cache_file.unlink()  # (a new file: the scorers above keep mapping the old one, as after os.replace)
    cache_file.write_bytes(damaged_bytes)  # a damaged cache file
    damaged = load_light(path)  # is not mapped: the arrays are inflated instead
    monkeypatch.setenv("MDWATCH_BUILD_CACHE", "0")
    inflated = load_light(path)  # no cache at all
    expected = model.probabilities(texts)
    for scorer in (first, mapped, damaged, inflated):
        assert scorer.classes == model.classes and scorer.thresholds == model.thresholds
        got = scorer.probabilities(texts)
        assert all(abs(a - b) < 1e-12 for row_a, row_b in zip(got, expected, strict=True)
                   for a, b in zip(row_a, row_b, strict=True))


def test_a_scan_scores_without_numpy_and_packs_still_switch_the_model_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from mdwatch.analyzers.packs import EVERY_RULE
    from mdwatch.models.light_scorer import LightClaimScorer
    from mdwatch.scheduler.pipeline import _with_claim_model, few_pages_context

    ctx = few_pages_context()
    assert isinstance(ctx.claim_model, LightClaimScorer)
    assert _with_claim_model(ctx, EVERY_RULE).claim_model is ctx.claim_model
    # a rule pack with claim_model: false takes the scan's scorer away too
    monkeypatch.setattr(claim_model, "claim_model_wanted", lambda packs: packs != ("no-model",))
    assert _with_claim_model(ctx, replace(EVERY_RULE, packs=("no-model",))).claim_model is None
