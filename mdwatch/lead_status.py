"""The lead status vocabulary, defined once, importable without the storage layer.

The command line offers these as choices when it starts, and starting must not import the
database stack (``mdwatch scan`` answers in about a second); ``storage.leads`` re-exports them.
"""

from __future__ import annotations

__all__ = ["CLOSED_STATUSES", "LEAD_STATUSES", "OPEN_STATUSES", "STATUS_ZH", "UPDATE_STATUSES", "WORKFLOW",
           "WORKFLOW_ZH"]

LEAD_STATUSES = ("new", "assigned", "verified", "resolved", "dismissed")
OPEN_STATUSES = frozenset({"new", "assigned", "verified"})
CLOSED_STATUSES = frozenset({"resolved", "dismissed"})
UPDATE_STATUSES = ("verified", "resolved", "dismissed")  # what ``lead update --status`` may set
STATUS_ZH = {"new": "待交办", "assigned": "已交办", "verified": "已核查", "resolved": "已处置", "dismissed": "已排除"}
# the console's workflow: each status and the statuses it may move to next (one step, with a note)
WORKFLOW: dict[str, tuple[str, ...]] = {
    "new": ("assigned",), "assigned": ("verified",), "verified": ("resolved", "dismissed"),
    "resolved": (), "dismissed": (),
}
WORKFLOW_ZH = {"new": "新建", "assigned": "已交办", "verified": "核查中", "resolved": "已处置", "dismissed": "不予处理"}
