"""A local RFC 3161 time-stamp authority for tests: an HTTP server on 127.0.0.1 that answers a
TimeStampReq with a TimeStampResp signed by a self-signed TSA certificate (ECDSA P-256, critical
extended key usage timeStamping).

Neither rfc3161-client nor cryptography builds responses, and asn1crypto is not installed, so the
DER is written here with a small encoder: TSTInfo, CMS SignedData (eContentType id-ct-TSTInfo,
signed attributes contentType, messageDigest and signingCertificateV2) and the response around it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from rfc3161_client import _rust

SHA256 = "2.16.840.1.101.3.4.2.1"
ECDSA_SHA256 = "1.2.840.10045.4.3.2"
SIGNED_DATA = "1.2.840.113549.1.7.2"
TST_INFO = "1.2.840.113549.1.9.16.1.4"
CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
POLICY = "1.3.6.1.4.1.55555.1.1"


# ------------------------------------------------------------------ DER


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _len(len(content)) + content


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def set_of(*items: bytes) -> bytes:
    return tlv(0x31, b"".join(sorted(items)))  # DER: SET OF sorted by encoding


def integer(n: int) -> bytes:
    raw = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True)
    return tlv(0x02, raw)


def oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


def octets(data: bytes) -> bytes:
    return tlv(0x04, data)


def explicit(n: int, content: bytes) -> bytes:
    return tlv(0xA0 + n, content)


def gentime(when: datetime) -> bytes:
    return tlv(0x18, when.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode("ascii"))


def algorithm(dotted: str) -> bytes:
    return seq(oid(dotted))


# ------------------------------------------------------------------ the TSA


class LocalTSA:
    """Signs timestamp tokens; ``requests`` counts the requests answered."""

    def __init__(self, common_name: str = "mdwatch test TSA", when: datetime | None = None) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.when = when  # a fixed genTime, else now
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mdwatch tests")])
        now = datetime.now(UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
                     .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.serial = 0
        self.requests = 0

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def answer(self, request_der: bytes) -> bytes:
        request = _rust.parse_timestamp_request(request_der)
        self.serial += 1
        self.requests += 1
        imprint = request.message_imprint
        tst = seq(integer(1), oid(POLICY),
                  seq(algorithm(imprint.hash_algorithm.dotted_string), octets(imprint.message)),
                  integer(self.serial), gentime(self.when or datetime.now(UTC)),
                  *([integer(request.nonce)] if request.nonce is not None else []))
        return seq(seq(integer(0)), self._signed_data(tst, with_certs=request.cert_req))

    def _signed_data(self, tst: bytes, *, with_certs: bool) -> bytes:
        cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        attrs = [
            seq(oid(CONTENT_TYPE), set_of(oid(TST_INFO))),
            seq(oid(MESSAGE_DIGEST), set_of(octets(hashlib.sha256(tst).digest()))),
            seq(oid(SIGNING_CERTIFICATE_V2), set_of(seq(seq(seq(octets(hashlib.sha256(cert_der).digest())))))),
        ]
        signed_attrs = set_of(*attrs)  # signed as a SET, stored as [0] IMPLICIT
        signature = self.key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
        issuer = self.cert.issuer.public_bytes()
        signer = seq(integer(1), seq(issuer, integer(self.cert.serial_number)), algorithm(SHA256),
                     tlv(0xA0, _content(signed_attrs)),
                     algorithm(ECDSA_SHA256), octets(signature))
        certs = [tlv(0xA0, cert_der)] if with_certs else []
        signed_data = seq(integer(3), set_of(algorithm(SHA256)), seq(oid(TST_INFO), explicit(0, octets(tst))),
                          *certs, set_of(signer))
        return seq(oid(SIGNED_DATA), explicit(0, signed_data))


def _content(der: bytes) -> bytes:
    """The content octets of one DER TLV."""
    first = der[1]
    start = 2 if first < 0x80 else 2 + (first & 0x7F)
    return der[start:]


@contextmanager
def serve_tsa(tsa: LocalTSA) -> Iterator[str]:
    """Serve ``tsa`` on 127.0.0.1 (a free port); yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                answer, status = tsa.answer(body), 200
            except Exception:
                answer, status = b"", 400
            self.send_response(status)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    finally:
        server.shutdown()
        server.server_close()
