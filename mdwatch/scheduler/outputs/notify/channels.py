"""The channels a notification goes out on, each sent with an apprise plugin: e-mail
(``mailto://`` / ``mailtos://``), generic webhook (``json://`` / ``jsons://``), 企业微信
(``wecombot://``), 钉钉 (``dingtalk://``), 飞书 (``feishu://``) and Lark (``lark://``).

:meth:`Channel.send` never raises: a refused connection, an HTTP error or a vendor's refusal is
a :class:`Delivery` with ``ok=False`` and a Chinese reason. A fresh plugin is made for each
message (apprise remembers delivered pieces per instance). ``target`` is what people are shown
of a channel: no token, key or password.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from mdwatch.scheduler.outputs.notify.config import (
    BOT_KINDS,
    BotConfig,
    NotifyConfig,
    SmtpConfig,
    WebhookConfig,
)
from mdwatch.scheduler.outputs.notify.message import Message

if TYPE_CHECKING:
    from mdwatch.scheduler.outputs.notify.plugins import ChannelPlugin, Exchange

Verdict = Callable[["ChannelPlugin", bool, "Exchange"], tuple[bool, str]]

__all__ = ["KIND_ZH", "Channel", "Delivery", "channels_of", "mask", "mask_url"]

KIND_ZH = {"email": "邮件", "webhook": "Webhook", **{kind: v.label for kind, v in BOT_KINDS.items()}}


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one message went on one channel."""

    channel: str  # the channel's name: smtp, webhook, wecom, dingtalk-2, 值班群 …
    kind: str  # email | webhook | wecom | dingtalk | feishu | lark
    target: str  # shown without secrets
    ok: bool
    detail: str  # Chinese: what the server answered, or why it failed
    sent_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def label(self) -> str:
        return KIND_ZH.get(self.kind, self.kind)


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    kind: str
    target: str
    _make: Callable[[Message], ChannelPlugin] = field(repr=False)
    _verdict: Verdict = field(repr=False)

    @property
    def label(self) -> str:
        return KIND_ZH.get(self.kind, self.kind)

    def send(self, message: Message) -> Delivery:
        """Send ``message``; never raises."""
        from apprise.common import NotifyFormat

        from mdwatch.scheduler.outputs.notify.plugins import observed
        from mdwatch.scheduler.outputs.notify.reasons import failure_reason

        try:
            plugin = self._make(message)
        except Exception as exc:  # a value apprise refuses; its message may quote the secret
            return self._delivery(False, f"{self.label}配置无效（{type(exc).__name__}）")
        body = message.body if self.kind == "email" else message.chat
        try:
            with observed() as exchange:
                sent = bool(plugin.notify(body=body, title=message.title, body_format=NotifyFormat.TEXT))
        except Exception as exc:  # a plugin's bug must not stop the other channels
            return self._delivery(False, failure_reason(exc))
        ok, detail = self._verdict(plugin, sent, exchange)
        return self._delivery(ok, detail)

    def _delivery(self, ok: bool, detail: str) -> Delivery:
        return Delivery(channel=self.name, kind=self.kind, target=self.target, ok=ok, detail=detail)


def mask(secret: str) -> str:
    """A token shown as its first four characters (enough to tell two bots apart) and ``****``."""
    return f"{secret[:4]}****" if len(secret) >= 12 else "****"


