"""The apprise plugins mdwatch sends with, and what one send said and answered.

What mdwatch adds to apprise's own plugins:

- ``endpoint`` (per instance): the vendor's host (``https://qyapi.weixin.qq.com``,
  ``https://oapi.dingtalk.com``, ``https://open.feishu.cn``, ``https://open.larksuite.com``)
  replaced by an internal gateway; the vendor's path and query follow the gateway's own path, so
  ``endpoint: https://gw.example.gov.cn/wecom`` posts to
  ``https://gw.example.gov.cn/wecom/cgi-bin/webhook/send?key=…``. The plugin still builds and
  sends the payload; only the URL's origin changes (set on the instance before the plugin's
  ``__init__`` reads it; the class attribute is left alone).
- a :class:`Transcript` (per instance) instead of the apprise logger, so the reason a send failed
  is known to the caller (apprise plugins answer only True/False);
- the :class:`Exchange` of a send (each response or request exception), seen through a
  pass-through wrapper of the plugin modules' ``requests`` name while :func:`observed` is active,
  so that a refusal the vendor answers with HTTP 200 and a non-zero ``errcode`` (企业微信, 钉钉 —
  apprise 2.3's plugins look at the status only) is reported as the failure it is;
- :class:`DingTalkBot` signs so that DingTalk accepts the signature (see its ``get_signature``).

Documented in docs/notifications.md.
"""

from __future__ import annotations

import contextvars
import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from apprise import AppriseAsset
from apprise.plugins.custom_json import NotifyJSON
from apprise.plugins.dingtalk import NotifyDingTalk
from apprise.plugins.email import NotifyEmail
from apprise.plugins.feishu import NotifyFeishu
from apprise.plugins.lark import NotifyLark
from apprise.plugins.wecombot import NotifyWeComBot

__all__ = [
    "ASSET",
    "ChannelPlugin",
    "DingTalkBot",
    "EmailPlugin",
    "Exchange",
    "FeishuBot",
    "JsonWebhook",
    "LarkBot",
    "Transcript",
    "WeComBot",
    "observed",
    "rebase",
]

# The name and User-Agent apprise gives mdwatch's messages (X-Application, Feishu card title).
ASSET = AppriseAsset(app_id="mdwatch", app_desc="mdwatch 监测预警", app_url="https://mdwatch.invalid/")

_LEVELS = {"trace": logging.DEBUG - 1, "debug": logging.DEBUG, "info": logging.INFO,
           "warning": logging.WARNING, "error": logging.ERROR, "deprecate": logging.ERROR + 1}


class Transcript:
    """Stands in for the apprise logger of one plugin instance: keeps every line the plugin says
    (debug included, in memory only — debug lines may hold tokens) and passes on to the apprise
    logger exactly what it would have emitted anyway."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self.lines: list[tuple[int, str]] = []

    def isEnabledFor(self, level: int) -> bool:  # the logging API's name
        return self._logger.isEnabledFor(level)

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = " ".join(str(a) for a in (msg, *args))
        self.lines.append((level, text))
        if self._logger.isEnabledFor(level):
            self._logger.log(level, msg, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        level = _LEVELS.get(name)
        if level is None:
            return getattr(self._logger, name)
        return lambda msg, *args, **kwargs: self.log(level, msg, *args, **kwargs)

    def said(self, min_level: int = logging.DEBUG) -> list[str]:
        return [text for level, text in self.lines if level >= min_level]


@dataclass(slots=True)
class Exchange:
    """The HTTP calls of one send: each response, or the exception that stood for one."""

    responses: list[requests.Response] = field(default_factory=list)
    errors: list[requests.RequestException] = field(default_factory=list)


_EXCHANGE: contextvars.ContextVar[Exchange | None] = contextvars.ContextVar("mdwatch_notify_exchange",
                                                                            default=None)


class _ObservedRequests:
    """The ``requests`` module as one apprise plugin module sees it: the same functions, each
    call's outcome also handed to the :class:`Exchange` of the send in progress (none: as is)."""

    def __init__(self, module: ModuleType) -> None:
        self._requests = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._requests, name)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> requests.Response:
        exchange = _EXCHANGE.get()
        try:
            response: requests.Response = getattr(self._requests, name)(*args, **kwargs)
        except requests.RequestException as exc:
            if exchange is not None:
                exchange.errors.append(exc)
            raise
        if exchange is not None:
            exchange.responses.append(response)
        return response

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        return self._call("post", *args, **kwargs)

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        return self._call("request", *args, **kwargs)


