"""Time and signature of evidence packages: an RFC 3161 timestamp from a TSA (a local one on
127.0.0.1, tests/localtsa.py), else the installation's Ed25519 signature and the plain statement
that the times are the machine's own. ``verify`` checks both offline and names what fails."""

from __future__ import annotations

import hashlib
import json
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mdwatch.scheduler.jobs.evidence import EvidenceError, export, verify
from mdwatch.scheduler.jobs.evidence.package_zip import _Package
from mdwatch.scheduler.jobs.evidence.signing import KEY_FILENAME, LOCAL_TIME_NOTE, check_signature
from mdwatch.scheduler.jobs.evidence.timestamping import check_token, tsa_url_from_env
from mdwatch.scheduler.settings import SETTINGS
from tests.localtsa import LocalTSA, serve_tsa
from tests.test_evidence import Scanned, _flip, _rewrite, needs_chromium, scanned  # noqa: F401 (fixture)

PAGE = "<html><body>一次性使用无菌注射器 ¥9.9</body></html>".encode()


@pytest.fixture(scope="module")
def tsa() -> Iterator[tuple[LocalTSA, str]]:
    authority = LocalTSA()
    with serve_tsa(authority) as url:
        yield authority, url


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The signing key goes to this test's data directory; no TSA unless a test names one."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MDWATCH_TSA_URL", raising=False)
    return tmp_path / "xdg" / "mdwatch"


