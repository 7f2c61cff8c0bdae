"""The ZIP of an evidence package, with every file hashed as it is added and the manifest written last."""

from __future__ import annotations

import hashlib
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mdwatch.scheduler.jobs.evidence.package_format import MANIFEST, _json


class _Package:
    """Files going into the ZIP, hashed as they are added."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.entries: list[dict[str, Any]] = []

    def add_bytes(self, name: str, data: bytes, kind: str, note: str | None = None) -> None:
        compress = zipfile.ZIP_STORED if name.endswith((".png", ".gz")) else zipfile.ZIP_DEFLATED
        info = zipfile.ZipInfo(name, date_time=datetime.now(UTC).timetuple()[:6])
        info.compress_type = compress
        info.external_attr = 0o644 << 16
        self.zf.writestr(info, data)
        self._entry(name, hashlib.sha256(data).hexdigest(), len(data), kind, note)

    def add_file(self, name: str, path: Path, kind: str, note: str | None = None) -> str:
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as src, self.zf.open(name, "w", force_zip64=True) as dst:
            for block in iter(lambda: src.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
                dst.write(block)
        self._entry(name, digest.hexdigest(), size, kind, note)
        return digest.hexdigest()

    def write_manifest(self, manifest: dict[str, Any]) -> bytes:
        """Complete ``manifest`` with every entry added so far and write it; returns its bytes.

        The manifest is the one file not listed in itself: it cannot hold its own hash.
        """
        manifest["files"] = sorted(self.entries, key=lambda e: str(e["path"]))
        manifest_bytes = _json(manifest)
        self.zf.writestr(MANIFEST, manifest_bytes)
        return manifest_bytes

    def _entry(self, name: str, sha: str, size: int, kind: str, note: str | None) -> None:
        entry: dict[str, Any] = {"path": name, "sha256": sha, "size": size, "kind": kind}
        if note:
            entry["note"] = note
        self.entries.append(entry)
