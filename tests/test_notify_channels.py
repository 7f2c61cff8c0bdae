"""Notification channels through apprise's real plugins, every packet on loopback.

A local HTTP receiver on 127.0.0.1 stands in for the 企业微信, 钉钉, 飞书 and Lark webhooks (each
bot's ``endpoint`` points there, as an internal gateway would) and for a generic webhook; a local
SMTP server (aiosmtpd) receives the e-mail. Checked: the JSON each plugin sends, its Chinese text
intact, DingTalk's signature as DingTalk verifies it, the notification log (masked targets, ok,
Chinese reasons) for successes, HTTP 500, refused connections and vendors' refusals in HTTP 200,
the configuration's forms and errors, and ``mdwatch notify test`` / ``notify log``.

An autouse guard refuses every name lookup and connection beyond loopback, so a plugin that
ignored its endpoint would fail here rather than reach a vendor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from mdwatch.scheduler.cli import cli
from mdwatch.scheduler.outputs.notify import (
    BotConfig,
    NotifyConfig,
    NotifyConfigError,
    SmtpConfig,
    WebhookConfig,
    load_notify_config,
    notify_test,
    trial_message,
)
from mdwatch.scheduler.outputs.notify.channels import mask_url
from mdwatch.storage.notifications import NotificationStore

WECOM_KEY = "693a91f6-7aaa-4bc4-97a0-0ec2sifa5aaa"
DING_TOKEN = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
DING_SECRET = "SEC7d5b9c4e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4"
FEISHU_TOKEN = "2f8b1c3e-aaaa-bbbb-cccc-123456789abc"
LARK_TOKEN = "9c0d1e2f-3a4b-5c6d-7e8f-90a1b2c3d4e5"
SMTP_PASSWORD = "s3cret-Password"
SECRETS = (WECOM_KEY, DING_TOKEN, DING_SECRET, FEISHU_TOKEN, LARK_TOKEN, SMTP_PASSWORD)
LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse any lookup or connection beyond loopback; returns the names that were refused."""
    refused: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in LOOPBACK:
            refused.append(str(name))
            raise socket.gaierror(socket.EAI_NONAME, "test guard: not loopback")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[0] not in LOOPBACK:
            refused.append(str(address[0]))
            raise ConnectionRefusedError("test guard: not loopback")
        real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return refused


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Receiver:
    base: str
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    reply: bytes = b'{"errcode": 0, "errmsg": "ok", "code": 0, "msg": "success"}'

    def at(self, prefix: str) -> list[Received]:
        return [r for r in self.requests if r.path.startswith(prefix)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            parts = urlsplit(self.path)
            state.requests.append(Received(parts.path, parse_qs(parts.query), dict(self.headers.items()), body))
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.reply)))
            self.end_headers()
            self.wfile.write(state.reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[_Mailbox, int]]:
    box = _Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return "sqlite:///" + (tmp_path / "notify-log.sqlite3").as_posix()


def _bots_yaml(base: str) -> str:
    return (f"wecom:\n  url: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}\n"
            f"  endpoint: {base}/wecom-gw\n"
            f"dingtalk:\n  url: https://oapi.dingtalk.com/robot/send?access_token={DING_TOKEN}\n"
            f"  secret_env: DING_SECRET\n  endpoint: {base}/\n"
            f"feishu:\n  token: {FEISHU_TOKEN}\n  endpoint: {base}\n"
            f"lark:\n  url: lark://{LARK_TOKEN}\n  endpoint: {base}/lark-gw\n")


def _bots(base: str) -> NotifyConfig:
    return NotifyConfig(bots=(
        BotConfig(kind="wecom", name="wecom", token=WECOM_KEY, endpoint=f"{base}/wecom-gw", timeout=5),
        BotConfig(kind="dingtalk", name="dingtalk", token=DING_TOKEN, secret=DING_SECRET, endpoint=base, timeout=5),
        BotConfig(kind="feishu", name="feishu", token=FEISHU_TOKEN, endpoint=base, timeout=5),
        BotConfig(kind="lark", name="lark", token=LARK_TOKEN, endpoint=f"{base}/lark-gw", timeout=5),
    ))


