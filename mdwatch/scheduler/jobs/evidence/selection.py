"""What an export packages: one finding, one lead (with all its findings), one run or one campaign.

The four targets cannot be confused: each is named by its kind (``--finding N``, ``--lead N``,
``--run N``, ``--campaign NAME``), and the package, its README and the command's output say which
one was exported (:data:`SCOPE_LABELS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mdwatch.storage.evidence import EvidenceStore
from mdwatch.storage.leads import campaign_run_ids_by_name, lead_finding_ids
from mdwatch.storage.records import StoredFinding

TARGET_KINDS = ("finding", "lead", "run", "campaign")
SCOPE_LABELS = {
    "finding": "一条问题",
    "lead": "一条线索（含其全部问题）",
    "run": "一次运行",
    "campaign": "一个监测任务",
}


class EvidenceError(Exception):
    """An export that cannot be made (unknown finding, lead, run or campaign); the message is Chinese."""


@dataclass(frozen=True, slots=True)
class Target:
    """What to export: ``kind`` (finding | lead | run | campaign) and its id (or, for a campaign, name)."""

    kind: str
    value: str

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise ValueError(f"unknown export target: {self.kind!r}")

    @property
    def label(self) -> str:
        return SCOPE_LABELS[self.kind]

    @property
    def scope(self) -> str:
        """As README.txt and the command's output name it, e.g. ``一条线索（含其全部问题）：线索 3``."""
        named = {"finding": f"问题 {self.value}", "lead": f"线索 {self.value}", "run": f"运行 {self.value}",
                 "campaign": f"监测任务 {self.value}"}[self.kind]
        return f"{self.label}：{named}"

    def manifest(self) -> dict[str, Any]:
        key = {"finding": "finding_id", "lead": "lead_id", "run": "run_id", "campaign": "campaign"}[self.kind]
        value: Any = self.value if self.kind == "campaign" else int(self.value)
        return {"kind": self.kind, key: value, "label": self.label}


@dataclass(frozen=True, slots=True)
class Selection:
    target: Target
    findings: list[StoredFinding]
    run_ids: list[int]  # the runs whose WARC files go in (the run exported, or the findings' runs)
    extra: dict[str, Any] = field(default_factory=dict)  # added to the manifest's scope


def select_target(store: EvidenceStore, target: Target, notes: list[str]) -> Selection:
    """The findings of ``target``; an unknown target raises :class:`EvidenceError`."""
    if target.kind == "finding":
        found = store.finding(int(target.value))
        if found is None:
            raise EvidenceError(f"数据库中没有编号为 {target.value} 的问题（finding）。")
        return Selection(target, [found], [found.run_id])
    if target.kind == "run":
        run_id = int(target.value)
        if store.run(run_id) is None:
            raise EvidenceError(f"数据库中没有编号为 {run_id} 的运行（扫描、巡查或监测）。")
        findings = store.findings(run_id)
        if not findings:
            notes.append("该运行没有发现问题。")
        return Selection(target, findings, [run_id])
    if target.kind == "lead":
        return _lead(store, target)
    return _campaign(store, target, notes)


def _lead(store: EvidenceStore, target: Target) -> Selection:
    ids = lead_finding_ids(store.engine, int(target.value))
    if ids is None:
        raise EvidenceError(f"数据库中没有编号为 {target.value} 的线索。")
    findings = [f for f in (store.finding(i) for i in ids) if f is not None]
    if not findings:
        raise EvidenceError(f"线索 {target.value} 的问题记录已不在数据库中，无法导出。")
    return Selection(target, findings, _runs_of(findings), {"finding_ids": [f.id for f in findings]})


def _campaign(store: EvidenceStore, target: Target, notes: list[str]) -> Selection:
    run_ids = campaign_run_ids_by_name(store.engine, target.value)
    if run_ids is None:
        raise EvidenceError(f"没有名为 {target.value} 的监测任务。")
    findings = [f for run_id in run_ids for f in store.findings(run_id)]
    if not run_ids:
        notes.append("该监测任务尚未运行。")
    elif not findings:
        notes.append("该监测任务的运行没有发现问题。")
    return Selection(target, findings, _runs_of(findings), {"run_ids": run_ids})


def _runs_of(findings: list[StoredFinding]) -> list[int]:
    return list(dict.fromkeys(f.run_id for f in findings))
