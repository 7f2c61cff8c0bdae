"""Accounts, the audit log and the notification log: what an admin looks after."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mdwatch.console.auth import Principal, can
from mdwatch.console.errors import bad_request, conflict, forbidden
from mdwatch.storage.accounts import AccountError, User
from mdwatch.storage.audit import AuditEntry

if TYPE_CHECKING:
    from mdwatch.console.core import Console

__all__ = ["add_user", "audit_entries", "notifications", "user_json"]


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "role": user.role, "role_zh": user.role_zh, "org": user.org,
            "active": user.active, "created_at": user.created_at.isoformat()}


def add_user(console: Console, who: Principal, *, name: str, role: str, password: str, org: str | None) -> User:
    if not can(who.user, "users"):
        raise forbidden(f"{who.user.role_zh}无权管理账户。")
    try:
        user = console.accounts.add_user(name, role, password, org=org or None, at=console.now())
    except AccountError as exc:
        raise (conflict(str(exc)) if "已存在" in str(exc) else bad_request(str(exc))) from exc
    console.audit(who.user, who.address, "user.add", "user", user.name, {"role": user.role, "org": user.org})
    return user


def audit_entries(console: Console, who: Principal, limit: int = 200) -> list[AuditEntry]:
    if not can(who.user, "audit"):
        raise forbidden(f"{who.user.role_zh}无权查看审计记录。")
    return console.audit_log.entries(limit=limit)


def notifications(console: Console, limit: int = 50) -> tuple[list[Any], str | None]:
    """The recent notifications and their results (``storage.notifications``), or why there are none."""
    try:
        from mdwatch.storage.notifications import NotificationStore
    except ImportError:
        return [], "通知记录功能尚未安装（mdwatch.storage.notifications）。"
    store = NotificationStore(console.engine)
    return store.recent(max(1, min(limit, 500))), None
