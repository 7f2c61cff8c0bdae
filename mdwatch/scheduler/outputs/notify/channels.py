"""The channels a notification goes out on: SMTP e-mail and webhook (JSON POST)."""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from mdwatch.scheduler.outputs.notify.config import SmtpConfig, WebhookConfig

__all__ = ["failure_reason", "post_webhook", "send_email"]


def send_email(config: SmtpConfig, subject: str, body: str) -> None:
    """Send a plain-text UTF-8 e-mail (raises on failure)."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="mdwatch")
    msg.set_content(body, charset="utf-8")
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if config.ssl:
        client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    with client:
        client.ehlo()
        if config.starttls and not config.ssl:
            client.starttls(context=context)
            client.ehlo()
        if config.username:
            client.login(config.username, config.password or "")
        client.send_message(msg, from_addr=config.sender, to_addrs=list(config.to))


def post_webhook(config: WebhookConfig, payload: Mapping[str, Any]) -> int:
    """POST ``payload`` as JSON; the HTTP status (raises on a non-2xx answer or a network error)."""
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "mdwatch-notify",
               **config.headers}
    request = urllib.request.Request(config.url, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=config.timeout) as response:
        status = int(response.status)
    if not 200 <= status < 300:
        raise urllib.error.HTTPError(config.url, status, f"HTTP {status}", response.headers, None)
    return status


def failure_reason(exc: BaseException) -> str:
    """Why a channel (or the step before it) failed, in a few words for the result."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return f"无法连接（{exc.reason}）"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"SMTP {exc.smtp_code} {text}"
    if isinstance(exc, OSError | smtplib.SMTPException):
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}"
