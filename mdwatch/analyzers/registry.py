"""The ordered list of analyzer modules, and ``analyze(page, ctx)`` that runs them.

Each analyzer module exposes ``RULES`` (the rule IDs it can emit), ``KINDS`` (page kinds it
looks at; never a navigation kind, ``model.NAVIGATION_KINDS``: no rule judges a listing index or a
shop directory) and a pure function ``analyze(page, ctx) -> list[Finding]``; one with
``AFTER_OTHERS = True`` gets the findings of the analyzers before it as ``ctx.prior``. Order matters only for
the order of findings in the output. Set a module to ``None`` in ``ANALYZER_MODULES`` to switch it off.
"""

from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import dataclass, replace
from functools import cache

from mdwatch.analyzers.model import NAVIGATION_KINDS, Analyzer, Context, Finding, Page, PageKind

ANALYZER_MODULES: dict[str, int | None] = {
    "mdwatch.analyzers.platform": 100,
    "mdwatch.analyzers.shop": 200,
    "mdwatch.analyzers.qualification": 220,
    "mdwatch.analyzers.regno": 300,
    "mdwatch.analyzers.registry_rules": 320,
    "mdwatch.analyzers.warnings": 400,
    "mdwatch.analyzers.detail": 500,
    "mdwatch.analyzers.claims": 600,
    "mdwatch.analyzers.scope": 650,
    "mdwatch.analyzers.drug": 700,
    "mdwatch.analyzers.history": 900,  # judges the findings of the analyzers before it
}


@dataclass(frozen=True, slots=True)
class AnalyzerSpec:
    name: str
    rules: tuple[str, ...]
    kinds: tuple[PageKind, ...]
    func: Analyzer
    after_others: bool = False  # sees the earlier analyzers' findings as ``ctx.prior``


@cache
def analyzers() -> tuple[AnalyzerSpec, ...]:
    specs = []
    for name, _prio in sorted(
        ((n, p) for n, p in ANALYZER_MODULES.items() if p is not None), key=lambda item: item[1]
    ):
        mod = importlib.import_module(name)
        kinds = tuple(k for k in mod.KINDS if k not in NAVIGATION_KINDS)
        specs.append(AnalyzerSpec(name, tuple(mod.RULES), kinds, mod.analyze,
                                  bool(getattr(mod, "AFTER_OTHERS", False))))
    return tuple(specs)


def implemented_rules() -> frozenset[str]:
    return frozenset(r for spec in analyzers() for r in spec.rules)


def analyze(page: Page, ctx: Context) -> list[Finding]:
    """Run every analyzer that applies to ``page.kind``; keep findings of enabled rules."""
    if page.kind in NAVIGATION_KINDS:
        return []
    out: list[Finding] = []
    for spec in analyzers():
        if page.kind not in spec.kinds:
            continue
        if ctx.enabled_rules is not None and not any(r in ctx.enabled_rules for r in spec.rules):
            continue
        seen = replace(ctx, prior=tuple(out)) if spec.after_others else ctx
        out.extend(f for f in spec.func(page, seen) if ctx.enabled(f.rule))
    if page.original_text is not None and out:
        table = _reverse_map(page)
        out = [quote_as_shown(f, page, table) for f in out]
    return out


def _reverse_map(page: Page) -> dict[int, str]:
    """Simplified character → the page's own (traditional) character, from where the two texts
    differ; where one simplified character stood for several, the most frequent one."""
    shown = page.original_text or ""
    counts: dict[str, Counter[str]] = {}
    if len(shown) == len(page.text):
        for simple, orig in zip(page.text, shown, strict=True):
            if simple != orig:
                counts.setdefault(simple, Counter())[orig] += 1
    table = {ord(simple): c.most_common(1)[0][0] for simple, c in counts.items()}
    for simple, orig in zip(page.text, shown, strict=False):  # a character also shown as is stays
        if simple == orig and ord(simple) in table and counts[simple][table[ord(simple)]] < 2:
            del table[ord(simple)]
    return table


def quote_as_shown(found: Finding, page: Page, table: dict[int, str] | None = None) -> Finding:
    """A finding on a traditional-Chinese page with its text evidence quoted as the page shows it."""
    table = _reverse_map(page) if table is None else table
    evidence = tuple(
        replace(e, snippet=e.snippet.translate(table), match=e.match.translate(table)) if e.source == "text" else e
        for e in found.evidence
    )
    return replace(found, evidence=evidence)
