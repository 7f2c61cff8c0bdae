"""What an evidence package looks like: its format id, fixed file names and how times and JSON are written."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

FORMAT = "mdwatch-evidence/1"
from mdwatch.scheduler.settings import BEIJING  # noqa: E402

SHANGHAI = BEIJING  # one definition: scheduler.settings
MANIFEST = "manifest.json"
README = "README.txt"
NOTE_EXPORT_SCREENSHOT = "export-time"  # evidence_files.note of a screenshot taken by an export


def _times(when: datetime) -> dict[str, str]:
    return {"utc": when.astimezone(UTC).isoformat(), "asia_shanghai": when.astimezone(SHANGHAI).isoformat()}


def _json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode("utf-8")
