"""Errors of the console: one Chinese sentence and the HTTP status that says what went wrong.

Routes raise :class:`ConsoleError` (or its helpers); the factory turns it into ``{"detail": …}``
for ``/api/`` and into an error page (or an htmx fragment) for the pages. Nothing answers an
error with 200.
"""

from __future__ import annotations

__all__ = ["ConsoleError", "bad_request", "conflict", "forbidden", "not_found", "unauthorized"]


class ConsoleError(Exception):
    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


def bad_request(detail: str) -> ConsoleError:
    return ConsoleError(400, detail)


def unauthorized(detail: str = "请先登录。") -> ConsoleError:
    return ConsoleError(401, detail)


def forbidden(detail: str = "当前账户无权执行此操作。") -> ConsoleError:
    return ConsoleError(403, detail)


def not_found(detail: str) -> ConsoleError:
    return ConsoleError(404, detail)


def conflict(detail: str) -> ConsoleError:
    return ConsoleError(409, detail)
