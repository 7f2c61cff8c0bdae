"""The ordered list of analyzer modules, and ``analyze(page, ctx)`` that runs them.

Each analyzer module exposes ``RULES`` (the rule IDs it can emit), ``KINDS`` (page kinds it
looks at) and a pure function ``analyze(page, ctx) -> list[Finding]``. Order matters only for
the order of findings in the output. Set a module to ``None`` in ``ANALYZER_MODULES`` to switch it off.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from functools import cache

from mdwatch.analyzers.model import Analyzer, Context, Finding, Page, PageKind

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
}


@dataclass(frozen=True, slots=True)
class AnalyzerSpec:
    name: str
    rules: tuple[str, ...]
    kinds: tuple[PageKind, ...]
    func: Analyzer


@cache
def analyzers() -> tuple[AnalyzerSpec, ...]:
    specs = []
    for name, _prio in sorted(
        ((n, p) for n, p in ANALYZER_MODULES.items() if p is not None), key=lambda item: item[1]
    ):
        mod = importlib.import_module(name)
        specs.append(AnalyzerSpec(name, tuple(mod.RULES), tuple(mod.KINDS), mod.analyze))
    return tuple(specs)


def implemented_rules() -> frozenset[str]:
    return frozenset(r for spec in analyzers() for r in spec.rules)


def analyze(page: Page, ctx: Context) -> list[Finding]:
    """Run every analyzer that applies to ``page.kind``; keep findings of enabled rules."""
    out: list[Finding] = []
    for spec in analyzers():
        if page.kind not in spec.kinds:
            continue
        if ctx.enabled_rules is not None and not any(r in ctx.enabled_rules for r in spec.rules):
            continue
        out.extend(f for f in spec.func(page, ctx) if ctx.enabled(f.rule))
    if page.original_text is not None and out:
        out = [quote_as_shown(f, page) for f in out]
    return out


def _as_shown(text: str, page: Page) -> str:
    """``text`` (quoted from the simplified ``page.text``) in the page's own characters."""
    if not text or page.original_text is None:
        return text
    pos = page.text.find(text)
    if pos < 0 or len(page.original_text) != len(page.text):
        return text
    return page.original_text[pos : pos + len(text)]


def quote_as_shown(found: Finding, page: Page) -> Finding:
    """A finding on a traditional-Chinese page with its text evidence quoted as the page shows it."""
    evidence = tuple(
        replace(e, snippet=_as_shown(e.snippet, page), match=_as_shown(e.match, page)) if e.source == "text" else e
        for e in found.evidence
    )
    return replace(found, evidence=evidence)
