"""Monitoring reports (监测报告) of runs, sweeps and campaigns: HTML, XLSX and JSON, in Chinese.

:func:`build_report` reads one or more runs from the database into a :class:`Report` (plain
dataclasses); :func:`render_html` (Jinja2 templates under ``templates/``, autoescaped),
:func:`render_xlsx` (openpyxl) and :func:`render_json` turn it into a document.

A report holds totals by rule (with the rule's title and legal article), by severity, by shop and
by platform; every page with findings, with its URL, capture time and SHA-256, a screenshot
thumbnail (from ``evidence_files``, embedded as a ``data:`` URI so the HTML opens from disk) and
its findings with their evidence snippets (the match highlighted); and the repeat offenders:
shops with findings in ``REPEAT_RUNS`` or more runs of the database up to the report's last run
(the credit file of HAINAN measures (15), 信用档案).

A sweep whose precision guard tripped (``precision_guard.py``: one rule on most pages of its
kind) puts its one-line alert with sample pages at the top of the report (``precision_alerts``).

The platform of a page is the sweep's platform profile (``runs.stats["profile"]``) when there is
one, else the host of the page's URL.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mdwatch.analyzers.catalogue import rules
from mdwatch.scheduler.precision_guard import guard_result
from mdwatch.storage.evidence import EvidenceFileRow, EvidenceStore
from mdwatch.storage.schema import Capture, FindingRow, PageRow, Run, Shop
from mdwatch.storage.store import Store

__all__ = [
    "FORMATS",
    "REPEAT_RUNS",
    "SEVERITY_ZH",
    "Report",
    "ReportError",
    "build_report",
    "campaign_run_ids",
    "render",
    "render_html",
    "render_json",
    "render_xlsx",
    "write_report",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
FORMATS = ("html", "xlsx", "json")
REPEAT_RUNS = 3  # a shop with findings in this many runs is a repeat offender (HAINAN 15)
SEVERITY_ORDER: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
SEVERITY_ZH = {"critical": "严重", "high": "高", "medium": "中", "low": "低", "info": "提示"}
KIND_ZH = {"platform": "平台首页", "shop": "店铺页", "product": "商品页"}
RUN_KIND_ZH = {"sweep": "巡查", "scan": "扫描", "demo": "演示", "campaign": "专项监测"}
NO_SHOP = "（无店铺）"
THUMB_WIDTH = 360
THUMB_MAX_HEIGHT = 540
MAX_EVIDENCE = 5  # evidence snippets shown per finding (the rest are counted)


class ReportError(Exception):
    """A report that cannot be made (unknown run or campaign); the message is Chinese."""


def shanghai(when: datetime | None) -> str:
    """``2026-05-01 10:00:00`` in Asia/Shanghai ('' for None)."""
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


# -------------------------------------------------------------------- the report's data


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    kind: str
    kind_zh: str
    target: str
    platform: str
    status: str
    started_at: str  # Asia/Shanghai
    finished_at: str
    pages: int
    findings: int


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    source: str
    snippet: str
    match: str
    before: str  # snippet split around the first occurrence of match (for highlighting)
    matched: str
    after: str
    image_url: str | None
    page_url: str | None


@dataclass(frozen=True, slots=True)
class FindingItem:
    id: int
    run_id: int
    rule: str
    title: str
    severity: str
    severity_zh: str
    article: str
    message: str
    evidence: list[EvidenceItem]
    more_evidence: int  # snippets not shown


@dataclass(frozen=True, slots=True)
class Screenshot:
    evidence_file_id: int
    sha256: str
    size: int
    thumbnail: str = field(repr=False)  # data: URI of a JPEG thumbnail ('' if it could not be read)


@dataclass(frozen=True, slots=True)
class PageItem:
    page_id: int
    run_id: int
    url: str
    kind: str
    kind_zh: str
    title: str
    platform: str
    shop_id: int | None
    shop_name: str
    shop_url: str
    fetched_at: str
    capture_sha256: str
    screenshot: Screenshot | None
    findings: list[FindingItem]


@dataclass(frozen=True, slots=True)
class RuleCount:
    rule: str
    title: str
    severity: str
    severity_zh: str
    article: str
    findings: int
    pages: int


@dataclass(frozen=True, slots=True)
class SeverityCount:
    severity: str
    label: str
    findings: int
    pages: int


@dataclass(frozen=True, slots=True)
class ShopCount:
    shop_id: int | None
    name: str
    url: str
    platform: str
    findings: int
    pages: int
    critical: int
    rules: int


@dataclass(frozen=True, slots=True)
class PlatformCount:
    platform: str
    findings: int
    pages: int
    shops: int
    critical: int


@dataclass(frozen=True, slots=True)
class RepeatOffender:
    shop_id: int
    name: str
    url: str
    run_count: int
    run_ids: list[int]
    findings_total: int  # in every run counted
    findings_here: int  # in this report's runs
    rules: list[str]
    first_at: str
    last_at: str


@dataclass(frozen=True, slots=True)
class PrecisionAlert:
    """A rule the sweep's precision guard held (see ``precision_guard.py``)."""

    run_id: int
    rule: str
    title: str
    kind: str
    pages: int
    total: int
    share: float
    samples: list[str]
    line: str


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    scope: str  # "sweep" | "run" | "campaign"
    scope_label: str  # e.g. "巡查 12" or "专项监测 海南网售"
    generated_at: str
    period: str  # first start – last end, Asia/Shanghai
    platforms: list[str]
    runs: list[RunInfo]
    total_findings: int
    total_pages: int  # pages stored by the runs
    flagged_pages: int  # pages with findings
    shops_with_findings: int
    by_rule: list[RuleCount]
    by_severity: list[SeverityCount]
    by_shop: list[ShopCount]
    by_platform: list[PlatformCount]
    repeat_offenders: list[RepeatOffender]
    repeat_runs: int
    pages: list[PageItem]
    precision_alerts: list[PrecisionAlert] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON document (screenshots by SHA-256, without the thumbnail bytes)."""
        doc = asdict(self)
        doc["format"] = "mdwatch-report/1"
        for page in doc["pages"]:
            shot = page.get("screenshot")
            if shot is not None:
                shot.pop("thumbnail", None)
        return doc


# -------------------------------------------------------------------- campaigns


def campaign_run_ids(store: Store, name: str) -> list[int]:
    """Every run id stored by campaign ``name``, oldest first (storage/leads.py's campaign_runs).

    Raises :class:`ReportError` when the campaign is unknown.
    """
    from mdwatch.storage.leads import LeadError, LeadStore

    try:
        ids = LeadStore(store).campaign_run_ids(name)  # shares the store's engine; closed by the caller
    except LeadError as exc:
        raise ReportError(str(exc)) from exc
    return list(dict.fromkeys(ids))


# -------------------------------------------------------------------- building


def _platform(stats: dict[str, Any], url: str) -> str:
    profile = stats.get("profile")
    if isinstance(profile, str) and profile:
        return profile
    return urlsplit(url).netloc or url


def _evidence(raw: Sequence[dict[str, Any]]) -> tuple[list[EvidenceItem], int]:
    items: list[EvidenceItem] = []
    for e in raw[:MAX_EVIDENCE]:
        snippet = str(e.get("snippet") or "")
        match = str(e.get("match") or "")
        source = str(e.get("source") or "")
        before, matched, after = snippet, "", ""
        if match and source != "structure":
            at = snippet.find(match)
            if at >= 0:
                before, matched, after = snippet[:at], match, snippet[at + len(match):]
        image_url = e.get("image_url")
        page_url = e.get("page_url")
        items.append(EvidenceItem(source=source, snippet=snippet, match=match, before=before, matched=matched,
                                  after=after, image_url=str(image_url) if image_url else None,
                                  page_url=str(page_url) if page_url else None))
    return items, max(0, len(raw) - MAX_EVIDENCE)


def thumbnail_data_uri(png: bytes, width: int = THUMB_WIDTH, max_height: int = THUMB_MAX_HEIGHT) -> str:
    """A small JPEG of the top of a screenshot, as a ``data:`` URI ('' if the bytes are no image)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(png)) as img:
            w, h = img.size
            keep = min(h, max(1, int(max_height * w / width)))  # the part that fits the thumbnail's box
            top = img.crop((0, 0, w, keep)).convert("RGB")
    except Exception:  # a damaged or foreign file: the report says 无截图 instead of failing
        return ""
    top.thumbnail((width, max_height), Image.Resampling.BILINEAR, reducing_gap=2.0)
    out = io.BytesIO()
    top.save(out, format="JPEG", quality=72)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _screenshots(engine: Engine, page_ids: Iterable[int], thumbnails: bool) -> dict[int, Screenshot]:
    """The newest screenshot of each page (from ``evidence_files``), with a thumbnail if asked.

    Thumbnails are made on a few threads (PNG decoding releases the GIL).
    """
    ids = list(page_ids)
    newest: dict[int, int] = {}
    files: dict[int, tuple[int, str, int, str | None, bytes | None]] = {}
    with Session(engine) as session:
        for start in range(0, len(ids), 500):
            stmt = (select(EvidenceFileRow.page_id, EvidenceFileRow.id)
                    .where(EvidenceFileRow.page_id.in_(ids[start:start + 500]), EvidenceFileRow.kind == "screenshot")
                    .order_by(EvidenceFileRow.id))
            for page_id, file_id in session.execute(stmt):
                if page_id is not None:
                    newest[page_id] = file_id  # the latest screenshot of a page wins
        for page_id, file_id in newest.items():
            fid, sha, size, path = session.execute(
                select(EvidenceFileRow.id, EvidenceFileRow.sha256, EvidenceFileRow.size, EvidenceFileRow.path)
                .where(EvidenceFileRow.id == file_id)).one()
            body: bytes | None = None
            if thumbnails and path is None:
                raw = session.scalar(select(EvidenceFileRow.body).where(EvidenceFileRow.id == file_id))
                body = bytes(raw) if raw is not None else None
            files[page_id] = (fid, sha, int(size), path, body)

    def thumb(item: tuple[int, str, int, str | None, bytes | None]) -> str:
        if not thumbnails:
            return ""
        _, _, _, path, body = item
        try:
            data = Path(path).read_bytes() if path else (body or b"")
        except OSError:
            return ""
        return thumbnail_data_uri(data)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        thumbs = dict(zip(files, pool.map(thumb, files.values()), strict=True))
    return {page_id: Screenshot(evidence_file_id=fid, sha256=sha, size=size, thumbnail=thumbs[page_id])
            for page_id, (fid, sha, size, _, _) in files.items()}


