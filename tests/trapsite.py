"""A small platform full of crawl traps, served on 127.0.0.1 (tests/test_sweep_traps.py).

康宁优选, a marketplace ``mdwatch sweep generic`` has no profile for:

- ``/`` the platform's home page (its filing number in the footer, as on every page);
- ``/list?page=1..3`` a paginated index of the static listings, with sort links and filters
  (``?color=&size=``, single-select, each filter page linking to the other combinations and to
  its own pages); every product link carries tracking parameters (``?spm=…&utm_source=…``) or a
  fragment, some twice;
- ``/shops/?page=1..2`` a shop directory; ``/shop/<id>/`` a shop's home page (licence panel,
  contact, its products);
- ``/item/<n>.html`` the static listings (:data:`STATIC_ITEMS`); ``/js/item/<n>.html`` listings
  whose content a script injects 300–1500 ms after ``load`` (:data:`JS_ITEMS`), the static shell
  showing 加载中…;
- traps: ``/calendar?date=YYYY-MM-DD`` an endless activity calendar (previous / next day, next
  month); ``/events/YYYY/MM/DD/`` the same by path; ``/guess/<n>`` endless "guess you like" pages
  (each a page deeper); ``/brand/`` whose relative link ``a/b/`` appends itself forever;
  ``/admin/`` disallowed by ``robots.txt`` (and linked from the home page);

Unknown paths answer 404. Every request's path and query is recorded in ``site.hits``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = ["JS_DELAYS_MS", "JS_ITEMS", "SHOPS", "STATIC_ITEMS", "TrapSite"]

FIRST_DAY = date(2026, 12, 6)


@dataclass(frozen=True)
class Item:
    id: int
    name: str
    model: str
    price: str
    color: str
    size: str
    shop: str

    @property
    def path(self) -> str:
        return f"/item/{self.id}.html"


SHOPS: dict[str, str] = {
    "kangning": "康宁医疗器械专营店",
    "ruiyi": "瑞医家用器械专营店",
    "anhe": "安和康复用品专营店",
    "yuekang": "悦康医疗器械旗舰店",
    "jiahe": "嘉禾护理用品专营店",
    "mingde": "明德医疗器械专营店",
}
_NAMES = [("电子血压计", "BP-1"), ("红外体温计", "IR-2"), ("医用雾化器", "NB-3"), ("血糖仪", "GM-4"),
          ("家用制氧机", "OX-5"), ("轮椅", "WC-6"), ("助行器", "WK-7"), ("医用护腰", "LB-8"),
          ("冷敷贴", "CP-9"), ("医用口罩", "MK-10"), ("听诊器", "ST-11"), ("拐杖", "CR-12")]
_COLORS = ("白色", "灰色")
_SIZES = ("大号", "小号")
STATIC_ITEMS: tuple[Item, ...] = tuple(
    Item(1001 + n, name, model, f"{99 + 20 * n}.00", _COLORS[n % 2], _SIZES[(n // 2) % 2],
         list(SHOPS)[n % len(SHOPS)])
    for n, (name, model) in enumerate(_NAMES)
)
JS_DELAYS_MS: tuple[int, ...] = (300, 700, 1100, 1500)
JS_ITEMS: tuple[int, ...] = (2001, 2002, 2003, 2004)
PER_PAGE = 4

FOOTER = (
    "<footer><p>关于康宁优选 | 帮助中心 | 隐私政策 | 规则中心</p>"
    "<p>京ICP备2026001234号-1 医疗器械网络交易服务第三方平台备案凭证：（京）网械平台备字（2026）第00015号</p>"
    "</footer>"
)
HEADER = (
    "<header><a href='/'>首页</a> <a href='/list'>全部商品</a> <a href='/shops/'>全部店铺</a> "
    "<a href='/calendar?date=2026-12-06'>活动日历</a></header>"
)


def _page(title: str, body: str, head: str = "") -> str:
    return (f"<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>{title}</title>{head}</head>"
            f"<body>{HEADER}<main>{body}</main>{FOOTER}</body></html>")


def _tracked(path: str, n: int) -> str:
    """A link to ``path`` as marketplaces write them: tracking parameters, a fragment."""
    return (f"{path}?spm=a21bo.{n}.201867-main.{n}&utm_source=list&utm_medium=web",
            f"{path}#detail", f"{path}?scm=1007.12144.{n}")[n % 3]


def _card(item: Item, n: int) -> str:
    return (f"<li class='card'><a href='{_tracked(item.path, n)}'>{item.name} {item.model}</a>"
            f"<span class='price'>¥{item.price}</span> <a href='/shop/{item.shop}/'>{SHOPS[item.shop]}</a></li>")


def _product(item: Item) -> str:
    body = (
        f"<h1>{item.name} {item.model}</h1><p class='price'>¥{item.price}</p>"
        f"<p>颜色：{item.color}　规格：{item.size}</p><button>立即购买</button> <button>加入购物车</button>"
        f"<h2>商品详情</h2><table>"
        f"<tr><th>产品名称</th><td>{item.name}</td></tr><tr><th>型号规格</th><td>{item.model}</td></tr>"
        f"<tr><th>注册人</th><td>北京康宁医疗科技有限公司</td></tr>"
        f"<tr><th>结构及组成</th><td>由主机、电源适配器组成。</td></tr>"
        f"<tr><th>适用范围</th><td>供家庭使用。</td></tr></table>"
        f"<p>店铺：<a href='/shop/{item.shop}/'>{SHOPS[item.shop]}</a></p>"
    )
    return _page(f"{item.name} {item.model}-康宁优选", body)


def _js_shell(n: int) -> str:
    delay = JS_DELAYS_MS[n % len(JS_DELAYS_MS)]
    item_id = JS_ITEMS[n % len(JS_ITEMS)]
    content = (
        f"<h1>智能雾化器 JS-{item_id}</h1><p class='price'>¥{199 + n}.00</p><button>立即购买</button>"
        "<button>加入购物车</button><h2>商品详情</h2><table>"
        f"<tr><th>产品名称</th><td>智能雾化器</td></tr><tr><th>型号规格</th><td>JS-{item_id}</td></tr>"
        "<tr><th>注册人</th><td>北京康宁医疗科技有限公司</td></tr>"
        "<tr><th>结构及组成</th><td>由主机、雾化杯和面罩组成。</td></tr>"
        "<tr><th>适用范围</th><td>供家庭雾化治疗使用。</td></tr></table>"
    )
    script = (
        "<script>window.addEventListener('load', function () { setTimeout(function () {"
        f"document.getElementById('app').innerHTML = {json.dumps(content, ensure_ascii=False)}; }}, {delay}); }});"
        "</script>"
    )
    return ("<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>康宁优选</title></head>"
            f"<body><div id='app'><p class='loading'>加载中…</p></div>{script}</body></html>")


def _filtered(query: dict[str, str]) -> list[Item]:
    items = list(STATIC_ITEMS)
    if "color" in query:
        items = [i for i in items if i.color == query["color"]]
    if "size" in query:
        items = [i for i in items if i.size == query["size"]]
    if query.get("sort") == "price":
        items.sort(key=lambda i: -float(i.price))
    return items


def _list(query: dict[str, str]) -> str:
    items = _filtered(query)
    pages = max(1, -(-len(items) // PER_PAGE))
    page = min(max(int(query.get("page", "1") or 1), 1), pages)
    base = {k: v for k, v in query.items() if k != "page"}

    def href(**change: str | None) -> str:
        q = {**base, **change}
        return "/list" + ("?" + urlencode({k: v for k, v in q.items() if v is not None}) if any(
            v is not None for v in q.values()) else "")

    shown = items[(page - 1) * PER_PAGE: page * PER_PAGE]
    cards = "".join(_card(item, n) for n, item in enumerate(shown))
    sort = (f"<div class='sort'><a href='{href(sort=None)}'>综合排序</a> <a href='{href(sort='sales')}'>按销量</a> "
            f"<a href='{href(sort='price')}'>价格从高到低</a></div>")
    facets = "<div class='filter'>筛选：" + " ".join(
        f"<a href='{href(color=c)}'>{c}</a>" for c in _COLORS) + " " + " ".join(
        f"<a href='{href(size=s)}'>{s}</a>" for s in _SIZES) + "</div>"
    pager = [f"<span>第{page}页 / 共{pages}页</span>"]
    if page > 1:
        pager.append(f"<a href='{href(page=str(page - 1))}'>上一页</a>")
    pager += [f"<a href='{href(page=str(p))}'>{p}</a>" for p in range(1, pages + 1)]  # the current one too
    if page < pages:
        pager.append(f"<a href='{href(page=str(page + 1))}'>下一页</a>")
    js = ""
    if page == pages and not base:  # the JS listings are linked from the index's last page
        js = "".join(f"<li><a href='/js/item/{i}.html?spm=a1.{i}'>智能雾化器 JS-{i}</a><span>¥{199 + n}.00</span></li>"
                     for n, i in enumerate(JS_ITEMS))
    body = (f"<h1>全部商品</h1><p>共 {len(items)} 件商品</p>{sort}{facets}<ul class='goods'>{cards}{js}</ul>"
            f"<div class='pager'>{' '.join(pager)}</div>")
    return _page("全部商品-康宁优选", body)


def _shops(query: dict[str, str]) -> str:
    names = list(SHOPS)
    page = 2 if query.get("page") == "2" else 1
    shown = names[:4] if page == 1 else names[4:]
    links = "".join(f"<li><a href='/shop/{s}/'>{SHOPS[s]}</a> 进店逛逛</li>" for s in shown)
    pager = "<a href='/shops/?page=2'>下一页</a>" if page == 1 else "<a href='/shops/?page=1'>上一页</a>"
    return _page("店铺街-康宁优选", f"<h1>全部店铺</h1><ul>{links}</ul><div class='pager'>{pager}</div>")


def _shop(shop: str) -> str:
    name = SHOPS[shop]
    items = [i for i in STATIC_ITEMS if i.shop == shop]
    cards = "".join(_card(item, n) for n, item in enumerate(items))
    body = (
        f"<h1>{name}</h1><nav><a href='#all'>全部宝贝</a> 关注店铺</nav><ul>{cards}</ul>"
        "<section><h2>证照公示</h2><p>企业名称：北京康宁医疗器械销售有限公司</p>"
        "<p>营业执照：统一社会信用代码 91110105MA01ABCD2X</p>"
        "<p>医疗器械经营许可证：京朝食药监械经营许20260001号（有效期至2030年12月31日）</p>"
        "<p>第二类医疗器械经营备案凭证：京朝食药监械经营备20260002号</p>"
        "<p>经营范围：第二类、第三类医疗器械</p>"
        "<p>售后电话：400-810-2026　<a href='#im'>联系客服</a></p></section>"
    )
    return _page(name, body)


def _day(value: str | None) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return FIRST_DAY


def _calendar(query: dict[str, str]) -> str:
    day = _day(query.get("date"))
    nxt, prev = day + timedelta(days=1), day - timedelta(days=1)
    month = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    body = (f"<h1>活动日历 {day.isoformat()}</h1><p>今日暂无活动。</p>"
            f"<a href='/calendar?date={prev.isoformat()}'>上一天</a> "
            f"<a href='/calendar?date={nxt.isoformat()}'>下一天</a> "
            f"<a href='/calendar?date={month.isoformat()}'>下个月</a> "
            f"<a href='/events/{day.year}/{day.month:02d}/{day.day:02d}/'>当日活动</a>")
    return _page(f"活动日历 {day.isoformat()}-康宁优选", body)


def _events(day: date) -> str:
    nxt, prev = day + timedelta(days=1), day - timedelta(days=1)
    body = (f"<h1>{day.year}年{day.month}月{day.day}日 活动</h1><p>今日暂无活动。</p>"
            f"<a href='/events/{prev.year}/{prev.month:02d}/{prev.day:02d}/'>前一天</a> "
            f"<a href='/events/{nxt.year}/{nxt.month:02d}/{nxt.day:02d}/'>后一天</a>")
    return _page(f"活动 {day.isoformat()}-康宁优选", body)


def _guess(n: int) -> str:
    """Endless: each "guess you like" page links the next one, one hop deeper."""
    items = [STATIC_ITEMS[(n + k) % len(STATIC_ITEMS)] for k in range(5)]
    cards = "".join(_card(item, k) for k, item in enumerate(items))
    body = (f"<h1>猜你喜欢 第{n}页</h1><ul class='goods'>{cards}</ul>"
            f"<div class='pager'><a href='/guess/{n + 1}'>下一页</a></div>")
    return _page("猜你喜欢-康宁优选", body)


def _brand(path: str) -> str:
    """A brand page whose relative link appends ``a/b/`` to wherever it is served."""
    items = STATIC_ITEMS[:5]
    cards = "".join(_card(item, k) for k, item in enumerate(items))
    body = (f"<h1>品牌专区</h1><div class='sort'><a href='?sort=sales'>按销量</a> <a href='?sort=price'>价格从高到低</a> "
            f"<a href='?sort=new'>新品</a></div><ul class='goods'>{cards}</ul>"
            "<div class='pager'><a href='a/b/'>下一页</a></div>")
    return _page("品牌专区-康宁优选", body)


def _home() -> str:
    featured = "".join(_card(item, n) for n, item in enumerate(STATIC_ITEMS[:3]))
    shops = "".join(f"<a href='/shop/{s}/'>{name}</a> " for s, name in list(SHOPS.items())[:3])
    body = (
        "<h1>康宁优选 医疗器械网上商城</h1><p>平台首页 · 商家入驻 · 正品保障</p>"
        f"<h2>为你推荐</h2><ul>{featured}</ul><h2>入驻商家</h2><p>{shops}</p>"
        "<p><a href='/events/2026/12/06/'>本周活动</a> <a href='/guess/1'>猜你喜欢</a> "
        "<a href='/brand/'>品牌专区</a> <a href='/admin/'>商家后台</a></p>"
    )
    return _page("康宁优选-医疗器械网上商城", body)


# ----------------------------------------------------------------------------- the server


@dataclass
class _Reply:
    status: int = 200
    body: str = ""
    ctype: str = "text/html; charset=utf-8"


def route(path: str, query: dict[str, str]) -> _Reply:
    if path == "/robots.txt":
        return _Reply(body="User-agent: *\nDisallow: /admin/\n", ctype="text/plain; charset=utf-8")
    if path == "/":
        return _Reply(body=_home())
    if path == "/list":
        return _Reply(body=_list(query))
    if path == "/shops/":
        return _Reply(body=_shops(query))
    if path.startswith("/shop/") and path.count("/") == 3 and path.split("/")[2] in SHOPS:
        return _Reply(body=_shop(path.split("/")[2]))
    for item in STATIC_ITEMS:
        if path == item.path:
            return _Reply(body=_product(item))
    for n, item_id in enumerate(JS_ITEMS):
        if path == f"/js/item/{item_id}.html":
            return _Reply(body=_js_shell(n))
    if path == "/calendar":
        return _Reply(body=_calendar(query))
    if path.startswith("/events/"):
        parts = [p for p in path.split("/") if p]
        try:
            return _Reply(body=_events(date(int(parts[1]), int(parts[2]), int(parts[3]))))
        except (IndexError, ValueError):
            return _Reply(404, "not found", "text/plain")
    if path.startswith("/guess/") and path[7:].isdigit():
        return _Reply(body=_guess(int(path[7:])))
    if path.startswith("/brand/"):
        return _Reply(body=_brand(path))
    if path.startswith("/admin/"):
        return _Reply(body=_page("商家后台", "<p>请登录。</p>"))
    return _Reply(404, "not found", "text/plain")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        parts = urlsplit(self.path)
        reply = route(parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)))
        body = reply.body.encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclass
class TrapSite:
    """The trap platform on 127.0.0.1 (a free port); a context manager."""

    hits: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        handler = type("Handler", (_Handler,), {"hits": self.hits})
        self._server = _Server(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="trapsite", daemon=True)

    def __enter__(self) -> TrapSite:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def url(self, path: str = "/") -> str:
        return self.base + path

    def product_urls(self) -> set[str]:
        """Every listing of the platform, as a sweep should store it (one URL each)."""
        return {self.url(i.path) for i in STATIC_ITEMS} | {self.url(f"/js/item/{i}.html") for i in JS_ITEMS}

    def paths_hit(self) -> Iterator[str]:
        return (urlsplit(h).path for h in list(self.hits))