def _no_secret_in(*texts: object) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text), (secret, text)


# --- the bots, through their gateway endpoints ---------------------------------------------------------

def test_bots_receive_each_plugins_json_with_chinese_intact(receiver: Receiver, db: str,
                                                            loopback_only: list[str]) -> None:
    message = trial_message()
    result = notify_test(_bots(receiver.base), db)
    assert result.ok and result.log_error is None, result
    assert [d.kind for d in result.deliveries] == ["wecom", "dingtalk", "feishu", "lark"]
    expected_text = f"{message.title}\r\n{message.chat}"

    (wecom,) = receiver.at("/wecom-gw/")
    assert wecom.path == "/wecom-gw/cgi-bin/webhook/send" and wecom.query == {"key": [WECOM_KEY]}
    assert wecom.json() == {"msgtype": "text", "text": {"content": expected_text}}
    assert "charset=utf-8" in wecom.headers["Content-Type"]

    (ding,) = receiver.at("/robot/")
    assert ding.path == "/robot/send" and ding.query["access_token"] == [DING_TOKEN]
    assert ding.json()["msgtype"] == "text" and ding.json()["text"]["content"] == expected_text
    # DingTalk's check: the query decoded once is base64(HMAC-SHA256(secret, "timestamp\nsecret"))
    (timestamp,), (sign,) = ding.query["timestamp"], ding.query["sign"]
    digest = hmac.new(DING_SECRET.encode(), f"{timestamp}\n{DING_SECRET}".encode(), hashlib.sha256).digest()
    assert sign == base64.b64encode(digest).decode()
    assert abs(int(timestamp) / 1000 - time.time()) < 60

    (feishu,) = receiver.at("/open-apis/")
    assert feishu.path == f"/open-apis/bot/v2/hook/{FEISHU_TOKEN}/"
    assert feishu.json() == {"msg_type": "text", "content": {"text": expected_text}}
    assert "通知渠道测试".encode() in feishu.body  # sent as UTF-8, not \\u escapes

    (lark,) = receiver.at("/lark-gw/")
    assert lark.path == f"/lark-gw/open-apis/bot/v2/hook/{LARK_TOKEN}"
    assert lark.json()["content"]["text"] == f"{message.title}\n{message.chat}"
    assert all(r.headers["User-Agent"] == "mdwatch" for r in receiver.requests)
    assert loopback_only == []

    log = NotificationStore(db).recent()
    assert [r.channel for r in log] == ["lark", "feishu", "dingtalk", "wecom"]  # newest first
    assert all(r.ok and r.title == message.title and r.run_id is None for r in log)
    assert all(r.detail == "已送达（HTTP 200）" for r in log)
    assert all(r.sent_at.tzinfo is not None and r.sent_at.utcoffset() == timedelta(0) for r in log)
    assert log[3].target == f"{receiver.base}/wecom-gw/cgi-bin/webhook/send?key=693a****"
    assert log[2].target.endswith("access_token=0123****（加签）")
    _no_secret_in(*[(r.target, r.detail, r.title) for r in log])


def test_without_endpoint_the_vendor_host_is_used_and_the_guard_holds(db: str, loopback_only: list[str]) -> None:
    config = NotifyConfig(bots=(BotConfig(kind="wecom", name="wecom", token=WECOM_KEY, timeout=3),
                                BotConfig(kind="dingtalk", name="dingtalk", token=DING_TOKEN, timeout=3)))
    result = notify_test(config, db)
    assert not result.ok
    assert [d.detail for d in result.deliveries] == ["无法连接 qyapi.weixin.qq.com（域名无法解析）",
                                                     "无法连接 oapi.dingtalk.com（域名无法解析）"]
    assert loopback_only == ["qyapi.weixin.qq.com", "oapi.dingtalk.com"]  # refused here, never sent
    assert result.deliveries[0].target == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a****"


