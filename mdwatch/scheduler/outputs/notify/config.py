"""Notification channels from a YAML file and ``MDWATCH_NOTIFY_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ENV_CONFIG",
    "ENV_PREFIX",
    "NotifyConfig",
    "NotifyConfigError",
    "SmtpConfig",
    "WebhookConfig",
    "load_notify_config",
]

ENV_CONFIG = "MDWATCH_NOTIFY_CONFIG"
ENV_PREFIX = "MDWATCH_NOTIFY_"


class NotifyConfigError(Exception):
    """A notification configuration that cannot be used; the message is Chinese."""


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    to: tuple[str, ...]
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 15.0


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 15.0


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    smtp: SmtpConfig | None = None
    webhook: WebhookConfig | None = None
    report_url: str | None = None

    @property
    def configured(self) -> bool:
        return self.smtp is not None or self.webhook is not None


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on", "是")


def _list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.replace(";", ",").split(",") if v.strip())
    return tuple(str(v).strip() for v in value if str(v).strip())


def load_notify_config(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> NotifyConfig:
    """The channels configured in ``path`` (or ``$MDWATCH_NOTIFY_CONFIG``), overridden by ``MDWATCH_NOTIFY_*``."""
    environ = os.environ if env is None else env
    data: dict[str, Any] = {}
    file = path if path is not None else (environ.get(ENV_CONFIG) or None)
    if file is not None:
        try:
            loaded = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise NotifyConfigError(f"无法读取通知配置 {file}：{exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise NotifyConfigError(f"通知配置 {file} 应为 YAML 映射。")
        data = dict(loaded or {})
    smtp: dict[str, Any] = dict(data.get("smtp") or {})
    hook: dict[str, Any] = dict(data.get("webhook") or {})
    if isinstance(data.get("webhook"), str):
        hook = {"url": data["webhook"]}
    for key, name in (("host", "SMTP_HOST"), ("port", "SMTP_PORT"), ("from", "SMTP_FROM"), ("to", "SMTP_TO"),
                      ("starttls", "SMTP_STARTTLS"), ("ssl", "SMTP_SSL"), ("username", "SMTP_USER"),
                      ("password", "SMTP_PASSWORD"), ("timeout", "SMTP_TIMEOUT")):
        value = environ.get(ENV_PREFIX + name)
        if value:
            smtp[key] = value
    if environ.get(ENV_PREFIX + "WEBHOOK"):
        hook["url"] = environ[ENV_PREFIX + "WEBHOOK"]
    token = environ.get(ENV_PREFIX + "WEBHOOK_TOKEN")
    if token:
        hook["headers"] = {**dict(hook.get("headers") or {}), "Authorization": f"Bearer {token}"}
    report_url = environ.get(ENV_PREFIX + "REPORT_URL") or data.get("report_url")
    return NotifyConfig(smtp=_smtp(smtp, environ) if smtp.get("host") else None,
                        webhook=_webhook(hook) if hook.get("url") else None,
                        report_url=str(report_url) if report_url else None)


def _smtp(spec: Mapping[str, Any], environ: Mapping[str, str]) -> SmtpConfig:
    use_ssl = _flag(spec.get("ssl", False))
    try:
        port = int(spec.get("port") or (465 if use_ssl else 25))
        timeout = float(spec.get("timeout") or 15.0)
    except (TypeError, ValueError) as exc:
        raise NotifyConfigError(f"邮件通知的端口或超时设置无效：{exc}") from exc
    sender = str(spec.get("from") or spec.get("sender") or "")
    to = _list(spec.get("to"))
    if not sender or not to:
        raise NotifyConfigError("邮件通知需要发件人（from）和至少一个收件人（to）。")
    password = spec.get("password")
    if password is None and spec.get("password_env"):
        password = environ.get(str(spec["password_env"]))
    username = spec.get("username") or spec.get("user")
    return SmtpConfig(host=str(spec["host"]), port=port, sender=sender, to=to,
                      starttls=_flag(spec.get("starttls", False)), ssl=use_ssl,
                      username=str(username) if username else None,
                      password=str(password) if password is not None else None, timeout=timeout)


def _webhook(spec: Mapping[str, Any]) -> WebhookConfig:
    url = str(spec["url"])
    if not url.startswith(("http://", "https://")):
        raise NotifyConfigError(f"Webhook 地址应为 http(s) 网址：{url}")
    try:
        timeout = float(spec.get("timeout") or 15.0)
    except (TypeError, ValueError) as exc:
        raise NotifyConfigError(f"Webhook 超时设置无效：{exc}") from exc
    headers = {str(k): str(v) for k, v in dict(spec.get("headers") or {}).items()}
    return WebhookConfig(url=url, headers=headers, timeout=timeout)
