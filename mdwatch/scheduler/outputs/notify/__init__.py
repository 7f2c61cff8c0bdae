"""Notifications (通知) after a run with critical findings, sent with apprise: e-mail, generic
webhook (JSON POST), 企业微信, 钉钉 and 飞书 (Lark) group bots; every send is recorded in the
notification log (``storage.notifications``).

Channels come from a YAML file (``--notify-config`` / ``MDWATCH_NOTIFY_CONFIG``) or from the
environment; environment variables override the file's values::

    smtp:                                # MDWATCH_NOTIFY_SMTP_HOST, _PORT, _FROM, _TO (comma-separated),
      host: smtp.example.org             # _STARTTLS (1/0), _SSL (1/0), _USER, _PASSWORD, _TIMEOUT
      port: 587
      from: mdwatch@example.org
      to: [jianguan@example.org]         # the first is To, the others Cc: one e-mail for all
      starttls: true                     # STARTTLS before login (default: false)
      ssl: false                         # SMTP over TLS from the start (port 465)
      username: mdwatch                  # login when a username and a password are given
      password_env: MDWATCH_SMTP_PASS    # or password: ...
    webhook:                             # MDWATCH_NOTIFY_WEBHOOK (URL), MDWATCH_NOTIFY_WEBHOOK_TOKEN
      url: https://hooks.example.org/mdwatch     # or json:// / jsons:// (apprise's form)
      headers: {Authorization: "Bearer …"}
      timeout: 10
    wecom:                               # MDWATCH_NOTIFY_WECOM (URL or key), _ENDPOINT
      url: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…   # or key: …, or wecombot://KEY
      endpoint: https://gw.example.gov.cn/wecom  # optional: an internal gateway for the vendor's host
    dingtalk:                            # MDWATCH_NOTIFY_DINGTALK (URL or token), _SECRET, _ENDPOINT
      url: https://oapi.dingtalk.com/robot/send?access_token=…      # or token: …, or dingtalk://SECRET@TOKEN
      secret_env: MDWATCH_DINGTALK_SECRET        # 加签 (or secret: SEC…)
    feishu:                              # MDWATCH_NOTIFY_FEISHU (URL or token), _ENDPOINT; lark: likewise
      url: https://open.feishu.cn/open-apis/bot/v2/hook/…           # or token: …, or feishu://TOKEN
    report_url: https://reports.example.org/   # optional, quoted in the message

A bot kind may also hold a list of bots (each with an optional ``name``). :func:`notify_run` never
raises: each channel's failure is reported in the :class:`NotifyResult` and the log. A run without
critical findings sends nothing. Jobs call :func:`notify_after_run` at the end of a run: it does
nothing at all when no channel is configured. :func:`notify_test` sends a test message.

Modules: ``config`` (channels as data), ``message`` (what is said), ``channels`` (a channel per
configured destination, sending with ``plugins``, apprise's plugins with a gateway endpoint and a
per-send transcript), ``reasons`` (why a send failed, in Chinese) and ``dispatch`` (the entry
points). docs/notifications.md is the user's guide.
"""

from __future__ import annotations

from mdwatch.scheduler.outputs.notify.channels import KIND_ZH, Channel, Delivery, channels_of
from mdwatch.scheduler.outputs.notify.config import (
    BOT_KINDS,
    ENV_CONFIG,
    ENV_PREFIX,
    BotConfig,
    NotifyConfig,
    NotifyConfigError,
    SmtpConfig,
    WebhookConfig,
    load_notify_config,
)
from mdwatch.scheduler.outputs.notify.dispatch import (
    NotifyResult,
    TrialResult,
    deliver,
    notify_after_run,
    notify_run,
    notify_test,
)
from mdwatch.scheduler.outputs.notify.message import (
    MAX_LISTED,
    TRIGGER_SEVERITY,
    Message,
    RunDigest,
    build_message,
    build_notification,
    trial_message,
)

__all__ = [
    "BOT_KINDS",
    "ENV_CONFIG",
    "ENV_PREFIX",
    "KIND_ZH",
    "MAX_LISTED",
    "TRIGGER_SEVERITY",
    "BotConfig",
    "Channel",
    "Delivery",
    "Message",
    "NotifyConfig",
    "NotifyConfigError",
    "NotifyResult",
    "RunDigest",
    "SmtpConfig",
    "TrialResult",
    "WebhookConfig",
    "build_message",
    "build_notification",
    "channels_of",
    "deliver",
    "load_notify_config",
    "notify_after_run",
    "notify_run",
    "notify_test",
    "trial_message",
]
