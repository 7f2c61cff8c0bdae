"""Evasion-proof normalisation: folding, traditional → simplified, in-word symbols, offsets."""

from __future__ import annotations

import pytest

from mdwatch.analyzers.evasion import OffsetMap, fold_for_matching, normalize_for_matching


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("根 治", "根治"),
        ("根*治", "根治"),
        ("根-治", "根治"),
        ("根·治", "根治"),
        ("根🔥治", "根治"),
        ("無副作用", "无副作用"),
        ("專業醫療", "专业医疗"),
        ("徹底治癒", "彻底治愈"),
        ("１００％有效", "100%有效"),
        ("ＮＯ．１", "no1"),
        ("Gen Zhi", "genzhi"),
    ],
)
def test_fold(raw: str, norm: str) -> None:
    assert fold_for_matching(raw) == norm
    assert normalize_for_matching(raw).text == norm


def test_sentence_punctuation_and_lines_are_kept() -> None:
    assert fold_for_matching("最。好评") == "最。好评"
    assert fold_for_matching("第一，材质") == "第一，材质"
    assert fold_for_matching("标题\n正文") == "标题\n正文"
    assert fold_for_matching("a,b!c?d;e:f、g") == "a,b!c?d;e:f、g"


@pytest.mark.parametrize("raw", ["根 治 颈椎 病", "無·副*作用！", "x🔥y z", "ＡＢ Ｃ－Ｄ", "plain", "", "  "])
def test_offsets_point_at_the_original(raw: str) -> None:
    nt = normalize_for_matching(raw)
    assert len(nt.offsets) == len(nt.text)
    assert list(nt.offsets) == sorted(set(nt.offsets))
    for i, ch in enumerate(nt.text):
        assert fold_for_matching(raw[nt.offsets[i]]) == ch


def test_offset_map_span() -> None:
    raw = "本品可根 * 治高血压"
    norm = fold_for_matching(raw)
    s = norm.index("根治")
    start, end = OffsetMap.build(raw).span(s, s + 2)
    assert raw[start:end] == "根 * 治"
