"""The entry points: send a run's critical findings (or a test message) to the configured
channels, record every send in the notification log, never raise."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mdwatch.scheduler.outputs.notify.channels import KIND_ZH, Channel, Delivery, channels_of
from mdwatch.scheduler.outputs.notify.config import NotifyConfig, NotifyConfigError, load_notify_config
from mdwatch.scheduler.outputs.notify.message import Message, build_notification, load_digest, trial_message
from mdwatch.scheduler.outputs.notify.reasons import failure_reason

__all__ = ["NotifyResult", "TrialResult", "deliver", "notify_after_run", "notify_run", "notify_test"]

_CHANNEL_ZH = {"smtp": "邮件", "webhook": "Webhook"}


def _channel_zh(name: str, deliveries: Sequence[Delivery]) -> str:
    for d in deliveries:
        if d.channel == name:
            return d.label if name in (d.kind, "smtp") else f"{d.label}（{name}）"
    return _CHANNEL_ZH.get(name, name)


@dataclass(slots=True)
class NotifyResult:
    run_id: int
    counts: dict[str, int] = field(default_factory=dict)  # findings by severity
    critical: int = 0
    sent: list[str] = field(default_factory=list)  # channels that accepted the message: "smtp", "webhook", "wecom" …
    failed: dict[str, str] = field(default_factory=dict)  # channel (or step) → reason (Chinese)
    skipped: str | None = None  # why nothing was sent (no critical findings, no channel, unknown run)
    deliveries: list[Delivery] = field(default_factory=list)
    log_error: str | None = None  # the sends went out but could not be recorded in the notification log

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary_zh(self) -> str:
        if self.skipped:
            return f"运行 {self.run_id}：未发送通知（{self.skipped}）。"
        parts = [f"运行 {self.run_id}：严重问题 {self.critical} 项"]
        if self.sent:
            parts.append("已发送：" + "、".join(_channel_zh(c, self.deliveries) for c in self.sent))
        for channel, reason in self.failed.items():
            parts.append(f"{_channel_zh(channel, self.deliveries)}发送失败：{reason}")
        if self.log_error:
            parts.append(f"未能写入通知记录：{self.log_error}")
        return "；".join(parts) + "。"


@dataclass(frozen=True, slots=True)
class TrialResult:
    deliveries: list[Delivery]
    log_error: str | None = None

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.deliveries)


def _record(db_url: str | None, deliveries: Sequence[Delivery], title: str, run_id: int | None) -> str | None:
    """Write ``deliveries`` to the notification log; the reason when that failed (None: written)."""
    if not deliveries:
        return None
    from mdwatch.storage.notifications import NotificationStore

    try:
        with NotificationStore(db_url) as store:
            for d in deliveries:
                store.record(channel=d.kind, target=d.target, title=title, ok=d.ok, detail=d.detail,
                             run_id=run_id, sent_at=d.sent_at)
    except Exception as exc:  # the log must not turn a delivered notification into an error
        return failure_reason(exc)
    return None


def deliver(channels: Sequence[Channel], message: Message, *, db_url: str | None,
            run_id: int | None = None) -> tuple[list[Delivery], str | None]:
    """Send ``message`` on each channel in turn and log every send: (deliveries, log error)."""
    deliveries = [channel.send(message) for channel in channels]
    return deliveries, _record(db_url, deliveries, message.title, run_id)


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
        message = build_notification(digest, cfg)
        channels = channels_of(cfg)
    except Exception as exc:
        result.failed["message"] = failure_reason(exc)
        return result
    result.deliveries, result.log_error = deliver(channels, message, db_url=db_url, run_id=run_id)
    for d in result.deliveries:
        if d.ok:
            result.sent.append(d.channel)
        else:
            result.failed[d.channel] = d.detail
    return result


def notify_test(config: NotifyConfig, db_url: str | None, channel: str | None = None) -> TrialResult:
    """Send the test message to every channel of ``config`` (or those whose name or kind is
    ``channel``), logged like any other. Raises NotifyConfigError (Chinese) when none matches."""
    channels = channels_of(config)
    if not channels:
        raise NotifyConfigError("未配置通知渠道（--notify-config 或 MDWATCH_NOTIFY_* 环境变量）。")
    if channel is not None:
        wanted = {zh: kind for kind, zh in KIND_ZH.items()}.get(channel, channel)  # 钉钉 → dingtalk
        chosen = [c for c in channels if wanted in (c.name, c.kind)]
        if not chosen:
            names = "、".join(c.name for c in channels)
            raise NotifyConfigError(f"没有名为 {channel} 的通知渠道（已配置：{names}）。")
        channels = chosen
    deliveries, log_error = deliver(channels, trial_message(), db_url=db_url)
    return TrialResult(deliveries, log_error)


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
