"""Console accounts (监测工作台账户): users with a role and an organisation, API tokens and sessions.

Tables: ``console_users`` (name, role, organisation, argon2 password hash), ``console_tokens``
(API tokens for scripts: only their SHA-256 is stored, the token itself is shown once) and
``console_sessions`` (a browser session: the SHA-256 of its cookie value, its CSRF token and
when it ends).

Roles: ``admin`` manages users, campaigns and schedules; ``inspector`` (of one organisation)
sees and handles that organisation's leads; ``reviewer`` confirms or dismisses findings;
``viewer`` reads and changes nothing.

Imports nothing else of ours beyond this package. All datetimes are time-zone aware (UTC).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Boolean, Engine, ForeignKey, String, Table, Text, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from .schema import Base, IdType, UTCDateTime
from .store import EngineStore

__all__ = [
    "ACCOUNT_TABLES",
    "ROLES",
    "ROLE_ZH",
    "AccountError",
    "AccountStore",
    "ApiToken",
    "User",
]

ROLES = ("admin", "inspector", "reviewer", "viewer")
ROLE_ZH = {"admin": "管理员", "inspector": "核查人员", "reviewer": "审核人员", "viewer": "只读用户"}
TOKEN_PREFIX = "mdw_"
_NAME_MAX = 100
_ORG_MAX = 200
MIN_PASSWORD = 8


class AccountError(Exception):
    """An account operation that cannot be done; the message is one Chinese sentence."""


class UserRow(Base):
    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(_NAME_MAX), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    org: Mapped[str | None] = mapped_column(String(_ORG_MAX))
    password_hash: Mapped[str | None] = mapped_column(Text)  # argon2id; None: token-only account
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TokenRow(Base):
    __tablename__ = "console_tokens"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("console_users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SessionRow(Base):
    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    sid_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("console_users.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


ACCOUNT_TABLES = ("console_users", "console_tokens", "console_sessions")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: str
    org: str | None
    active: bool
    created_at: datetime
    has_password: bool = True

    @property
    def role_zh(self) -> str:
        return ROLE_ZH.get(self.role, self.role)


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    user: str
    label: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _user(row: UserRow) -> User:
    return User(row.id, row.name, row.role, row.org, bool(row.active), row.created_at, row.password_hash is not None)


def _aware(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime refused: {at!r}")
    return at.astimezone(UTC)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    """A user name as stored: NFC, stripped, 1–100 printable characters without spaces."""
    name = unicodedata.normalize("NFC", name.strip())
    if not name or len(name) > _NAME_MAX or any(not ch.isprintable() or ch.isspace() for ch in name):
        raise AccountError("用户名须为 1–100 个字符，不含空格或控制字符。")
    return name


def _check_org(org: str | None) -> str | None:
    if org is None:
        return None
    org = unicodedata.normalize("NFC", org.strip())
    if len(org) > _ORG_MAX or any(not ch.isprintable() for ch in org):
        raise AccountError("单位名称不超过 200 个字符，且不含控制字符。")
    return org or None


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"密码至少 {MIN_PASSWORD} 个字符。")
    if len(password) > 1024:
        raise AccountError("密码过长（不超过 1024 个字符）。")


class AccountStore(EngineStore):
    """Users, API tokens and sessions on SQLite or PostgreSQL."""

    def __init__(self, engine_or_url: Engine | str | None = None) -> None:
        self._open_engine(engine_or_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        tables = [Base.metadata.tables[name] for name in ACCOUNT_TABLES]
        assert all(isinstance(t, Table) for t in tables)
        Base.metadata.create_all(self.engine, tables=tables)  # normally there already (migration v0005)
        # a fixed hash to verify against when the user does not exist, so a wrong name and a
        # wrong password take the same time
        self._dummy: str | None = None

    # ---------------------------------------------------------------- users

    def add_user(self, name: str, role: str, password: str | None, *, org: str | None = None,
                 at: datetime | None = None) -> User:
        """A new active user; ``password`` None makes an account used only through API tokens."""
        name = check_name(name)
        if role not in ROLES:
            raise AccountError(f"角色只能是 {'、'.join(ROLES)}，不是 {role}。")
        org = _check_org(org)
        if role == "inspector" and not org:
            raise AccountError("核查人员必须属于一个单位（--org，如 海口市市场监督管理局）。")
        hashed = None
        if password is not None:
            _check_password(password)
            hashed = self._hash(password)
        now = _aware(at)
        with self._sessions.begin() as session:
            if session.scalar(select(UserRow.id).where(UserRow.name == name)) is not None:
                raise AccountError(f"用户 {name} 已存在。")
            row = UserRow(name=name, role=role, org=org, password_hash=hashed, active=True, created_at=now,
                          updated_at=now)
            session.add(row)
            session.flush()
            return _user(row)

    def set_password(self, name: str, password: str, at: datetime | None = None) -> User:
        _check_password(password)
        hashed = self._hash(password)
        with self._sessions.begin() as session:
            row = session.scalar(select(UserRow).where(UserRow.name == check_name(name)))
            if row is None:
                raise AccountError(f"没有用户 {name}。")
            row.password_hash, row.updated_at = hashed, _aware(at)
            return _user(row)

    def set_active(self, name: str, active: bool, at: datetime | None = None) -> User:
        with self._sessions.begin() as session:
            row = session.scalar(select(UserRow).where(UserRow.name == check_name(name)))
            if row is None:
                raise AccountError(f"没有用户 {name}。")
            row.active, row.updated_at = active, _aware(at)
            if not active:  # a disabled account loses its sessions at once
                session.execute(delete(SessionRow).where(SessionRow.user_id == row.id))
            return _user(row)

    def get_user(self, name: str) -> User | None:
        with self._sessions() as session:
            row = session.scalar(select(UserRow).where(UserRow.name == name.strip()))
            return None if row is None else _user(row)

    def user_by_id(self, user_id: int) -> User | None:
        with self._sessions() as session:
            row = session.get(UserRow, user_id)
            return None if row is None else _user(row)

    def users(self) -> list[User]:
        with self._sessions() as session:
            return [_user(r) for r in session.scalars(select(UserRow).order_by(UserRow.id))]

    def _hash(self, password: str) -> str:
        from argon2 import PasswordHasher

        return PasswordHasher().hash(password)

    def authenticate(self, name: str, password: str) -> User | None:
        """The active user ``name`` if ``password`` is theirs, else None (the same work either way)."""
        from argon2 import PasswordHasher
        from argon2.exceptions import InvalidHashError, VerificationError

        hasher = PasswordHasher()
        with self._sessions() as session:
            row = session.scalar(select(UserRow).where(UserRow.name == name.strip()))
            stored = row.password_hash if row is not None and row.active else None
            if stored is None:
                self._dummy = self._dummy or hasher.hash(secrets.token_hex(8))
                with contextlib.suppress(VerificationError, InvalidHashError):
                    hasher.verify(self._dummy, password)
                return None
            try:
                hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                return None
            assert row is not None
            user = _user(row)
        if hasher.check_needs_rehash(stored):
            self.set_password(user.name, password)
        return user

    # ---------------------------------------------------------------- API tokens

    def create_token(self, name: str, label: str | None = None, at: datetime | None = None) -> tuple[str, ApiToken]:
        """A new API token of user ``name``: (the token, shown once; what is stored of it)."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = _aware(at)
        with self._sessions.begin() as session:
            user = session.scalar(select(UserRow).where(UserRow.name == check_name(name)))
            if user is None:
                raise AccountError(f"没有用户 {name}。")
            row = TokenRow(user_id=user.id, token_sha256=_digest(raw), label=(label or None),
                           created_at=now, last_used_at=None, revoked_at=None)
            session.add(row)
            session.flush()
            return raw, ApiToken(row.id, user.name, row.label, row.created_at, None, None)

    def user_for_token(self, raw: str, at: datetime | None = None) -> User | None:
        """The active user a token (not revoked) belongs to; notes when it was last used."""
        if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
            return None
        with self._sessions.begin() as session:
            found = session.execute(
                select(TokenRow, UserRow).join(UserRow, TokenRow.user_id == UserRow.id)
                .where(TokenRow.token_sha256 == _digest(raw), TokenRow.revoked_at.is_(None))).first()
            if found is None or not found[1].active:
                return None
            token, user = found
            token.last_used_at = _aware(at)
            return _user(user)

    def tokens(self, name: str | None = None) -> list[ApiToken]:
        stmt = select(TokenRow, UserRow.name).join(UserRow, TokenRow.user_id == UserRow.id).order_by(TokenRow.id)
        if name is not None:
            stmt = stmt.where(UserRow.name == name)
        with self._sessions() as session:
            return [ApiToken(t.id, n, t.label, t.created_at, t.last_used_at, t.revoked_at)
                    for t, n in session.execute(stmt)]

    def revoke_token(self, token_id: int, at: datetime | None = None) -> None:
        with self._sessions.begin() as session:
            session.execute(update(TokenRow).where(TokenRow.id == token_id, TokenRow.revoked_at.is_(None))
                            .values(revoked_at=_aware(at)))

    # ---------------------------------------------------------------- sessions

    def create_session(self, user_id: int, *, ttl: timedelta, address: str | None = None,
                       at: datetime | None = None) -> tuple[str, str]:
        """A new browser session of ``user_id``: (cookie value, CSRF token)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = _aware(at)
        with self._sessions.begin() as session:
            session.add(SessionRow(sid_sha256=_digest(sid), user_id=user_id, csrf=csrf,
                                   address=(address or None) and address[:100], created_at=now,
                                   expires_at=now + ttl))
            # sessions that ended long ago are of no use to anyone
            session.execute(delete(SessionRow).where(SessionRow.expires_at < now - timedelta(days=30)))
        return sid, csrf

    def session_user(self, sid: str, at: datetime | None = None) -> tuple[User, str] | None:
        """(user, CSRF token) of a live session of an active user, else None."""
        if not sid or len(sid) > 200:
            return None
        now = _aware(at)
        with self._sessions() as session:
            found = session.execute(
                select(SessionRow, UserRow).join(UserRow, SessionRow.user_id == UserRow.id)
                .where(SessionRow.sid_sha256 == _digest(sid))).first()
            if found is None:
                return None
            row, user = found
            if row.expires_at <= now or not user.active:
                return None
            return _user(user), row.csrf

    def end_session(self, sid: str) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(SessionRow).where(SessionRow.sid_sha256 == _digest(sid)))
