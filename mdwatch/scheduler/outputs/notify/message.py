"""What a notification says: a run's digest (counts by severity, its critical findings) and the
e-mail subject, body, chat text and webhook payload built from it, in Chinese; and the test message."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mdwatch.scheduler.outputs.notify.config import NotifyConfig
from mdwatch.scheduler.outputs.reports import RUN_KIND_ZH, SEVERITY_ORDER, SEVERITY_ZH, shanghai, template_env

__all__ = [
    "CHAT_MAX_BYTES",
    "MAX_LISTED",
    "TRIGGER_SEVERITY",
    "Message",
    "RunDigest",
    "build_message",
    "build_notification",
    "load_digest",
    "trial_message",
]

TRIGGER_SEVERITY = "critical"
MAX_LISTED = 50  # critical findings listed in a message (all are counted)
CHAT_MAX_BYTES = 1800  # 企业微信 refuses text over 2048 bytes (UTF-8); the title goes on top of this
CHAT_LISTED = 10  # critical findings listed in a chat message


@dataclass(frozen=True, slots=True)
class Message:
    """One notification in the forms the channels take."""

    title: str
    body: str  # e-mail: the full text
    chat: str  # group bots and the webhook's ``message``: short, at most CHAT_MAX_BYTES
    payload: dict[str, Any] = field(default_factory=dict)  # the webhook's structured fields


@dataclass(frozen=True, slots=True)
class RunDigest:
    """What a notification says about a run."""

    run_id: int
    kind: str
    kind_zh: str
    target: str
    status: str
    started_at: str  # Asia/Shanghai
    finished_at: str
    counts: dict[str, int]  # by severity, every severity present (0 when none)
    total: int
    critical: list[dict[str, Any]]  # {finding_id, rule, title, url, message, article}


def load_digest(db_url: str | None, run_id: int) -> RunDigest | None:
    """Run ``run_id``'s digest from the database (None: no such run)."""
    from mdwatch.analyzers.catalogue import rules
    from mdwatch.storage.evidence import EvidenceStore

    with EvidenceStore(db_url) as store:
        run = store.run(run_id)
        if run is None:
            return None
        findings = store.findings(run_id)
    catalogue = rules()
    counts: Counter[str] = Counter(f.severity for f in findings)
    critical = [
        {"finding_id": f.id, "rule": f.rule, "title": catalogue[f.rule].title if f.rule in catalogue else f.rule,
         "url": f.page_url, "message": f.message, "article": f.article}
        for f in findings if f.severity == TRIGGER_SEVERITY
    ]
    return RunDigest(run_id=run.id, kind=run.kind, kind_zh=RUN_KIND_ZH.get(run.kind, run.kind), target=run.target,
                     status=run.status, started_at=shanghai(run.started_at), finished_at=shanghai(run.finished_at),
                     counts={**{s: counts.get(s, 0) for s in SEVERITY_ORDER}, **dict(counts)},
                     total=len(findings), critical=critical)


def _counts_zh(counts: Mapping[str, int]) -> str:
    return "，".join(f"{SEVERITY_ZH.get(s, s)} {n}" for s, n in counts.items())


def build_message(digest: RunDigest, config: NotifyConfig) -> tuple[str, str, dict[str, Any]]:
    """(e-mail subject, e-mail body, webhook payload) of a run's notification, in Chinese."""
    subject = (f"【mdwatch 监测预警】{digest.kind_zh} {digest.run_id} 发现严重问题 {digest.counts.get('critical', 0)} 项"
               f"（共 {digest.total} 项）")
    env = template_env()
    body = env.get_template("notify_email.txt.j2").render(
        d=digest, counts_zh=_counts_zh(digest.counts), severity_zh=SEVERITY_ZH,
        listed=digest.critical[:MAX_LISTED], more=max(0, len(digest.critical) - MAX_LISTED),
        report_url=config.report_url)
    payload: dict[str, Any] = {
        "event": "mdwatch.run.critical_findings",
        "run_id": digest.run_id,
        "run": {"kind": digest.kind, "target": digest.target, "status": digest.status,
                "started_at": digest.started_at, "finished_at": digest.finished_at, "timezone": "Asia/Shanghai"},
        "counts": digest.counts,
        "counts_zh": {SEVERITY_ZH.get(s, s): n for s, n in digest.counts.items()},
        "total": digest.total,
        "critical_findings": digest.critical,
        "text": f"{subject}。级别统计：{_counts_zh(digest.counts)}。",
    }
    if config.report_url:
        payload["report_url"] = config.report_url
    return subject, body, payload


def _fit(lines: list[str], tail: list[str], max_bytes: int) -> str:
    """``lines`` then ``tail``, dropping lines from the end of ``lines`` until it fits in ``max_bytes``."""
    kept = list(lines)
    while kept and len("\n".join(kept + tail).encode("utf-8")) > max_bytes:
        kept.pop()
    text = "\n".join(kept + tail)
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def _chat(digest: RunDigest, config: NotifyConfig) -> str:
    head = [f"{digest.kind_zh} {digest.run_id}（{digest.target}）发现严重问题 {len(digest.critical)} 项，"
            f"共 {digest.total} 项问题。",
            f"级别统计：{_counts_zh(digest.counts)}",
            f"开始时间：{digest.started_at}（北京时间）"]
    listed = [f"{i}. 【{f['title']}】{f['url']}" for i, f in enumerate(digest.critical[:CHAT_LISTED], 1)]
    tail = []
    if len(digest.critical) > CHAT_LISTED:
        tail.append(f"……另有 {len(digest.critical) - CHAT_LISTED} 项严重问题，详见报告。")
    tail.append(f"报告：{config.report_url}" if config.report_url
                else f"生成报告：mdwatch report --run {digest.run_id}")
    return _fit(head + listed, tail, CHAT_MAX_BYTES)


def build_notification(digest: RunDigest, config: NotifyConfig) -> Message:
    """A run's notification for every channel."""
    subject, body, payload = build_message(digest, config)
    return Message(title=subject, body=body, chat=_chat(digest, config), payload=payload)


def trial_message(now: datetime | None = None) -> Message:
    """The short message ``mdwatch notify test`` sends."""
    when = shanghai(now or datetime.now(UTC))
    text = (f"这是一条来自 mdwatch 的测试消息，发送于 {when}（北京时间）。"
            "收到即表示本通知渠道配置正确，监测发现严重问题时将通过本渠道预警，无需回复。")
    return Message(title="【mdwatch 监测预警】通知渠道测试", body=text + "\n\n（本邮件由 mdwatch 自动发送。）",
                   chat=text, payload={"event": "mdwatch.notify.test", "sent_at": when, "timezone": "Asia/Shanghai"})
