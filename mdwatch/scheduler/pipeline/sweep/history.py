"""History in a sweep: the listing history of each product page (worker side) and, once a sweep
has covered the whole platform, the listings it no longer found (crawl process).

These hooks run for every page: keep them cheap, and never let them raise for one bad page.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from mdwatch.analyzers.history import current_snapshot, from_stored
from mdwatch.analyzers.model import Context, ListingHistory, Page
from mdwatch.crawler.capture import FetchResult
from mdwatch.scheduler.pipeline import ScanOutcome
from mdwatch.storage.history import HistoryStore
from mdwatch.storage.store import Store
from mdwatch.storage.sweeps import HistoryRows, SweepHistory, done_urls, get_sweep, sweep_counts

__all__ = ["ListingHistoryStage", "budget_exhausted", "history_sweep_finished"]


class ListingHistoryStage:
    """The history stage of a sweep's page pipeline (worker side).

    Before the analysis, a product page's context gets the listing's earlier captures from other
    runs (a resumed sweep never compares a page with the snapshot it stored itself before the
    interruption), so the history rules (``analyzers.history``, in the analyzer registry) can
    judge it. After the analysis, :meth:`pending_write` says what to write in the page's own
    transaction, so the snapshot is committed exactly when the page is:

    - an unchanged page (same capture SHA-256 as the listing's last snapshot) gets no new
      snapshot: the last one's ``seen_until`` moves forward (the page still counts as seen and
      done; history rules never fire on unchanged content);
    - otherwise this capture's snapshot, with every rule that fired on it.
    """

    def __init__(self, store: Store, run_id: int) -> None:
        self._store = store
        self._run_id = run_id
        self._history: SweepHistory | None = None
        self._recent: list[Any] = []
        self._listing: ListingHistory | None = None
        self._prefetched: dict[str, list[Any]] = {}  # URL → its recent snapshots, for the batch at hand
        self._rows = HistoryRows()  # the snapshots of the transaction under way (write_pending)

    @property
    def history(self) -> SweepHistory:
        if self._history is None:
            self._history = SweepHistory(self._store)
        return self._history

    def prefetch(self, urls: list[str]) -> None:
        """Read the recent snapshots of a batch's pages in one query; if that fails, each page
        reads its own in :meth:`context_for` (where a failure is that page's alone)."""
        try:
            self._prefetched = self.history.recent_many(urls, self._run_id) if urls else {}
        except Exception:
            self._prefetched = {}

    def context_for(self, page: Page, ctx: Context, result: FetchResult) -> Context:
        self._recent, self._listing = [], None
        cap = result.capture
        if page.kind != "product" or cap is None:
            return ctx
        # one query: the listing's latest snapshots from other runs
        known = self._prefetched.pop(result.url, None)
        self._recent = known if known is not None else self.history.recent(result.url, self._run_id)
        previous = tuple(from_stored(r) for r in self._recent if r.fetched_at < cap.fetched_at)
        self._listing = ListingHistory(result.url, cap.fetched_at, cap.sha256.lower(), previous)
        return dataclasses.replace(ctx, history=self._listing)

    def write_pending(self, session: Session) -> None:
        """Write the snapshots the pages of this transaction noted (``finish`` of save_sweep_pages)."""
        self.history.write(session, self._rows)

    def drop_pending(self) -> None:
        """Forget what a failed transaction noted (its pages are stored again, one by one)."""
        self._rows.clear()

    def pending_write(self, outcome: ScanOutcome, ctx: Context) -> Callable[[Session, int], None] | None:
        listing, page = self._listing, outcome.page
        if listing is None or page is None:
            return None
        hs = self.history
        if self._recent and self._recent[0].sha256 == listing.sha256:
            last, fetched_at = self._recent[0], listing.fetched_at

            def seen(session: Session, page_id: int) -> None:
                hs.seen_again(session, last, fetched_at, self._rows)

            return seen
        cur = current_snapshot(page, dataclasses.replace(ctx, history=listing), outcome.findings)
        run_id = self._run_id

        def save(session: Session, page_id: int) -> None:
            hs.save(session, run_id, cur.url, cur.fetched_at, cur.sha256, price=cur.price,
                    original_price=cur.original_price, rules=cur.rules, warnings=cur.warnings, claims=cur.claims,
                    rows=self._rows)

        return save


def history_sweep_finished(store: Store, run_id: int, status: str) -> None:
    """HISTORY HOOK (crawl process, once at the end): mark listings not seen by a done sweep as gone.

    Only after a sweep that covered the whole platform: status ``done`` and the page budget not
    used up (a budget-limited sweep did not look everywhere). Listings are never deleted.
    """
    if status != "done":
        return
    run = get_sweep(store, run_id)
    if run is None or budget_exhausted(store, run_id, run.stats):
        return
    domains = {urlsplit(u).netloc.lower() for u in run.stats.get("start_urls") or () if isinstance(u, str)}
    domains.discard("")
    if not domains:
        return
    seen = done_urls(store, run_id)
    hs = HistoryStore(store)
    for domain in sorted(domains):
        hs.mark_gone(run_id, seen, domain=domain)


def budget_exhausted(store: Store, run_id: int, stats: dict[str, Any]) -> bool:
    """True when the sweep stopped because of its page budget (or may have: pages ≥ budget)."""
    if stats.get("budget_exhausted"):
        return True
    budget = stats.get("budget")
    if budget is None:
        return False
    return sweep_counts(store, run_id)["pages"] >= int(budget)
