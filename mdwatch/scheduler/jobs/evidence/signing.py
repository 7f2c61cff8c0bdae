"""The local Ed25519 seal of an evidence package made without a trusted timestamp service.

The key is created on first use in the user's data directory (next to the default database), file
mode 0600. The package holds the public key (``signing-key.pub``, listed in the manifest) and the
signed statement ``manifest.sig``: canonical JSON naming the manifest's SHA-256, the key's
fingerprint and the machine's time, with an Ed25519 signature over the statement without its
``signature`` field. Because the statement names the manifest's digest, ``verify`` can tell a
changed manifest (signature good, digest differs) from a changed statement (signature bad).

The time of such a package is the machine's own: nothing outside this computer vouches for it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mdwatch.scheduler.jobs.evidence.package_format import MANIFEST, _times
from mdwatch.storage.config import default_data_dir

SIGNATURE = "manifest.sig"
PUBLIC_KEY = "signing-key.pub"
KEY_FILENAME = "evidence-signing-key.pem"
ALGORITHM = "Ed25519"
LOCAL_TIME_NOTE = "本机时间，未经可信时间戳"


def default_key_path() -> Path:
    """The private key's file: the user's data directory, next to the default database."""
    return default_data_dir() / KEY_FILENAME


def load_or_create_key(path: Path | None = None) -> Ed25519PrivateKey:
    """The installation's signing key, created (mode 0600) the first time it is needed."""
    path = default_key_path() if path is None else path
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made earlier (or by a concurrent export): use it
        return _load_key(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return key


def _load_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} 不是 Ed25519 私钥")
    return key


def public_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_fingerprint(public_pem: bytes) -> str:
    """SHA-256 of the raw 32-byte public key, hex: what a user compares out of band."""
    public = serialization.load_pem_public_key(public_pem)
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return hashlib.sha256(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).hexdigest()


def _canonical(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8")


def sign_manifest(key: Ed25519PrivateKey, manifest_bytes: bytes, when: datetime | None = None) -> bytes:
    """The bytes of ``manifest.sig`` for ``manifest_bytes``."""
    statement: dict[str, Any] = {
        "algorithm": ALGORITHM,
        "manifest": MANIFEST,
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "key_sha256": key_fingerprint(public_key_pem(key)),
        "signed_at": _times(when or datetime.now(UTC)),
        "time_source": LOCAL_TIME_NOTE,
    }
    statement["signature"] = base64.b64encode(key.sign(_canonical(statement))).decode("ascii")
    return _canonical(statement)


def check_signature(sig_bytes: bytes, public_pem: bytes, manifest_bytes: bytes) -> tuple[str | None, str | None, dict[str, Any]]:
    """(what of the statement is bad, what of the manifest is bad, the statement): each None when good.

    The statement must be exactly its canonical form, so no byte of it escapes the signature.
    """
    try:
        statement = json.loads(sig_bytes.decode("utf-8"))
        body = {k: v for k, v in statement.items() if k != "signature"} if isinstance(statement, dict) else None
        signature = base64.b64decode(str(statement["signature"]), validate=True) if body is not None else b""
    except (ValueError, KeyError, TypeError):
        return "签名文件无法解析", None, {}
    if body is None or _canonical(statement) != sig_bytes:
        return "签名文件不是规范格式（已被改动）", None, {}
    try:
        public = serialization.load_pem_public_key(public_pem)
    except ValueError:
        return f"{PUBLIC_KEY} 不是有效的公钥", None, body
    if not isinstance(public, Ed25519PublicKey):
        return f"{PUBLIC_KEY} 不是 Ed25519 公钥", None, body
    try:
        public.verify(signature, _canonical(body))
    except InvalidSignature:
        return f"签名与 {PUBLIC_KEY} 中的公钥不符（签名文件已被改动，或公钥被替换）", None, body
    if body.get("key_sha256") != key_fingerprint(public_pem):
        return "签名声明的公钥指纹与包内公钥不符", None, body
    actual = hashlib.sha256(manifest_bytes).hexdigest()
    if body.get("manifest_sha256") != actual:
        return None, f"清单的 SHA-256 为 {actual}，与签名时的 {body.get('manifest_sha256')} 不符（清单已被改动）", body
    return None, None, body