def test_a_value_apprise_refuses_is_a_logged_failure_without_the_value(db: str) -> None:
    bad = "bad key! " + WECOM_KEY  # config validation would refuse it; built by hand here
    result = notify_test(NotifyConfig(bots=(BotConfig(kind="wecom", name="wecom", token=bad),)), db, channel="企业微信")
    (delivery,) = result.deliveries
    assert not delivery.ok and delivery.detail == "企业微信配置无效（AppriseImproperlyConfigured）"
    (entry,) = NotificationStore(db).recent()
    assert not entry.ok and WECOM_KEY not in entry.target + (entry.detail or "")


@pytest.mark.parametrize(("kind", "reply", "reason"), [
    ("dingtalk", b'{"errcode": 310000, "errmsg": "sign not match"}',
     "钉钉拒绝了消息（错误码 310000：sign not match）：安全设置校验未通过"),
    ("wecom", b'{"errcode": 93000, "errmsg": "invalid webhook url"}',
     "企业微信拒绝了消息（错误码 93000：invalid webhook url）：机器人 key 无效"),
    ("feishu", b'{"code": 19024, "msg": "Key Words Not Found"}',
     "飞书拒绝了消息（错误码 19024：Key Words Not Found）：消息不含机器人设置的自定义关键词"),
])
def test_a_vendors_refusal_in_http_200_is_a_failure(receiver: Receiver, db: str, kind: str, reply: bytes,
                                                   reason: str) -> None:
    receiver.reply = reply
    result = notify_test(_bots(receiver.base), db, channel=kind)
    (delivery,) = result.deliveries
    assert not delivery.ok and delivery.detail.startswith(reason), delivery.detail
    (entry,) = NotificationStore(db).recent()
    assert entry.channel == kind and not entry.ok and entry.detail == delivery.detail


def test_http_500_and_refused_connections_are_logged_with_chinese_reasons(receiver: Receiver, db: str,
                                                                        mailbox: tuple[_Mailbox, int]) -> None:
    receiver.status, receiver.reply = 500, b'{"errmsg": "gateway broke"}'
    closed = f"http://127.0.0.1:{_free_port()}"
    config = NotifyConfig(
        smtp=SmtpConfig(host="127.0.0.1", port=_free_port(), sender="mdwatch@example.org", to=("a@example.org",),
                        username="mdwatch", password=SMTP_PASSWORD, timeout=3),
        webhook=WebhookConfig(url=f"{receiver.base}/hook", timeout=3),
        bots=(BotConfig(kind="wecom", name="wecom", token=WECOM_KEY, endpoint=receiver.base, timeout=3),
              BotConfig(kind="dingtalk", name="dingtalk", token=DING_TOKEN, endpoint=closed, timeout=3)))
    result = notify_test(config, db)
    assert not result.ok and not any(d.ok for d in result.deliveries)
    details = {d.channel: d.detail for d in result.deliveries}
    port = config.smtp.port if config.smtp else 0
    assert details["smtp"] == f"无法连接邮件服务器 127.0.0.1:{port}（连接被拒绝）"
    assert details["webhook"] == f"{receiver.base.removeprefix('http://')} 返回 HTTP 500（Internal Server Error）：gateway broke"
    assert details["wecom"].endswith("返回 HTTP 500（Internal Server Error）：gateway broke")
    assert details["dingtalk"] == f"无法连接 {closed.removeprefix('http://')}（连接被拒绝）"
    log = NotificationStore(db).recent()
    assert len(log) == 4 and not any(r.ok for r in log)
    assert {r.channel: r.detail for r in log} == {"email": details["smtp"], "webhook": details["webhook"],
                                                  "wecom": details["wecom"], "dingtalk": details["dingtalk"]}
    _no_secret_in(*[(r.target, r.detail) for r in log], *details.values())