def _repeat_offenders(engine: Engine, shop_ids: set[int], cutoff: datetime,
                      here: Counter[int], names: dict[int, tuple[str, str]],
                      min_runs: int) -> list[RepeatOffender]:
    if not shop_ids:
        return []
    stmt = (
        select(PageRow.shop_id, FindingRow.run_id, FindingRow.rule, func.count(FindingRow.id), func.min(Run.started_at),
               func.max(Run.started_at))
        .join(PageRow, FindingRow.page_id == PageRow.id)
        .join(Run, FindingRow.run_id == Run.id)
        .where(PageRow.shop_id.in_(sorted(shop_ids)), Run.started_at <= cutoff)
        .group_by(PageRow.shop_id, FindingRow.run_id, FindingRow.rule)
    )
    runs: dict[int, set[int]] = defaultdict(set)
    rule_sets: dict[int, set[str]] = defaultdict(set)
    totals: Counter[int] = Counter()
    first: dict[int, datetime] = {}
    last: dict[int, datetime] = {}
    with engine.connect() as conn:
        for shop_id, run_id, rule, n, t0, t1 in conn.execute(stmt):
            if shop_id is None:
                continue
            runs[shop_id].add(int(run_id))
            rule_sets[shop_id].add(rule)
            totals[shop_id] += int(n)
            t0 = t0 if t0.tzinfo else t0.replace(tzinfo=UTC)
            t1 = t1 if t1.tzinfo else t1.replace(tzinfo=UTC)
            first[shop_id] = min(first.get(shop_id, t0), t0)
            last[shop_id] = max(last.get(shop_id, t1), t1)
    offenders = [
        RepeatOffender(shop_id=sid, name=names[sid][0], url=names[sid][1], run_count=len(r), run_ids=sorted(r),
                       findings_total=totals[sid], findings_here=here[sid], rules=sorted(rule_sets[sid]),
                       first_at=shanghai(first[sid]), last_at=shanghai(last[sid]))
        for sid, r in runs.items() if len(r) >= min_runs
    ]
    offenders.sort(key=lambda o: (-o.run_count, -o.findings_total, o.name))
    return offenders


