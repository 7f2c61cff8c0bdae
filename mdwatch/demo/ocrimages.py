"""Deterministic test and demo images for OCR: certificates, promotional banners, product photos.

Everything is drawn with Pillow and Debian's ``fonts-noto-cjk`` from a seed, so tests, the OCR
benchmark and the demo platform see the same pixels on every run. Each image carries its
ground truth (``GeneratedImage.truth``): the full text drawn (``text``), the certificate number
in the canonical form ``numbers.extract_numbers`` gives (``number``), the labelled fields
(``fields``) and, for promotional images, the claim phrases put in on purpose (``claims``).

``degrade(img, kind)`` makes the degraded variants the issue asks for (``DEGRADATIONS``).
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageDraw, ImageFilter, ImageFont

ImageKind = Literal["certificate", "promo", "photo"]
DEGRADATIONS = ("blur", "jpeg30", "rotate3", "noise", "scale06", "watermark")

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
_SC_INDEX = 2  # Simplified Chinese face inside the Noto CJK collections

DOC_TYPES = (
    "registration",  # 医疗器械注册证
    "filing",  # 第一类医疗器械备案信息表
    "business_license",  # 医疗器械经营许可证
    "business_filing",  # 第二类医疗器械经营备案凭证
    "production_license",  # 医疗器械生产许可证
    "uscc",  # 营业执照
)


@dataclass
class GeneratedImage:
    name: str
    kind: ImageKind
    doc_type: str
    image: Image.Image
    truth: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=64)
def font(size: int, *, bold: bool = False, serif: bool = False) -> ImageFont.FreeTypeFont:
    family = "NotoSerifCJK" if serif else "NotoSansCJK"
    weight = "Bold" if bold else "Regular"
    return ImageFont.truetype(str(FONT_DIR / f"{family}-{weight}.ttc"), size, index=_SC_INDEX)


# --- numbers --------------------------------------------------------------------------------

_PROVINCES = "京津沪冀豫辽湘皖鲁苏浙赣鄂桂闽川粤陕"
_CITIES = ("苏锡", "粤穗", "粤深", "浙杭", "浙温", "京海", "沪嘉", "鄂汉", "皖马", "桂柳", "苏州", "鲁济")
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_DIVISIONS = ("110108", "310115", "320505", "330106", "440305", "420111", "510107", "370102")


def uscc(rng: random.Random) -> str:
    body = "91" + rng.choice(_DIVISIONS) + "".join(rng.choice(_USCC_CHARS) for _ in range(9))
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=False))
    return body + _USCC_CHARS[(31 - total % 31) % 31]


def _registration_no(rng: random.Random) -> tuple[str, str]:
    year = rng.randint(2015, 2024)
    cat = f"{rng.randint(1, 22):02d}"
    serial = f"{rng.randint(1, 9999):04d}"
    if rng.random() < 0.5:
        return f"国械注准{year}3{cat}{serial}", "国家药品监督管理局"
    prov = rng.choice(_PROVINCES)
    return f"{prov}械注准{year}2{cat}{serial}", f"{prov}省药品监督管理局".replace("京省", "北京市").replace(
        "沪省", "上海市"
    ).replace("津省", "天津市")


def _serial(rng: random.Random, lo: int = 2014, hi: int = 2024) -> str:
    return f"{rng.randint(lo, hi)}{rng.randint(1, 9999):04d}"


# --- content --------------------------------------------------------------------------------

_COMPANIES = (
    "江苏康泰医疗器械有限公司", "杭州安健科技股份有限公司", "深圳瑞康生物医疗有限公司", "北京华仁医疗设备有限公司",
    "上海普惠医用材料有限公司", "武汉明德健康科技有限公司", "广州一心医疗器械有限公司", "成都天佑医学科技有限公司",
    "济南宏达医用器材有限公司", "苏州同心医疗科技有限公司", "温州博爱医疗用品有限公司", "合肥中正医疗器械有限公司",
)
_STREETS = ("工业园区星湖街", "高新区科技路", "滨江区江南大道", "南山区科园路", "浦东新区张江路", "东湖开发区光谷大道",
            "天河区天河北路", "武侯区人民南路", "历下区经十路", "经济开发区锦绣路")
_CITY_NAMES = ("苏州市", "杭州市", "深圳市", "北京市", "上海市", "武汉市", "广州市", "成都市", "济南市", "温州市")
_PRODUCTS = (
    ("电子血压计", "YE660A、YE660B、YE680C", "由主机、袖带、充气管组成。", "供家庭或医疗机构测量成人血压用。"),
    ("医用外科口罩", "17.5cm×9.5cm", "由面罩体、鼻夹和口罩带组成。", "供临床医务人员在有创操作过程中佩戴。"),
    ("红外体温计", "HT-820、HT-826", "由红外传感器、显示屏和外壳组成。", "用于测量人体额头或耳道温度。"),
    ("医用雾化器", "NE-C28、NE-C30", "由压缩机、雾化杯、导管和面罩组成。", "供呼吸系统疾病患者雾化吸入治疗用。"),
    ("血糖仪", "GA-3、GA-5", "由主机和采血笔组成。", "用于定量检测人体末梢全血中的葡萄糖浓度。"),
    ("医用制氧机", "8F-3W、8F-5W", "由分子筛、压缩机、流量计和湿化瓶组成。", "供医疗单位或家庭作氧疗用。"),
    ("颈椎牵引器", "QY-01、QY-02", "由牵引架、头颈套和调节装置组成。", "用于颈椎病患者的牵引治疗。"),
    ("电动轮椅车", "D130HL、D210", "由车架、电机、控制器和蓄电池组成。", "供行动不便者代步用。"),
    ("助听器", "A1-M、A2-P", "由麦克风、放大器、受话器和电池组成。", "供听力损失患者补偿听力用。"),
    ("一次性使用无菌注射器", "1ml、2ml、5ml、10ml", "由外套、芯杆、活塞和针头组成。", "供抽吸液体或注射药液用。"),
)
_FILING_PRODUCTS = ("医用冷敷贴", "创口贴", "医用棉签", "压舌板", "医用检查手套", "手术放大镜")
_DEPTS = ("苏州市市场监督管理局", "杭州市市场监督管理局", "深圳市市场监督管理局", "北京市海淀区市场监督管理局",
          "上海市嘉定区市场监督管理局", "武汉市市场监督管理局")


def _address(rng: random.Random) -> str:
    return f"{rng.choice(_CITY_NAMES)}{rng.choice(_STREETS)}{rng.randint(1, 399)}号"


def _date(rng: random.Random, lo: int, hi: int) -> str:
    return f"{rng.randint(lo, hi)}年{rng.randint(1, 12):02d}月{rng.randint(1, 28):02d}日"


def _plus5(d: str) -> str:
    y = int(d[:4])
    return f"{y + 5}{d[4:-3]}{int(d[-3:-1]) - 1 if int(d[-3:-1]) > 1 else 1:02d}日"


# --- drawing helpers ------------------------------------------------------------------------


def _wrap(text: str, f: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    cur = ""
    for ch in text:
        if f.getlength(cur + ch) > width and cur:
            lines.append(cur)
            cur = ch
        else:
            cur += ch
    if cur:
        lines.append(cur)
    return lines


def _seal(img: Image.Image, cx: int, cy: int, r: int, text: str, rng: random.Random) -> None:
    """A red, semi-transparent official seal: ring, star and the authority's name on the arc."""
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    red = (210, 30, 30, 170)
    d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=red, width=max(3, r // 18))
    star = []
    for i in range(10):
        rad = r * (0.28 if i % 2 == 0 else 0.11)
        a = -math.pi / 2 + i * math.pi / 5
        star.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
    d.polygon(star, fill=red)
    f = font(max(10, r // 5), bold=True)
    n = len(text)
    span = min(math.radians(250), math.radians(22) * n)
    for i, ch in enumerate(text):
        a = -math.pi / 2 - span / 2 + span * (i + 0.5) / n
        glyph = Image.new("RGBA", (r // 4 + 6, r // 4 + 6), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((3, 0), ch, font=f, fill=red)
        glyph = glyph.rotate(-math.degrees(a) - 90, resample=Image.Resampling.BICUBIC, expand=True)
        gx = int(cx + r * 0.72 * math.cos(a) - glyph.width / 2)
        gy = int(cy + r * 0.72 * math.sin(a) - glyph.height / 2)
        layer.alpha_composite(glyph, (max(0, gx), max(0, gy)))
    img.paste(layer, (0, 0), layer)


def _paper(rng: random.Random, w: int, h: int) -> Image.Image:
    tone = rng.randint(238, 252)
    img = Image.new("RGB", (w, h), (tone, tone - rng.randint(0, 6), tone - rng.randint(2, 14)))
    d = ImageDraw.Draw(img)
    border = (160 + rng.randint(0, 40), 120, 40) if rng.random() < 0.5 else (40, 80, 150)
    d.rectangle((14, 14, w - 15, h - 15), outline=border, width=6)
    d.rectangle((26, 26, w - 27, h - 27), outline=border, width=2)
    return img


_TITLES = {
    "registration": "医疗器械注册证",
    "filing": "第一类医疗器械备案信息表",
    "business_license": "医疗器械经营许可证",
    "business_filing": "第二类医疗器械经营备案凭证",
    "production_license": "医疗器械生产许可证",
    "uscc": "营业执照",
}


def _certificate(doc_type: str, rng: random.Random, idx: int) -> GeneratedImage:
    company = rng.choice(_COMPANIES)
    addr = _address(rng)
    fields: list[tuple[str, str]] = []
    authority = ""
    if doc_type == "registration":
        number, authority = _registration_no(rng)
        name, spec, structure, scope = rng.choice(_PRODUCTS)
        approved = _date(rng, int(number[4:8]), 2024)
        fields = [("注册证编号", number), ("注册人名称", company), ("注册人住所", addr), ("生产地址", _address(rng)),
                  ("产品名称", name), ("型号、规格", spec), ("结构及组成", structure), ("适用范围", scope),
                  ("批准日期", approved), ("有效期至", _plus5(approved))]
    elif doc_type == "filing":
        city = rng.choice(_CITIES)
        number = f"{city}械备{_serial(rng)}号"
        authority = rng.choice(_DEPTS).replace("市场监督管理局", "药品监督管理局")
        product = rng.choice(_FILING_PRODUCTS)
        fields = [("备案编号", number), ("备案人名称", company), ("备案人住所", addr), ("生产地址", _address(rng)),
                  ("产品名称", product), ("型号/规格", f"{rng.randint(5, 20)}cm×{rng.randint(5, 20)}cm"),
                  ("产品描述", "由基材、胶层和离型纸组成，非无菌提供。"), ("预期用途", "用于皮肤表面的物理降温或护理。"),
                  ("备案日期", _date(rng, 2015, 2024))]
    elif doc_type in ("business_license", "business_filing"):
        city = rng.choice(_CITIES)
        agency = "食药监械" if rng.random() < 0.5 else "药监械"
        letter = "许" if doc_type == "business_license" else "备"
        number = f"{city}{agency}经营{letter}{_serial(rng)}号"
        authority = rng.choice(_DEPTS)
        fields = [("许可证编号" if letter == "许" else "备案编号", number), ("企业名称", company.replace("有限公司", "药房有限公司")),
                  ("统一社会信用代码", uscc(rng)), ("法定代表人", rng.choice(("张伟", "王芳", "李强", "刘洋", "陈静"))),
                  ("住所", addr), ("经营场所", _address(rng)), ("经营方式", "零售"),
                  ("经营范围", "第三类医疗器械：6815注射穿刺器械，6866医用高分子材料及制品" if letter == "许"
                   else "第二类医疗器械：07医用诊察和监护器械，14注输、护理和防护器械")]
        issued = _date(rng, 2019, 2024)
        if letter == "许":
            fields.append(("有效期限", f"至{_plus5(issued)}"))
        fields.append(("发证日期" if letter == "许" else "备案日期", issued))
    elif doc_type == "production_license":
        prov = rng.choice(_PROVINCES)
        agency = "食药监械" if rng.random() < 0.5 else "药监械"
        number = f"{prov}{agency}生产许{_serial(rng, 2008)}号"
        authority = f"{prov}省药品监督管理局".replace("京省", "北京市").replace("沪省", "上海市").replace("津省", "天津市")
        issued = _date(rng, 2019, 2024)
        fields = [("许可证编号", number), ("企业名称", company), ("统一社会信用代码", uscc(rng)),
                  ("法定代表人", rng.choice(("赵磊", "孙丽", "周军", "吴敏"))), ("住所", addr), ("生产地址", _address(rng)),
                  ("生产范围", "Ⅱ类：07-03医用诊察和监护器械；14-14医护人员防护用品"),
                  ("有效期限", f"至{_plus5(issued)}"), ("发证日期", issued)]
    else:  # uscc
        number = uscc(rng)
        authority = rng.choice(_DEPTS)
        fields = [("统一社会信用代码", number), ("名称", company), ("类型", "有限责任公司（自然人投资或控股）"),
                  ("法定代表人", rng.choice(("张伟", "王芳", "李强"))), ("注册资本", f"{rng.randint(1, 90) * 100}万元整"),
                  ("成立日期", _date(rng, 2005, 2022)), ("营业期限", "长期"), ("住所", addr),
                  ("经营范围", "第一类、第二类医疗器械的生产与销售；医疗器械技术开发、技术咨询。")]
    if authority:
        fields.append(("审批部门" if doc_type == "registration" else "发证机关", authority))
    img, text = _draw_certificate(doc_type, fields, authority, rng)
    truth = {"number": number, "fields": dict(fields), "claims": [], "text": text, "title": _TITLES[doc_type]}
    return GeneratedImage(f"cert-{idx:03d}-{doc_type}", "certificate", doc_type, img, truth)


def _draw_certificate(
    doc_type: str, fields: list[tuple[str, str]], authority: str, rng: random.Random
) -> tuple[Image.Image, str]:
    """The certificate ``fields`` (label, value) drawn on paper, with the authority's seal; (image, text)."""
    w = rng.choice((900, 1000, 1100))
    label_f = font(rng.choice((24, 26, 28)), serif=rng.random() < 0.5)
    value_f = font(label_f.size, serif=rng.random() < 0.3)
    title_f = font(label_f.size * 2, bold=True, serif=True)
    label_w = int(max(label_f.getlength(k) for k, _ in fields)) + 40
    value_w = w - 120 - label_w
    line_h = int(label_f.size * 1.55)
    rows = [(k, _wrap(v, value_f, value_w)) for k, v in fields]
    h = 260 + sum(len(v) * line_h + 18 for _, v in rows) + 200
    img = _paper(rng, w, h)
    d = ImageDraw.Draw(img)
    title = _TITLES[doc_type]
    if doc_type == "uscc":
        title = "营 业 执 照"
    tw = title_f.getlength(title)
    d.text(((w - tw) / 2, 70), title, font=title_f, fill=(20, 20, 20))
    ink = (25, 25, 25) if rng.random() < 0.6 else (30, 30, 60)
    y = 200
    table = rng.random() < 0.5
    for k, vlines in rows:
        top = y
        d.text((70, y), k, font=label_f, fill=ink)
        for line in vlines:
            d.text((70 + label_w, y), line, font=value_f, fill=ink)
            y += line_h
        y += 18
        if table:
            d.line((60, y - 9, w - 60, y - 9), fill=(150, 150, 150), width=1)
            d.line((60 + label_w - 15, top - 9, 60 + label_w - 15, y - 9), fill=(150, 150, 150), width=1)
    if table:
        d.rectangle((60, 191, w - 60, y - 9), outline=(120, 120, 120), width=2)
    if authority:
        r = rng.randint(95, 120)
        cx = w - 90 - r - rng.randint(0, 80)
        cy = min(h - r - 30, y + 60)
        _seal(img, cx, cy, r, authority, rng)
    text = "\n".join([title.replace(" ", "")] + [f"{k} {v}" for k, v in fields])
    return img, text


def render_certificate(
    name: str, doc_type: str, fields: list[tuple[str, str]], *, authority: str = "", seed: int = 0
) -> GeneratedImage:
    """A certificate of ``doc_type`` showing exactly ``fields`` (label, value), in order (the demo platform's).

    The first field holds the number. ``authority`` adds the 审批部门 / 发证机关 row and the seal.
    Deterministic for a given ``seed``.
    """
    if doc_type not in _TITLES:
        raise ValueError(f"unknown document type {doc_type!r}")
    rows = list(fields)
    if authority:
        rows.append(("审批部门" if doc_type == "registration" else "发证机关", authority))
    img, text = _draw_certificate(doc_type, rows, authority, random.Random(seed))
    truth = {"number": rows[0][1], "fields": dict(rows), "claims": [], "text": text, "title": _TITLES[doc_type]}
    return GeneratedImage(name, "certificate", doc_type, img, truth)


def generate_certificates(n: int = 36, seed: int = 4) -> list[GeneratedImage]:
    """``n`` certificates cycling through every document type (seeded, deterministic)."""
    rng = random.Random(seed)
    return [_certificate(DOC_TYPES[i % len(DOC_TYPES)], rng, i) for i in range(n)]


# --- promotional images -------------------------------------------------------------------

_CLAIM_COPY = (
    ("根治颈椎病", "颈椎牵引器"), ("专家推荐", "电子血压计"), ("无副作用", "理疗仪"), ("全网第一", "制氧机"),
    ("治愈率100%", "艾灸仪"), ("药到病除", "磁疗贴"), ("三天见效", "颈椎按摩器"), ("永不复发", "远红外护膝"),
    ("彻底治愈失眠", "睡眠仪"), ("医院同款 专家推荐", "雾化器"), ("销量第一", "血糖仪"), ("安全无副作用", "退热贴"),
    ("100%有效", "助听器"), ("权威认证 根治鼻炎", "鼻炎理疗仪"), ("国家级产品", "低频治疗仪"), ("最好的血压计", "血压计"),
)
_CLEAN_COPY = (
    ("家用电子血压计", "精准测量"), ("医用外科口罩", "三层防护 独立包装"), ("红外额温枪", "一秒测温"),
    ("家用制氧机", "静音设计 操作简单"), ("血糖仪套装", "采血量少 读数清晰"), ("医用雾化器", "细腻雾化 低噪运行"),
    ("轻便轮椅车", "可折叠 易收纳"), ("医用冷敷贴", "清凉舒适"), ("电子体温计", "软头设计 读数清晰"),
    ("助行器", "铝合金材质 轻巧稳固"), ("一次性医用口罩", "50只装 独立包装"), ("颈部按摩仪", "多档调节 随身携带"),
    ("家用血压计", "大屏显示 一键操作"), ("医用护腰", "透气面料 贴合舒适"),
)
_SMALL = ("限时特惠", "官方旗舰店", "正品保障", "满199减20", "次日达", "品质之选", "新品上市")


def _gradient(w: int, h: int, c1: tuple[int, int, int], c2: tuple[int, int, int], vertical: bool = True) -> Image.Image:
    grad = Image.linear_gradient("L").resize((w, h))
    if not vertical:
        grad = grad.rotate(90, expand=True).resize((w, h))
    return Image.composite(Image.new("RGB", (w, h), c2), Image.new("RGB", (w, h), c1), grad)


def _palette(rng: random.Random) -> tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]:
    schemes = (
        ((200, 20, 30), (250, 120, 40), (255, 255, 255)), ((10, 60, 150), (40, 160, 220), (255, 255, 255)),
        ((250, 245, 230), (240, 220, 190), (160, 20, 20)), ((230, 245, 255), (200, 225, 250), (10, 50, 120)),
        ((20, 120, 80), (90, 200, 140), (255, 255, 240)), ((255, 250, 250), (250, 220, 225), (200, 0, 60)),
    )
    return rng.choice(schemes)


def _promo(idx: int, rng: random.Random, claim: bool) -> GeneratedImage:
    if claim:
        phrase, product = _CLAIM_COPY[idx % len(_CLAIM_COPY)]
        headline, sub = product, phrase
        claims = [p for p in phrase.split(" ") if p]
    else:
        headline, sub = _CLEAN_COPY[idx % len(_CLEAN_COPY)]
        claims = []
    img, text = _draw_promo(headline, sub, rng)
    truth: dict[str, Any] = {"number": None, "fields": {}, "claims": claims, "text": text}
    return GeneratedImage(f"promo-{idx:03d}-{'claim' if claim else 'clean'}", "promo", "promo", img, truth)


def render_promo(name: str, headline: str, sub: str, *, claims: tuple[str, ...] = (), seed: int = 0) -> GeneratedImage:
    """A banner with ``headline`` and ``sub`` (plus two small selling lines); ``claims``: the claim phrases in it."""
    img, text = _draw_promo(headline, sub, random.Random(seed))
    truth: dict[str, Any] = {"number": None, "fields": {}, "claims": list(claims), "text": text}
    return GeneratedImage(name, "promo", "promo", img, truth)


def _draw_promo(headline: str, sub: str, rng: random.Random) -> tuple[Image.Image, str]:
    w, h = rng.choice(((750, 400), (800, 800), (790, 500), (750, 1000)))
    c1, c2, ink = _palette(rng)
    img = _gradient(w, h, c1, c2, vertical=rng.random() < 0.5)
    d = ImageDraw.Draw(img)
    # a soft product-like shape behind the text
    sx, sy = rng.randint(w // 2, w - 120), rng.randint(h // 3, h - 120)
    shape = Image.new("L", (w, h), 0)
    ImageDraw.Draw(shape).ellipse((sx - 110, sy - 80, sx + 110, sy + 80), fill=140)
    img.paste(Image.new("RGB", (w, h), (235, 235, 235)), (0, 0), shape.filter(ImageFilter.GaussianBlur(6)))
    extra = rng.sample(_SMALL, 2)
    lines: list[tuple[str, ImageFont.FreeTypeFont]] = [
        (headline, font(rng.randint(56, 72), bold=True)),
        (sub, font(rng.randint(40, 52), bold=True, serif=rng.random() < 0.4)),
        ("　".join(extra), font(rng.randint(26, 32))),
    ]
    y = rng.randint(30, 70)
    x = rng.randint(30, 60)
    for text, f in lines:
        if rng.random() < 0.3 and f.size >= 40:  # text on a contrasting band
            tw = f.getlength(text)
            d.rounded_rectangle((x - 12, y - 4, x + tw + 12, y + f.size * 1.3), radius=12, fill=ink)
            d.text((x, y), text, font=f, fill=c1)
        else:
            d.text((x, y), text, font=f, fill=ink, stroke_width=1 if f.size > 50 else 0, stroke_fill=ink)
        y += int(f.size * 1.5)
    return img, "\n".join(t for t, _ in lines)


def generate_promos(n: int = 32, seed: int = 4) -> list[GeneratedImage]:
    """``n`` banners, alternately with claim copy (「根治颈椎病」…) and clean copy."""
    rng = random.Random(seed + 1000)
    return [_promo(i // 2, rng, claim=i % 2 == 0) for i in range(n)]


# --- text-free product photos (for triage) -----------------------------------------------


def _photo(idx: int, rng: random.Random) -> GeneratedImage:
    w, h = rng.choice(((800, 800), (750, 600), (1000, 750)))
    bg1 = tuple(rng.randint(200, 255) for _ in range(3))
    bg2 = tuple(rng.randint(120, 220) for _ in range(3))
    img = _gradient(w, h, bg1, bg2, vertical=rng.random() < 0.5)  # type: ignore[arg-type]
    style = idx % 3
    for _ in range(rng.randint(1, 3)):
        cx, cy = rng.randint(w // 4, 3 * w // 4), rng.randint(h // 4, 3 * h // 4)
        rw, rh = rng.randint(w // 8, w // 3), rng.randint(h // 8, h // 3)
        col = tuple(rng.randint(20, 240) for _ in range(3))
        mask = Image.new("L", (w, h), 0)
        md = ImageDraw.Draw(mask)
        if rng.random() < 0.5:
            md.ellipse((cx - rw, cy - rh, cx + rw, cy + rh), fill=255)
        else:
            md.rounded_rectangle((cx - rw, cy - rh, cx + rw, cy + rh), radius=min(rw, rh) // 3, fill=255)
        shade = _gradient(w, h, col, tuple(max(0, c - 80) for c in col), vertical=False)  # type: ignore[arg-type]
        blur = 1.5 if style == 0 else rng.uniform(3, 10)
        img.paste(shade, (0, 0), mask.filter(ImageFilter.GaussianBlur(blur)))
    if style == 2:
        img = img.filter(ImageFilter.GaussianBlur(2))
    truth: dict[str, Any] = {"number": None, "fields": {}, "claims": [], "text": ""}
    return GeneratedImage(f"photo-{idx:03d}", "photo", "photo", img, truth)


def generate_photos(n: int = 12, seed: int = 4) -> list[GeneratedImage]:
    """Text-free, photo-like renders of objects (gradients, soft shapes): triage must skip them."""
    rng = random.Random(seed + 2000)
    return [_photo(i, rng) for i in range(n)]


# --- degradations -------------------------------------------------------------------------


def degrade(img: Image.Image, kind: str, *, seed: int = 0) -> Image.Image:
    """One of ``DEGRADATIONS`` applied to ``img`` (RGB out)."""
    img = img.convert("RGB")
    if kind == "blur":
        return img.filter(ImageFilter.GaussianBlur(1.6))
    if kind == "jpeg30":
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=30)
        buf.seek(0)
        with Image.open(buf) as out:
            return out.convert("RGB")
    if kind == "rotate3":
        return img.rotate(3, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    if kind == "noise":
        import numpy as np

        arr = np.asarray(img).astype(np.int16)
        noise = np.random.default_rng(seed).normal(0, 18, arr.shape).astype(np.int16)
        return Image.fromarray(np.clip(arr + noise, 0, 255).astype(np.uint8))
    if kind == "scale06":
        return img.resize((int(img.width * 0.6), int(img.height * 0.6)), Image.Resampling.LANCZOS)
    if kind == "watermark":
        layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
        f = font(max(28, img.width // 14), bold=True)
        d = ImageDraw.Draw(layer)
        step = int(f.size * 4)
        for y in range(0, img.height, step):
            d.text((20 + (y // step % 2) * int(f.size) * 2, y), "仅供网店展示使用  仅供网店展示使用", font=f,
                   fill=(120, 120, 120, 80))
        layer = layer.rotate(20, resample=Image.Resampling.BICUBIC)
        base = img.convert("RGBA")
        base.alpha_composite(layer)
        return base.convert("RGB")
    raise ValueError(f"unknown degradation {kind!r}")