def test_email_arrives_with_chinese_subject_and_body(mailbox: tuple[_Mailbox, int], db: str) -> None:
    box, port = mailbox
    config = NotifyConfig(smtp=SmtpConfig(host="127.0.0.1", port=port, sender="监测平台 <mdwatch@example.org>",
                                          to=("jianguan@example.org", "duty@example.org"), timeout=5))
    message = trial_message()
    result = notify_test(config, db, channel="邮件")
    (delivery,) = result.deliveries
    assert delivery.ok and delivery.detail == "邮件服务器已接收（收件人 2 个）"
    assert delivery.target == f"mailto://127.0.0.1:{port}（insecure）→ jianguan@example.org、duty@example.org"
    (mail_from, rcpt, msg), = box.messages
    assert mail_from == "mdwatch@example.org" and rcpt == ["jianguan@example.org", "duty@example.org"]
    assert str(msg["Subject"]) == message.title == "【mdwatch 监测预警】通知渠道测试"
    assert str(msg["To"]) == "jianguan@example.org" and str(msg["Cc"]) == "duty@example.org"
    assert "监测平台" in str(msg["From"])
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    assert msg.get_content().replace("\r\n", "\n").strip() == message.body.strip()
    (entry,) = NotificationStore(db).recent()
    assert entry.channel == "email" and entry.ok and entry.title == message.title


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS", "ignore:Session.login_data is deprecated")
def test_email_login_and_a_refused_login(db: str) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"mdwatch@example.org", SMTP_PASSWORD.encode())
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    box = _Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    try:
        def config(password: str) -> NotifyConfig:
            return NotifyConfig(smtp=SmtpConfig(host="127.0.0.1", port=port, sender="mdwatch@example.org",
                                                to=("d@example.org",), username="mdwatch@example.org",
                                                password=password, timeout=5))

        good = notify_test(config(SMTP_PASSWORD), db)
        assert good.ok and len(box.messages) == 1, good
        bad = notify_test(config("wrong-" + SMTP_PASSWORD), db)
    finally:
        controller.stop()
    (delivery,) = bad.deliveries
    assert not delivery.ok and delivery.detail.startswith(f"邮件服务器 127.0.0.1:{port} 拒绝登录"), delivery.detail
    assert delivery.target == f"mailto://mdwatch@example.org@127.0.0.1:{port}（insecure）→ d@example.org"
    _no_secret_in(*[(r.target, r.detail) for r in NotificationStore(db).recent()])


def test_generic_webhook_keeps_query_headers_and_structured_payload(receiver: Receiver, db: str) -> None:
    config = NotifyConfig(webhook=WebhookConfig(url=f"{receiver.base}/hooks/mdwatch?token=abc&team=一组",
                                                headers={"X-Token": "t"}, timeout=5))
    message = trial_message()
    result = notify_test(config, db)
    assert result.ok
    (hook,) = receiver.requests
    assert hook.path == "/hooks/mdwatch" and hook.query == {"token": ["abc"], "team": ["一组"]}
    assert hook.headers["X-Token"] == "t"
    payload = hook.json()
    assert payload["event"] == "mdwatch.notify.test" and payload["title"] == message.title
    assert payload["message"] == message.chat and payload["timezone"] == "Asia/Shanghai"
    assert result.deliveries[0].target == f"{receiver.base}/hooks/mdwatch?token=****&team=****"


def test_apprise_json_url_form(receiver: Receiver, db: str) -> None:
    url = receiver.base.replace("http://", "json://") + "/j?+X-Org=bureau&-page=1&:source=mdwatch"
    result = notify_test(load_notify_config(env={"MDWATCH_NOTIFY_WEBHOOK": url}), db)
    assert result.ok, result
    (hook,) = receiver.requests
    assert hook.path == "/j" and hook.query == {"page": ["1"]} and hook.headers["X-Org"] == "bureau"
    assert hook.json()["source"] == "mdwatch" and hook.json()["event"] == "mdwatch.notify.test"


# --- configuration ------------------------------------------------------------------------------------

