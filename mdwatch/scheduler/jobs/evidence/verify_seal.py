"""The seal of a package, checked offline: the Ed25519 signature or the RFC 3161 timestamp of its manifest.

Each failure is one named problem: the seal file when it is damaged (``签名无效`` / ``时间戳无效``),
the manifest when the seal is intact but names another manifest digest (``已改动``). What holds is
returned as Chinese lines for the verify output: which TSA and which time (Beijing time), or that
the package's times are the machine's own (本机时间，未经可信时间戳).
"""

from __future__ import annotations

import zipfile
from typing import Any

from cryptography import x509

from mdwatch.scheduler.jobs.evidence.package_format import MANIFEST
from mdwatch.scheduler.jobs.evidence.signing import LOCAL_TIME_NOTE, PUBLIC_KEY, SIGNATURE, check_signature
from mdwatch.scheduler.jobs.evidence.timestamping import MAX_RESPONSE_BYTES, TOKEN, check_token
from mdwatch.scheduler.jobs.evidence.verify_checks import _READ_ERRORS, _read_capped, _read_error_zh
from mdwatch.scheduler.jobs.evidence.verify_report import FileProblem

SEAL_FILES = (SIGNATURE, TOKEN)  # written after the manifest, so never listed in it
_METHOD_FILES = {"ed25519": SIGNATURE, "rfc3161": TOKEN}
NO_SEAL = f"注意：该证据包没有签名，也没有可信时间戳；其中的时间均为{LOCAL_TIME_NOTE}。"


def check_seal(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], manifest: dict[str, Any] | None,
               manifest_bytes: bytes, problems: list[FileProblem],
               trusted: list[x509.Certificate] | None = None) -> list[str]:
    """Check the seal files of the package against ``manifest_bytes``; returns what holds (Chinese lines)."""
    seal = manifest.get("seal") if manifest is not None else None
    declared = _METHOD_FILES.get(str(seal.get("method"))) if isinstance(seal, dict) else None
    if manifest is not None and isinstance(seal, dict) and declared is None:
        problems.append(FileProblem(MANIFEST, "manifest", f"清单中的 seal.method 不是 {'、'.join(_METHOD_FILES)} 之一"))
    present = [n for n in SEAL_FILES if n in members]
    for extra in present:
        if manifest is not None and extra != declared:
            problems.append(FileProblem(extra, "extra", "包内有该签名或时间戳文件，但清单没有声明"))
    if declared is not None and declared not in members:
        if not any(p.path == declared for p in problems):  # e.g. a duplicate: named already
            problems.append(FileProblem(declared, "missing", "清单声明了该签名或时间戳文件，但包内没有"))
        return []
    name = declared if declared is not None else (present[0] if manifest is None and present else None)
    if name is None:
        return [NO_SEAL] if not present else []
    data = _read_seal(zf, members[name], problems)
    if data is None:
        return []
    if name == SIGNATURE:
        return _check_signature(zf, members, data, manifest_bytes, problems)
    return _check_token(data, manifest_bytes, seal if isinstance(seal, dict) else {}, problems, trusted)


def _read_seal(zf: zipfile.ZipFile, info: zipfile.ZipInfo, problems: list[FileProblem]) -> bytes | None:
    try:
        data = _read_capped(zf, info, MAX_RESPONSE_BYTES)
    except _READ_ERRORS as exc:
        problems.append(FileProblem(info.filename, "unreadable", _read_error_zh(exc)))
        return None
    if data is None:
        problems.append(FileProblem(info.filename, "unreadable", f"文件超过 {MAX_RESPONSE_BYTES >> 20} MB，不予解析"))
    return data


def _check_signature(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], sig: bytes, manifest_bytes: bytes,
                     problems: list[FileProblem]) -> list[str]:
    if any(p.path == PUBLIC_KEY for p in problems):
        return []  # the key is changed or missing, and named: the signature cannot be checked with it
    if PUBLIC_KEY not in members:
        problems.append(FileProblem(PUBLIC_KEY, "missing", "包内没有签名所用的公钥，无法校验签名"))
        return []
    try:
        public = _read_capped(zf, members[PUBLIC_KEY], 1 << 16) or b""
    except _READ_ERRORS as exc:
        problems.append(FileProblem(PUBLIC_KEY, "unreadable", _read_error_zh(exc)))
        return []
    sig_problem, manifest_problem, statement = check_signature(sig, public, manifest_bytes)
    if sig_problem is not None:
        problems.append(FileProblem(SIGNATURE, "signature", sig_problem))
        return []
    if manifest_problem is not None:
        problems.append(FileProblem(MANIFEST, "changed", manifest_problem))
        return []
    signed_at = statement.get("signed_at")
    when = signed_at.get("asia_shanghai") if isinstance(signed_at, dict) else None
    return [f"签名：有效（Ed25519，公钥 {PUBLIC_KEY} 的 SHA-256 指纹 {statement.get('key_sha256')}）。",
            f"时间：签名时间（北京时间）{when}，为{LOCAL_TIME_NOTE}；包内所有时间均为{LOCAL_TIME_NOTE}。"]


def _check_token(tsr: bytes, manifest_bytes: bytes, seal: dict[str, Any], problems: list[FileProblem],
                 trusted: list[x509.Certificate] | None) -> list[str]:
    check = check_token(tsr, manifest_bytes, trusted)
    if check.token_problem is not None:
        problems.append(FileProblem(TOKEN, "timestamp", check.token_problem))
        return []
    if check.manifest_problem is not None:
        problems.append(FileProblem(MANIFEST, "changed", check.manifest_problem))
        return []
    url = seal.get("tsa")
    source = ("已用 --tsa-cert 给出的证书核验" if check.trusted_given else
              "取自证据包本身：只证明令牌未被改动；请核对该指纹确属上述时间戳服务，或用 --tsa-cert 校验")
    return [f"可信时间戳：有效（RFC 3161）。时间戳服务：{check.tsa}" + (f"（{url}）" if isinstance(url, str) else "") + "。",
            f"时间（北京时间）：{check.time_beijing}（时间戳服务出具）。",
            f"TSA 证书 SHA-256：{check.cert_sha256}（{source}）。"]