def mask_url(url: str) -> str:
    """``url`` without its password, with every query value and token-like path segment masked."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    if parts.username:
        netloc = f"{unquote(parts.username)}{':****' if parts.password else ''}@{netloc}"
    path = "/".join(mask(s) if len(s) >= 16 and s.replace("-", "").replace("_", "").isalnum() else s
                    for s in parts.path.split("/"))
    query = "&".join(f"{k}={mask(v)}" for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def _timeouts(seconds: float) -> dict[str, Any]:
    return {"cto": seconds, "rto": seconds}


def _email(cfg: SmtpConfig) -> Channel:
    from mdwatch.scheduler.outputs.notify.plugins import EmailPlugin
    from mdwatch.scheduler.outputs.notify.reasons import mail_verdict

    mode = "ssl" if cfg.ssl else "starttls" if cfg.starttls else "insecure"

    def make(message: Message) -> ChannelPlugin:
        # apprise sends one message per To address; the first recipient is To and the others Cc,
        # so that, as before, everyone gets the same one e-mail and sees who else did.
        return EmailPlugin(host=cfg.host, port=cfg.port, smtp_host=cfg.host, secure_mode=mode,
                           secure=mode != "insecure", user=cfg.username, password=cfg.password,
                           from_addr=cfg.sender, targets=[cfg.to[0]], cc=list(cfg.to[1:]), format="text",
                           **_timeouts(cfg.timeout))

    user = f"{cfg.username}@" if cfg.username else ""
    scheme = "mailtos" if mode != "insecure" else "mailto"
    target = f"{scheme}://{user}{cfg.host}:{cfg.port}（{mode}）→ {'、'.join(cfg.to)}"
    return Channel("smtp", "email", target, make,
                   lambda p, sent, _: mail_verdict(sent, p.transcript, cfg.host, cfg.port, len(cfg.to)))


def _http_verdict(kind: str) -> Verdict:
    from mdwatch.scheduler.outputs.notify.reasons import http_verdict

    return lambda p, sent, exchange: http_verdict(kind, KIND_ZH[kind], sent, exchange, p.transcript)


def _webhook(cfg: WebhookConfig) -> Channel:
    from mdwatch.scheduler.outputs.notify.plugins import JsonWebhook

    def make(message: Message) -> ChannelPlugin:
        parts = urlsplit(cfg.url)
        if parts.scheme in ("json", "jsons"):  # apprise's own form: +header, -param, :payload
            spec = JsonWebhook.parse_url(cfg.url)
            spec["headers"] = {**spec.get("headers", {}), **cfg.headers}
            spec["payload"] = {**message.payload, **spec.get("payload", {})}
            spec.update(_timeouts(cfg.timeout))
            return JsonWebhook(**spec)
        return JsonWebhook(host=parts.hostname, port=parts.port, secure=parts.scheme == "https",
                           user=unquote(parts.username) if parts.username else None,
                           password=unquote(parts.password) if parts.password else None,
                           fullpath=parts.path or "/", params=dict(parse_qsl(parts.query)),
                           headers=dict(cfg.headers), payload=dict(message.payload), **_timeouts(cfg.timeout))

    return Channel("webhook", "webhook", mask_url(cfg.url), make, _http_verdict("webhook"))


def _bot(cfg: BotConfig) -> Channel:
    from mdwatch.scheduler.outputs.notify import plugins

    classes: dict[str, type[ChannelPlugin]] = {"wecom": plugins.WeComBot, "dingtalk": plugins.DingTalkBot,
                                          "feishu": plugins.FeishuBot, "lark": plugins.LarkBot}
    cls = classes[cfg.kind]
    key = {"wecom": "key"}.get(cfg.kind, "token")

    def make(message: Message) -> ChannelPlugin:
        extra: dict[str, Any] = {"secret": cfg.secret} if cfg.secret else {}
        return cls(endpoint=cfg.endpoint, **{key: cfg.token}, **extra, **_timeouts(cfg.timeout))

    vendor_url = plugins.rebase(cls.notify_url, cfg.endpoint) if cfg.endpoint else cls.notify_url
    if cfg.kind == "lark":
        vendor_url += "{token}"
    shown = vendor_url.replace("{key}", mask(cfg.token)).replace("{token}", mask(cfg.token))
    target = shown + ("（加签）" if cfg.secret else "")
    return Channel(cfg.name, cfg.kind, target, make, _http_verdict(cfg.kind))


def channels_of(config: NotifyConfig) -> list[Channel]:
    """Every channel of ``config``: e-mail, webhook, then the bots in the configuration's order."""
    channels = [_email(config.smtp)] if config.smtp is not None else []
    if config.webhook is not None:
        channels.append(_webhook(config.webhook))
    channels.extend(_bot(b) for b in config.bots)
    return channels
