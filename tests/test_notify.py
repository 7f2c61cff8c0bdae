"""Notifications (通知): a local SMTP server (aiosmtpd) and a local HTTP receiver (http.server).

Runs are written straight into a temporary SQLite database: one with critical findings, one
without. The first must produce one e-mail (Chinese subject and body with the counts) and one
JSON POST (run id, counts by severity, the critical findings' rules and URLs); the second must
send nothing. Failures (refused connection, HTTP 500) are reported, never raised.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from mdwatch.scheduler.outputs.notify import (
    NotifyConfig,
    NotifyConfigError,
    SmtpConfig,
    WebhookConfig,
    load_notify_config,
    notify_after_run,
    notify_run,
)
from mdwatch.storage.records import CaptureRecord, FindingRecord, PageRecord, RunRecord
from mdwatch.storage.store import Store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Mailbox, int]]:
    box = _Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]]
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.path, dict(self.headers.items()), body))
        self.send_response(self.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[list[tuple[str, dict[str, str], bytes]], str, type[_Receiver]]]:
    received: list[tuple[str, dict[str, str], bytes]] = []
    handler = type("Receiver", (_Receiver,), {"received": received, "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    finally:
        server.shutdown()
        server.server_close()


def _page(url: str, findings: list[FindingRecord]) -> PageRecord:
    body = f"<html><title>{url}</title></html>".encode()
    import hashlib

    capture = CaptureRecord(url=url, final_url=url, status=200, headers={"Content-Type": "text/html"}, body=body,
                            sha256=hashlib.sha256(body).hexdigest(), fetched_at=datetime.now(UTC))
    return PageRecord(capture=capture, url=url, kind="product", title="商品", findings=findings)


def _finding(rule: str, severity: str) -> FindingRecord:
    return FindingRecord(rule=rule, severity=severity, article="《医疗器械网络销售质量管理规范》第四十二条",
                         message=f"{rule} 的问题", evidence=[{"source": "text", "snippet": "…", "match": ""}])


@pytest.fixture
def runs(tmp_path: Path) -> tuple[str, int, int]:
    db = "sqlite:///" + (tmp_path / "notify.sqlite3").as_posix()
    now = datetime.now(UTC)
    with Store.open(db) as store:
        critical = store.save_run(RunRecord(kind="sweep", target="demo", started_at=now, finished_at=now, pages=[
            _page("http://shop.example/p1.html", [_finding("PRODUCT_UNREGISTERED", "critical"),
                                                  _finding("CLAIM_ABSOLUTE", "medium")]),
            _page("http://shop.example/p2.html", [_finding("SHOP_LICENSE_EXPIRED", "critical"),
                                                  _finding("PRODUCT_REGNO_MISSING", "high")]),
            _page("http://shop.example/p3.html", [_finding("PRODUCT_RETAIL_BANNED", "critical")]),
        ]))
        calm = store.save_run(RunRecord(kind="scan", target="http://shop.example/p4.html", started_at=now,
                                        finished_at=now, pages=[
            _page("http://shop.example/p4.html", [_finding("CLAIM_ABSOLUTE", "medium")])]))
    return db, critical, calm


def test_critical_run_sends_email_and_webhook(runs: tuple[str, int, int], smtp: tuple[_Mailbox, int],
                                              webhook: tuple[list[Any], str, type[_Receiver]]) -> None:
    db, critical, _ = runs
    box, port = smtp
    received, url, _ = webhook
    config = NotifyConfig(smtp=SmtpConfig(host="127.0.0.1", port=port, sender="mdwatch@example.org",
                                          to=("jianguan@example.org", "duty@example.org"), timeout=5),
                          webhook=WebhookConfig(url=url, headers={"X-Token": "t"}, timeout=5))
    result = notify_run(db, critical, config)
    assert result.ok and result.sent == ["smtp", "webhook"], result
    assert result.critical == 3 and result.counts["critical"] == 3 and result.counts["high"] == 1

    assert len(box.messages) == 1
    mail_from, rcpt, msg = box.messages[0]
    assert mail_from == "mdwatch@example.org" and rcpt == ["jianguan@example.org", "duty@example.org"]
    subject = str(msg["Subject"])
    assert "严重问题 3 项" in subject and "共 5 项" in subject and f"{critical}" in subject
    text = msg.get_content()
    assert "严重：3" in text and "高：1" in text and "中：1" in text and "低：0" in text
    for rule, url_ in (("PRODUCT_UNREGISTERED", "p1"), ("SHOP_LICENSE_EXPIRED", "p2"), ("PRODUCT_RETAIL_BANNED", "p3")):
        assert rule in text and f"http://shop.example/{url_}.html" in text
    assert "疑似未注册产品" in text  # the catalogue's title
    assert "&lt;" not in text and "&#" not in text  # plain text is not HTML-escaped

    assert len(received) == 1
    path, headers, body = received[0]
    assert path == "/hook" and headers["Content-Type"].startswith("application/json") and headers["X-Token"] == "t"
    payload = json.loads(body.decode("utf-8"))
    assert payload["run_id"] == critical
    assert payload["counts"] == {"critical": 3, "high": 1, "medium": 1, "low": 0, "info": 0}
    assert payload["counts_zh"]["严重"] == 3
    assert {(f["rule"], f["url"]) for f in payload["critical_findings"]} == {
        ("PRODUCT_UNREGISTERED", "http://shop.example/p1.html"),
        ("SHOP_LICENSE_EXPIRED", "http://shop.example/p2.html"),
        ("PRODUCT_RETAIL_BANNED", "http://shop.example/p3.html"),
    }


def test_run_without_critical_findings_sends_nothing(runs: tuple[str, int, int], smtp: tuple[_Mailbox, int],
                                                     webhook: tuple[list[Any], str, type[_Receiver]]) -> None:
    db, _, calm = runs
    box, port = smtp
    received, url, _ = webhook
    config = NotifyConfig(smtp=SmtpConfig(host="127.0.0.1", port=port, sender="a@example.org", to=("b@example.org",)),
                          webhook=WebhookConfig(url=url))
    result = notify_run(db, calm, config)
    assert result.sent == [] and result.ok and result.skipped == "没有严重问题" and result.counts["medium"] == 1
    assert box.messages == [] and received == []
    unknown = notify_run(db, 99999, config)
    assert unknown.sent == [] and unknown.skipped and "不存在" in unknown.skipped


def test_failures_are_reported_not_raised(runs: tuple[str, int, int],
                                          webhook: tuple[list[Any], str, type[_Receiver]]) -> None:
    db, critical, _ = runs
    received, url, handler = webhook
    handler.status = 500
    config = NotifyConfig(smtp=SmtpConfig(host="127.0.0.1", port=_free_port(), sender="a@example.org",
                                          to=("b@example.org",), timeout=3),
                          webhook=WebhookConfig(url=url, timeout=3))
    result = notify_run(db, critical, config)
    assert not result.ok and result.sent == []
    assert set(result.failed) == {"smtp", "webhook"} and "500" in result.failed["webhook"]
    assert len(received) == 1
    assert "发送失败" in result.summary_zh()
    broken = notify_run("postgresql://nobody@127.0.0.1:1/none", 1, config)  # nothing listens on port 1
    assert not broken.ok and broken.sent == [] and "database" in broken.failed


def test_config_from_yaml_and_env(tmp_path: Path) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text(
        "smtp:\n  host: smtp.example.org\n  port: 587\n  from: mdwatch@example.org\n"
        "  to: [a@example.org, b@example.org]\n  starttls: true\n  username: u\n  password_env: SECRET\n"
        "webhook:\n  url: https://hooks.example.org/x\n  headers: {Authorization: Bearer k}\n", encoding="utf-8")
    cfg = load_notify_config(path, env={"SECRET": "pw"})
    assert cfg.smtp is not None and cfg.smtp.starttls and cfg.smtp.port == 587 and cfg.smtp.password == "pw"
    assert cfg.smtp.to == ("a@example.org", "b@example.org") and cfg.smtp.username == "u"
    assert cfg.webhook is not None and cfg.webhook.headers == {"Authorization": "Bearer k"}
    env = {"MDWATCH_NOTIFY_SMTP_HOST": "127.0.0.1", "MDWATCH_NOTIFY_SMTP_PORT": "2525",
           "MDWATCH_NOTIFY_SMTP_FROM": "x@example.org", "MDWATCH_NOTIFY_SMTP_TO": "y@example.org, z@example.org",
           "MDWATCH_NOTIFY_WEBHOOK": "http://127.0.0.1:9/h"}
    from_env = load_notify_config(env=env)
    assert from_env.smtp is not None and from_env.smtp.port == 2525 and not from_env.smtp.starttls
    assert from_env.smtp.to == ("y@example.org", "z@example.org")
    assert from_env.webhook is not None and from_env.webhook.url == "http://127.0.0.1:9/h"
    via_env_file = load_notify_config(env={"MDWATCH_NOTIFY_CONFIG": str(path), "MDWATCH_NOTIFY_SMTP_PORT": "25"})
    assert via_env_file.smtp is not None and via_env_file.smtp.port == 25 and via_env_file.smtp.host == "smtp.example.org"
    assert not load_notify_config(env={}).configured
    with pytest.raises(NotifyConfigError):
        load_notify_config(env={"MDWATCH_NOTIFY_SMTP_HOST": "h"})  # no from/to
    with pytest.raises(NotifyConfigError):
        load_notify_config(env={"MDWATCH_NOTIFY_WEBHOOK": "ftp://x"})


def test_hook_does_nothing_unconfigured_and_sends_when_configured(
        runs: tuple[str, int, int], smtp: tuple[_Mailbox, int]) -> None:
    db, critical, _ = runs
    box, port = smtp
    assert notify_after_run(db, critical, env={}) is None
    assert notify_after_run(db, None, env={}) is None
    env = {"MDWATCH_NOTIFY_SMTP_HOST": "127.0.0.1", "MDWATCH_NOTIFY_SMTP_PORT": str(port),
           "MDWATCH_NOTIFY_SMTP_FROM": "mdwatch@example.org", "MDWATCH_NOTIFY_SMTP_TO": "duty@example.org"}
    result = notify_after_run(db, critical, env=env)
    assert result is not None and result.sent == ["smtp"] and len(box.messages) == 1
    bad = notify_after_run(db, critical, env={"MDWATCH_NOTIFY_WEBHOOK": "nope"})
    assert bad is not None and "config" in bad.failed


def test_cli_notify(runs: tuple[str, int, int], smtp: tuple[_Mailbox, int], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mdwatch.scheduler.cli import cli

    db, critical, calm = runs
    box, port = smtp
    path = tmp_path / "notify.yaml"
    path.write_text(f"smtp:\n  host: 127.0.0.1\n  port: {port}\n  from: m@example.org\n  to: d@example.org\n",
                    encoding="utf-8")
    runner = CliRunner()
    sent = runner.invoke(cli, ["notify", str(critical), "--notify-config", str(path), "--db", db])
    assert sent.exit_code == 0, sent.output
    assert "已发送：邮件" in sent.output and len(box.messages) == 1
    quiet = runner.invoke(cli, ["notify", str(calm), "--notify-config", str(path), "--db", db])
    assert quiet.exit_code == 0 and "没有严重问题" in quiet.output and len(box.messages) == 1


def test_critical_run_reaches_the_bots_and_the_log(runs: tuple[str, int, int],
                                                   webhook: tuple[list[Any], str, type[_Receiver]]) -> None:
    from mdwatch.scheduler.outputs.notify import BotConfig
    from mdwatch.storage.notifications import NotificationStore

    db, critical, _ = runs
    received, url, _ = webhook
    gateway = url.removesuffix("/hook") + "/gw"
    config = NotifyConfig(report_url="https://reports.example.org/最新", bots=(
        BotConfig(kind="wecom", name="wecom", token="k-1", endpoint=gateway, timeout=5),
        BotConfig(kind="dingtalk", name="值班群", token="abc123", endpoint=gateway, timeout=5)))
    result = notify_run(db, critical, config)
    assert result.ok and result.sent == ["wecom", "值班群"], result
    assert "已发送：企业微信、钉钉（值班群）" in result.summary_zh()
    assert [path.split("?")[0] for path, _, _ in received] == ["/gw/cgi-bin/webhook/send", "/gw/robot/send"]
    for _, _, body in received:
        payload = json.loads(body.decode("utf-8"))
        text = payload["text"]["content"]
        assert text.startswith(f"【mdwatch 监测预警】巡查 {critical} 发现严重问题 3 项")
        assert "级别统计：严重 3，高 1，中 1，低 0，提示 0" in text and "报告：https://reports.example.org/最新" in text
        for page in ("p1", "p2", "p3"):
            assert f"http://shop.example/{page}.html" in text
        assert "【疑似未注册产品】" in text
    log = NotificationStore(db).recent()
    assert [(r.channel, r.ok, r.run_id) for r in log] == [("dingtalk", True, critical), ("wecom", True, critical)]
    assert all(r.title.startswith("【mdwatch 监测预警】") for r in log) and "k-1" not in log[1].target


def test_failed_sends_are_logged_for_the_run(runs: tuple[str, int, int],
                                             webhook: tuple[list[Any], str, type[_Receiver]]) -> None:
    from mdwatch.storage.notifications import NotificationStore

    db, critical, _ = runs
    _, url, handler = webhook
    handler.status = 500
    config = NotifyConfig(smtp=SmtpConfig(host="127.0.0.1", port=_free_port(), sender="a@example.org",
                                          to=("b@example.org",), timeout=3), webhook=WebhookConfig(url=url, timeout=3))
    result = notify_run(db, critical, config)
    assert set(result.failed) == {"smtp", "webhook"} and "连接被拒绝" in result.failed["smtp"]
    log = NotificationStore(db).recent()
    assert {(r.channel, r.ok, r.run_id) for r in log} == {("email", False, critical), ("webhook", False, critical)}
    assert {r.detail for r in log} == set(result.failed.values())


def test_chat_text_fits_wecom_and_lists_the_first_findings() -> None:
    from mdwatch.scheduler.outputs.notify import RunDigest, build_notification
    from mdwatch.scheduler.outputs.notify.message import CHAT_MAX_BYTES

    critical = [{"finding_id": i, "rule": "PRODUCT_UNREGISTERED", "title": "疑似未注册产品",
                 "url": f"http://shop.example/商品/{i:03d}.html?来源=搜索&页=很长的中文参数" * 2, "message": "…",
                 "article": "…"} for i in range(60)]
    digest = RunDigest(run_id=9, kind="sweep", kind_zh="巡查", target="demo", status="done",
                       started_at="2026-12-01 10:00:00", finished_at="2026-12-01 10:05:00",
                       counts={"critical": 60, "high": 0, "medium": 0, "low": 0, "info": 0}, total=60, critical=critical)
    message = build_notification(digest, NotifyConfig())
    assert len(message.chat.encode("utf-8")) <= CHAT_MAX_BYTES
    assert len((message.title + "\r\n" + message.chat).encode("utf-8")) <= 2048
    assert "1. 【疑似未注册产品】http://shop.example/商品/000.html" in message.chat
    assert message.chat.endswith("……另有 50 项严重问题，详见报告。\n生成报告：mdwatch report --run 9")
    assert "严重问题 60 项" in message.title  # the e-mail lists MAX_LISTED of them
    assert "50. 【疑似未注册产品】" in message.body and "另有 10 项严重问题" in message.body
