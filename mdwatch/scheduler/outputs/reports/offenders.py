"""Repeat offenders (重复违规店铺): the shops of a report with findings in many runs of the database.

The credit file of HAINAN measures (15) (信用档案) counts every run up to the report's last one,
not only the report's own runs, so a shop seen again in this sweep shows its whole history.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from mdwatch.storage.schema import FindingRow, PageRow, Run

from .labels import shanghai
from .model import RepeatOffender

REPEAT_RUNS = 3  # a shop with findings in this many runs is a repeat offender (HAINAN 15)


def repeat_offenders(engine: Engine, shop_ids: set[int], cutoff: datetime,
                     here: Counter[int], names: dict[int, tuple[str, str]],
                     min_runs: int) -> list[RepeatOffender]:
    """The shops of ``shop_ids`` with findings in ``min_runs`` or more runs started up to ``cutoff``.

    ``here`` counts each shop's findings in the report's own runs; ``names`` gives its name and URL.
    Most runs first, then most findings.
    """
    if not shop_ids:
        return []
    stmt = (
        select(PageRow.shop_id, FindingRow.run_id, FindingRow.rule, func.count(FindingRow.id), func.min(Run.started_at),
               func.max(Run.started_at))
        .join(PageRow, FindingRow.page_id == PageRow.id)
        .join(Run, FindingRow.run_id == Run.id)
        .where(PageRow.shop_id.in_(sorted(shop_ids)), Run.started_at <= cutoff)
        .group_by(PageRow.shop_id, FindingRow.run_id, FindingRow.rule)
    )
    runs: dict[int, set[int]] = defaultdict(set)
    rule_sets: dict[int, set[str]] = defaultdict(set)
    totals: Counter[int] = Counter()
    first: dict[int, datetime] = {}
    last: dict[int, datetime] = {}
    with engine.connect() as conn:
        for shop_id, run_id, rule, n, t0, t1 in conn.execute(stmt):
            if shop_id is None:
                continue
            runs[shop_id].add(int(run_id))
            rule_sets[shop_id].add(rule)
            totals[shop_id] += int(n)
            # min()/max() may bypass the column's UTC type and come back naive (it is UTC)
            t0 = t0 if t0.tzinfo else t0.replace(tzinfo=UTC)
            t1 = t1 if t1.tzinfo else t1.replace(tzinfo=UTC)
            first[shop_id] = min(first.get(shop_id, t0), t0)
            last[shop_id] = max(last.get(shop_id, t1), t1)
    offenders = [
        RepeatOffender(shop_id=sid, name=names[sid][0], url=names[sid][1], run_count=len(r), run_ids=sorted(r),
                       findings_total=totals[sid], findings_here=here[sid], rules=sorted(rule_sets[sid]),
                       first_at=shanghai(first[sid]), last_at=shanghai(last[sid]))
        for sid, r in runs.items() if len(r) >= min_runs
    ]
    offenders.sort(key=lambda o: (-o.run_count, -o.findings_total, o.name))
    return offenders