def _severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def build_report(
    db_url: str | None,
    *,
    run_ids: Sequence[int] = (),
    campaign: str | None = None,
    scope: str | None = None,
    thumbnails: bool = True,
    repeat_runs: int = REPEAT_RUNS,
) -> Report:
    """Read the report of ``run_ids`` (or of every run of ``campaign``) from the database."""
    store = Store.open(db_url)
    try:
        EvidenceStore(store.engine).close()  # creates evidence_files if absent
        ids = list(dict.fromkeys(int(i) for i in run_ids))
        if campaign is not None:
            ids = campaign_run_ids(store, campaign)
            if not ids:
                raise ReportError(f"专项监测活动 {campaign} 还没有运行记录。")
        if not ids:
            raise ReportError("未指定要生成报告的运行。")
        return _build(store.engine, ids, campaign, scope, thumbnails, repeat_runs)
    finally:
        store.close()


def _build(engine: Engine, ids: list[int], campaign: str | None, scope: str | None,
           thumbnails: bool, repeat_runs: int) -> Report:
    catalogue = rules()
    with Session(engine, expire_on_commit=False) as conn:
        run_rows = {r.id: r for r in conn.scalars(select(Run).where(Run.id.in_(ids)))}
        missing = [i for i in ids if i not in run_rows]
        if missing:
            raise ReportError(f"运行 {'、'.join(map(str, missing))} 不存在。")
        page_counts = dict(conn.execute(
            select(PageRow.run_id, func.count(PageRow.id)).where(PageRow.run_id.in_(ids)).group_by(PageRow.run_id)
        ).all())
        stmt = (
            select(FindingRow, PageRow.url, PageRow.kind, PageRow.title, PageRow.shop_id, Capture.sha256,
                   Capture.fetched_at, Shop.name, Shop.url.label("shop_url"))
            .join(PageRow, FindingRow.page_id == PageRow.id)
            .join(Capture, PageRow.capture_id == Capture.id)
            .outerjoin(Shop, PageRow.shop_id == Shop.id)
            .where(FindingRow.run_id.in_(ids))
            .order_by(FindingRow.run_id, FindingRow.page_id, FindingRow.id)
        )
        rows = list(conn.execute(stmt))
        conn.expunge_all()

    runs_sorted = sorted(run_rows.values(), key=lambda r: (r.started_at, r.id))
    finding_counts: Counter[int] = Counter(r[0].run_id for r in rows)
    run_platforms: dict[int, set[str]] = defaultdict(set)
    for row in rows:
        run_platforms[row[0].run_id].add(_platform(dict(run_rows[row[0].run_id].stats), row[1]))
    runs = [
        RunInfo(id=r.id, kind=r.kind, kind_zh=RUN_KIND_ZH.get(r.kind, r.kind), target=r.target,
                platform="、".join(sorted(run_platforms[r.id])) or _platform(dict(r.stats), r.target), status=r.status,
                started_at=shanghai(r.started_at), finished_at=shanghai(r.finished_at),
                pages=int(page_counts.get(r.id, 0)), findings=finding_counts[r.id])
        for r in runs_sorted
    ]

    pages: dict[int, dict[str, Any]] = {}
    findings_by_page: dict[int, list[FindingItem]] = defaultdict(list)
    rule_findings: Counter[str] = Counter()
    rule_pages: dict[str, set[int]] = defaultdict(set)
    rule_severity: dict[str, str] = {}
    rule_article: dict[str, str] = {}
    sev_findings: Counter[str] = Counter()
    sev_pages: dict[str, set[int]] = defaultdict(set)
    shop_findings: Counter[int | None] = Counter()
    shop_pages: dict[int | None, set[int]] = defaultdict(set)
    shop_critical: Counter[int | None] = Counter()
    shop_rules: dict[int | None, set[str]] = defaultdict(set)
    shop_platform: dict[int | None, str] = {}
    shop_names: dict[int, tuple[str, str]] = {}
    plat_findings: Counter[str] = Counter()
    plat_pages: dict[str, set[int]] = defaultdict(set)
    plat_shops: dict[str, set[int]] = defaultdict(set)
    plat_critical: Counter[str] = Counter()
    for f, url, kind, title, shop_id, sha, fetched_at, shop_name, shop_url in rows:
        platform = _platform(dict(run_rows[f.run_id].stats), url)
        rule = catalogue.get(f.rule)
        evid, more = _evidence(list(f.evidence or []))
        item = FindingItem(id=f.id, run_id=f.run_id, rule=f.rule, title=rule.title if rule else f.rule,
                           severity=f.severity, severity_zh=SEVERITY_ZH.get(f.severity, f.severity),
                           article=f.article, message=f.message, evidence=evid, more_evidence=more)
        findings_by_page[f.page_id].append(item)
        if f.page_id not in pages:
            pages[f.page_id] = {"run_id": f.run_id, "url": url, "kind": kind, "title": title or "",
                                "platform": platform, "shop_id": shop_id,
                                "shop_name": (shop_name or shop_url or NO_SHOP) if shop_id is not None else NO_SHOP,
                                "shop_url": shop_url or "", "fetched_at": shanghai(fetched_at), "sha": sha}
        if shop_id is not None:
            shop_names[shop_id] = (shop_name or shop_url or str(shop_id), shop_url or "")
        rule_findings[f.rule] += 1
        rule_pages[f.rule].add(f.page_id)
        rule_severity.setdefault(f.rule, f.severity)
        rule_article.setdefault(f.rule, f.article)
        sev_findings[f.severity] += 1
        sev_pages[f.severity].add(f.page_id)
        shop_findings[shop_id] += 1
        shop_pages[shop_id].add(f.page_id)
        shop_rules[shop_id].add(f.rule)
        shop_platform.setdefault(shop_id, platform)
        plat_findings[platform] += 1
        plat_pages[platform].add(f.page_id)
        if shop_id is not None:
            plat_shops[platform].add(shop_id)
        if f.severity == "critical":
            shop_critical[shop_id] += 1
            plat_critical[platform] += 1

    by_rule = sorted(
        (RuleCount(rule=r, title=catalogue[r].title if r in catalogue else r, severity=rule_severity[r],
                   severity_zh=SEVERITY_ZH.get(rule_severity[r], rule_severity[r]),
                   article=catalogue[r].article if r in catalogue else rule_article[r],
                   findings=n, pages=len(rule_pages[r]))
         for r, n in rule_findings.items()),
        key=lambda c: (_severity_rank(c.severity), -c.findings, c.rule),
    )
    by_severity = [SeverityCount(severity=s, label=SEVERITY_ZH[s], findings=sev_findings[s], pages=len(sev_pages[s]))
                   for s in SEVERITY_ORDER]
    by_severity += [SeverityCount(severity=s, label=s, findings=n, pages=len(sev_pages[s]))
                    for s, n in sorted(sev_findings.items()) if s not in SEVERITY_ZH]
    by_shop = sorted(
        (ShopCount(shop_id=sid, name=shop_names[sid][0] if sid is not None else NO_SHOP,
                   url=shop_names[sid][1] if sid is not None else "", platform=shop_platform[sid],
                   findings=n, pages=len(shop_pages[sid]), critical=shop_critical[sid], rules=len(shop_rules[sid]))
         for sid, n in shop_findings.items()),
        key=lambda c: (c.shop_id is None, -c.critical, -c.findings, c.name),
    )
    by_platform = sorted(
        (PlatformCount(platform=p, findings=n, pages=len(plat_pages[p]), shops=len(plat_shops[p]),
                       critical=plat_critical[p])
         for p, n in plat_findings.items()),
        key=lambda c: (-c.findings, c.platform),
    )

    shots = _screenshots(engine, pages.keys(), thumbnails)
    page_items = [
        PageItem(page_id=pid, run_id=p["run_id"], url=p["url"], kind=p["kind"], kind_zh=KIND_ZH.get(p["kind"], p["kind"]),
                 title=p["title"], platform=p["platform"], shop_id=p["shop_id"], shop_name=p["shop_name"],
                 shop_url=p["shop_url"], fetched_at=p["fetched_at"], capture_sha256=p["sha"],
                 screenshot=shots.get(pid),
                 findings=sorted(findings_by_page[pid], key=lambda f: (_severity_rank(f.severity), f.rule, f.id)))
        for pid, p in pages.items()
    ]
    page_items.sort(key=lambda p: (min(_severity_rank(f.severity) for f in p.findings), p.run_id, p.page_id))

    shop_here: Counter[int] = Counter({sid: n for sid, n in shop_findings.items() if sid is not None})
    cutoff = max(r.started_at for r in runs_sorted)
    offenders = _repeat_offenders(engine, set(shop_here), cutoff, shop_here, shop_names, repeat_runs)

    alerts = [
        PrecisionAlert(run_id=r.id, rule=a.rule, title=catalogue[a.rule].title if a.rule in catalogue else a.rule,
                       kind=a.kind, pages=a.pages, total=a.total, share=round(a.share, 4), samples=list(a.samples),
                       line=a.line())
        for r in runs_sorted if (verdict := guard_result(dict(r.stats or {}), r.id)) is not None
        for a in verdict.alerts
    ]
    platforms = sorted({p for r in runs for p in r.platform.split("、")})
    first, last = runs_sorted[0], runs_sorted[-1]
    if campaign is not None:
        scope_kind, label = "campaign", f"专项监测 {campaign}"
    elif len(runs) == 1:
        scope_kind = scope or ("sweep" if runs[0].kind == "sweep" else "run")
        label = f"{runs[0].kind_zh} {runs[0].id}"
    else:
        scope_kind = scope or "run"
        label = "运行 " + "、".join(str(r.id) for r in runs)
    period = f"{shanghai(first.started_at)} 至 {shanghai(last.finished_at or last.started_at)}"
    return Report(
        title=f"医疗器械网络销售监测报告（{label}）",
        scope=scope_kind,
        scope_label=label,
        generated_at=shanghai(datetime.now(UTC)),
        period=period,
        platforms=platforms,
        runs=runs,
        total_findings=len(rows),
        total_pages=sum(r.pages for r in runs),
        flagged_pages=len(pages),
        shops_with_findings=len(shop_names),
        by_rule=by_rule,
        by_severity=by_severity,
        by_shop=by_shop,
        by_platform=by_platform,
        repeat_offenders=offenders,
        repeat_runs=repeat_runs,
        pages=page_items,
        precision_alerts=alerts,
    )


