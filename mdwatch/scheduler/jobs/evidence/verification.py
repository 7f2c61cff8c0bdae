"""``verify``: recompute every hash of an evidence package offline and name each bad file."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from cryptography import x509

from mdwatch.scheduler.jobs.evidence.package_format import FORMAT, MANIFEST
from mdwatch.scheduler.jobs.evidence.timestamping import load_certificates
from mdwatch.scheduler.jobs.evidence.verify_checks import (
    _FINDING_ERRORS,
    _READ_ERRORS,
    MAX_MANIFEST_BYTES,
    _hash_member,
    _manifest_entries,
    _member_problem,
    _parse_manifest,
    _read_capped,
    _read_error_zh,
)
from mdwatch.scheduler.jobs.evidence.verify_report import FileProblem, VerifyReport
from mdwatch.scheduler.jobs.evidence.verify_seal import SEAL_FILES, check_seal


def verify(zip_path: Path | str, tsa_cert: Path | str | None = None) -> VerifyReport:
    """Recompute every hash of an evidence package offline, check its seal; name each bad file.

    The seal (verify_seal.py) is the Ed25519 signature or the RFC 3161 timestamp of the manifest;
    ``tsa_cert`` (``--tsa-cert``: PEM or DER, the TSA's certificate or its CA) is what the timestamp
    must chain to, else the certificates inside the token. ``report.seal`` says what holds.

    Never raises for a hostile package (issue 10, item 6): an unreadable archive, a malformed
    manifest (not UTF-8, not JSON, wrong types, missing keys), entries that are encrypted, use an
    unknown compression method, are symbolic links, are repeated, or whose name climbs out of the
    package (``../``, absolute, drive letter, backslash), files listed but absent and files present
    but not listed: each is one named ``FileProblem``.
    """
    path = Path(zip_path)
    try:
        zf = zipfile.ZipFile(path)
    except Exception as exc:  # any failure to read the central directory: not a usable ZIP
        detail = _read_error_zh(exc) if isinstance(exc, _READ_ERRORS) else f"读取出错（{type(exc).__name__}）"
        return VerifyReport(path, 0, [FileProblem(path.name, "unreadable", f"不是可读的 ZIP 文件：{detail}")],
                            None, None, None)
    with zf:
        return _verify_zip(path, zf, tsa_cert)


def _trusted(tsa_cert: Path | str | None, problems: list[FileProblem]) -> list[x509.Certificate] | None:
    if tsa_cert is None:
        return None
    try:
        return load_certificates(tsa_cert)
    except (OSError, ValueError) as exc:
        why = str(exc) if isinstance(exc, ValueError) else f"读取出错（{type(exc).__name__}）"
        problems.append(FileProblem(str(tsa_cert), "unreadable", f"--tsa-cert 给出的证书无法使用：{why}"))
        return []


def _verify_zip(path: Path, zf: zipfile.ZipFile, tsa_cert: Path | str | None = None) -> VerifyReport:
    problems: list[FileProblem] = []
    flagged: set[str] = set()  # names with a problem already: not hashed, not named twice
    trusted = _trusted(tsa_cert, problems)
    members = _usable_members(zf, problems, flagged)
    manifest, manifest_bytes = _load_manifest(zf, members, problems, flagged)
    if manifest is None or manifest_bytes is None:
        seal = check_seal(zf, members, None, manifest_bytes, problems, trusted) if manifest_bytes else []
        return VerifyReport(path, 0, problems, None, None, None, tuple(seal))
    if manifest.get("format") != FORMAT:
        problems.append(FileProblem(MANIFEST, "manifest", f"format 应为 {FORMAT}"))
    manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
    entries = _manifest_entries(manifest, problems, flagged)
    actual = _check_entries(zf, members, entries, problems)
    for name in members:
        if name not in (MANIFEST, *SEAL_FILES) and name not in entries and name not in flagged:
            problems.append(FileProblem(name, "extra", "包内有但清单中没有"))
    _check_findings(zf, members, actual, problems)
    seal = check_seal(zf, members, manifest, manifest_bytes, problems, trusted)
    tool = manifest.get("tool", {})
    exported = manifest.get("exported_at", {})
    return VerifyReport(path, len(entries), problems, manifest_sha,
                        str(tool.get("version")) if isinstance(tool, dict) else None,
                        str(exported.get("asia_shanghai")) if isinstance(exported, dict) else None, tuple(seal))


def _usable_members(zf: zipfile.ZipFile, problems: list[FileProblem], flagged: set[str]) -> dict[str, zipfile.ZipInfo]:
    """The files of the ZIP that may be read; each unsafe or unverifiable one is named and flagged instead."""
    infos = zf.infolist()
    counts: dict[str, int] = {}
    for info in infos:
        counts[info.filename] = counts.get(info.filename, 0) + 1
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        if name in flagged:
            continue
        problem = _member_problem(info, counts[name])
        if problem is not None:
            problems.append(problem)
            flagged.add(name)
        elif not info.is_dir():
            members[name] = info
    return members


def _load_manifest(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], problems: list[FileProblem],
                   flagged: set[str]) -> tuple[dict[str, Any] | None, bytes | None]:
    """The parsed manifest and its bytes; None for what cannot be had (with the reason among ``problems``).

    The bytes of a manifest that does not parse are still returned: its seal tells whether it was changed.
    """
    if MANIFEST not in members:
        if MANIFEST not in flagged:
            problems.append(FileProblem(MANIFEST, "missing", "证据包没有清单"))
        return None, None
    try:
        manifest_bytes = _read_capped(zf, members[MANIFEST])
    except _READ_ERRORS as exc:
        problems.append(FileProblem(MANIFEST, "unreadable", _read_error_zh(exc)))
        return None, None
    if manifest_bytes is None:
        problems.append(FileProblem(MANIFEST, "manifest", f"清单超过 {MAX_MANIFEST_BYTES >> 20} MB，不予解析"))
        return None, None
    manifest, why = _parse_manifest(manifest_bytes)
    if manifest is None:
        problems.append(FileProblem(MANIFEST, "manifest", why))
    return manifest, manifest_bytes


def _check_entries(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], entries: dict[str, dict[str, Any]],
                   problems: list[FileProblem]) -> dict[str, str]:
    """Hash every file the manifest lists against its entry; returns the SHA-256 of each file read."""
    actual: dict[str, str] = {}
    for name, entry in entries.items():
        member = members.get(name)
        if member is None:
            problems.append(FileProblem(name, "missing", "清单中列出但包内没有"))
            continue
        try:
            sha, size = _hash_member(zf, member)
        except _READ_ERRORS as exc:
            problems.append(FileProblem(name, "unreadable", _read_error_zh(exc)))
            continue
        actual[name] = sha
        if sha != entry["sha256"] or size != entry["size"]:
            problems.append(FileProblem(name, "changed",
                                        f"SHA-256 应为 {entry['sha256']}，实为 {sha}；"
                                        f"大小应为 {entry['size']}，实为 {size}"))
    return actual


def _check_findings(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], actual: dict[str, str],
                    problems: list[FileProblem]) -> None:
    """Check that the page each intact finding.json names is in the package with the captured hash."""
    # Taken once: problems found below are not added, so two findings naming one bad page both say so.
    bad = {p.path for p in problems}
    for name, info in members.items():
        if not (name.startswith("findings/") and name.endswith("/finding.json")) or name in bad:
            continue
        problem = _finding_problem(zf, name, info, actual, bad)
        if problem is not None:
            problems.append(problem)


def _finding_problem(zf: zipfile.ZipFile, name: str, info: zipfile.ZipInfo, actual: dict[str, str],
                     bad: set[str]) -> FileProblem | None:
    try:
        data = _read_capped(zf, info)
        doc = json.loads(data.decode("utf-8")) if data is not None else None
        expected = str(doc["capture"]["sha256"]) if isinstance(doc, dict) else None
        html = doc["files"]["page_html"] if isinstance(doc, dict) else None
    except _FINDING_ERRORS as exc:
        return FileProblem(name, "manifest", f"线索文件无法解析（{type(exc).__name__}）")
    if expected is None or not isinstance(html, str):
        return FileProblem(name, "manifest", "线索文件缺少抓取哈希或原始页面路径")
    if html in bad:
        return None  # already named
    if html not in actual:
        return FileProblem(html, "missing", f"{name} 引用的原始页面不在包内")
    if actual[html] != expected:
        return FileProblem(html, "capture_mismatch",
                           f"SHA-256 {actual[html]} 与 {name} 中的抓取哈希 {expected} 不符")
    return None
