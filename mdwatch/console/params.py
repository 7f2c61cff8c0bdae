"""Request parameters shared by the routes: a row id is a positive 64-bit integer (a larger one
is a 422, never a database overflow)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

__all__ = ["MAX_ID", "QueryId", "RowId"]

MAX_ID = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="编号")]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
