"""Hostile ``mdwatch registry import`` inputs (issue 10, item 5): nothing hangs, nothing crashes.

Every case builds its input in ``tmp_path`` and runs the real CLI as a subprocess with a timeout
(a FIFO that made the importer block would fail the test by timing out, never hang it), then
checks the exit status, exactly one Chinese line on stderr, no traceback, and the database
afterwards: a refused path leaves no ``registry_imports`` row; a failed import leaves its row
closed (``status`` failed, ``error`` the reason, ``finished_at`` set) and no record imported.
Each runs on SQLite and PostgreSQL (``db_url``; PostgreSQL skipped without the server unless
``MDWATCH_REQUIRE_SERVICES=1``), the upgrade of a table released before issue 10 included.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, select, text
from zipcraft import patch_member

from mdwatch.storage.registry_import import ImportLimits, _Importer, import_path
from mdwatch.storage.registry_schema import udi_devices

RUN_TIMEOUT = 120
NUMBER = "国械注准20243131618"
HAN = re.compile(r"[\u4e00-\u9fff]")


def device(key: str, number: str = NUMBER) -> str:
    return (
        f"<device><deviceRecordKey>{key}</deviceRecordKey><zxxsdycpbs>0{key}</zxxsdycpbs>"
        f"<cpmctymc>医用外科口罩</cpmctymc><ggxh>17.5cm</ggxh><zczbhhzbapzbh>{number}</zczbhhzbapzbh>"
        f"<versionNumber>1</versionNumber><versionTime>2024-01-01</versionTime></device>\n"
    )


def shard(*keys: str) -> bytes:
    body = "".join(device(k) for k in keys)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<udid><devices>\n{body}</devices></udid>\n'.encode()


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def run_import(db_url: str, *paths: Path | str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mdwatch.scheduler.cli", "registry", "import", *map(str, paths), "--db", db_url],
        capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False, env={**os.environ, **(env or {})},
    )


def one_error_line(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The run failed with exit 2 and exactly one Chinese line on stderr holding every needle."""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("mdwatch: ") and HAN.search(line), line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def imports(db_url: str) -> list[dict[str, Any]]:
    engine = create_engine(db_url)
    try:
        if not inspect(engine).has_table("registry_imports"):
            return []
        with engine.connect() as conn:
            # every column the table has (a refused import may leave it as the migrations created it)
            return [dict(r) for r in conn.execute(text("SELECT * FROM registry_imports ORDER BY id")).mappings()]
    finally:
        engine.dispose()


def device_keys(db_url: str) -> list[str]:
    engine = create_engine(db_url)
    try:
        if not inspect(engine).has_table("udi_devices"):
            return []
        with engine.connect() as conn:
            return sorted(str(k) for (k,) in conn.execute(select(udi_devices.c.device_record_key)))
    finally:
        engine.dispose()


def assert_failed_row(db_url: str, *needles: str) -> dict[str, Any]:
    rows = imports(db_url)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["status"] == "failed" and row["finished_at"] is not None, row
    assert row["error"] and HAN.search(row["error"]), row
    for needle in needles:
        assert needle in row["error"], (needle, row["error"])
    assert row["inserted"] == 0 and row["updated"] == 0
    assert device_keys(db_url) == []  # nothing half-imported
    return row


# --- not a regular file: refused up front, nothing written ---------------------------------------


def test_fifo_is_refused_without_blocking(db_url: str, tmp_path: Path) -> None:
    fifo = tmp_path / "release.xml"
    os.mkfifo(fifo)  # no writer: opening it for reading would block for ever
    one_error_line(run_import(db_url, fifo), "命名管道", str(fifo))
    assert imports(db_url) == []


def test_dev_zero_is_refused(db_url: str) -> None:
    one_error_line(run_import(db_url, "/dev/zero"), "字符设备", "/dev/zero")
    assert imports(db_url) == []


