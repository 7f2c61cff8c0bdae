"""The entry points: send a run's critical findings to every configured channel, never raising."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mdwatch.scheduler.outputs.notify.channels import failure_reason, post_webhook, send_email
from mdwatch.scheduler.outputs.notify.config import NotifyConfig, NotifyConfigError, load_notify_config
from mdwatch.scheduler.outputs.notify.message import build_message, load_digest

__all__ = ["NotifyResult", "notify_after_run", "notify_run"]

_CHANNEL_ZH = {"smtp": "邮件", "webhook": "Webhook"}


@dataclass(slots=True)
class NotifyResult:
    run_id: int
    counts: dict[str, int] = field(default_factory=dict)  # findings by severity
    critical: int = 0
    sent: list[str] = field(default_factory=list)  # channels that accepted the message: "smtp", "webhook"
    failed: dict[str, str] = field(default_factory=dict)  # channel → reason (Chinese)
    skipped: str | None = None  # why nothing was sent (no critical findings, no channel, unknown run)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary_zh(self) -> str:
        if self.skipped:
            return f"运行 {self.run_id}：未发送通知（{self.skipped}）。"
        parts = [f"运行 {self.run_id}：严重问题 {self.critical} 项"]
        if self.sent:
            parts.append("已发送：" + "、".join(_CHANNEL_ZH.get(c, c) for c in self.sent))
        for channel, reason in self.failed.items():
            parts.append(f"{_CHANNEL_ZH.get(channel, channel)}发送失败：{reason}")
        return "；".join(parts) + "。"


def notify_run(db_url: str | None, run_id: int, config: NotifyConfig | None = None) -> NotifyResult:
    """Send run ``run_id``'s critical findings to the configured channels; never raises.

    ``config`` None: read from the environment (:func:`load_notify_config`). Nothing is sent when
    the run has no critical finding or no channel is configured (``skipped`` says which).
    """
    result = NotifyResult(run_id=run_id)
    try:
        cfg = config if config is not None else load_notify_config()
    except NotifyConfigError as exc:
        result.failed["config"] = str(exc)
        return result
    except Exception as exc:  # never raise into a finishing job
        result.failed["config"] = failure_reason(exc)
        return result
    if not cfg.configured:
        result.skipped = "未配置通知渠道"
        return result
    try:
        digest = load_digest(db_url, run_id)
    except Exception as exc:
        result.failed["database"] = failure_reason(exc)
        return result
    if digest is None:
        result.skipped = f"运行 {run_id} 不存在"
        return result
    result.counts = dict(digest.counts)
    result.critical = len(digest.critical)
    if not digest.critical:
        result.skipped = "没有严重问题"
        return result
    try:
        subject, body, payload = build_message(digest, cfg)
    except Exception as exc:
        result.failed["message"] = failure_reason(exc)
        return result
    if cfg.smtp is not None:
        try:
            send_email(cfg.smtp, subject, body)
            result.sent.append("smtp")
        except Exception as exc:
            result.failed["smtp"] = failure_reason(exc)
    if cfg.webhook is not None:
        try:
            post_webhook(cfg.webhook, payload)
            result.sent.append("webhook")
        except Exception as exc:
            result.failed["webhook"] = failure_reason(exc)
    return result


def notify_after_run(db_url: str | None, run_id: int | None, config_path: Path | str | None = None,
                     env: Mapping[str, str] | None = None) -> NotifyResult | None:
    """The hook for jobs at the end of a run: None (nothing done) when no channel is configured.

    Reads ``config_path`` or ``$MDWATCH_NOTIFY_CONFIG`` and ``MDWATCH_NOTIFY_*``; never raises.
    """
    if run_id is None:
        return None
    try:
        config = load_notify_config(config_path, env)
    except NotifyConfigError as exc:
        return NotifyResult(run_id=run_id, failed={"config": str(exc)})
    except Exception as exc:
        return NotifyResult(run_id=run_id, failed={"config": failure_reason(exc)})
    if not config.configured:
        return None
    return notify_run(db_url, run_id, config)
