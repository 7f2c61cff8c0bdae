"""Hostile evidence packages for ``mdwatch evidence verify`` (issue 10, item 6).

Each case builds a package in ``tmp_path`` (a well-formed one, then one thing made hostile: an
encrypted member, compression method 99, a malformed manifest, a name that climbs out of the
package, a repeated name, a symbolic link, a file listed but absent or present but not listed …)
and runs the real CLI as a subprocess. Each problem must be one named line on stdout (label and
member name, in Chinese), stderr one Chinese summary line, exit status 1, and no traceback.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import stat
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
from zipcraft import patch_member

from mdwatch.scheduler.jobs.evidence import FORMAT, PROBLEM_LABELS, verify

RUN_TIMEOUT = 60
HAN = re.compile(r"[\u4e00-\u9fff]")
PAGE = b"<html><body>\xe5\x95\x86\xe5\x93\x81</body></html>"
CAPTURE = hashlib.sha256(PAGE).hexdigest()


def finding_doc(html: Any = "pages/1/page.html", sha: str = CAPTURE) -> bytes:
    return json.dumps({"capture": {"sha256": sha}, "files": {"page_html": html}}).encode()


def good_members() -> dict[str, bytes]:
    return {"pages/1/page.html": PAGE, "findings/1/finding.json": finding_doc(), "README.txt": "说明".encode()}


def manifest_for(members: dict[str, bytes], **extra: Any) -> bytes:
    files = [{"path": n, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d), "kind": "x"}
             for n, d in sorted(members.items())]
    return json.dumps({"format": FORMAT, "tool": {"version": "t"}, "exported_at": {"asia_shanghai": "now"},
                       "files": files, **extra}, ensure_ascii=False).encode()


def write_zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return path


def package(path: Path, members: dict[str, bytes] | None = None, manifest: bytes | None = None,
            listed: dict[str, bytes] | None = None) -> Path:
    """A package of ``members`` with a manifest of ``listed`` (default: the members themselves)."""
    members = good_members() if members is None else members
    if manifest is None:
        manifest = manifest_for(members if listed is None else listed)
    return write_zip(path, [*members.items(), ("manifest.json", manifest)])


def run_verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mdwatch.scheduler.cli", "evidence", "verify", str(path)],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)


def assert_fails(path: Path, *expected: tuple[str, str]) -> list[str]:
    """Exit 1, no traceback, one stderr summary line, and exactly one stdout line per expected
    (problem, name) pair, in that order, each with its Chinese label and the name."""
    proc = run_verify(path)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("校验失败") and f"{len(expected)} 个问题" in err[0], proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == len(expected), proc.stdout
    for line, (problem, name) in zip(lines, expected, strict=True):
        assert line.startswith(PROBLEM_LABELS[problem] + "："), (problem, line)
        assert name in line and HAN.search(line.split("（", 1)[-1]), (name, line)
    report = verify(path)  # the same problems in process, names as stored (control characters raw)
    assert [(p.problem, p.path.replace("\n", "\\x0a")) for p in report.problems] == list(expected)
    return lines


def test_well_formed_package_verifies(tmp_path: Path) -> None:
    proc = run_verify(package(tmp_path / "ok.zip"))
    assert proc.returncode == 0 and "校验通过" in proc.stdout, proc.stdout + proc.stderr


# --- members that cannot be read -------------------------------------------------------------------


def test_encrypted_member(tmp_path: Path) -> None:
    path = package(tmp_path / "enc.zip")
    path.write_bytes(patch_member(path.read_bytes(), "pages/1/page.html", flag_bits=0x1))
    assert_fails(path, ("encrypted", "pages/1/page.html"))


@pytest.mark.skipif(shutil.which("zip") is None, reason="no zip command")
def test_member_encrypted_by_zip_command(tmp_path: Path) -> None:
    work = tmp_path / "pkg"
    members = good_members()
    for name, data in [*members.items(), ("manifest.json", manifest_for(members))]:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(data)
    out = tmp_path / "zipcrypto.zip"
    subprocess.run(["zip", "-q", "-r", str(out), "manifest.json", "findings", "README.txt"], cwd=work, check=True)
    subprocess.run(["zip", "-q", "-P", "secret", str(out), "pages/1/page.html"], cwd=work, check=True)
    assert_fails(out, ("encrypted", "pages/1/page.html"))


def test_unknown_compression_method(tmp_path: Path) -> None:
    path = package(tmp_path / "m99.zip")
    path.write_bytes(patch_member(path.read_bytes(), "README.txt", method=99))
    assert_fails(path, ("compression", "README.txt"))


def test_encrypted_manifest(tmp_path: Path) -> None:
    path = package(tmp_path / "encm.zip")
    path.write_bytes(patch_member(path.read_bytes(), "manifest.json", flag_bits=0x1))
    assert_fails(path, ("encrypted", "manifest.json"))


def test_corrupt_member_data(tmp_path: Path) -> None:
    path = package(tmp_path / "crc.zip")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("README.txt")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start] ^= 0xFF  # deflate stream damaged
    path.write_bytes(bytes(data))
    assert_fails(path, ("unreadable", "README.txt"))


@pytest.mark.parametrize("content", [b"not a zip", b"PK\x05\x06" + b"\xff" * 18, b""])
def test_not_a_zip(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.zip"
    path.write_bytes(content)
    assert_fails(path, ("unreadable", "broken.zip"))


def test_truncated_zip(tmp_path: Path) -> None:
    path = package(tmp_path / "cut.zip")
    path.write_bytes(path.read_bytes()[:-40])
    assert_fails(path, ("unreadable", "cut.zip"))


# --- malformed manifests ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manifest", "needle"),
    [
        (b"{not json", "不是有效的 JSON"),
        (b"\xff\xfe\x00garbage", "不是 UTF-8"),
        (b"[1, 2, 3]", "顶层应为 JSON 对象"),
        (json.dumps({"format": FORMAT}).encode(), "缺少 files"),
        (json.dumps({"format": FORMAT, "files": {"a": 1}}).encode(), "files 应为列表"),
        (b"[" * 200_000 + b"]" * 200_000, "嵌套过深"),
    ],
    ids=["not-json", "not-utf8", "not-object", "no-files", "files-not-list", "deep"],
)
def test_malformed_manifest(tmp_path: Path, manifest: bytes, needle: str) -> None:
    path = package(tmp_path / "bad.zip", manifest=manifest)
    (line,) = assert_fails(path, ("manifest", "manifest.json"))
    assert needle in line


def test_manifest_entries_of_the_wrong_type(tmp_path: Path) -> None:
    members = good_members()
    files: list[Any] = json.loads(manifest_for(members))["files"]
    files[0]["size"] = "12"  # README.txt
    files[1]["sha256"] = 123  # findings/1/finding.json
    files.append("pages/2/page.html")
    files.append({"sha256": "0" * 64, "size": 1})
    files.append(dict(files[2]))  # pages/1/page.html listed twice
    manifest = json.dumps({"format": FORMAT, "files": files}).encode()
    lines = assert_fails(
        package(tmp_path / "types.zip", members, manifest),
        ("manifest", "README.txt"), ("manifest", "findings/1/finding.json"),
        ("manifest", "manifest.json files 第 4 项"), ("manifest", "manifest.json files 第 5 项"),
        ("manifest", "pages/1/page.html"),
    )
    assert "size" in lines[0] and "sha256" in lines[1] and "重复" in lines[4]


def test_manifest_of_another_format(tmp_path: Path) -> None:
    members = good_members()
    manifest = json.loads(manifest_for(members))
    manifest["format"] = "someone-else/9"
    (line,) = assert_fails(package(tmp_path / "fmt.zip", members, json.dumps(manifest).encode()),
                           ("manifest", "manifest.json"))
    assert FORMAT in line


def test_no_manifest(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "none.zip", list(good_members().items()))
    assert_fails(path, ("missing", "manifest.json"))


# --- names that climb out, repeated names, links, absent and unlisted files -----------------------


@pytest.mark.parametrize("name", ["../evil.txt", "pages/../../evil.txt", "/etc/evil.txt", "C:/evil.txt",
                                  "..\\evil.txt", "pages\\..\\..\\evil.txt"])
def test_member_name_that_climbs_out(tmp_path: Path, name: str) -> None:
    members = {**good_members(), name: b"payload"}
    path = package(tmp_path / "slip.zip", members)  # listed in the manifest with its true hash
    with zipfile.ZipFile(path) as zf:
        stored = next(n for n in zf.namelist() if n.endswith("evil.txt"))
    (line,) = assert_fails(path, ("unsafe_path", stored))
    assert "越出" in line


def test_directory_entry_that_climbs_out(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "dir.zip", [*good_members().items(), ("../up/", b""),
                                            ("manifest.json", manifest_for(good_members()))])
    assert_fails(path, ("unsafe_path", "../up/"))


def test_manifest_lists_a_path_that_climbs_out(tmp_path: Path) -> None:
    members = good_members()
    listed = {**members, "../outside.txt": b"x"}
    assert_fails(package(tmp_path / "mslip.zip", members, listed=listed), ("unsafe_path", "../outside.txt"))


def test_duplicate_member_names(tmp_path: Path) -> None:
    members = good_members()
    path = write_zip(tmp_path / "dup.zip", [*members.items(), ("pages/1/page.html", b"<html>forged</html>"),
                                            ("manifest.json", manifest_for(members))])
    (line,) = assert_fails(path, ("duplicate", "pages/1/page.html"))
    assert "2 个同名文件" in line


def test_duplicate_manifest(tmp_path: Path) -> None:
    members = good_members()
    path = write_zip(tmp_path / "dupm.zip", [*members.items(), ("manifest.json", manifest_for(members)),
                                             ("manifest.json", manifest_for({}))])
    assert_fails(path, ("duplicate", "manifest.json"))


def test_symlink_member(tmp_path: Path) -> None:
    members = good_members()
    link = zipfile.ZipInfo("pages/1/link.html")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    listed = {**members, "pages/1/link.html": b"/etc/passwd"}
    path = write_zip(tmp_path / "link.zip", [*members.items(), (link, b"/etc/passwd"),
                                             ("manifest.json", manifest_for(listed))])
    assert_fails(path, ("symlink", "pages/1/link.html"))


def test_listed_file_absent_and_unlisted_file_present(tmp_path: Path) -> None:
    members = good_members()
    listed = {**members, "pages/1/screenshot.png": b"png"}
    present = {**members, "pages/1/extra.js": b"alert(1)"}
    path = package(tmp_path / "diff.zip", present, listed=listed)
    assert_fails(path, ("missing", "pages/1/screenshot.png"), ("extra", "pages/1/extra.js"))


def test_finding_with_malformed_references(tmp_path: Path) -> None:
    members = {**good_members(), "findings/1/finding.json": finding_doc(html=["a", "b"]),
               "findings/2/finding.json": b"[]", "findings/3/finding.json": b"{bad"}
    assert_fails(package(tmp_path / "fnd.zip", members), ("manifest", "findings/1/finding.json"),
                 ("manifest", "findings/2/finding.json"), ("manifest", "findings/3/finding.json"))


def test_name_with_a_newline_is_one_line(tmp_path: Path) -> None:
    members = {**good_members(), "pages/evil\nname.txt": b"x"}
    path = package(tmp_path / "nl.zip", members, listed=good_members())
    (line,) = assert_fails(path, ("extra", "pages/evil\\x0aname.txt"))
    assert "\n" not in line


def test_many_problems_each_named_once(tmp_path: Path) -> None:
    members = {**good_members(), "../evil.txt": b"x", "pages/1/extra.css": b"x"}
    listed = {**good_members(), "pages/1/gone.png": b"x"}
    path = package(tmp_path / "many.zip", members, listed=listed)
    path.write_bytes(patch_member(path.read_bytes(), "README.txt", method=99))
    assert_fails(path, ("compression", "README.txt"), ("unsafe_path", "../evil.txt"),  # in archive order
                 ("missing", "pages/1/gone.png"), ("extra", "pages/1/extra.css"))
