"""Rule packs (``lexicons/packs/*.yaml``): which rules a campaign runs, and at what severity.

A pack file holds ``title``, ``rules`` (rule IDs of ``lexicons/rules.yaml``), ``severity``
(``{RULE: level}`` overrides) and optionally ``extends`` (packs whose rules and overrides it
takes first). :func:`combine` merges packs into what :class:`~mdwatch.analyzers.model.Context`
and :func:`apply_severity` take. Pure: data files in, plain values out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import cast

from mdwatch.analyzers.catalogue import rules as catalogue
from mdwatch.analyzers.model import SEVERITIES, Finding, Severity
from mdwatch.lexicons import load_yaml

__all__ = [
    "EVERY_RULE",
    "Pack",
    "PackError",
    "RuleSelection",
    "apply_severity",
    "combine",
    "load_pack",
    "pack_names",
    "parse_pack_names",
    "select_packs",
]

PACK_DIR = "packs"


class PackError(ValueError):
    """An unknown pack or a malformed pack file; the message is one Chinese sentence."""


@dataclass(frozen=True, slots=True)
class Pack:
    name: str
    title: str
    rules: frozenset[str]
    severities: dict[str, Severity]  # overrides of the catalogue's severity, by rule


@cache
def pack_names() -> tuple[str, ...]:
    """Names of the packs shipped in ``lexicons/packs`` (file names without ``.yaml``), sorted."""
    folder = resources.files("mdwatch.lexicons").joinpath(PACK_DIR)
    return tuple(sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml")))


def _severity(name: str, rule: str, level: object) -> Severity:
    if level not in SEVERITIES:
        raise PackError(f"规则包 {name}：{rule} 的级别 {level!r} 无效（可用：{'、'.join(SEVERITIES)}）。")
    return cast(Severity, level)


@cache
def load_pack(name: str, _seen: tuple[str, ...] = ()) -> Pack:
    """The pack ``name`` with the rules and overrides of the packs it extends folded in."""
    if name not in pack_names():
        raise PackError(f"没有名为 {name} 的规则包（可用：{'、'.join(pack_names())}）。")
    if name in _seen:
        raise PackError(f"规则包 {name} 循环引用：{' → '.join((*_seen, name))}。")
    spec = load_yaml(f"{PACK_DIR}/{name}.yaml") or {}
    if not isinstance(spec, dict):
        raise PackError(f"规则包 {name} 的格式无效。")
    known = catalogue()
    enabled: set[str] = set()
    severities: dict[str, Severity] = {}
    for parent in spec.get("extends") or ():
        base = load_pack(str(parent), (*_seen, name))
        enabled |= base.rules
        severities.update(base.severities)
    for rule in spec.get("rules") or ():
        if rule not in known:
            raise PackError(f"规则包 {name}：未知规则 {rule}。")
        enabled.add(rule)
    for rule, level in (spec.get("severity") or {}).items():
        if rule not in known:
            raise PackError(f"规则包 {name}：未知规则 {rule}。")
        severities[rule] = _severity(name, rule, level)
    return Pack(
        name=name,
        title=str(spec.get("title") or name),
        rules=frozenset(enabled),
        severities={r: s for r, s in severities.items() if r in enabled},
    )


def parse_pack_names(value: str | Iterable[str]) -> tuple[str, ...]:
    """``"device-national,hainan"`` (or several such strings) → ``("device-national", "hainan")``."""
    parts = [value] if isinstance(value, str) else list(value)
    out: dict[str, None] = {}
    for part in parts:
        for name in part.replace("，", ",").split(","):
            if name.strip():
                out.setdefault(name.strip(), None)
    return tuple(out)


def combine(names: Sequence[str]) -> tuple[frozenset[str], dict[str, Severity]]:
    """(enabled rules, severity overrides) of several packs: the union of their rules; where two
    packs tune one rule differently, the more severe level wins."""
    if not names:
        raise PackError("至少需要一个规则包。")
    enabled: set[str] = set()
    overrides: dict[str, Severity] = {}
    for name in names:
        pack = load_pack(name)
        enabled |= pack.rules
        for rule, level in pack.severities.items():
            current = overrides.get(rule)
            if current is None or SEVERITIES.index(level) < SEVERITIES.index(current):
                overrides[rule] = level
    return frozenset(enabled), overrides


def apply_severity(findings: Iterable[Finding], overrides: Mapping[str, Severity]) -> list[Finding]:
    """``findings`` with each overridden rule's severity replaced (the others unchanged)."""
    out: list[Finding] = []
    for f in findings:
        level = overrides.get(f.rule)
        out.append(f if level is None or level == f.severity else dataclasses.replace(f, severity=level))
    return out


@dataclass(frozen=True, slots=True)
class RuleSelection:
    """Which rules run and at what severity: what rule packs make of the catalogue. Scan, sweep
    and campaign apply it in the same place (the page pipeline), so one page gets the same
    findings with the same severities whichever entry point ran it."""

    enabled: frozenset[str] | None = None  # None: every rule
    severities: Mapping[str, Severity] = field(default_factory=dict)  # overrides, by rule
    packs: tuple[str, ...] = ()  # the packs it was made of (for reports and run stats)

    def apply(self, findings: Iterable[Finding]) -> list[Finding]:
        """``findings`` of enabled rules, each at the selection's severity."""
        kept = [f for f in findings if self.enabled is None or f.rule in self.enabled]
        return apply_severity(kept, self.severities) if self.severities else kept


EVERY_RULE = RuleSelection()


def select_packs(names: str | Iterable[str] | None) -> RuleSelection:
    """The selection of the packs ``names`` ("a,b" or a list); every rule when none is named."""
    parsed = parse_pack_names(names) if names else ()
    if not parsed:
        return EVERY_RULE
    enabled, overrides = combine(parsed)
    return RuleSelection(enabled, overrides, parsed)
