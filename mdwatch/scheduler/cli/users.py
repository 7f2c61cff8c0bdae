"""``mdwatch user add|token|list``: accounts of the web console (监测工作台).

Passwords are hashed with argon2 and API tokens stored as their SHA-256 (``storage.accounts``);
a token is printed once, on stdout alone, so a script can capture it. Every change is written to
the audit log with the operating-system user as actor and ``本机命令行`` as address.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import TYPE_CHECKING

import click

from mdwatch.scheduler.settings import option

if TYPE_CHECKING:
    from mdwatch.storage.audit import Actor

EXIT_OK, EXIT_USAGE = 0, 2
ROLE_HELP = "角色：admin（管理员）、inspector（核查人员，限本单位线索）、reviewer（审核人员）、viewer（只读）。"


def _err(message: str) -> None:
    click.echo(f"mdwatch: {message}", err=True)


def _actor() -> Actor:
    from mdwatch.storage.audit import Actor

    try:
        who = getpass.getuser() or "unknown"
    except (KeyError, OSError):
        who = "unknown"
    return Actor(f"{who}（命令行）")


@click.group(name="user", help="监测工作台账户：添加账户、生成 API 令牌、列出账户。")
def user_group() -> None:
    pass


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    return value


@user_group.command(name="add", help="添加账户（密码交互输入，或用 --password-stdin 从标准输入读取）。")
@click.argument("name")
@click.option("--role", type=click.Choice(("admin", "inspector", "reviewer", "viewer")), required=True, help=ROLE_HELP)
@click.option("--org", help="所属单位，如 海口市市场监督管理局（核查人员必填：只能查看和处置本单位的线索）。")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行，供脚本使用）。")
@option("db")
def user_add(name: str, role: str, org: str | None, password_stdin: bool, db_url: str | None) -> int:
    from mdwatch.storage.accounts import AccountError, AccountStore
    from mdwatch.storage.audit import AuditStore

    password = _read_password(password_stdin)
    with AccountStore(db_url) as accounts:
        try:
            user = accounts.add_user(name, role, password, org=org)
        except AccountError as exc:
            _err(str(exc))
            return EXIT_USAGE
        with AuditStore(accounts.engine) as audit:
            audit.record(_actor(), "user.add", "user", user.name, {"role": user.role, "org": user.org})
    click.echo(f"已添加账户 {user.name}（{user.role_zh}{f'，{user.org}' if user.org else ''}）。")
    return EXIT_OK


@user_group.command(name="token", help="为账户生成 API 令牌（Authorization: Bearer …）；令牌只显示这一次，库中只存其哈希。")
@click.argument("name")
@click.option("--label", help="令牌用途说明，如 “夜间导出脚本”。")
@option("db")
def user_token(name: str, label: str | None, db_url: str | None) -> int:
    from mdwatch.storage.accounts import AccountError, AccountStore
    from mdwatch.storage.audit import AuditStore

    with AccountStore(db_url) as accounts:
        try:
            raw, token = accounts.create_token(name, label)
        except AccountError as exc:
            _err(str(exc))
            return EXIT_USAGE
        with AuditStore(accounts.engine) as audit:
            audit.record(_actor(), "token.create", "user", token.user, {"token_id": token.id, "label": token.label})
    click.echo(raw)
    click.echo(f"已为 {token.user} 生成 API 令牌（编号 {token.id}）。请立即妥善保存：令牌只显示这一次。", err=True)
    return EXIT_OK


@user_group.command(name="list", help="列出账户：用户名、角色、单位、状态、API 令牌数。")
@option("json")
@option("db")
def user_list(as_json: bool, db_url: str | None) -> int:
    from rich.table import Table

    from mdwatch.scheduler.outputs.terminal import make_console
    from mdwatch.scheduler.settings import BEIJING
    from mdwatch.storage.accounts import AccountStore

    with AccountStore(db_url) as accounts:
        users = accounts.users()
        tokens = accounts.tokens()
    live = {u.name: sum(1 for t in tokens if t.user == u.name and t.revoked_at is None) for u in users}
    if as_json:
        click.echo(json.dumps([{"name": u.name, "role": u.role, "org": u.org, "active": u.active,
                                "created_at": u.created_at.isoformat(), "tokens": live[u.name]} for u in users],
                              ensure_ascii=False, indent=2))
        return EXIT_OK
    if not users:
        click.echo("还没有账户。用 mdwatch user add NAME --role admin 添加第一个管理员。")
        return EXIT_OK
    table = Table(title="监测工作台账户")
    for col in ("用户名", "角色", "单位", "状态", "API 令牌", "创建时间（北京时间）"):
        table.add_column(col)
    for u in users:
        table.add_row(u.name, u.role_zh, u.org or "—", "正常" if u.active else "已停用", str(live[u.name]),
                      u.created_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M"))
    make_console().print(table)
    return EXIT_OK
