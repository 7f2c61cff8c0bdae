"""How a send went, in one Chinese phrase: what the vendor, the gateway or the mail server answered.

apprise plugins answer True/False; the reason comes from the HTTP exchange observed around the
send (``plugins.observed``) or, for e-mail, from what the plugin said (``plugins.Transcript``).
No phrase quotes a URL, a token or a password.
"""

from __future__ import annotations

import json
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

import requests

from mdwatch.scheduler.outputs.notify.plugins import Exchange, Transcript

__all__ = ["failure_reason", "http_verdict", "mail_verdict"]

# errcode hints for the refusals people meet first when setting a bot up
_HINTS = {
    ("dingtalk", 310000): "安全设置校验未通过：加签密钥、自定义关键词或 IP 地址段不符",
    ("dingtalk", 300001): "access_token 无效",
    ("wecom", 93000): "机器人 key 无效或机器人已被移除",
    ("wecom", 45009): "发送过于频繁（每个机器人每分钟最多 20 条）",
    ("feishu", 19021): "签名校验失败",
    ("feishu", 19024): "消息不含机器人设置的自定义关键词",
    ("feishu", 19022): "请求 IP 不在机器人的白名单内",
}


def _host(url: str | bytes | None) -> str:
    parts = urlsplit(url.decode("utf-8", "replace") if isinstance(url, bytes) else url or "")
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def _network_why(exc: BaseException) -> str:
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:  # the socket error sits under urllib3's
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError):
            return "连接被拒绝"
        if isinstance(cause, socket.gaierror):
            return "域名无法解析"
        if isinstance(cause, TimeoutError | socket.timeout):
            return "连接超时"
        cause = cause.__cause__ or cause.__context__ or (cause.args[0] if cause.args and
                                                         isinstance(cause.args[0], BaseException) else None)
    text = str(exc)
    if "Connection refused" in text:
        return "连接被拒绝"
    if "Name or service not known" in text or "NameResolution" in text or "getaddrinfo" in text:
        return "域名无法解析"
    return f"网络错误 {type(exc).__name__}"


def _request_error(exc: requests.RequestException) -> str:
    where = _host(exc.request.url if exc.request is not None else None)
    if isinstance(exc, requests.exceptions.SSLError):
        return f"无法连接 {where}（TLS 证书校验失败）"
    if isinstance(exc, requests.Timeout):
        return f"无法连接 {where}（超时）"
    return f"无法连接 {where}（{_network_why(exc)}）"


def _answer(response: requests.Response) -> dict[str, Any]:
    try:
        data = json.loads(response.content or b"{}")
    except (ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def _refusal(kind: str, label: str, response: requests.Response) -> str | None:
    """The vendor's refusal hidden in an HTTP 200 answer (``errcode`` / ``code`` not 0)."""
    if kind not in ("wecom", "dingtalk", "feishu", "lark"):
        return None
    data = _answer(response)
    code = data.get("errcode", data.get("code", data.get("StatusCode", 0)))
    if not code:
        return None
    message = str(data.get("errmsg") or data.get("msg") or data.get("StatusMessage") or "")[:200]
    hint = _HINTS.get(("feishu" if kind == "lark" else kind, int(code) if str(code).isdigit() else -1))
    return f"{label}拒绝了消息（错误码 {code}{'：' + message if message else ''}）" + (f"：{hint}" if hint else "")


def http_verdict(kind: str, label: str, apprise_ok: bool, exchange: Exchange,
                 transcript: Transcript) -> tuple[bool, str]:
    """(delivered, Chinese detail) of a send over HTTP (bots and webhook)."""
    if exchange.errors:
        return False, _request_error(exchange.errors[-1])
    for response in exchange.responses:
        if not 200 <= response.status_code < 300:
            data = _answer(response)
            said = str(data.get("errmsg") or data.get("msg") or "")[:200]
            return False, (f"{_host(response.url)} 返回 HTTP {response.status_code}"
                           f"{'（' + response.reason + '）' if response.reason else ''}{'：' + said if said else ''}")
        refusal = _refusal(kind, label, response)
        if refusal:
            return False, refusal
    if apprise_ok and exchange.responses:
        return True, f"已送达（HTTP {exchange.responses[-1].status_code}）"
    if apprise_ok:
        return True, "已送达"
    return False, _said(transcript) or "发送失败（apprise 未说明原因）"


def mail_verdict(apprise_ok: bool, transcript: Transcript, host: str, port: int, recipients: int) -> tuple[bool, str]:
    """(delivered, Chinese detail) of an e-mail send."""
    if apprise_ok:
        return True, f"邮件服务器已接收（收件人 {recipients} 个）"
    text = " ".join(transcript.said())
    server = f"{host}:{port}"
    if "Connection refused" in text or "Errno 111" in text:
        return False, f"无法连接邮件服务器 {server}（连接被拒绝）"
    if "timed out" in text:
        return False, f"无法连接邮件服务器 {server}（超时）"
    if "Name or service not known" in text or "getaddrinfo" in text:
        return False, f"无法连接邮件服务器 {server}（域名无法解析）"
    if "535" in text or "Authentication" in text or "AUTH" in text:
        return False, f"邮件服务器 {server} 拒绝登录（用户名或密码错误，或未开启 SMTP 授权码）"
    if "SSL" in text or "TLS" in text:
        return False, f"与邮件服务器 {server} 的 TLS 握手失败（检查 ssl / starttls 与端口是否匹配）"
    if "Sending email to" in text:
        return False, f"邮件服务器 {server} 拒收（发件人或收件人被拒绝）"
    return False, _said(transcript) or f"邮件发送失败（{server}）"


def _said(transcript: Transcript) -> str | None:
    warnings = transcript.said(logging.WARNING)
    return f"发送失败：{warnings[-1][:200]}" if warnings else None


def failure_reason(exc: BaseException) -> str:
    """Why a step before the channels (configuration, database, message) failed, in a few words."""
    if isinstance(exc, requests.RequestException):
        return _request_error(exc)
    return f"{type(exc).__name__}: {exc}"
