"""The format corpus (tests/corpus/formats, written by people who did not read the code) as a
regression guard: each half's micro precision and recall may not fall below the figures measured
when this test was last raised. A change that lowers them is a regression even when every other
test passes. ``make eval`` prints the per-rule tables; the held-out half is scored only, never
listed page by page."""

from __future__ import annotations

import pytest

from devtools.format_eval import half_items, micro

# measured on this corpus (2026-12-05); raise them when detection improves, never lower them
FLOORS = {"dev": (0.96, 0.88), "heldout": (0.95, 0.95)}


@pytest.mark.parametrize("half", ["dev", "heldout"])
def test_format_corpus_does_not_regress(half: str) -> None:
    items = half_items(half)
    assert len(items) >= 75, f"{half}: {len(items)} labelled pages"  # dev: 359, held-out: 80
    total = micro(items)
    precision_floor, recall_floor = FLOORS[half]
    assert total.precision >= precision_floor, f"{half}: precision {total.precision:.3f} < {precision_floor}"
    assert total.recall >= recall_floor, f"{half}: recall {total.recall:.3f} < {recall_floor}"
