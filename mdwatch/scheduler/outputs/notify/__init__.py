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

Modules: ``config`` (channels), ``message`` (what is said), ``channels`` (e-mail, webhook) and
``dispatch`` (the entry points).
"""

from __future__ import annotations

from mdwatch.scheduler.outputs.notify.channels import post_webhook, send_email
from mdwatch.scheduler.outputs.notify.config import (
    ENV_CONFIG,
    ENV_PREFIX,
    NotifyConfig,
    NotifyConfigError,
    SmtpConfig,
    WebhookConfig,
    load_notify_config,
)
from mdwatch.scheduler.outputs.notify.dispatch import NotifyResult, notify_after_run, notify_run
from mdwatch.scheduler.outputs.notify.message import MAX_LISTED, TRIGGER_SEVERITY, RunDigest, build_message

__all__ = [
    "ENV_CONFIG",
    "ENV_PREFIX",
    "MAX_LISTED",
    "TRIGGER_SEVERITY",
    "NotifyConfig",
    "NotifyConfigError",
    "NotifyResult",
    "RunDigest",
    "SmtpConfig",
    "WebhookConfig",
    "build_message",
    "load_notify_config",
    "notify_after_run",
    "notify_run",
    "post_webhook",
    "send_email",
]
