"""RFC 3161 trusted timestamps of an evidence package's manifest (``manifest.tsr``).

At export, the SHA-256 of ``manifest.json`` is sent to the time-stamp authority (TSA) configured
by ``--tsa`` / ``MDWATCH_TSA_URL`` and its answer, a DER ``TimeStampResp`` with the TSA's
certificates, is stored unchanged as ``manifest.tsr``: ``openssl ts -verify -data manifest.json
-in manifest.tsr -CAfile <TSA CA>`` checks it too. ``verify`` checks it offline: the token's
signature against the TSA certificate given with ``--tsa-cert``, or else the certificates inside
the token (which proves the token is intact, not who the TSA is: compare the fingerprint shown),
then its message imprint against the manifest's digest.

``export`` (exporting.py) has no TSA parameter yet: the package reads ``MDWATCH_TSA_URL`` through
:func:`tsa_url_from_env` unless a URL is passed to ``_Package``.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from mdwatch.scheduler.settings import BEIJING, SETTINGS

TOKEN = "manifest.tsr"
MAX_RESPONSE_BYTES = 1 << 20
_DIGESTS = {"2.16.840.1.101.3.4.2.1": hashlib.sha256, "2.16.840.1.101.3.4.2.3": hashlib.sha512}


class TimestampError(Exception):
    """The TSA gave no usable timestamp; the message is Chinese."""


def tsa_url_from_env() -> str | None:
    """The TSA of ``--tsa`` as the environment gives it (``MDWATCH_TSA_URL``), or None."""
    envvar = SETTINGS["tsa"].envvar
    value = os.environ.get(envvar, "").strip() if envvar else ""
    return value or None


def request_token(url: str, manifest_bytes: bytes, timeout: float = 30.0) -> bytes:
    """Ask the TSA at ``url`` to timestamp the manifest's SHA-256; returns its DER answer as sent."""
    request = (TimestampRequestBuilder().data(manifest_bytes).hash_algorithm(HashAlgorithm.SHA256)
               .cert_request(cert_request=True).nonce(nonce=True).build())
    http = urllib.request.Request(url, data=request.as_bytes(), method="POST",
                                  headers={"Content-Type": "application/timestamp-query",
                                           "Accept": "application/timestamp-reply"})
    try:
        with urllib.request.urlopen(http, timeout=timeout) as answer:
            body = answer.read(MAX_RESPONSE_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise TimestampError(f"无法从时间戳服务 {url} 取得时间戳（{exc}）；证据包未导出。") from exc
    if len(body) > MAX_RESPONSE_BYTES:
        raise TimestampError(f"时间戳服务 {url} 的应答过大；证据包未导出。")
    try:
        response = decode_timestamp_response(body)
    except Exception as exc:  # the parser raises its own types: any failure is an unusable answer
        raise TimestampError(f"时间戳服务 {url} 的应答不是 RFC 3161 时间戳（{type(exc).__name__}）；证据包未导出。") from exc
    if PKIStatus(response.status) != PKIStatus.GRANTED:
        raise TimestampError(f"时间戳服务 {url} 拒绝了请求（状态 {response.status}）；证据包未导出。")
    if response.tst_info.nonce != request.nonce:
        raise TimestampError(f"时间戳服务 {url} 的应答与请求不符（nonce）；证据包未导出。")
    check = check_token(body, manifest_bytes)
    if check.token_problem or check.manifest_problem:
        raise TimestampError(f"时间戳服务 {url} 的时间戳无法校验（{check.token_problem or check.manifest_problem}）；"
                             "证据包未导出。")
    return body


@dataclass(frozen=True, slots=True)
class TokenCheck:
    token_problem: str | None  # what is wrong with manifest.tsr itself (Chinese), or None
    manifest_problem: str | None  # the token is good but names another manifest digest, or None
    tsa: str | None = None  # the TSA's name (token) or its certificate's subject
    time_beijing: str | None = None  # genTime in Beijing time, ISO 8601
    cert_sha256: str | None = None  # fingerprint of the certificate that signed the token
    trusted_given: bool = False  # checked against --tsa-cert (else: the token's own certificates)


def load_certificates(path: Path | str) -> list[x509.Certificate]:
    """The certificates of a PEM (one or more) or DER file; ValueError (Chinese) when there are none."""
    data = Path(path).read_bytes()
    try:
        return x509.load_pem_x509_certificates(data) if b"-----BEGIN" in data else [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ValueError(f"{path} 不是 PEM 或 DER 格式的证书") from exc


def check_token(tsr: bytes, manifest_bytes: bytes, trusted: list[x509.Certificate] | None = None) -> TokenCheck:
    """Check ``manifest.tsr`` offline against the manifest (never raises: the token may be hostile)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography warns about odd certificates a damaged token holds
        try:
            return _check_token(tsr, manifest_bytes, trusted)
        except Exception as exc:  # parsed lazily: a damaged part may fail anywhere
            return TokenCheck(f"时间戳令牌无法解析（{type(exc).__name__}）", None)


def _check_token(tsr: bytes, manifest_bytes: bytes, trusted: list[x509.Certificate] | None) -> TokenCheck:
    try:
        response = decode_timestamp_response(tsr)
        info = response.tst_info
        imprint, algorithm, when = info.message_imprint.message, info.message_imprint.hash_algorithm, info.gen_time
        embedded = [x509.load_der_x509_certificate(c) for c in response.signed_data.certificates]
        leaf = _signer(response, embedded)
        canonical = response.as_bytes() == tsr
    except Exception as exc:  # a damaged token: any parse failure of a hostile input
        return TokenCheck(f"时间戳令牌无法解析（{type(exc).__name__}）", None)
    if not canonical or (why := _unsigned_fields(response, tsr, leaf)):
        return TokenCheck(why or "时间戳令牌含多余或非规范的字节（已被改动）", None)
    if why := _self_check(embedded, trusted or []):
        return TokenCheck(why, None)
    digest = _DIGESTS.get(algorithm.dotted_string)
    if digest is None:
        return TokenCheck(f"时间戳的摘要算法 {algorithm.dotted_string} 不受支持", None)
    try:
        # No intermediates: rfc3161-client trusts them like roots; the token's own certificates serve
        # as the untrusted chain to a --tsa-cert anyway.
        VerifierBuilder(roots=list(trusted or embedded)).build().verify(response, imprint)
    except (VerificationError, ValueError) as exc:
        return TokenCheck(f"时间戳令牌的签名无效，或其证书不受{'--tsa-cert 给出的证书' if trusted else '信任'}认可"
                          f"（{_reason(exc)}）", None)
    found = TokenCheck(None, None, _tsa_name(response, leaf), _beijing(when),
                       hashlib.sha256(leaf.public_bytes(Encoding.DER)).hexdigest() if leaf else None, bool(trusted))
    actual = digest(manifest_bytes).digest()
    if imprint != actual:
        return TokenCheck(None, f"清单的摘要 {actual.hex()} 与时间戳中的 {imprint.hex()} 不符（清单已被改动）",
                          found.tsa, found.time_beijing, found.cert_sha256, found.trusted_given)
    return found


def _reason(exc: BaseException) -> str:
    """The verifier's reason, short: OpenSSL's ``data: "Verify error: …"`` when it gives one."""
    text = str(exc)
    found = re.search(r'data: "([^"]{1,120})"', text) or re.search(r'reason: "([^"]{1,120})"', text)
    return found.group(1) if found else text[:160]


def _signer(response: TimeStampResponse, certs: list[x509.Certificate]) -> x509.Certificate | None:
    infos = list(response.signed_data.signer_infos)
    if len(infos) != 1:
        return None
    return next((c for c in certs if c.issuer == infos[0].issuer and c.serial_number == infos[0].serial_number), None)


def _self_check(certs: list[x509.Certificate], trusted: list[x509.Certificate]) -> str | None:
    """Each certificate of the token whose issuer is known must carry that issuer's valid signature: a
    trust anchor's own signature is otherwise never read, nor an embedded copy of a --tsa-cert."""
    if not certs and not trusted:
        return "时间戳令牌中没有 TSA 证书，请用 --tsa-cert 提供"
    by_subject = {c.subject: c for c in [*trusted, *certs]}
    for cert in certs:
        issuer = by_subject.get(cert.issuer)
        if issuer is None:
            continue
        try:
            cert.verify_directly_issued_by(issuer)
        except Exception as exc:  # InvalidSignature, unsupported key types
            return f"时间戳令牌中的证书 {cert.subject.rfc4514_string()} 签名无效（{type(exc).__name__}）"
    return None


# What the token's signature does not cover and the verifier does not read: checked here, so that no
# byte of manifest.tsr can change unnoticed.
_SIGNATURE_OIDS = {
    "ec": {"1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3", "1.2.840.10045.4.3.4"},
    "rsa": {"1.2.840.113549.1.1.1", "1.2.840.113549.1.1.11", "1.2.840.113549.1.1.12", "1.2.840.113549.1.1.13",
            "1.2.840.113549.1.1.10"},
    "ed25519": {"1.3.101.112"},
}
_BY_DIGEST = {  # the signer's digestAlgorithm → the signature algorithms that go with it
    "2.16.840.1.101.3.4.2.1": {"1.2.840.10045.4.3.2", "1.2.840.113549.1.1.1", "1.2.840.113549.1.1.11",
                               "1.2.840.113549.1.1.10"},
    "2.16.840.1.101.3.4.2.2": {"1.2.840.10045.4.3.3", "1.2.840.113549.1.1.1", "1.2.840.113549.1.1.12",
                               "1.2.840.113549.1.1.10"},
    "2.16.840.1.101.3.4.2.3": {"1.2.840.10045.4.3.4", "1.2.840.113549.1.1.1", "1.2.840.113549.1.1.13",
                               "1.2.840.113549.1.1.10", "1.3.101.112"},
}


def _unsigned_fields(response: TimeStampResponse, tsr: bytes, leaf: x509.Certificate | None) -> str | None:
    signers = list(response.signed_data.signer_infos)
    if response.signed_data.version != 3 or len(signers) != 1 or signers[0].version != 1:
        return "时间戳令牌的版本号不符合 RFC 3161（已被改动）"
    signed_data = _children(_children(_children(tsr)[1])[1])[0]
    fields = _children(signed_data)
    for cert in _children(fields[3]) if fields[3][0] == 0xA0 else []:
        bits = _children(cert)[2]
        if bits[0] != 0x03 or bits[1][:1] != b"\x00":
            return "时间戳令牌中的证书签名位串不规范（已被改动）"
    signer = _children(_children(fields[-1])[0])
    algorithm = _oid(_children(signer[4])[0][1])
    allowed = _BY_DIGEST.get(_oid(_children(signer[2])[0][1]), set())
    key = leaf.public_key() if leaf is not None else None
    kind = "ec" if isinstance(key, ec.EllipticCurvePublicKey) else "rsa" if isinstance(key, rsa.RSAPublicKey) \
        else "ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else None
    if kind is None or algorithm not in _SIGNATURE_OIDS[kind] & allowed or len(signer) != 6:
        return "时间戳令牌的签名算法或签名者信息不符（已被改动）"
    return None


def _children(der: tuple[int, bytes] | bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) of each DER element inside ``der`` (a whole encoding, or a parsed element)."""
    data = der[1] if isinstance(der, tuple) else _one(der)[1]
    out: list[tuple[int, bytes]] = []
    while data:
        tag, content, data = _split(data)
        out.append((tag, content))
    return out


def _one(der: bytes) -> tuple[int, bytes]:
    tag, content, rest = _split(der)
    if rest:
        raise ValueError("trailing bytes")
    return tag, content


def _split(data: bytes) -> tuple[int, bytes, bytes]:
    if len(data) < 2:
        raise ValueError("truncated")
    size, head = data[1], 2
    if size & 0x80:
        count = size & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("bad length")
        size, head = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    if head + size > len(data):
        raise ValueError("truncated")
    return data[0], data[head : head + size], data[head + size :]


def _oid(content: bytes) -> str:
    parts = [min(content[0] // 40, 2), content[0] - 40 * min(content[0] // 40, 2)]
    value = 0
    for byte in content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def _tsa_name(response: TimeStampResponse, leaf: x509.Certificate | None) -> str | None:
    if leaf is not None:
        return leaf.subject.rfc4514_string()
    try:
        return str(response.tst_info.name.value)
    except Exception:  # no name in the token
        return None


def _beijing(when: datetime) -> str:
    return when.astimezone(BEIJING).isoformat()
