"""Distributed sweeps: the frontier in Redis (scrapy-redis), shared by any number of processes.

With ``MDWATCH_REDIS_URL`` set, one process (the *seeder*, ``mdwatch sweep PROFILE``) creates the
run and puts the start URLs in; *workers* (``mdwatch sweep PROFILE --worker --resume ID``, on any
machine) join it. All of them pop requests from one Redis priority queue and check every new
request against one Redis dupe filter, so a URL is fetched by exactly one process.

Keys (``<prefix>`` is ``MDWATCH_REDIS_PREFIX``, default ``mdwatch``; ``<id>`` the sweep's run id):

- ``<prefix>:sweep:<id>:requests`` — the queue (scrapy-redis ``PriorityQueue``);
- ``<prefix>:sweep:<id>:dupefilter`` — request fingerprints (scrapy-redis ``RFPDupeFilter``);
- ``:open`` — set by the seeder once the run exists (workers may start before it and wait);
- ``:seeded`` — set once every start URL is in the queue (before it, an empty queue means nothing);
- ``:workers`` — hash worker id → ``"<busy 0|1> <unix time>"``, refreshed every 0.2 s;
- ``:active`` — processes in the sweep (the one that brings it to 0 finishes the run);
- ``:crawling`` — processes whose crawl engine has opened and takes requests from the queue;
- ``:related`` — qualification pages claimed by a shop (never crawled as pages of their own);
- ``:fetched`` / ``:refetched`` — responses per URL: the fetch of each request, and apart from
  it the browser's second fetch of a static page that lacked its content (``NeedsBrowserMiddleware``);
- ``:stats`` — per-worker summaries, gathered by the last process;
- ``:finished`` — set by the last process as it leaves (``closing``, then the run's status); kept
  for :data:`FINISHED_TTL_S` after the other keys are deleted, so a worker that arrives late is
  told the sweep is over instead of waiting for a seeder that has gone.

Joining and leaving are atomic (Lua scripts): a process joins only while ``:finished`` is unset,
and the process that brings ``:active`` to 0 sets it in the same step, so no worker can slip in
after the last one decided it was last.

Termination: a process closes when its own engine is idle (nothing downloading, nothing in its
item pipeline, nothing local queued), the shared queue is empty, the sweep is seeded, and no
other live worker reports busy, for :data:`QUIET_S` in a row. A worker whose heartbeat is older
than :data:`STALE_S` counts as gone (``kill -9``). Closing early is never wrong: a process only
reports idle after every request it produced is in Redis, so whoever is still busy finishes them.

Qualification pages of a shop are fetched by the process that parsed the shop (the spider holds
the shop until they are in): :class:`SharedScheduler` keeps requests marked
``meta["mdwatch_local"]`` in a local lane instead of the shared queue.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import CloseSpider, DontCloseSpider, NotConfigured
from scrapy_redis.scheduler import Scheduler as RedisScheduler

if TYPE_CHECKING:
    from redis import Redis
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

__all__ = [
    "COORDINATOR_PATH",
    "FINISHED_TTL_S",
    "LOCAL_META",
    "QUIET_S",
    "SCHEDULER_PATH",
    "STALE_S",
    "DistributedSweep",
    "SharedScheduler",
    "SweepCoordinator",
    "SweepKeys",
    "default_prefix",
    "redis_settings",
]

#: request meta: keep this request in this process (qualification pages of a shop parsed here)
LOCAL_META = "mdwatch_local"
_BROWSER_RETRY_META = "mdwatch_browser_retry"  # crawler/browser.py: the browser's second fetch
SCHEDULER_PATH = "mdwatch.crawler.distributed.SharedScheduler"
COORDINATOR_PATH = "mdwatch.crawler.distributed.SweepCoordinator"
HEARTBEAT_S = 0.2  # publish this process's state; poll the shared queue when idle
QUIET_S = 0.6  # everyone idle and the queue empty this long: the sweep is over
STALE_S = 30.0  # a worker silent this long is gone
FINISHED_TTL_S = 7 * 24 * 3600  # how long a finished sweep answers late workers from Redis

# KEYS: active, finished. Join unless the sweep has finished; 1 joined, 0 refused.
_JOIN_LUA = """
if redis.call('exists', KEYS[2]) == 1 then return 0 end
redis.call('incr', KEYS[1])
return 1
"""
# KEYS: active, finished. Leave; the process that brings the count to 0 marks the sweep closing
# in the same step and gets 1.
_LEAVE_LUA = """
local n = redis.call('decr', KEYS[1])
if n <= 0 then
  redis.call('set', KEYS[2], 'closing')
  return 1