def test_symlink_to_a_device_is_refused(db_url: str, tmp_path: Path) -> None:
    link = tmp_path / "UDID_FULL.zip"
    link.symlink_to("/dev/zero")
    one_error_line(run_import(db_url, link), "字符设备")
    assert imports(db_url) == []


def test_fifo_inside_a_directory_is_skipped(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "release"
    folder.mkdir()
    (folder / "part1.xml").write_bytes(shard("K1", "K2"))
    os.mkfifo(folder / "part2.xml")
    proc = run_import(db_url, folder)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert device_keys(db_url) == ["K1", "K2"]
    (row,) = imports(db_url)
    assert row["status"] == "done" and row["error"] is None and len(row["sha256"]) == 64


def test_file_over_the_size_limit_is_refused(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(shard(*(f"K{i}" for i in range(50))))
    one_error_line(run_import(db_url, path, env={"MDWATCH_REGISTRY_MAX_BYTES": "1000"}),
                   "超过上限", "MDWATCH_REGISTRY_MAX_BYTES")
    assert imports(db_url) == []


def test_refused_second_path_keeps_the_first_import(db_url: str, tmp_path: Path) -> None:
    good = tmp_path / "full.xml"
    good.write_bytes(shard("K1"))
    fifo = tmp_path / "update.xml"
    os.mkfifo(fifo)
    proc = run_import(db_url, good, fifo)
    one_error_line(proc, "命名管道")
    assert "新增 1 条" in proc.stdout
    assert [r["status"] for r in imports(db_url)] == ["done"]
    assert device_keys(db_url) == ["K1"]


# --- archives: planned before the first write; a limit fails the import, row closed -------------


def nested(levels: int, inner: bytes) -> bytes:
    """``levels`` ZIPs one inside the other, the innermost holding ``inner`` as devices.xml."""
    data, name = inner, "devices.xml"
    for i in range(levels):
        data = zip_bytes({name: data})
        name = f"level{levels - i}.zip"
    return data


def test_600_nested_zips_fail_cleanly(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "nested.zip"
    inner = nested(599, shard("DEEP"))
    path.write_bytes(zip_bytes({"a.xml": shard("K1"), "level1.zip": inner}))  # a.xml comes first
    line = one_error_line(run_import(db_url, path), "第 4 层嵌套", "上限 3 层")
    row = assert_failed_row(db_url, "第 4 层嵌套")
    assert row["error"] in line


def test_three_levels_of_zip_are_imported(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "monthly.zip"
    path.write_bytes(nested(3, shard("K1", "K2")))
    proc = run_import(db_url, path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert device_keys(db_url) == ["K1", "K2"]
    (row,) = imports(db_url)
    assert row["status"] == "done" and row["error"] is None
    assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_four_levels_of_zip_fail(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "deep.zip"
    path.write_bytes(nested(4, shard("K1")))
    one_error_line(run_import(db_url, path), "第 4 层嵌套")
    assert_failed_row(db_url, "第 4 层嵌套")


def test_small_zip_bomb_fails_on_its_ratio(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    path.write_bytes(zip_bytes({"a.xml": shard("K1"), "bomb.xml": b"\0" * (20 << 20)}, zipfile.ZIP_DEFLATED))
    assert path.stat().st_size < 100_000
    one_error_line(run_import(db_url, path), "压缩炸弹", "bomb.xml")
    assert_failed_row(db_url, "压缩炸弹")


def test_nested_zip_bomb_fails(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "bomb2.zip"
    inner = zip_bytes({f"p{i}.xml": b"<" * (4 << 20) for i in range(4)}, zipfile.ZIP_DEFLATED)
    path.write_bytes(zip_bytes({"a.xml": shard("K1"), "update.zip": inner}, zipfile.ZIP_DEFLATED))
    one_error_line(run_import(db_url, path), "压缩炸弹", "update.zip!p")
    assert_failed_row(db_url, "压缩炸弹")


def test_total_decompressed_size_limit(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "release.zip"
    path.write_bytes(zip_bytes({f"part{i}.xml": shard(f"K{i}") for i in range(5)}, zipfile.ZIP_DEFLATED))
    env = {"MDWATCH_REGISTRY_MAX_BYTES": str(path.stat().st_size + 10)}  # the file passes, its content does not
    one_error_line(run_import(db_url, path, env=env), "总大小超过上限")
    assert_failed_row(db_url, "总大小超过上限")


def test_member_count_limit(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    path.write_bytes(zip_bytes({f"part{i}.xml": shard(f"K{i}") for i in range(40)}))
    one_error_line(run_import(db_url, path, env={"MDWATCH_REGISTRY_MAX_MEMBERS": "10"}), "文件数超过上限 10")
    assert_failed_row(db_url, "文件数超过上限")


def test_encrypted_and_unknown_compression_members_are_skipped(db_url: str, tmp_path: Path) -> None:
    data = zip_bytes({"a.xml": shard("K1"), "b.xml": shard("K2"), "c.xml": shard("K3")})
    data = patch_member(data, "b.xml", flag_bits=0x1)
    data = patch_member(data, "c.xml", method=99)
    path = tmp_path / "odd.zip"
    path.write_bytes(data)
    proc = run_import(db_url, path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr and not proc.stderr.strip(), proc.stderr
    assert "b.xml 无法读取（已加密）" in proc.stdout and "压缩方法 99 不受支持" in proc.stdout, proc.stdout
    assert device_keys(db_url) == ["K1"]
    (row,) = imports(db_url)
    assert row["status"] == "done" and row["skipped"] == 2


def test_unreadable_nested_zip_is_skipped(db_url: str, tmp_path: Path) -> None:
    data = zip_bytes({"a.xml": shard("K1"), "update.zip": zip_bytes({"x.xml": shard("K2")})})
    path = tmp_path / "release.zip"
    path.write_bytes(patch_member(data, "update.zip", method=99))
    proc = run_import(db_url, path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert device_keys(db_url) == ["K1"]


def test_hostile_member_names_do_not_break_output(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "names.zip"
    path.write_bytes(zip_bytes({"a.xml": shard("K1"), "[/bold]\n../x.txt": b"x", "[red]b.xml": b"<broken"}))
    proc = run_import(db_url, path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert device_keys(db_url) == ["K1"]


# --- any exception: the row is closed as failed ---------------------------------------------------


def test_unexpected_error_closes_the_import_as_failed(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "full.xml"
    path.write_bytes(shard("K1"))

    def boom(self: _Importer, fh: Any, name: str) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(_Importer, "parse_xml", boom)
    with pytest.raises(RuntimeError):
        import_path(db_url, path)
    (row,) = imports(db_url)
    assert row["status"] == "failed" and row["finished_at"] is not None
    assert "RuntimeError" in row["error"] and "disk on fire" in row["error"]


def test_limits_in_process(db_url: str, tmp_path: Path) -> None:
    from mdwatch.storage.registry_import import ImportFailed

    path = tmp_path / "deep.zip"
    path.write_bytes(nested(2, shard("K1")))
    with pytest.raises(ImportFailed) as err:
        import_path(db_url, path, limits=ImportLimits(zip_depth=1))
    assert err.value.import_id == imports(db_url)[0]["id"]
    assert_failed_row(db_url, "第 2 层嵌套")


def test_old_database_gains_status_columns(db_url: str, tmp_path: Path) -> None:
    db = db_url
    path = tmp_path / "full.xml"
    path.write_bytes(shard("K1"))
    import_path(db, path)
    engine = create_engine(db)
    with engine.begin() as conn:  # the table as released before issue 10
        conn.execute(text("ALTER TABLE registry_imports DROP COLUMN status"))
        conn.execute(text("ALTER TABLE registry_imports DROP COLUMN error"))
    engine.dispose()
    import_path(db, path)
    rows = imports(db)
    assert [r["status"] for r in rows] == ["done", "done"] and rows[1]["error"] is None
