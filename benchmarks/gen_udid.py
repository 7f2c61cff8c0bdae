"""Generate a synthetic NMPA UDID full release: a ZIP of XML shards with the official tag set.

Values are made up but shaped like the real data: valid-format registration numbers (国械注准,
国械注进, province 械注准, class I 械备 filings, a few legacy numbers and a few fields holding two
numbers), many DIs per number (skewed: a few numbers have thousands), Chinese product names and
registrants, nested contact/packing/storage/clinical lists, and a few records repeated in a later
shard (some with a higher version) as in the official release. Output goes under ``bench-data/``
(git-ignored); never commit it.

    python benchmarks/gen_udid.py [--records 1000000] [--shard-size 10000] [--out bench-data/...zip]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench-data" / "UDID_FULL_RELEASE_SYNTHETIC.zip"

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
CITIES = ["苏锡", "粤穗", "粤深", "浙杭", "浙温", "京海", "沪嘉", "鄂汉", "皖马", "桂柳", ""]
CATS_2017 = [f"{i:02d}" for i in range(1, 23)]
PRODUCTS = [
    ("一次性使用无菌注射器", "14-01-02", "6815", "耗材"),
    ("医用外科口罩", "14-13-04", "6864", "耗材"),
    ("电子血压计", "07-03-03", "6820", "设备"),
    ("医用电子体温计", "07-03-04", "6820", "设备"),
    ("助听器", "19-01-07", "6846", "设备"),
    ("软性亲水接触镜", "16-06-01", "6822", "耗材"),
    ("手动轮椅车", "19-03-01", "6856", "设备"),
    ("新型冠状病毒抗原检测试剂盒（胶体金法）", "6840", "6840", "耗材"),
    ("血糖试纸（葡萄糖氧化酶法）", "6840", "6840", "耗材"),
    ("心电信息管理软件", "21-04-01", "6870", "设备"),
    ("医用脱脂纱布", "14-10-02", "6864", "耗材"),
    ("一次性使用输液器 带针", "14-02-01", "6866", "耗材"),
    ("髋关节假体", "13-03-01", "6846", "耗材"),
    ("超声诊断设备", "06-07-02", "6823", "设备"),
    ("医用冷敷贴", "09-02-03", "6826", "耗材"),
]
COMPANY_HEAD = ["江苏", "浙江", "广东", "上海", "北京", "山东", "湖北", "深圳", "苏州", "杭州"]
COMPANY_MID = ["康达", "华医", "瑞康", "迈瑞", "鱼跃", "乐普", "安信", "恒润", "博泰", "威高", "联影", "三诺"]
COMPANY_TAIL = ["医疗器械有限公司", "医疗科技股份有限公司", "生物科技有限公司", "医用材料有限公司"]
FOREIGN = [
    ("通用电气医疗系统信息技术公司", "GE Medical Systems Information Technologies, Inc."),
    ("奥林巴斯医疗株式会社", "Olympus Medical Systems Corp."),
    ("强生（上海）医疗器材有限公司", "Johnson & Johnson Medical (Shanghai) Ltd."),
]
BRANDS = ["康护", "安心", "优医", "Test", "MedPro", "好护士", "欧姆龙", "可孚", ""]
UNITS = ["盒", "箱", "袋", "支"]


def _uscc(rng: random.Random) -> str:
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return (
        "91"
        + "".join(rng.choice("0123456789") for _ in range(6))
        + "".join(rng.choice(chars) for _ in range(10))
    )


def make_numbers(rng: random.Random, count: int) -> list[tuple[str, int]]:
    """``count`` distinct valid-format numbers, each with a product index."""
    out: dict[str, int] = {}
    while len(out) < count:
        year = rng.randint(2014, 2025)
        kind = rng.random()
        cat = rng.choice(CATS_2017)
        serial = rng.randint(1, 9999)
        if kind < 0.30:
            number = f"国械注准{year}3{cat}{serial:04d}"
        elif kind < 0.40:
            number = f"国械注进{year}{rng.choice('23')}{cat}{serial:04d}"
        elif kind < 0.75:
            number = f"{rng.choice(PROVINCES)}械注准{year}2{cat}{serial:04d}"
        elif kind < 0.98:
            city = rng.choice(CITIES) or rng.choice(PROVINCES)
            number = (
                f"{city}械备{year}{serial:04d}号" if rng.random() < 0.5 else f"{city}械备{year}{serial:04d}"
            )
        else:
            number = (
                f"国食药监械(准)字{rng.randint(2005, 2013)}第3{rng.choice(['15', '46', '66'])}{serial:04d}号"
            )
        out.setdefault(number, rng.randrange(len(PRODUCTS)))
    return list(out.items())


def device_xml(
    rng: random.Random, i: int, number: str, product: int, company: tuple[str, str, str], version: int
) -> str:
    name, flbm, yflbm, cplb = PRODUCTS[product]
    ivd = flbm == "6840"
    key = f"{i:014d}{2021 + i % 5}{1 + i % 12:02d}{1 + i % 28:02d}"
    di = f"0{i:013d}"
    spec = (
        rng.choice(["1ml", "2.5ml", "5ml", "10ml", "S", "M", "L", "XL", "型号A", "YE-660", "9.0"])
        + f"-{i % 97}"
    )
    cpms = escape(f"{name}由主体、配件组成。适用于{rng.choice(['医疗机构', '家庭', '临床'])}使用。")
    if i % 50_000 == 7:
        cpms += "\x0b\x01"  # illegal control characters, as some real shards have
    reg_cn, reg_en, uscc = company
    version_time = f"{2021 + version % 4}-{1 + i % 12:02d}-{1 + i % 28:02d}"
    tsrq = f"2025-{1 + i % 12:02d}-15" if i % 97 == 0 else ""
    return (
        f"<device><deviceRecordKey>{key}</deviceRecordKey><zxxsdycpbs>{di}</zxxsdycpbs>"
        f"<cpbsbmtxmc>GS1</cpbsbmtxmc><cpbsfbrq>2021-11-30</cpbsfbrq><zxxsdyzsydydsl>1</zxxsdyzsydydsl>"
        f"<sydycpbs></sydycpbs><bszt>一维码</bszt><sfyzcbayz>是</sfyzcbayz><zcbacpbs></zcbacpbs>"
        f"<sfybtzjbs>否</sfybtzjbs><btcpbsyzxxsdycpbssfyz></btcpbsyzxxsdycpbssfyz><btcpbs></btcpbs>"
        f"<cpmctymc>{escape(name)}</cpmctymc><spmc>{escape(rng.choice(BRANDS))}</spmc><ggxh>{escape(spec)}</ggxh>"
        f"<sfwblztlcp>否</sfwblztlcp><cpms>{cpms}</cpms><cphhhbh>{i % 100000}</cphhhbh>"
        f"<yflbm>{yflbm}</yflbm><qxlb>{'体外诊断试剂' if ivd else '器械'}</qxlb><flbm>{flbm}</flbm>"
        f"<ylqxzcrbarmc>{escape(reg_cn)}</ylqxzcrbarmc><ylqxzcrbarywmc>{escape(reg_en)}</ylqxzcrbarywmc>"
        f"<tyshxydm>{uscc}</tyshxydm><zczbhhzbapzbh>{escape(number)}</zczbhhzbapzbh><ybbm></ybbm>"
        f"<cplb>{cplb}</cplb><cgzmraqxgxx></cgzmraqxgxx><sfbjwycxsy>{'是' if cplb == '耗材' else '否'}</sfbjwycxsy>"
        f"<zdcfsycs></zdcfsycs><sfwwjbz>是</sfwwjbz><syqsfxyjxmj>否</syqsfxyjxmj><mjfs>环氧乙烷灭菌</mjfs>"
        f"<qtxxdwzlj></qtxxdwzlj><tsrq>{tsrq}</tsrq><scbssfbhph>是</scbssfbhph><scbssfbhxlh>否</scbssfbhxlh>"
        f"<scbssfbhscrq>是</scbssfbhscrq><scbssfbhsxrq>是</scbssfbhsxrq><tscchcztj></tscchcztj><tsccsm></tsccsm>"
        f"<versionNumber>{version}</versionNumber><versionTime>{version_time}</versionTime>"
        f"<versionStauts>{'新增' if version == 1 else '更新'}</versionStauts><correctionNumber>0</correctionNumber>"
        f"<correctionRemark></correctionRemark><correctionTime></correctionTime>"
        f"<contactList><contact><qylxrcz></qylxrcz><qylxryx>service@example.cn</qylxryx>"
        f"<qylxrdh>400-800-{i % 10000:04d}</qylxrdh></contact></contactList>"
        f"<packingList><packing><bzcpbs>1{di[1:]}</bzcpbs><bznhxyjbzcpbs>{di}</bznhxyjbzcpbs>"
        f"<bznhxyjcpbssl>{10 * (1 + i % 5)}</bznhxyjcpbssl><cpbzjb>{rng.choice(UNITS)}</cpbzjb></packing></packingList>"
        f"<storageList><storage><cchcztj>常温储存</cchcztj><zdz>5</zdz><zgz>30</zgz><jldw>摄氏度</jldw></storage>"
        f"</storageList><clinicalList></clinicalList></device>\n"
    )


HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n<udid version="1.0">\n<devices>\n'
FOOTER = "</devices>\n</udid>\n"


def generate(out: Path, records: int, shard_size: int, seed: int = 20260526) -> Path:
    rng = random.Random(seed)
    n_numbers = max(records // 20, 1)
    numbers = make_numbers(rng, n_numbers)
    # Skewed DIs per number: Pareto-like weights, so a few numbers have thousands of DIs.
    weights = [1.0 / (k + 1) ** 0.9 for k in range(len(numbers))]
    companies_by_number: dict[str, tuple[str, str, str]] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".zip.part")
    n_dups = max(records // 2000, 1)  # ≈ 0.05 % repeated in a later shard
    dup_ids = set(rng.sample(range(records), min(n_dups, records)))
    pending_dups: list[tuple[int, str, int]] = []
    started = time.perf_counter()
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        shards = (records + shard_size - 1) // shard_size
        picks = rng.choices(range(len(numbers)), weights=weights, k=records)
        for s in range(shards):
            lo, hi = s * shard_size, min(records, (s + 1) * shard_size)
            parts = [HEADER]
            for i in range(lo, hi):
                number, product = numbers[picks[i]]
                if i % 500 == 3:  # several numbers in one field
                    number = f"{number},{numbers[(picks[i] + 1) % len(numbers)][0]}"
                company = companies_by_number.get(number)
                if company is None:
                    if number.startswith("国械注进"):
                        cn, en = rng.choice(FOREIGN)
                    else:
                        cn = rng.choice(COMPANY_HEAD) + rng.choice(COMPANY_MID) + rng.choice(COMPANY_TAIL)
                        en = ""
                    company = companies_by_number.setdefault(number, (cn, en, _uscc(rng)))
                parts.append(device_xml(rng, i, number, product, company, 1))
                if i in dup_ids:
                    pending_dups.append((i, number, product))
            if s > 0 and pending_dups:  # repeat some earlier records here, half with a new version
                for i, number, product in pending_dups[: len(pending_dups) // 2 + 1]:
                    company = companies_by_number[number]
                    parts.append(device_xml(rng, i, number, product, company, 1 + (i % 2)))
                pending_dups = pending_dups[len(pending_dups) // 2 + 1 :]
            parts.append(FOOTER)
            zf.writestr(f"UDID_FULL_DOWNLOAD_PART{s + 1}_Of_{shards}.xml", "".join(parts))
            if (s + 1) % 10 == 0:
                print(f"  shard {s + 1}/{shards} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--shard-size", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=20260526)
    args = ap.parse_args(argv)
    out = args.out or DEFAULT_OUT.with_name(f"UDID_FULL_RELEASE_SYNTHETIC_{args.records}.zip")
    started = time.perf_counter()
    generate(out, args.records, args.shard_size, args.seed)
    print(
        f"{out}: {args.records} records, {out.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
