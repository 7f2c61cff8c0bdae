"""Registration database: UDID XML / CSV import and look-ups, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, func, select

from mdwatch.storage.registry_import import import_path
from mdwatch.storage.registry_schema import (
    class_from_number,
    normalize_registration_no,
    registry_imports,
    split_registration_nos,
    udi_devices,
)
from mdwatch.storage.registry_store import RegistryStore

DATA = Path(__file__).parent / "data" / "registry"

CSV_HEADER = (
    "registration_no,product_name,registrant,manufacturer,model_spec,structure,scope,"
    "device_class,category_code,approved_on,valid_until,status\n"
)
CSV_ROWS = [
    "国械注准20153210001,一次性使用无菌注射器,甲公司,甲公司,1ml,针筒,注射,3,15,2020-01-02,2025-01-01,有效",
    "苏械注准20172220123,电子血压计,乙公司,乙公司,YE-660,主机,测量,II,07,2022年03月04日,2027年05月09日,valid",
    "苏锡械备20150012号,医用冷敷贴,丙公司,丙公司,,,,Ⅰ,09,2015-06-01,,注销",
    "浙械注准20182090001,理疗仪,丁公司,丁公司,A,,,Ⅱ,09,2018-01-01,2023-01-01,撤销",
    "国械注进20162705149,心电软件,戊公司,戊公司,9.0,,,III,21,2016-01-01,2021-01-01,失效",
    "粤械注准20192140001,口罩,己公司,己公司,,,,2,14,2019-01-01,2024-01-01,过期",
    "京械注准20202140002,口罩,庚公司,庚公司,,,,I,14,2020-01-01,2025-01-01,cancelled",
    "沪械注准20202140003,口罩,辛公司,辛公司,,,,1,14,2020-01-01,2025-01-01,revoked",
    "鲁械注准20202140004,口罩,壬公司,壬公司,,,,Ⅲ,14,2020-01-01,2025-01-01,expired",
    "闽械注准20202140005,口罩,癸公司,癸公司,,,,III,14,2020-01-01,,",
    ",缺编号,某公司,,,,,2,14,2020-01-01,,有效",
    "皖械注准20202140006,坏日期,某公司,,,,,2,14,2020-13-45,,有效",
    "赣械注准20202140007,坏类别,某公司,,,,,四类,14,2020-01-01,,有效",
    "湘械注准20202140008,坏状态,某公司,,,,,2,14,2020-01-01,,暂停",
]


def device(
    key: str,
    number: str,
    *,
    name: str = "医用外科口罩",
    spec: str = "17.5cm×9.5cm",
    brand: str = "康护",
    version: int = 1,
    vtime: str = "2024-01-01",
    tsrq: str = "",
    qxlb: str = "器械",
) -> str:
    return (
        f"<device><deviceRecordKey>{key}</deviceRecordKey><zxxsdycpbs>0{key}</zxxsdycpbs>"
        f"<cpmctymc>{name}</cpmctymc><spmc>{brand}</spmc><ggxh>{spec}</ggxh><cpms>描述</cpms>"
        f"<yflbm>6864</yflbm><qxlb>{qxlb}</qxlb><flbm>14-13-04</flbm>"
        f"<ylqxzcrbarmc>江苏康达医疗器械有限公司</ylqxzcrbarmc><ylqxzcrbarywmc>Kangda</ylqxzcrbarywmc>"
        f"<tyshxydm>91320000MA1XXXXX0X</tyshxydm><zczbhhzbapzbh>{number}</zczbhhzbapzbh><tsrq>{tsrq}</tsrq>"
        f"<versionNumber>{version}</versionNumber><versionTime>{vtime}</versionTime>"
        f"<versionStauts>{'新增' if version == 1 else '更新'}</versionStauts>"
        f"<contactList><contact><qylxrdh>400</qylxrdh></contact></contactList><packingList></packingList>"
        f"<storageList><storage><cchcztj>常温</cchcztj></storage></storageList><clinicalList></clinicalList></device>\n"
    )


def shard(*devices: str, encoding: str = "UTF-8") -> str:
    return f'<?xml version="1.0" encoding="{encoding}"?>\n<udid version="1.0"><devices>\n{"".join(devices)}</devices></udid>\n'


def udi_rows(url: str) -> list[tuple[str, str, str, int | None]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            t = udi_devices.c
            q = select(t.device_record_key, t.registration_no, t.model_spec, t.version_number).order_by(
                t.device_record_key, t.registration_no
            )
            return [tuple(r) for r in conn.execute(q)]
    finally:
        engine.dispose()


# --- helpers -------------------------------------------------------------------------------------


def test_number_helpers() -> None:
    assert normalize_registration_no(" 国械注准 2015 3210001 ") == "国械注准20153210001"
    assert normalize_registration_no("国食药监械（准）字2012第3210001号") == "国食药监械(准)字2012第3210001号"
    assert normalize_registration_no("苏锡械备20150012号") == "苏锡械备20150012"
    assert normalize_registration_no("无") == ""
    assert split_registration_nos("国械注准20153210001，苏械注准20172220123；国械注准20153210001") == [
        "国械注准20153210001",
        "苏械注准20172220123",
    ]
    assert class_from_number("国械注准20153210001") == 3
    assert class_from_number("苏械注准20172220123") == 2
    assert class_from_number("苏锡械备20150012") == 1
    assert class_from_number("国食药监械(准)字2012第3210001号") == 3
    assert class_from_number("ABC") is None


# --- UDID XML ------------------------------------------------------------------------------------


def test_synthetic_sample_imports(db_url: str) -> None:
    with RegistryStore.open(db_url) as store:
        assert not store.is_loaded()
    progress: list[tuple[int, int]] = []
    report = import_path(
        db_url, DATA / "udid_sample_synthetic.xml", progress=lambda d, t: progress.append((d, t))
    )
    assert (report.records_read, report.inserted, report.updated, report.skipped) == (1, 1, 0, 0)
    assert progress and progress[-1][0] == progress[-1][1]
    assert "新增 1 条" in report.summary_zh()
    with RegistryStore.open(db_url) as store:
        assert store.is_loaded()
        rec = store.lookup("国械注进 20162705149")
        assert rec is not None
        assert rec.product_name == "心电信息管理软件"
        assert rec.registrant == "通用电气医疗系统信息技术公司"
        assert rec.model_specs == ("9.0",)
        assert rec.brand_names == ("Test",)
        assert rec.device_class == 2 and rec.category_code == "21" and rec.source == "udid"
        assert store.lookup("国械注进20162705148") is None
    engine = create_engine(db_url)
    with engine.connect() as conn:
        row = conn.execute(select(udi_devices)).mappings().one()
        imp = conn.execute(select(registry_imports)).mappings().one()
    engine.dispose()
    assert row["version_status"] == "新增" and row["version_time"] == date(2021, 11, 30)
    assert row["uscc"] == "91310000607327827A" and row["ivd"] is False and row["di"] == "00195278517159"
    assert imp["kind"] == "udid" and len(imp["sha256"]) == 64 and imp["finished_at"] is not None
    assert imp["records_read"] == 1 and imp["inserted"] == 1


def test_zip_of_shards_nested_and_duplicates(db_url: str, tmp_path: Path) -> None:
    a = "国械注准20243131618"
    b = "苏械注准20172140123"
    shard1 = shard(device("K1", a, spec="S"), device("K2", a, spec="M"), device("K3", b, spec="X"))
    # K2 again with the same version (duplicate), K1 with a newer version (later version wins)
    shard2 = shard(device("K2", a, spec="M"), device("K1", a, spec="S-新", version=2, vtime="2024-02-01"))
    # an older version of K3 arriving later is ignored
    shard3 = shard(device("K3", b, spec="旧", version=0, vtime="2023-01-01"), device("K4", b, spec="Y"))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("UDID_DAY_UPDATE_20240301/part1.xml", shard3)
        zf.writestr("readme.xlsx", b"not xml")
    path = tmp_path / "UDID_FULL_RELEASE_20240301.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("UDID_FULL_DOWNLOAD_PART1_Of_2.xml", shard1)
        zf.writestr("UDID_FULL_DOWNLOAD_PART2_Of_2.xml", shard2.encode("utf-8"))
        zf.writestr("UDID_MONTH_UPDATE_202403.zip", inner.getvalue())
    report = import_path(db_url, path)
    assert report.records_read == 7
    assert report.inserted == 4 and report.updated == 0
    assert report.skipped == 3
    assert report.skip_reasons == {"重复的 deviceRecordKey（已保留较新版本）": 3}
    assert any("readme.xlsx" in n for n in report.notes)
    assert report.files == 3
    rows = udi_rows(db_url)
    assert [(k, s, v) for k, _, s, v in rows] == [
        ("K1", "S-新", 2),
        ("K2", "M", 1),
        ("K3", "X", 1),
        ("K4", "Y", 1),
    ]
    with RegistryStore.open(db_url) as store:
        rec = store.lookup(a)
        assert rec is not None and rec.model_specs == ("M", "S-新") and rec.device_class == 3


def test_update_file_upserts(db_url: str, tmp_path: Path) -> None:
    full = tmp_path / "full.xml"
    full.write_text(shard(device("K1", "国械注准20243131618", spec="A"), device("K2", "国械注准20243131618")))
    update = tmp_path / "UDID_DAY_UPDATE_20240401.xml"
    update.write_text(
        shard(
            device("K1", "国械注准20243131619", spec="A2", version=2, vtime="2024-04-01"),  # number changed
            device("K5", "国械注准20243131620", spec="B"),
        )
    )
    first = import_path(db_url, full)
    assert (first.inserted, first.updated) == (2, 0)
    second = import_path(db_url, update)
    assert (second.records_read, second.inserted, second.updated, second.skipped) == (2, 1, 1, 0)
    again = import_path(db_url, update)  # re-importing the same file is idempotent
    assert (again.inserted, again.updated, again.skipped) == (0, 2, 0)
    assert udi_rows(db_url) == [
        ("K1", "国械注准20243131619", "A2", 2),
        ("K2", "国械注准20243131618", "17.5cm×9.5cm", 1),
        ("K5", "国械注准20243131620", "B", 1),
    ]
    with RegistryStore.open(db_url) as store:
        old = store.lookup("国械注准20243131618")
        assert old is not None and old.model_specs == ("17.5cm×9.5cm",)
        assert store.lookup("国械注准20243131619") is not None
        stats = store.stats()
        assert stats.last_import_path == str(update)


def test_damaged_file_finishes_and_reports(db_url: str) -> None:
    report = import_path(db_url, DATA / "udid_damaged_gbk_declared.xml")
    # 5 devices: K1 ok (control char stripped), K2 ok (stray &), K1 duplicate, no number, truncated K4
    assert report.records_read == 5
    assert report.inserted == 2
    assert report.skipped == 3
    assert report.skip_reasons == {
        "重复的 deviceRecordKey（已保留较新版本）": 1,
        "缺少注册证编号": 1,
        "XML 文件截断或格式错误（已保留此前的记录）": 1,
    }
    assert any("声明编码为 GBK" in n for n in report.notes)
    summary = report.summary_zh()
    assert "跳过 3 条" in summary and "缺少注册证编号 1 条" in summary
    with RegistryStore.open(db_url) as store:
        rec = store.lookup("苏械注准20172140123")
        assert rec is not None
        assert rec.product_name == "医用外科口罩"  # \x0b stripped; most common name
        assert set(rec.model_specs) == {"17.5cm×9.5cm", "平面型"}
        assert store.lookup("苏械注准20172140124") is None  # cut off by the truncation


def test_gb18030_bytes_declared_utf8(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "gb.xml"
    path.write_bytes(
        shard(device("G1", "国械注准20243092361", name="电子体温计"), encoding="UTF-8").encode("gb18030")
    )
    report = import_path(db_url, path)
    assert (report.inserted, report.skipped) == (1, 0)
    assert any("实际为 GB18030" in n for n in report.notes)
    with RegistryStore.open(db_url) as store:
        rec = store.lookup("国械注准20243092361")
        assert rec is not None and rec.product_name == "电子体温计"


def test_multiple_numbers_bad_dates_and_directory(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.xml").write_text(
        shard(
            device("M1", "国械注准20153210001，苏械注准20172220123;粤潮械备20140023号", spec="multi"),
            device("M2", "国械注准20153210001", tsrq="2025年13月01日"),
            device("M3", "/", spec="none"),
            device("M4", "国械注准20153210001", qxlb="体外诊断试剂", tsrq="2025-06-30"),
        )
    )
    (tmp_path / "dir" / "b.txt").write_text("ignored")
    report = import_path(db_url, tmp_path / "dir")
    assert report.inserted == 2
    assert report.skip_reasons == {"日期格式错误": 1, "缺少注册证编号": 1}
    rows = udi_rows(db_url)
    assert [(k, n) for k, n, _, _ in rows] == [
        ("M1", "国械注准20153210001"),
        ("M1", "粤潮械备20140023"),
        ("M1", "苏械注准20172220123"),
        ("M4", "国械注准20153210001"),
    ]
    with RegistryStore.open(db_url) as store:
        filing = store.lookup("粤潮械备20140023号")
        assert filing is not None and filing.device_class == 1 and filing.model_specs == ("multi",)
        many = store.lookup_many(["国械注准 20153210001", "苏械注准20172220123", "国械注准20990000000", ""])
        assert set(many) == {"国械注准 20153210001", "苏械注准20172220123"}
        assert many["国械注准 20153210001"].number == "国械注准20153210001"
        assert many["国械注准 20153210001"].model_specs == ("17.5cm×9.5cm", "multi")
    engine = create_engine(db_url)
    with engine.connect() as conn:
        ivd = conn.execute(
            select(udi_devices.c.ivd, udi_devices.c.withdrawn_on).where(
                udi_devices.c.device_record_key == "M4"
            )
        ).one()
    engine.dispose()
    assert ivd == (True, date(2025, 6, 30))


# --- CSV -----------------------------------------------------------------------------------------


def _write_csv(path: Path, encoding: str) -> None:
    text = CSV_HEADER + "\n".join(CSV_ROWS) + "\n"
    path.write_bytes(text.encode(encoding))


def test_csv_utf8_bom_and_gb18030(db_url: str, tmp_path: Path) -> None:
    for enc in ("utf-8", "utf-8-sig", "gb18030"):
        path = tmp_path / f"reg-{enc}.csv"
        _write_csv(path, enc)
        report = import_path(db_url, path)
        assert report.kind == "csv"
        assert report.records_read == len(CSV_ROWS)
        assert report.skip_reasons == {
            "缺少注册证编号": 1,
            "日期格式错误": 1,
            "管理类别无法识别": 1,
            "状态无法识别": 1,
        }
        if enc == "utf-8":
            assert (report.inserted, report.updated) == (10, 0)
        else:
            assert (report.inserted, report.updated) == (0, 10)
    with RegistryStore.open(db_url) as store:
        r1 = store.lookup("国械注准20153210001")
        assert r1 is not None
        assert (r1.product_name, r1.registrant, r1.device_class, r1.status, r1.source) == (
            "一次性使用无菌注射器",
            "甲公司",
            3,
            "valid",
            "csv",
        )
        assert r1.approved_on == date(2020, 1, 2) and r1.valid_until == date(2025, 1, 1)
        assert r1.model_specs == ("1ml",) and r1.structure == "针筒" and r1.scope == "注射"
        r2 = store.lookup("苏械注准20172220123")
        assert r2 is not None and r2.device_class == 2 and r2.valid_until == date(2027, 5, 9)
        assert r2.approved_on == date(2022, 3, 4)
        r3 = store.lookup("苏锡械备20150012")
        assert r3 is not None and r3.device_class == 1 and r3.valid_until is None and r3.status == "cancelled"
        statuses = {
            n: store.lookup(n)
            for n in ("浙械注准20182090001", "国械注进20162705149", "粤械注准20192140001", "京械注准20202140002",
                      "沪械注准20202140003", "鲁械注准20202140004", "闽械注准20202140005")
        }  # fmt: skip
        got = {n: (r.status, r.device_class) for n, r in statuses.items() if r is not None}
        assert got == {
            "浙械注准20182090001": ("revoked", 2),
            "国械注进20162705149": ("expired", 3),
            "粤械注准20192140001": ("expired", 2),
            "京械注准20202140002": ("cancelled", 1),
            "沪械注准20202140003": ("revoked", 1),
            "鲁械注准20202140004": ("expired", 3),
            "闽械注准20202140005": ("valid", 3),
        }
        stats = store.stats()
        assert stats.registrations == 10
        assert stats.by_status == {"valid": 3, "cancelled": 2, "revoked": 2, "expired": 3}
        assert stats.by_class == {"1": 3, "2": 3, "3": 4}


def test_csv_and_udid_merge_lookup_many_and_stats(db_url: str, tmp_path: Path) -> None:
    csv_path = tmp_path / "reg.csv"
    _write_csv(csv_path, "utf-8")
    xml_path = tmp_path / "udid.xml"
    xml_path.write_text(
        shard(
            device("U1", "国械注准20153210001", spec="2ml", brand="好护士"),
            device("U2", "国械注准20153210001", spec="5ml", brand="可孚"),
            device("U3", "国械注准20243131618", name="髋关节假体", spec="L"),
        )
    )
    import_path(db_url, csv_path)
    import_path(db_url, xml_path)
    with RegistryStore.open(db_url, cache_size=0) as store:
        merged = store.lookup("国械注准20153210001")
        assert merged is not None
        assert merged.source == "csv" and merged.model_specs == ("1ml",)
        assert merged.brand_names == ("可孚", "好护士")
        udid_only = store.lookup("国械注准20243131618")
        assert udid_only is not None and udid_only.source == "udid" and udid_only.device_class == 3
        many = store.lookup_many(["国械注准20153210001", "国械注准20243131618", "苏械注准20990000000"])
        assert set(many) == {"国械注准20153210001", "国械注准20243131618"}
        assert many["国械注准20153210001"] == merged
        stats = store.stats()
        assert stats.registrations == 10
        assert stats.udi_devices == 3 and stats.udi_records == 3
        assert stats.distinct_numbers == 11
        assert stats.last_import_path == str(xml_path) and stats.last_import_at is not None
        assert stats.last_import_at.tzinfo is not None
        assert stats.by_class == {"1": 3, "2": 3, "3": 5}
        assert "注册证 10 条" in stats.description_zh()
        assert store.rebuild_summaries() == 11
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(registry_imports)).scalar_one() == 2
    engine.dispose()


def test_cache_answers_and_clears(tmp_path: Path) -> None:
    url = "sqlite:///" + (tmp_path / "c.sqlite3").as_posix()
    import_path(url, DATA / "udid_sample_synthetic.xml")
    with RegistryStore.open(url, cache_size=2) as store:
        first = store.lookup("国械注进20162705149")
        assert store.lookup("国械注进20162705149") is first
        assert store.lookup("国械注准20990000000") is None
        store.clear_cache()
        assert store.lookup("国械注进20162705149") == first
