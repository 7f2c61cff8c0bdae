"""The ``--db`` option of every command: checked before the command does any work (issue 10, item 3).

:func:`guard_db_options` gives every ``--db`` of the command tree (whatever module declares it)
one callback, :func:`check_db`: the database is opened once (``storage.database.open_engine``:
URL, file or server, schema at head) and the command receives the normalised URL. A database
that cannot be used raises ``storage.DatabaseError``; ``cli.main`` turns it into one Chinese
line on stderr and its exit status (2 a URL wrong as written, ``--db ""`` included; 3 a
database that cannot be reached or used). Without ``--db`` (nor ``MDWATCH_DB_URL``) the
default database is opened where the command needs it, with the same errors.
"""

from __future__ import annotations

from typing import Any

import click

from mdwatch.storage.database import open_engine, resolve_db_url

__all__ = ["DB_PARAM", "check_db", "guard_db_options"]

DB_PARAM = "db_url"


def check_db(ctx: click.Context, param: click.Parameter, value: Any) -> str | None:
    """Open the database named by ``--db`` now; returns its normalised URL (None: not given)."""
    if value is None:
        return None
    url = resolve_db_url(str(value))
    open_engine(url).dispose()
    return url


def guard_db_options(command: click.Command) -> None:
    """Attach :func:`check_db` to every ``--db`` option under ``command`` (recursively)."""
    for param in command.params:
        if param.name == DB_PARAM and isinstance(param, click.Option) and param.callback is None:
            param.callback = check_db
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            guard_db_options(sub)
