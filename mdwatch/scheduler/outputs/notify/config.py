"""Notification channels from a YAML file and ``MDWATCH_NOTIFY_*`` environment variables.

Plain data only: apprise is not imported here (``channels`` turns the configuration into apprise
plugins). Secrets are kept out of ``repr``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

__all__ = [
    "BOT_KINDS",
    "ENV_CONFIG",
    "ENV_PREFIX",
    "BotConfig",
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
class BotConfig:
    """A group chat bot: 企业微信 (``wecom``), 钉钉 (``dingtalk``), 飞书 (``feishu``) or Lark (``lark``)."""

    kind: str
    name: str  # what ``mdwatch notify test --channel`` calls it
    token: str = field(repr=False)  # WeCom's key, DingTalk's access_token, Feishu's / Lark's hook token
    secret: str | None = field(default=None, repr=False)  # DingTalk 加签 secret
    endpoint: str | None = None  # an internal gateway in place of the vendor's host
    timeout: float = 15.0


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    smtp: SmtpConfig | None = None
    webhook: WebhookConfig | None = None
    report_url: str | None = None
    bots: tuple[BotConfig, ...] = ()

    @property
    def configured(self) -> bool:
        return self.smtp is not None or self.webhook is not None or bool(self.bots)


@dataclass(frozen=True, slots=True)
class _Vendor:
    label: str
    origin: str  # the vendor's webhook host; ``endpoint`` replaces it
    token_query: str | None  # the query parameter holding the token (None: the path's last segment)
    schema: str  # apprise's
    token_pattern: str


# kind → vendor; the order is the order channels are tried in
BOT_KINDS: dict[str, _Vendor] = {
    "wecom": _Vendor("企业微信", "https://qyapi.weixin.qq.com", "key", "wecombot", r"[A-Za-z0-9_-]+"),
    "dingtalk": _Vendor("钉钉", "https://oapi.dingtalk.com", "access_token", "dingtalk", r"[A-Za-z0-9]+"),
    "feishu": _Vendor("飞书", "https://open.feishu.cn", None, "feishu", r"[A-Za-z0-9_-]+"),
    "lark": _Vendor("Lark（飞书国际版）", "https://open.larksuite.com", None, "lark", r"[A-Za-z0-9-]+"),
}
_SECRET_PATTERN = r"[A-Za-z0-9]+"


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
                        report_url=str(report_url) if report_url else None,
                        bots=_bots(data, environ))


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
    if not url.startswith(("http://", "https://", "json://", "jsons://")) or not urlsplit(url).hostname:
        raise NotifyConfigError(f"Webhook 地址应为 http(s)（或 apprise 的 json/jsons）网址：{url}")
    try:
        timeout = float(spec.get("timeout") or 15.0)
    except (TypeError, ValueError) as exc:
        raise NotifyConfigError(f"Webhook 超时设置无效：{exc}") from exc
    headers = {str(k): str(v) for k, v in dict(spec.get("headers") or {}).items()}
    return WebhookConfig(url=url, headers=headers, timeout=timeout)


def _bots(data: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[BotConfig, ...]:
    bots: list[BotConfig] = []
    for kind, vendor in BOT_KINDS.items():
        raw = data.get(kind)
        entries = raw if isinstance(raw, list) else [] if raw is None else [raw]
        specs: list[dict[str, Any]] = []
        for entry in entries:
            if isinstance(entry, str):
                specs.append({"url": entry})
            elif isinstance(entry, Mapping):
                specs.append(dict(entry))
            else:
                raise NotifyConfigError(f"{vendor.label}通知配置应为映射（url、token、secret、endpoint）或网址。")
        env_url = environ.get(ENV_PREFIX + kind.upper())
        if env_url:  # the environment replaces the first bot of the kind's address (or makes one)
            kept = {k: v for k, v in (specs[0] if specs else {}).items()
                    if k not in ("token", "key", "token_env", "url", "webhook")}
            specs[:1] = [kept | {"url": env_url}]
        for key in ("secret", "endpoint"):
            value = environ.get(f"{ENV_PREFIX}{kind.upper()}_{key.upper()}")
            if value and specs:
                specs[0][key] = value
        for i, spec in enumerate(specs):
            bots.append(_bot(kind, spec, environ, kind if i == 0 else f"{kind}-{i + 1}"))
    names = [b.name for b in bots]
    for name in names:
        if names.count(name) > 1 or name in ("smtp", "webhook"):
            raise NotifyConfigError(f"通知渠道名称重复：{name}")
    return tuple(bots)


def _bot(kind: str, spec: Mapping[str, Any], environ: Mapping[str, str], default_name: str) -> BotConfig:
    vendor = BOT_KINDS[kind]
    token = spec.get("token") or spec.get("key")
    if not token and spec.get("token_env"):
        token = environ.get(str(spec["token_env"]))
    secret = spec.get("secret")
    if not secret and spec.get("secret_env"):
        secret = environ.get(str(spec["secret_env"]))
    url = spec.get("url") or spec.get("webhook")
    if url and not token:
        token, from_url = _token_from_url(kind, str(url))
        secret = secret or from_url
    if not token:
        raise NotifyConfigError(f"{vendor.label}通知需要机器人的 Webhook 地址（url）或 token。")
    token = str(token).strip()
    if not re.fullmatch(vendor.token_pattern, token):
        raise NotifyConfigError(f"{vendor.label}机器人的 token 格式不正确（只应含字母、数字"
                                f"{'、-、_' if '_' in vendor.token_pattern else ''}）。")
    if secret:
        if kind != "dingtalk":
            raise NotifyConfigError(f"{vendor.label}机器人不支持签名密钥（secret）：apprise 的 {vendor.schema} "
                                    "插件不签名；请在机器人安全设置中改用自定义关键词或 IP 白名单。")
        secret = str(secret).strip()
        if not re.fullmatch(_SECRET_PATTERN, secret):
            raise NotifyConfigError("钉钉机器人的加签密钥（secret）格式不正确（应为 SEC 开头的字母数字串）。")
    endpoint = spec.get("endpoint")
    if endpoint:
        endpoint = str(endpoint).strip()
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise NotifyConfigError(f"{vendor.label}的 endpoint 应为 http(s) 网关地址（不含查询参数），"
                                    f"代替 {vendor.origin}：{endpoint}")
    try:
        timeout = float(spec.get("timeout") or 15.0)
    except (TypeError, ValueError) as exc:
        raise NotifyConfigError(f"{vendor.label}通知的超时设置无效：{exc}") from exc
    return BotConfig(kind=kind, name=str(spec.get("name") or default_name), token=token,
                     secret=str(secret) if secret else None, endpoint=endpoint or None, timeout=timeout)


def _token_from_url(kind: str, url: str) -> tuple[str | None, str | None]:
    """(token, secret) of a bot's address: the vendor's webhook URL as the app shows it, the
    apprise URL (``wecombot://KEY``, ``dingtalk://SECRET@TOKEN``, ``feishu://TOKEN``) or the token."""
    vendor = BOT_KINDS[kind]
    if "://" not in url:  # the bare token (MDWATCH_NOTIFY_WECOM=KEY)
        return url.strip() or None, None
    parts = urlsplit(url.strip())
    query = parse_qs(parts.query)
    if parts.scheme == vendor.schema:
        user, _, host = parts.netloc.rpartition("@")
        token = (query.get("token") or query.get("key") or [unquote(host)])[0]
        secret = (query.get("secret") or [unquote(user) if user else ""])[0]
        return token or None, secret or None
    if parts.scheme in ("http", "https"):
        if f"{parts.scheme}://{parts.netloc}".lower() != vendor.origin:
            raise NotifyConfigError(f"{vendor.label}的 Webhook 地址应以 {vendor.origin}/ 开头；"
                                    "经内网网关转发时，url 仍填原地址（或只填 token），网关地址填 endpoint。")
        if vendor.token_query is not None:
            values = query.get(vendor.token_query)
            return (values[0] if values else None), None
        segments = [s for s in parts.path.split("/") if s]
        return (unquote(segments[-1]) if segments else None), None
    raise NotifyConfigError(f"{vendor.label}的地址应为 {vendor.origin}/… 网址或 {vendor.schema}:// 网址。")