_PLUGIN_MODULES = ("apprise.plugins.wecombot", "apprise.plugins.dingtalk", "apprise.plugins.feishu",
                   "apprise.plugins.lark", "apprise.plugins.custom_json")


def _observe_plugin_modules() -> None:
    # The plugins call the module-level ``requests.post`` / ``requests.request`` and keep the
    # response to themselves; their module's name ``requests`` is the one place to see it. When
    # a later apprise stops using it, nothing is observed and apprise's own verdict stands.
    for name in _PLUGIN_MODULES:
        module = importlib.import_module(name)
        current = getattr(module, "requests", None)
        if isinstance(current, ModuleType) and current is requests:
            module.requests = _ObservedRequests(current)  # type: ignore[attr-defined]


@contextmanager
def observed() -> Iterator[Exchange]:
    """The HTTP exchange of the sends made inside the block (in this thread or task)."""
    _observe_plugin_modules()  # once in effect; later calls find the wrapper in place
    exchange = Exchange()
    token = _EXCHANGE.set(exchange)
    try:
        yield exchange
    finally:
        _EXCHANGE.reset(token)


def rebase(vendor_url: str, endpoint: str) -> str:
    """``vendor_url`` (a plugin's ``notify_url`` template, ``{token}`` and all) with its scheme and
    host replaced by ``endpoint``, whose path goes before the vendor's path."""
    parts = urlsplit(vendor_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if not vendor_url.startswith(origin):
        raise ValueError(f"not an absolute URL: {vendor_url!r}")
    base = endpoint.rstrip("/").replace("{", "{{").replace("}", "}}")  # the template is format()ted
    return base + vendor_url[len(origin):]


class ChannelPlugin:
    """Mixin: a transcript instead of the shared apprise logger and mdwatch's asset; with
    ``endpoint``, the vendor's host replaced (see the module's docstring)."""

    notify_url: str
    logger: Any
    notify: Any  # apprise's NotifyBase.notify

    def __init__(self, *args: Any, endpoint: str | None = None, **kwargs: Any) -> None:
        self.transcript = Transcript(logging.getLogger("apprise"))
        self.logger = self.transcript
        self.endpoint = endpoint
        if endpoint:
            # Before the plugin's __init__: WeCom and Lark build their URL there, DingTalk and
            # Feishu format self.notify_url at send time; an instance attribute serves both.
            self.notify_url = rebase(type(self).notify_url, endpoint)
        kwargs.setdefault("asset", ASSET)
        super().__init__(*args, **kwargs)


class WeComBot(ChannelPlugin, NotifyWeComBot):
    """企业微信群机器人 (``wecombot://KEY``)."""


class DingTalkBot(ChannelPlugin, NotifyDingTalk):
    """钉钉自定义机器人 (``dingtalk://[SECRET@]TOKEN``), signed when a secret is given."""

    def get_signature(self) -> tuple[str, str]:
        # apprise (2.3) URL-quotes the signature and then hands it to requests as a query
        # parameter, which quotes it again (sign=%252B…); DingTalk decodes once and answers
        # HTTP 200 with errcode 310000 "sign not match". The plain base64 is quoted once, by
        # requests; should apprise stop quoting, unquote leaves base64 as it is.
        timestamp, signature = super().get_signature()
        return str(timestamp), unquote(str(signature))


class FeishuBot(ChannelPlugin, NotifyFeishu):
    """飞书自定义机器人 (``feishu://TOKEN``, open.feishu.cn)."""


class LarkBot(ChannelPlugin, NotifyLark):
    """Lark custom bot (``lark://TOKEN``, open.larksuite.com: 飞书 outside mainland China)."""


class EmailPlugin(ChannelPlugin, NotifyEmail):
    """E-mail over SMTP (``mailto://`` / ``mailtos://``)."""


class JsonWebhook(ChannelPlugin, NotifyJSON):
    """Generic webhook: a JSON POST (``json://`` / ``jsons://``)."""
