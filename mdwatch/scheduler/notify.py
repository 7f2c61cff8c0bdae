"""Notifications (通知) after a run with critical findings: SMTP e-mail and webhook (JSON POST).

Channels come from a YAML file (``--notify-config`` / ``MDWATCH_NOTIFY_CONFIG``) or from the
environment; environment variables override the file's values::

    smtp:                                # MDWATCH_NOTIFY_SMTP_HOST, _PORT, _FROM, _TO (comma-separated),
      host: smtp.example.org             # _STARTTLS (1/0), _SSL (1/0), _USER, _PASSWORD, _TIMEOUT
      port: 587
      from: mdwatch@example.org
      to: [jianguan@example.org]
      starttls: true                     # STARTTLS before login (default: false)
      ssl: false                         # SMTP over TLS from the start (port 465)
      username: mdwatch                  # login only when a username is given
      password_env: MDWATCH_SMTP_PASS    # or password: ...
    webhook:                             # MDWATCH_NOTIFY_WEBHOOK (URL), MDWATCH_NOTIFY_WEBHOOK_TOKEN
      url: https://hooks.example.org/mdwatch
      headers: {Authorization: "Bearer …"}
      timeout: 10
    report_url: https://reports.example.org/   # optional, quoted in the message

:func:`notify_run` never raises: each channel's failure is reported in the
:class:`NotifyResult`. A run without critical findings sends nothing. Jobs call
:func:`notify_after_run` at the end of a run: it does nothing at all when no channel is configured.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import yaml

from mdwatch.scheduler.reports import RUN_KIND_ZH, SEVERITY_ORDER, SEVERITY_ZH, shanghai, template_env

__all__ = [
    "ENV_CONFIG",
    "NotifyConfig",
    "NotifyConfigError",
    "NotifyResult",
    "SmtpConfig",
    "WebhookConfig",
    "build_message",
    "load_notify_config",
    "notify_after_run",
    "notify_run",
]

ENV_CONFIG = "MDWATCH_NOTIFY_CONFIG"
ENV_PREFIX = "MDWATCH_NOTIFY_"
TRIGGER_SEVERITY = "critical"
MAX_LISTED = 50  # critical findings listed in a message (all are counted)


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


_CHANNEL_ZH = {"smtp": "邮件", "webhook": "Webhook"}


# -------------------------------------------------------------------- configuration


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


# -------------------------------------------------------------------- the message


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


def _digest(db_url: str | None, run_id: int) -> RunDigest | None:
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


# -------------------------------------------------------------------- channels


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


def _reason(exc: BaseException) -> str:
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


# -------------------------------------------------------------------- entry points


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
        result.failed["config"] = _reason(exc)
        return result
    if not cfg.configured:
        result.skipped = "未配置通知渠道"
        return result
    try:
        digest = _digest(db_url, run_id)
    except Exception as exc:
        result.failed["database"] = _reason(exc)
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
        result.failed["message"] = _reason(exc)
        return result
    if cfg.smtp is not None:
        try:
            send_email(cfg.smtp, subject, body)
            result.sent.append("smtp")
        except Exception as exc:
            result.failed["smtp"] = _reason(exc)
    if cfg.webhook is not None:
        try:
            post_webhook(cfg.webhook, payload)
            result.sent.append("webhook")
        except Exception as exc:
            result.failed["webhook"] = _reason(exc)
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
        return NotifyResult(run_id=run_id, failed={"config": _reason(exc)})
    if not config.configured:
        return None
    return notify_run(db_url, run_id, config)