end
return 0
"""


def default_prefix() -> str:
    """The Redis key prefix: ``MDWATCH_REDIS_PREFIX`` or ``mdwatch``."""
    return os.environ.get("MDWATCH_REDIS_PREFIX", "").strip() or "mdwatch"


@dataclass(frozen=True, slots=True)
class SweepKeys:
    """The Redis keys of one sweep."""

    run_id: int
    prefix: str = "mdwatch"

    @property
    def base(self) -> str:
        return f"{self.prefix}:sweep:{self.run_id}"

    def __getattr__(self, name: str) -> str:  # keys.requests, keys.dupefilter, …
        if name.startswith("_"):
            raise AttributeError(name)
        return f"{self.base}:{name}"

    def all(self) -> list[str]:
        names = ("requests", "dupefilter", "open", "seeded", "workers", "active", "crawling", "related",
                 "fetched", "refetched", "stats", "finished")
        return [f"{self.base}:{n}" for n in names]


def redis_settings(redis_url: str, keys: SweepKeys) -> dict[str, Any]:
    """Scrapy settings putting the frontier of the sweep ``keys`` in Redis (merge into the crawl's)."""
    return {
        "REDIS_URL": redis_url,
        # scrapy-redis's scheduler with a local lane for a shop's qualification pages
        "SCHEDULER": SCHEDULER_PATH,
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "SCHEDULER_QUEUE_KEY": keys.requests,
        "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter,
        "SCHEDULER_PERSIST": True,  # a process leaving never clears the shared frontier
        "SCHEDULER_FLUSH_ON_START": False,
        "SCHEDULER_IDLE_BEFORE_CLOSE": 0,  # never block the reactor on the queue; SweepCoordinator waits
        "EXTENSIONS": {COORDINATOR_PATH: 500},
    }


def _connect(redis_url: str) -> Redis:
    from redis import Redis

    return Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)