def _package(path: Path, tsa_url: str | None = None) -> Path:
    """A small package written the way export writes one (files, README, then the sealed manifest)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        pkg = _Package(zf, tsa_url=tsa_url)
        pkg.add_bytes("pages/1/page.html", PAGE, "page_html")
        doc = {"capture": {"sha256": hashlib.sha256(PAGE).hexdigest()}, "files": {"page_html": "pages/1/page.html"}}
        pkg.add_bytes("findings/1/finding.json", json.dumps(doc).encode(), "finding")
        pkg.add_bytes("README.txt", "如何校验：sha256sum\n".encode(), "readme")
        pkg.write_manifest({"format": "mdwatch-evidence/1", "tool": {"version": "t"},
                            "exported_at": {"asia_shanghai": "2025-01-01T08:00:00+08:00"}})
    return path


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _flipped(src: Path, dst: Path, name: str) -> list[tuple[str, str]]:
    _rewrite(src, dst, lambda m: m.__setitem__(name, _flip(m[name])))
    report = verify(dst)
    assert not report.ok
    return [(p.path, p.problem) for p in report.problems]


# -------------------------------------------------------------------- with a TSA


def test_tsa_setting_is_declared_once(monkeypatch: pytest.MonkeyPatch) -> None:
    setting = SETTINGS["tsa"]
    assert (setting.flag, setting.envvar) == ("--tsa", "MDWATCH_TSA_URL")
    assert tsa_url_from_env() is None
    monkeypatch.setenv("MDWATCH_TSA_URL", " http://127.0.0.1:1/tsa ")
    assert tsa_url_from_env() == "http://127.0.0.1:1/tsa"


def test_timestamped_package_verifies_offline_and_says_tsa_and_time(tsa: tuple[LocalTSA, str], tmp_path: Path) -> None:
    authority, url = tsa
    asked = authority.requests
    out = _package(tmp_path / "ts.zip", tsa_url=url)
    assert authority.requests == asked + 1
    members = _members(out)
    assert "manifest.tsr" in members and "manifest.sig" not in members and "signing-key.pub" not in members
    manifest = json.loads(members["manifest.json"])
    assert manifest["seal"] == {"method": "rfc3161", "token": "manifest.tsr", "tsa": url}
    assert url in members["README.txt"].decode() and "manifest.tsr" in members["README.txt"].decode()
    check = check_token(members["manifest.tsr"], members["manifest.json"])
    assert check.token_problem is None and check.manifest_problem is None
    report = verify(out)  # offline: nothing is asked of the TSA
    assert report.ok, report.problems
    assert authority.requests == asked + 1
    text = "\n".join(report.seal)
    assert "可信时间戳：有效" in text and "CN=mdwatch test TSA" in text and url in text
    assert check.time_beijing is not None and check.time_beijing.endswith("+08:00") and check.time_beijing in text
    assert "取自证据包本身" in text
    # against the TSA certificate given with --tsa-cert
    cert = tmp_path / "tsa.pem"
    cert.write_bytes(authority.cert_pem())
    report = verify(out, tsa_cert=cert)
    assert report.ok and "--tsa-cert" in "\n".join(report.seal)
    # another TSA's certificate: the token is not from it
    cert.write_bytes(LocalTSA("another TSA").cert_pem())
    assert [(p.path, p.problem) for p in verify(out, tsa_cert=cert).problems] == [("manifest.tsr", "timestamp")]


def test_one_flipped_byte_of_any_member_of_a_timestamped_package_is_named(tsa: tuple[LocalTSA, str],
                                                                           tmp_path: Path) -> None:
    out = _package(tmp_path / "ts.zip", tsa_url=tsa[1])
    bad = tmp_path / "bad.zip"
    for name in _members(out):
        problems = _flipped(out, bad, name)
        assert name in [p for p, _ in problems], (name, problems)
    assert _flipped(out, bad, "manifest.tsr") == [("manifest.tsr", "timestamp")]
    assert ("manifest.json", "changed") in _flipped(out, bad, "manifest.json")


def test_every_byte_of_the_token_is_covered(tsa: tuple[LocalTSA, str], tmp_path: Path) -> None:
    """No single changed byte of manifest.tsr goes unnoticed (signed or not by the TSA's signature)."""
    authority, _ = tsa
    members = _members(_package(tmp_path / "ts.zip", tsa_url=tsa[1]))
    token, manifest = members["manifest.tsr"], members["manifest.json"]
    for trusted in (None, [authority.cert]):
        missed = [i for i in range(len(token)) for bit in (0x01, 0x80)
                  if check_token(token[:i] + bytes([token[i] ^ bit]) + token[i + 1 :], manifest, trusted).token_problem
                  is None]
        assert not missed, missed


def test_unreachable_tsa_refuses_the_export(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port of 127.0.0.1 nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EvidenceError, match="时间戳"):
        _package(tmp_path / "x.zip", tsa_url=f"http://127.0.0.1:{port}/tsa")


# -------------------------------------------------------------------- without a TSA


def test_without_tsa_the_local_key_signs_and_the_time_is_the_machines(tmp_path: Path, _own_data_dir: Path) -> None:
    out = _package(tmp_path / "sig.zip")
    key = _own_data_dir / KEY_FILENAME
    assert key.exists() and stat.S_IMODE(key.stat().st_mode) == 0o600
    members = _members(out)
    assert {"manifest.sig", "signing-key.pub"} <= set(members) and "manifest.tsr" not in members
    manifest = json.loads(members["manifest.json"])
    assert manifest["seal"]["method"] == "ed25519" and manifest["seal"]["time"] == LOCAL_TIME_NOTE
    assert "signing-key.pub" in {e["path"] for e in manifest["files"]}
    assert LOCAL_TIME_NOTE in members["README.txt"].decode()
    report = verify(out)
    assert report.ok, report.problems
    text = "\n".join(report.seal)
    assert "签名：有效" in text and "Ed25519" in text and LOCAL_TIME_NOTE in text
    # the same key signs the next package
    again = _members(_package(tmp_path / "sig2.zip"))
    assert again["signing-key.pub"] == members["signing-key.pub"]
    assert check_signature(members["manifest.sig"], members["signing-key.pub"], members["manifest.json"])[:2] == (None, None)


def test_one_flipped_byte_of_any_member_of_a_signed_package_is_named(tmp_path: Path) -> None:
    out = _package(tmp_path / "sig.zip")
    bad = tmp_path / "bad.zip"
    for name in _members(out):
        problems = _flipped(out, bad, name)
        assert name in [p for p, _ in problems], (name, problems)
    assert _flipped(out, bad, "manifest.sig") == [("manifest.sig", "signature")]
    assert ("manifest.json", "changed") in _flipped(out, bad, "manifest.json")
    assert _flipped(out, bad, "signing-key.pub") == [("signing-key.pub", "changed")]
    sig = _members(out)["manifest.sig"]
    members = _members(out)
    for i in range(len(sig)):
        flipped = sig[:i] + bytes([sig[i] ^ 0x01]) + sig[i + 1 :]
        assert check_signature(flipped, members["signing-key.pub"], members["manifest.json"])[0] is not None, i


def test_seal_removed_or_added_is_named(tsa: tuple[LocalTSA, str], tmp_path: Path) -> None:
    signed = _package(tmp_path / "sig.zip")
    bad = tmp_path / "bad.zip"
    _rewrite(signed, bad, lambda m: m.pop("manifest.sig"))
    assert [(p.path, p.problem) for p in verify(bad).problems] == [("manifest.sig", "missing")]
    token = _members(_package(tmp_path / "ts.zip", tsa_url=tsa[1]))["manifest.tsr"]
    _rewrite(signed, bad, lambda m: m.__setitem__("manifest.tsr", token))
    assert [(p.path, p.problem) for p in verify(bad).problems] == [("manifest.tsr", "extra")]


# -------------------------------------------------------------------- a real export


@needs_chromium
def test_export_of_a_run_with_a_tsa_and_without(scanned: Scanned, tsa: tuple[LocalTSA, str],  # noqa: F811
                                                tmp_path: Path) -> None:
    out = tmp_path / "run-ts.zip"
    export(scanned.db, out, run_id=scanned.run_id, screenshotter=scanned.shooter, data_dir=scanned.data_dir,
           tsa_url=tsa[1])
    report = verify(out)
    assert report.ok, report.problems
    assert any("可信时间戳：有效" in line for line in report.seal)
    names = list(_members(out))
    bad = tmp_path / "bad.zip"
    for name in [next(n for n in names if n.endswith("page.html")), next(n for n in names if n.endswith(".png")),
                 next(n for n in names if n.endswith("finding.json")), "manifest.json", "manifest.tsr"]:
        assert name in [p for p, _ in _flipped(out, bad, name)], name
    local = tmp_path / "run-sig.zip"
    export(scanned.db, local, run_id=scanned.run_id, screenshotter=scanned.shooter, data_dir=scanned.data_dir)
    report = verify(local)
    assert report.ok and any(LOCAL_TIME_NOTE in line for line in report.seal)
    for name in ("manifest.sig", "signing-key.pub", "manifest.json"):
        assert name in [p for p, _ in _flipped(local, bad, name)], name