# -------------------------------------------------------------------- rendering


@cache
def template_env() -> Environment:
    """The Jinja2 environment of mdwatch's report and notification templates (autoescape on)."""
    return Environment(
        loader=PackageLoader("mdwatch.scheduler", "templates"),
        # HTML templates (*.html.j2) are autoescaped; plain-text ones (*.txt.j2, e-mail bodies) are not
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml", "html.j2", "xml.j2"),
                                     default_for_string=True, default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(report: Report) -> str:
    return template_env().get_template("report.html.j2").render(report=report, severity_zh=SEVERITY_ZH)


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), ensure_ascii=False, indent=2)


def render_xlsx(report: Report) -> bytes:
    """The report as an XLSX workbook: sheets 汇总, 问题明细, 重复违规店铺."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDE6F0")
    wrap = Alignment(wrap_text=True, vertical="top")

    def header(ws: Worksheet, row: int, names: Sequence[str]) -> None:
        for col, name in enumerate(names, 1):
            cell = ws.cell(row=row, column=col, value=name)
            cell.font = bold
            cell.fill = head_fill

    def widths(ws: Worksheet, values: Sequence[int]) -> None:
        for col, width in enumerate(values, 1):
            ws.column_dimensions[get_column_letter(col)].width = width

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "汇总"
    ws.append(["监测报告"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([report.title])
    for label, value in (("监测范围", report.scope_label), ("平台", "、".join(report.platforms)),
                         ("监测时间（北京时间）", report.period), ("报告生成时间", report.generated_at),
                         ("问题总数", report.total_findings), ("涉及页面", report.flagged_pages),
                         ("检查页面", report.total_pages), ("涉及店铺", report.shops_with_findings)):
        ws.append([label, value])
    for alert in report.precision_alerts:
        ws.append([f"精度警戒（运行 {alert.run_id}）", alert.line])
        ws.cell(row=ws.max_row, column=2).font = Font(bold=True, color="B42318")
    sections: list[tuple[str, list[str], list[list[Any]]]] = [
        ("运行", ["运行编号", "类型", "平台", "目标", "状态", "开始时间", "结束时间", "页面数", "问题数"],
         [[r.id, r.kind_zh, r.platform, r.target, r.status, r.started_at, r.finished_at, r.pages, r.findings]
          for r in report.runs]),
        ("按规则统计", ["规则", "名称", "级别", "依据", "问题数", "涉及页面数"],
         [[c.rule, c.title, c.severity_zh, c.article, c.findings, c.pages] for c in report.by_rule]),
        ("按级别统计", ["级别", "问题数", "涉及页面数"],
         [[c.label, c.findings, c.pages] for c in report.by_severity]),
        ("按店铺统计", ["店铺", "网址", "平台", "问题数", "严重问题数", "涉及页面数", "规则数"],
         [[c.name, c.url, c.platform, c.findings, c.critical, c.pages, c.rules] for c in report.by_shop]),
        ("按平台统计", ["平台", "问题数", "严重问题数", "涉及页面数", "涉及店铺数"],
         [[c.platform, c.findings, c.critical, c.pages, c.shops] for c in report.by_platform]),
    ]
    for title, names, rows in sections:
        ws.append([])
        ws.append([title])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True, size=12)
        header(ws, ws.max_row + 1, names)
        for row in rows:
            ws.append(row)
    widths(ws, [34, 30, 14, 48, 12, 20, 20, 10, 10])

    detail = wb.create_sheet("问题明细")
    names = ["序号", "问题编号", "运行编号", "平台", "店铺", "页面类型", "页面网址", "规则", "名称", "级别", "依据",
             "问题描述", "证据", "抓取时间（北京时间）", "页面 SHA-256", "截图 SHA-256"]
    header(detail, 1, names)
    n = 0
    for page in report.pages:
        for f in page.findings:
            n += 1
            snippets = "\n".join(
                (f"[图片 {e.image_url}] " if e.image_url else "") + e.snippet + (f"（命中：{e.match}）" if e.match else "")
                for e in f.evidence)
            if f.more_evidence:
                snippets += f"\n…另有 {f.more_evidence} 处"
            detail.append([n, f.id, f.run_id, page.platform, page.shop_name, page.kind_zh, page.url, f.rule, f.title,
                           f.severity_zh, f.article, f.message, snippets, page.fetched_at, page.capture_sha256,
                           page.screenshot.sha256 if page.screenshot else "无截图"])
            link = detail.cell(row=detail.max_row, column=7)
            link.hyperlink = page.url
            for col in (11, 12, 13):
                detail.cell(row=detail.max_row, column=col).alignment = wrap
    detail.freeze_panes = "A2"
    detail.auto_filter.ref = f"A1:{get_column_letter(len(names))}{max(1, detail.max_row)}"
    widths(detail, [6, 9, 9, 12, 22, 9, 40, 30, 24, 6, 36, 40, 60, 20, 66, 66])

    rep = wb.create_sheet("重复违规店铺")
    rep.append([f"重复违规店铺（信用档案）：在 {report.repeat_runs} 次及以上运行中被发现问题的店铺"])
    rep["A1"].font = bold
    header(rep, 2, ["店铺", "网址", "违规运行次数", "运行编号", "累计问题数", "本报告问题数", "涉及规则",
                    "首次发现", "最近发现"])
    for o in report.repeat_offenders:
        rep.append([o.name, o.url, o.run_count, "、".join(map(str, o.run_ids)), o.findings_total, o.findings_here,
                    "、".join(o.rules), o.first_at, o.last_at])
    widths(rep, [24, 44, 12, 20, 12, 12, 60, 20, 20])

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def render(report: Report, fmt: str) -> bytes:
    """The report in ``fmt`` (html, xlsx, json) as bytes (text formats UTF-8)."""
    if fmt == "html":
        return render_html(report).encode("utf-8")
    if fmt == "json":
        return render_json(report).encode("utf-8")
    if fmt == "xlsx":
        return render_xlsx(report)
    raise ValueError(f"unknown report format: {fmt!r}")


def write_report(report: Report, fmt: str, path: Path | str) -> Path:
    """Write the report to ``path`` (atomically: a ``.part`` file renamed into place)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(render(report, fmt))
    tmp.replace(target)
    return target