def test_bot_configuration_forms(tmp_path: Path) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text(_bots_yaml("http://gw.example.gov.cn"), encoding="utf-8")
    cfg = load_notify_config(path, env={"DING_SECRET": DING_SECRET})
    assert [(b.kind, b.name, b.token) for b in cfg.bots] == [
        ("wecom", "wecom", WECOM_KEY), ("dingtalk", "dingtalk", DING_TOKEN),
        ("feishu", "feishu", FEISHU_TOKEN), ("lark", "lark", LARK_TOKEN)]
    assert cfg.bots[1].secret == DING_SECRET and cfg.bots[0].endpoint == "http://gw.example.gov.cn/wecom-gw"
    assert cfg.configured
    _no_secret_in(repr(cfg))

    forms = load_notify_config(env={
        "MDWATCH_NOTIFY_WECOM": f"wecombot://{WECOM_KEY}",
        "MDWATCH_NOTIFY_DINGTALK": f"dingtalk://{DING_SECRET}@{DING_TOKEN}/",
        "MDWATCH_NOTIFY_FEISHU": f"https://open.feishu.cn/open-apis/bot/v2/hook/{FEISHU_TOKEN}",
        "MDWATCH_NOTIFY_FEISHU_ENDPOINT": "https://gw.example.gov.cn/feishu"})
    assert [(b.kind, b.token, b.secret) for b in forms.bots] == [
        ("wecom", WECOM_KEY, None), ("dingtalk", DING_TOKEN, DING_SECRET), ("feishu", FEISHU_TOKEN, None)]
    assert forms.bots[2].endpoint == "https://gw.example.gov.cn/feishu"

    path.write_text(f"dingtalk:\n  - name: 值班群\n    token: {DING_TOKEN}\n  - token: {DING_TOKEN[::-1]}\n",
                    encoding="utf-8")
    listed = load_notify_config(path, env={"MDWATCH_NOTIFY_DINGTALK_SECRET": DING_SECRET})
    assert [(b.name, b.secret) for b in listed.bots] == [("值班群", DING_SECRET), ("dingtalk-2", None)]

    path.write_text("wecom:\n  name: 值班群\n  token_env: WECOM_KEY\n  endpoint: https://gw.example.gov.cn\n",
                    encoding="utf-8")
    assert load_notify_config(path, env={"WECOM_KEY": "from-file-env"}).bots[0].token == "from-file-env"
    overridden = load_notify_config(path, env={"WECOM_KEY": "from-file-env", "MDWATCH_NOTIFY_WECOM": WECOM_KEY})
    assert [(b.name, b.token, b.endpoint) for b in overridden.bots] == [
        ("值班群", WECOM_KEY, "https://gw.example.gov.cn")]  # the environment's key, the file's other settings


@pytest.mark.parametrize(("yaml_text", "says"), [
    ("wecom: {}\n", "需要机器人的 Webhook 地址"),
    ("wecom:\n  key: 'bad key!'\n", "token 格式不正确"),
    (f"feishu:\n  token: {FEISHU_TOKEN}\n  secret: abc\n", "不支持签名密钥"),
    (f"dingtalk:\n  token: {DING_TOKEN}\n  secret: 'SEC-bad'\n", "加签密钥"),
    (f"wecom:\n  key: {WECOM_KEY}\n  endpoint: ftp://gw\n", "endpoint 应为 http(s) 网关地址"),
    (f"wecom:\n  url: https://gw.example.gov.cn/cgi-bin/webhook/send?key={WECOM_KEY}\n", "网关地址填 endpoint"),
    (f"dingtalk:\n  - name: a\n    token: {DING_TOKEN}\n  - name: a\n    token: {DING_TOKEN}\n", "名称重复"),
    ("lark: 12\n", "应为映射"),
])
def test_bot_configuration_errors_are_chinese_and_secret_free(tmp_path: Path, yaml_text: str, says: str) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(NotifyConfigError) as info:
        load_notify_config(path, env={})
    assert says in str(info.value)
    _no_secret_in(str(info.value))


