"""The registration database as the analyzers see it: a per-page ``RegistrySnapshot``.

Analyzers stay pure: before a page is analyzed, its registration / filing numbers are looked up
here (one query) and handed over in ``Context.registry``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mdwatch.analyzers.catalogue import rules
from mdwatch.analyzers.model import Context, Page, Registration, RegistrySnapshot
from mdwatch.analyzers.regno import page_numbers
from mdwatch.storage.config import default_db_url, normalize_db_url
from mdwatch.storage.registry_store import RegistryStore

NOT_LOADED = "未加载注册证数据库"
LOOKUP_KINDS = frozenset({"registration", "filing"})


def registry_rules() -> tuple[str, ...]:
    """Rules that need the registration database (skipped without one)."""
    return tuple(r.id for r in rules().values() if r.needs == "registry")


def to_registration(rec: Registration) -> Registration:
    """Storage's record is the analyzers' record (``mdwatch.records.Registration``)."""
    return rec


class RegistrySource:
    """One open registry for a run: answers each page's numbers with one query."""

    def __init__(self, db_url: str | None = None) -> None:
        self.store = RegistryStore.open(normalize_db_url(db_url or default_db_url()))
        self.loaded = self.store.is_loaded()
        if self.loaded:
            stats = self.store.stats()
            self.description = stats.description_zh()
            # only a UDID full release claims to cover the whole market
            self.complete = "FULL_RELEASE" in (stats.last_import_path or "").upper()
        else:
            self.description = NOT_LOADED
            self.complete = False

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> RegistrySource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def snapshot(self, numbers: Sequence[str]) -> RegistrySnapshot:
        wanted = list(dict.fromkeys(numbers))
        found = self.store.lookup_many(wanted) if self.loaded and wanted else {}
        return RegistrySnapshot(
            records={n: to_registration(rec) for n, rec in found.items()},
            looked_up=frozenset(wanted) if self.loaded else frozenset(),
            loaded=self.loaded,
            complete=self.complete,
            description=self.description,
        )

    def context_for(self, page: Page, ctx: Context) -> Context:
        """``ctx`` with the registry records of every valid number ``page`` shows."""
        # pre-2014 numbers are not looked up: those certificates have all expired and no current
        # registry holds them (PRODUCT_REG_INVALID_STATUS says so; "unregistered" would mislead)
        numbers = [
            n.normalized for n in page_numbers(page, ctx.now.year) if n.kind in LOOKUP_KINDS and n.valid
        ]
        return replace(ctx, registry=self.snapshot(numbers))
