"""The ZIP of an evidence package, with every file hashed as it is added and the manifest written last.

The manifest is sealed as it is written: with a TSA (``tsa_url``, else ``MDWATCH_TSA_URL``) by an
RFC 3161 timestamp token (``manifest.tsr``, timestamping.py); without one by the installation's
Ed25519 key (``manifest.sig`` and ``signing-key.pub``, signing.py), and README.txt then says the
package's times are the machine's own. The seal files come after the manifest and are not listed in it.
"""

from __future__ import annotations

import hashlib
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mdwatch.scheduler.jobs.evidence.package_format import MANIFEST, README, _json
from mdwatch.scheduler.jobs.evidence.signing import (
    LOCAL_TIME_NOTE,
    PUBLIC_KEY,
    SIGNATURE,
    key_fingerprint,
    load_or_create_key,
    public_key_pem,
    sign_manifest,
)
from mdwatch.scheduler.jobs.evidence.timestamping import (
    TOKEN,
    TimestampError,
    request_token,
    tsa_url_from_env,
)


class _Package:
    """Files going into the ZIP, hashed as they are added.

    ``tsa_url`` None reads ``MDWATCH_TSA_URL`` (export() has no TSA parameter yet); ``key_path``
    None is the key in the user's data directory.
    """

    def __init__(self, zf: zipfile.ZipFile, tsa_url: str | None = None, key_path: Path | None = None) -> None:
        self.zf = zf
        self.entries: list[dict[str, Any]] = []
        self.tsa_url = tsa_url or tsa_url_from_env()
        self.key_path = key_path
        self._key: Ed25519PrivateKey | None = None

    def add_bytes(self, name: str, data: bytes, kind: str, note: str | None = None) -> None:
        if name == README:
            data += self._readme_note().encode("utf-8")
        self._write(name, data)
        self._entry(name, hashlib.sha256(data).hexdigest(), len(data), kind, note)

    def _write(self, name: str, data: bytes) -> None:
        compress = zipfile.ZIP_STORED if name.endswith((".png", ".gz")) else zipfile.ZIP_DEFLATED
        info = zipfile.ZipInfo(name, date_time=datetime.now(UTC).timetuple()[:6])
        info.compress_type = compress
        info.external_attr = 0o644 << 16
        self.zf.writestr(info, data)

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
        if self.tsa_url is None:
            public = public_key_pem(self.signing_key())
            self.add_bytes(PUBLIC_KEY, public, "signing-key", "本机签名公钥（Ed25519）")
            manifest["seal"] = {"method": "ed25519", "signature": SIGNATURE, "public_key": PUBLIC_KEY,
                                "key_sha256": key_fingerprint(public), "time": LOCAL_TIME_NOTE}
        else:
            manifest["seal"] = {"method": "rfc3161", "token": TOKEN, "tsa": self.tsa_url}
        manifest["files"] = sorted(self.entries, key=lambda e: str(e["path"]))
        manifest_bytes = _json(manifest)
        if self.tsa_url is None:
            seal_name, seal = SIGNATURE, sign_manifest(self.signing_key(), manifest_bytes)
        else:
            seal_name, seal = TOKEN, self._timestamp(self.tsa_url, manifest_bytes)
        self.zf.writestr(MANIFEST, manifest_bytes)
        self._write(seal_name, seal)
        return manifest_bytes

    def signing_key(self) -> Ed25519PrivateKey:
        if self._key is None:
            self._key = load_or_create_key(self.key_path)
        return self._key

    @staticmethod
    def _timestamp(url: str, manifest_bytes: bytes) -> bytes:
        try:
            return request_token(url, manifest_bytes)
        except TimestampError as exc:
            # EvidenceError lives in exporting.py, which imports this module: imported here, when
            # the export runs, so ``mdwatch evidence export`` prints the reason and exits 2.
            from mdwatch.scheduler.jobs.evidence.exporting import EvidenceError

            raise EvidenceError(str(exc)) from exc

    def _readme_note(self) -> str:
        if self.tsa_url is not None:
            return (f"\n时间与签名：\n清单 {MANIFEST} 的 SHA-256 由可信时间戳服务（RFC 3161）{self.tsa_url} 盖了时间戳，"
                    f"令牌为 {TOKEN}（含该服务的证书）。离线校验：mdwatch evidence verify 本证据包"
                    f"（可加 --tsa-cert 该服务的 CA 证书）；或 openssl ts -verify -data {MANIFEST} -in {TOKEN} "
                    "-CAfile 该服务的 CA 证书。可信时间以令牌中的时间为准；包内其他时间为本机时间。\n")
        fingerprint = key_fingerprint(public_key_pem(self.signing_key()))
        return (f"\n时间与签名：\n本证据包中的时间均为{LOCAL_TIME_NOTE}。清单 {MANIFEST} 由本机密钥（Ed25519）签名："
                f"签名为 {SIGNATURE}，公钥为 {PUBLIC_KEY}（SHA-256 指纹 {fingerprint}）。签名只证明清单在签名后"
                "未被改动，不证明签名的时间；需要可信时间时，请设置 --tsa（MDWATCH_TSA_URL）后重新导出。\n")

    def _entry(self, name: str, sha: str, size: int, kind: str, note: str | None) -> None:
        entry: dict[str, Any] = {"path": name, "sha256": sha, "size": size, "kind": kind}
        if note:
            entry["note"] = note
        self.entries.append(entry)
