"""The rule catalogue (``lexicons/rules.yaml``) as typed data, and the Finding factory."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from mdwatch.analyzers.model import SEVERITIES, Evidence, Finding, Severity
from mdwatch.lexicons import load_yaml


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    article: str
    title: str
    message: str
    pack: str
    needs: str | None


@cache
def rules() -> dict[str, Rule]:
    out: dict[str, Rule] = {}
    for rule_id, spec in load_yaml("rules.yaml").items():
        severity = spec["severity"]
        if severity not in SEVERITIES:
            raise ValueError(f"rules.yaml: {rule_id} has unknown severity {severity!r}")
        out[rule_id] = Rule(
            id=rule_id,
            severity=severity,
            article=spec["article"],
            title=spec["title"],
            message=spec["message"],
            pack=spec.get("pack", "device"),
            needs=spec.get("needs"),
        )
    return out


def finding(rule_id: str, evidence: Iterable[Evidence] = (), message: str | None = None) -> Finding:
    """A Finding for ``rule_id`` with the catalogue's severity, article and message."""
    rule = rules()[rule_id]
    return Finding(
        rule=rule.id,
        severity=rule.severity,
        article=rule.article,
        message=message or rule.message,
        evidence=tuple(evidence),
    )