def test_mask_url() -> None:
    assert mask_url("https://u:pw@hooks.example.org:8443/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX?sig=abcdef"
                    ) == "https://u:****@hooks.example.org:8443/services/T000/B000/XXXX****?sig=****"


# --- the command line ---------------------------------------------------------------------------------

def test_cli_notify_test_and_log(receiver: Receiver, mailbox: tuple[_Mailbox, int], tmp_path: Path, db: str) -> None:
    box, port = mailbox
    path = tmp_path / "notify.yaml"
    path.write_text(f"smtp:\n  host: 127.0.0.1\n  port: {port}\n  from: m@example.org\n  to: d@example.org\n"
                    + _bots_yaml(receiver.base), encoding="utf-8")
    runner = CliRunner(env={"DING_SECRET": DING_SECRET})
    all_ = runner.invoke(cli, ["notify", "test", "--notify-config", str(path), "--db", db], standalone_mode=False)
    assert all_.exception is None and all_.return_value == 0, all_.output
    lines = all_.output.strip().splitlines()
    assert len(lines) == 5 and all("发送成功" in line for line in lines), all_.output
    assert lines[0].startswith("邮件：发送成功，邮件服务器已接收") and lines[2].startswith("钉钉：发送成功，已送达（HTTP 200）")
    assert len(box.messages) == 1 and len(receiver.requests) == 4
    _no_secret_in(all_.output)

    receiver.reply = b'{"errcode": 310000, "errmsg": "sign not match"}'
    one = runner.invoke(cli, ["notify", "test", "--channel", "dingtalk", "--notify-config", str(path), "--db", db],
                        standalone_mode=False)
    assert one.return_value == 1 and one.output.count("\n") == 1 and "钉钉：发送失败，钉钉拒绝了消息" in one.output
    unknown = runner.invoke(cli, ["notify", "test", "--channel", "qq", "--notify-config", str(path), "--db", db],
                            standalone_mode=False)
    assert unknown.return_value == 2 and "没有名为 qq 的通知渠道（已配置：smtp、wecom、dingtalk、feishu、lark）" in unknown.output

    log = runner.invoke(cli, ["notify", "log", "--db", db, "--limit", "3"], standalone_mode=False)
    assert log.return_value == 0
    shown = log.output.strip().splitlines()
    assert len(shown) == 3 and "钉钉 失败" in shown[0] and "通知渠道测试" in shown[0]
    as_json = runner.invoke(cli, ["notify", "log", "--db", db, "--json"], standalone_mode=False)
    rows = json.loads(as_json.output)
    assert len(rows) == 6 and set(rows[0]) == {"id", "sent_at", "channel", "target", "title", "ok", "detail", "run_id"}
    _no_secret_in(log.output, as_json.output)


# --- the log --------------------------------------------------------------------------------------------

def test_notification_store(db_url: str) -> None:
    with NotificationStore(db_url) as store:
        assert store.recent() == []
        first = store.record(channel="wecom", target="https://qyapi.weixin.qq.com/…?key=693a****", title="标题一",
                             ok=True, detail="已送达（HTTP 200）", run_id=7)
        later = datetime(2026, 12, 1, 18, 0, tzinfo=UTC) + timedelta(hours=1)
        store.record(channel="email", target="mailto://h:25", title="标题二", ok=False,
                     detail="无法连接邮件服务器 h:25（连接被拒绝）", sent_at=later.astimezone())
        with pytest.raises(ValueError):
            store.record(channel="email", target="x", title="t", ok=True, sent_at=datetime(2026, 1, 1))
        recent = store.recent()
        assert [r.title for r in recent] == ["标题二", "标题一"] and store.recent(limit=1)[0].title == "标题二"
        assert recent[0].sent_at == later and recent[0].sent_at.utcoffset() == timedelta(0)
        assert recent[1] == first and first.run_id == 7 and first.ok is True and recent[0].ok is False
        assert recent[0].run_id is None and store.recent(limit=0) == []