class DistributedSweep:
    """This process's membership in one distributed sweep (seeder or worker)."""

    def __init__(self, redis_url: str, run_id: int, *, seeder: bool, prefix: str | None = None,
                 seed_wait_s: float = 120.0) -> None:
        self.redis_url = redis_url
        self.keys = SweepKeys(run_id, prefix or default_prefix())
        self.seeder = seeder
        self.seed_wait_s = seed_wait_s
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.redis: Redis = _connect(redis_url)
        self.fetches = 0

    # -- life cycle

    @staticmethod
    def wait_open(redis_url: str, run_id: int, timeout_s: float, prefix: str | None = None,
                  finished_elsewhere: Callable[[], bool] | None = None) -> str:
        """Wait (a worker started before the seeder) until the sweep ``run_id`` is open in Redis.

        Returns ``"open"``, ``"finished"`` (the sweep has already been completed by others: in
        Redis, or by ``finished_elsewhere()``, polled about once a second, e.g. the database) or
        ``"timeout"``. A sweep that is closing or ended interrupted is waited on: a resume by its
        seeder reopens it.
        """
        keys = SweepKeys(run_id, prefix or default_prefix())
        client = _connect(redis_url)
        try:
            deadline = time.monotonic() + timeout_s
            next_check = 0.0
            while True:
                opened, finished = client.mget(keys.open, keys.finished)
                if finished is not None and _s(finished) == "done":
                    return "finished"
                if opened is not None and finished is None:
                    return "open"
                now = time.monotonic()
                if finished_elsewhere is not None and now >= next_check:
                    next_check = now + 1.0
                    if finished_elsewhere():
                        return "finished"
                if now >= deadline:
                    return "timeout"
                time.sleep(0.1)
        finally:
            client.close()

    def reset(self) -> None:
        """Seeder: start the sweep's frontier afresh (a new sweep, or a resume after every process stopped)."""
        self.redis.delete(*self.keys.all())
        self.redis.set(self.keys.open, "1")

    def join(self) -> bool:
        """Join the sweep; False (and nothing changed) when it has already finished."""
        joined = bool(self.redis.eval(_JOIN_LUA, 2, self.keys.active, self.keys.finished))
        if joined:
            self.publish(busy=True)
        return joined

    def leave(self, summary: dict[str, Any]) -> bool:
        """Leave the sweep; True if this process was the last one in it (it then must call
        :meth:`mark_finished`)."""
        self.redis.hset(self.keys.stats, self.worker_id, json.dumps(summary, ensure_ascii=False))
        self.redis.hdel(self.keys.workers, self.worker_id)
        self.redis.srem(self.keys.crawling, self.worker_id)
        return bool(self.redis.eval(_LEAVE_LUA, 2, self.keys.active, self.keys.finished))

    def mark_finished(self, status: str) -> None:
        """The last process: record how the sweep ended (``done`` or ``interrupted``)."""
        self.redis.set(self.keys.finished, status, ex=FINISHED_TTL_S)

    def close(self) -> None:
        self.redis.close()

    def cleanup(self) -> None:
        """The last process of a finished sweep: delete every key of it but ``:finished``."""
        self.redis.delete(*(k for k in self.keys.all() if k != self.keys.finished))

    # -- coordination

    def mark_seeded(self) -> None:
        self.redis.set(self.keys.seeded, "1")

    def seeded(self) -> bool:
        return bool(self.redis.exists(self.keys.seeded))

    def queued(self) -> int:
        return int(self.redis.zcard(self.keys.requests))

    def mark_crawling(self) -> None:
        self.redis.sadd(self.keys.crawling, self.worker_id)

    def publish(self, busy: bool) -> None:
        self.redis.hset(self.keys.workers, self.worker_id, f"{int(busy)} {time.time():.3f}")

    def others_busy(self) -> bool:
        now = time.time()
        for wid, state in self.redis.hgetall(self.keys.workers).items():
            name = wid.decode() if isinstance(wid, bytes) else str(wid)
            if name == self.worker_id:
                continue
            text = state.decode() if isinstance(state, bytes) else str(state)
            flag, _, stamp = text.partition(" ")
            if flag == "1" and now - float(stamp or 0) < STALE_S:
                return True
        return False

    # -- shared sets of the spider

    def add_related(self, urls: Iterable[str]) -> None:
        urls = list(urls)
        if urls:
            self.redis.sadd(self.keys.related, *urls)

    def related(self, urls: list[str]) -> set[str]:
        """Those of ``urls`` some process claimed as a shop's qualification page."""
        if not urls:
            return set()
        flags = self.redis.smismember(self.keys.related, urls)
        return {u for u, flag in zip(urls, flags, strict=True) if flag}

    # -- accounting

    def count_fetch(self, url: str, again: bool) -> None:
        self.redis.hincrby(self.keys.refetched if again else self.keys.fetched, url, 1)
        self.fetches += 1

    def fetch_report(self, limit: int = 20) -> dict[str, Any]:
        """Fetches per URL over the whole sweep (read by the last process)."""
        fetched = {_s(k): int(v) for k, v in self.redis.hgetall(self.keys.fetched).items()}
        refetched = {_s(k): int(v) for k, v in self.redis.hgetall(self.keys.refetched).items()}
        twice = sorted(u for u, n in fetched.items() if n > 1)
        return {"fetched_urls": len(fetched), "fetches": sum(fetched.values()),
                "fetched_more_than_once": twice[:limit], "fetched_more_than_once_count": len(twice),
                "refetched_urls": len(refetched), "refetches": sum(refetched.values())}

    def worker_summaries(self) -> list[dict[str, Any]]:
        return [json.loads(v) for v in self.redis.hvals(self.keys.stats)]


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SharedScheduler(RedisScheduler):
    """scrapy-redis's scheduler plus a local lane for requests marked ``meta["mdwatch_local"]``.

    A shop's qualification pages must come back to the process that holds the shop; they are
    still one hop from a page fetched exactly once, so they are fetched exactly once too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local: deque[Request] = deque()

    def __len__(self) -> int:
        return len(self._local) + int(super().__len__())

    def enqueue_request(self, request: Request) -> bool:
        if request.meta.get(LOCAL_META):
            self._local.append(request)
            if self.stats:
                self.stats.inc_value("scheduler/enqueued/local", spider=self.spider)
            return True
        return bool(super().enqueue_request(request))

    def next_request(self) -> Request | None:
        if self._local:
            return self._local.popleft()
        request: Request | None = super().next_request()
        return request

    def has_pending_requests(self) -> bool:
        return bool(self._local) or bool(super().has_pending_requests())


class SweepCoordinator:
    """Scrapy extension: heartbeat, idle detection across processes, per-URL fetch accounting.

    Configured by the spider's ``distributed`` attribute (a :class:`DistributedSweep`).
    """

    def __init__(self, crawler: Crawler, sweep: DistributedSweep) -> None:
        self.crawler = crawler
        self.sweep = sweep
        self._loop: Any = None
        self._quiet_since: float | None = None
        self._opened = time.monotonic()
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.response_received, signal=signals.response_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SweepCoordinator:
        sweep = getattr(crawler.spider, "distributed", None)
        if not isinstance(sweep, DistributedSweep):
            raise NotConfigured("not a distributed sweep")
        return cls(crawler, sweep)

    def spider_opened(self, spider: Spider) -> None:
        from twisted.internet.task import LoopingCall

        self._opened = time.monotonic()
        self.sweep.mark_crawling()
        self._loop = LoopingCall(self._beat)
        self._loop.start(HEARTBEAT_S, now=True)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def _local_idle(self) -> bool:
        engine = self.crawler.engine
        try:
            return bool(engine is not None and engine.spider_is_idle())
        except RuntimeError:  # no slot yet / any more
            return True

    def _beat(self) -> None:
        try:
            idle = self._local_idle()
            self.sweep.publish(busy=not idle)
            # Poll the shared queue now. The engine asks its scheduler again only when one of its
            # own downloads ends, or every 5 s: a process with nothing in flight would otherwise
            # watch another one drain the queue. ``spider_is_idle`` is false while the shared
            # queue holds anything, so "idle" cannot tell us when to poll. A poll while the
            # engine is full backs out without popping.
            slot = getattr(self.crawler.engine, "_slot", None)
            nextcall = getattr(slot, "nextcall", None)
            if nextcall is not None:
                nextcall.schedule()
        except Exception:  # a Redis hiccup must not stop the heartbeat
            pass

    def spider_idle(self, spider: Spider) -> None:
        self.sweep.publish(busy=False)
        now = time.monotonic()
        if not self.sweep.seeded():
            self._quiet_since = None
            if now - self._opened > self.sweep.seed_wait_s:
                raise CloseSpider("not_seeded")
            raise DontCloseSpider
        if self.sweep.queued() > 0 or self.sweep.others_busy():
            self._quiet_since = None
            raise DontCloseSpider
        if self._quiet_since is None:
            self._quiet_since = now
        if now - self._quiet_since < QUIET_S:
            raise DontCloseSpider
        # everyone idle, nothing queued, for QUIET_S: let the engine close ("finished")

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        if request.meta.get("robots.txt") or request.url.endswith("/robots.txt"):
            return
        url = (request.meta.get("redirect_urls") or [request.url])[0]
        # a Retry of a failed fetch replaces it (the failure never reached here); the browser's
        # second fetch of a page whose static HTML lacked the content is counted apart
        self.sweep.count_fetch(url, again=bool(request.meta.get(_BROWSER_RETRY_META)))
