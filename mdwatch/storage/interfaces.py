"""What the application layer asks of storage, written as protocols.

Each store class implements one of them; ``tests/test_architecture.py`` checks every implementation
against its protocol (the methods exist with the same parameters), and the ``_conforms`` block
below lets mypy check the signatures and return types. A second backend (a remote store, a test
double) implements the protocol, not the class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from mdwatch.records import Registration

from .records import CaptureRecord, PageRecord, RunRecord, StoredFinding, StoredRun

__all__ = ["ImageCache", "RegistryReader", "RunStore", "SnapshotStore"]


@runtime_checkable
class RunStore(Protocol):
    """Runs, their pages and findings (``storage.store.Store``)."""

    def save_run(self, run: RunRecord) -> int: ...
    def transaction(self) -> AbstractContextManager[Session]: ...
    def save_page(self, session: Session, run_id: int, page: PageRecord) -> int: ...
    def findings(self, run_id: int | None = None, rule: str | None = None) -> list[StoredFinding]: ...
    def get_capture(self, sha256: str) -> CaptureRecord | None: ...
    def runs(self, limit: int = 20, kind: str | None = None) -> list[StoredRun]: ...
    def close(self) -> None: ...


@runtime_checkable
class RegistryReader(Protocol):
    """The registration database as the page pipeline reads it (``storage.registry_store.RegistryStore``)."""

    def lookup(self, number: str) -> Registration | None: ...
    def lookup_many(self, numbers: Iterable[str]) -> dict[str, Registration]: ...
    def is_loaded(self) -> bool: ...
    def close(self) -> None: ...


@runtime_checkable
class SnapshotStore(Protocol):
    """Listing history (``storage.history.HistoryStore``)."""

    def save_snapshot(self, run_id: int, url: str, fetched_at: datetime, sha256: str, *, price: float | None,
                      original_price: float | None, rules: Iterable[str], warnings: Iterable[str],
                      claims: Iterable[str], session: Session | None = None) -> int: ...
    def seen_again(self, url: str, at: datetime, *, session: Session | None = None) -> bool: ...
    def unchanged(self, url: str, sha256: str, *, exclude_run_id: int | None = None) -> bool: ...


@runtime_checkable
class ImageCache(Protocol):
    """Images and what OCR read in them (``storage.images.ImageStore``)."""

    def get_ocr_many(self, shas: Iterable[str], engine: str) -> dict[str, Any]: ...
    def save_ocr(self, sha256: str, engine: str, text: str, lines: Sequence[Mapping[str, Any]] = (),
                 seconds: float = 0.0) -> bool: ...
    def known_images(self, shas: Iterable[str]) -> set[str]: ...
    def close(self) -> None: ...


if TYPE_CHECKING:  # mypy checks each implementation against its protocol here
    from .history import HistoryStore
    from .images import ImageStore
    from .registry_store import RegistryStore
    from .store import Store

    def _conforms(store: Store, registry: RegistryStore, history: HistoryStore, images: ImageStore) -> None:
        _runs: RunStore = store
        _registry: RegistryReader = registry
        _history: SnapshotStore = history
        _images: ImageCache = images
