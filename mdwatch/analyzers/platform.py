"""A platform home page must show its 医疗器械网络交易服务第三方平台备案编号 (GSP-NET Art. 37):
PLATFORM_FILING_MISSING fires when no well-formed 网械平台备字 number is in the page text."""

from __future__ import annotations

from mdwatch.analyzers.catalogue import finding
from mdwatch.analyzers.model import Context, Evidence, Finding, Page
from mdwatch.analyzers.normalize import snippet
from mdwatch.analyzers.regno import numbers_in, page_text

RULES = ("PLATFORM_FILING_MISSING",)
KINDS = ("platform",)


def analyze(page: Page, ctx: Context) -> list[Finding]:
    if page.kind != "platform" or not ctx.enabled("PLATFORM_FILING_MISSING"):
        return []
    text = page_text(page)
    filings = [n for n in numbers_in(text, ctx.now.year) if n.kind == "platform_filing"]
    if any(n.valid for n in filings):
        return []
    if not filings:
        note = Evidence("structure", "平台首页未找到“网械平台备字”第三方平台备案编号。", page_url=page.url)
        return [finding("PLATFORM_FILING_MISSING", [note])]
    evidence = [
        Evidence(
            "text",
            snippet(text, n.start, n.end),
            match=n.raw,
            page_url=page.url,
            detail={"problems": "；".join(n.problems)},
        )
        for n in filings
    ]
    reasons = "；".join(p for n in filings for p in n.problems)
    message = f"平台首页展示的第三方平台备案编号格式不符合规定（{reasons}）。"
    return [finding("PLATFORM_FILING_MISSING", evidence, message)]
