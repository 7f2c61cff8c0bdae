"""The chain of custody (保管链) of evidence packages: who exported or verified which package.

``evidence export`` and ``evidence verify`` each append one entry to the append-only
``custody_log`` (storage/custody.py): the operator (``--operator`` / ``MDWATCH_OPERATOR``, else
the OS user), the action, the target the package holds, the manifest's SHA-256 and the result.
"""

from __future__ import annotations

import getpass
import json
import re
import zipfile
from pathlib import Path
from typing import Any

from mdwatch.scheduler.jobs.evidence.package_format import MANIFEST
from mdwatch.scheduler.jobs.evidence.selection import Target
from mdwatch.storage.custody import CustodyEntry, CustodyStore

MAX_SCOPE_MANIFEST = 64 * 1024 * 1024  # a manifest larger than this is not read for its scope
_KEYS = (("finding", "finding_id"), ("lead", "lead_id"), ("run", "run_id"), ("campaign", "campaign"))
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def operator_name(given: str | None) -> str:
    """``--operator`` / ``MDWATCH_OPERATOR`` when set, else the OS user (``unknown`` if there is none)."""
    if given and given.strip():
        return given.strip()
    try:
        return getpass.getuser() or "unknown"
    except (KeyError, OSError):  # no user name in the environment or the password database
        return "unknown"


def record(db_url: str | None, *, operator: str | None, action: str, target: tuple[str, str], result: str,
           manifest_sha256: str | None = None, package: str | None = None,
           detail: str | None = None) -> CustodyEntry:
    """Append one custody entry to the database at ``db_url`` (the default database when None)."""
    with CustodyStore(db_url) as custody:
        return custody.append(operator=operator_name(operator), action=action, target_kind=target[0],
                              target=target[1], result=result, manifest_sha256=manifest_sha256,
                              package=package, detail=detail)


def export_target(target: Target) -> tuple[str, str]:
    return target.kind, target.value


def package_target(zip_path: Path | str) -> tuple[str, str]:
    """The target an evidence package says it holds (its manifest's ``scope``), or ``("unknown", "")``.

    Never raises: the package may be anything at all.
    """
    try:
        with zipfile.ZipFile(zip_path) as zf:
            info = zf.getinfo(MANIFEST)
            if info.file_size > MAX_SCOPE_MANIFEST:
                return "unknown", ""
            scope = json.loads(zf.read(info).decode("utf-8")).get("scope")
        return _scope_target(scope)
    except Exception:  # a hostile or broken package: verify names its problems, not this
        return "unknown", ""


def _scope_target(scope: Any) -> tuple[str, str]:
    if not isinstance(scope, dict):
        return "unknown", ""
    kinds = [(kind, key) for kind, key in _KEYS if key in scope]
    named = [(kind, key) for kind, key in kinds if kind == scope.get("kind")] or kinds
    if not named:
        return "unknown", ""
    kind, key = named[0]
    value = scope[key]
    if isinstance(value, bool) or not isinstance(value, int | str):
        return "unknown", ""
    text = _UNPRINTABLE.sub("", str(value))[:200]
    return (kind, text) if text else ("unknown", "")
