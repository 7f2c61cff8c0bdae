"""``fetch_pages``: capture a list of URLs in one Scrapy crawl, run in a child process.

Twisted's reactor cannot be restarted, so each call runs its crawl in a fresh child process
(``fork`` where it is safe, else ``spawn``) and receives pickled
:class:`~mdwatch.crawler.capture.FetchResult` objects through a pipe as each URL finishes.
The caller's process never starts a reactor, so ``fetch_pages`` can be called any number of
times. Scrapy's own logging and any stray output of the child go to ``/dev/null``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .capture import FetchError, FetchResult, FetchSettings
from .urlcheck import shown_url, url_problem

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import ForkContext, SpawnContext

__all__ = ["StartedFetch", "fetch_pages", "scrapy_settings", "start_fetch"]

Progress = Callable[[FetchResult], None]


def scrapy_settings(settings: FetchSettings, typed_urls: Sequence[str] = ()) -> dict[str, Any]:
    """The Scrapy settings of a capture crawl; ``typed_urls`` are the URLs given by the user.

    The fetch policy (:mod:`mdwatch.crawler.netguard`) is added last, whatever
    ``extra_scrapy_settings`` say: only http(s), and only public addresses beyond the typed
    URLs' hosts and ports unless allow-listed.
    """
    result: dict[str, Any] = {
        "LOG_ENABLED": False,
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "COOKIES_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "ROBOTSTXT_OBEY": settings.obey_robots,
        "USER_AGENT": settings.user_agent,
        "DOWNLOAD_TIMEOUT": settings.timeout_s,
        "DNS_TIMEOUT": settings.timeout_s,
        "DOWNLOAD_MAXSIZE": settings.max_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "DOWNLOAD_DELAY": 0,
        # Redirects are followed by the spider itself, so a loop can be reported as such.
        "REDIRECT_ENABLED": False,
        "METAREFRESH_ENABLED": False,
        "RETRY_ENABLED": settings.retries > 0,
        "RETRY_TIMES": max(settings.retries, 0),
        "CONCURRENT_REQUESTS": settings.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.concurrency,
        "AUTOTHROTTLE_ENABLED": False,
        "EXTENSIONS": {
            "scrapy.extensions.telnet.TelnetConsole": None,
            "scrapy.extensions.memusage.MemoryUsage": None,
            "scrapy.extensions.logstats.LogStats": None,
            "scrapy.extensions.remote_control.RemoteControl": None,
        },
    }
    result.update(dict(settings.extra_scrapy_settings))
    from .netguard import apply_fetch_policy

    trusted = typed_urls if settings.trusted_urls is None else settings.trusted_urls
    return apply_fetch_policy(result, trusted, settings.allow_hosts)


def _silence_output() -> None:
    """Point fds 1 and 2 (and sys.stdout/stderr) of the child at /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.dup2(devnull, fd)
    os.close(devnull)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the child
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115


def _child_main(conn: Connection, jobs: list[tuple[int, str]], settings: FetchSettings, parent: int) -> None:
    """Entry point of the crawl process: run one crawl, send each result as it finishes."""
    from .lifeline import die_with_parent

    die_with_parent(parent)  # the caller's thread waits for this process: it outlives it
    _silence_output()
    try:
        from scrapy.crawler import CrawlerProcess

        from .spiders import CaptureSpider

        def sink(index: int, result: FetchResult) -> None:
            conn.send(("result", index, result))

        options = scrapy_settings(settings, [url for _, url in jobs])
        if "twisted.internet.reactor" in sys.modules:
            # A reactor came with the parent (spawn re-imports __main__): use it as it is.
            options["TWISTED_REACTOR"] = None
        process = CrawlerProcess(options)
        failures: list[str] = []
        done = process.crawl(CaptureSpider, jobs=jobs, fetch_settings=settings, sink=sink)
        done.addErrback(lambda failure: failures.append(failure.getTraceback()))
        process.start(install_signal_handlers=False)
        if failures:
            conn.send(("fatal", -1, failures[0]))
    except BaseException:
        conn.send(("fatal", -1, traceback.format_exc()))
    finally:
        conn.close()


def _context(warm: bool = True) -> ForkContext | SpawnContext:
    """``fork`` is fast (Scrapy already imported); unsafe once a reactor exists, or off Linux.

    Without ``warm`` the child imports Scrapy itself, while the parent does other work.
    """
    if sys.platform.startswith("linux") and "twisted.internet.reactor" not in sys.modules:
        if warm:
            _warm_imports()
        if "twisted.internet.reactor" not in sys.modules:
            return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


_warmed = False


def _warm_imports() -> None:
    """Import Scrapy and the components it loads by dotted path, once, in the parent.

    A forked child then builds its crawler without ~0.5 s of imports. Importing a reactor
    module does not install a reactor; ``twisted.internet.reactor`` itself is never imported.
    """
    global _warmed
    if _warmed:
        return
    _warmed = True
    import importlib

    import scrapy.crawler
    from scrapy.settings import default_settings

    from . import spiders  # noqa: F401

    paths: set[str] = set()
    for name in dir(default_settings):
        if not name.isupper():
            continue
        value = getattr(default_settings, name)
        candidates = list(value) if isinstance(value, dict) else [value]
        candidates += list(value.values()) if isinstance(value, dict) else []
        for item in candidates:
            if isinstance(item, str) and item.startswith(("scrapy.", "twisted.")) and item.count(".") >= 2:
                paths.add(item.rsplit(".", 1)[0])
    del scrapy.crawler
    for module in sorted(paths):
        if module == "twisted.internet" or module.startswith("twisted.internet.reactor"):
            continue
        if module.startswith("scrapy.core.downloader.handlers.") and module.rsplit(".", 1)[1] in ("s3", "ftp"):
            continue
        try:
            importlib.import_module(module)
        except Exception:  # an optional dependency is missing: the child imports it if needed
            continue


def _invalid(url: str) -> FetchError | None:
    """A URL Scrapy would reject or silently drop (too long, bad port …) is said as such, not as a crash."""
    problem = url_problem(url)
    if problem is not None:
        return FetchError(url, "other", f"无法获取 {shown_url(url)}：{problem}。")
    return None


class StartedFetch:
    """A crawl already running in its own process (:func:`start_fetch`); :meth:`results` waits
    for it. Started before the caller has loaded the rest of its work (a one-page scan starts its
    crawl as soon as the command line is read), the fetch and the loading overlap."""

    def __init__(self, urls: Sequence[str], settings: FetchSettings, *, warm: bool) -> None:
        self.urls = list(urls)
        self.settings = settings
        self._early: dict[int, FetchResult] = {}
        self.jobs: list[tuple[int, str]] = []
        for index, url in enumerate(self.urls):
            error = _invalid(url)
            if error is not None:
                self._early[index] = FetchResult(url, None, error)
            else:
                self.jobs.append((index, url))
        self._process: Any = None
        self._receiver: Any = None
        if self.jobs:
            ctx = _context(warm=warm)
            self._receiver, sender = ctx.Pipe(duplex=False)
            self._process = ctx.Process(
                target=_child_main,
                args=(sender, self.jobs, settings, os.getpid()),
                name="mdwatch-crawl",
                daemon=not multiprocessing.current_process().daemon,
            )
            self._process.start()
            sender.close()

    def matches(self, urls: Sequence[str], settings: FetchSettings) -> bool:
        return list(urls) == self.urls and settings == self.settings

    def discard(self) -> None:
        """Stop a crawl that will not be collected (it was started for other settings)."""
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join()
        if self._receiver is not None:
            self._receiver.close()
        self._process = self._receiver = None

    def results(self, progress: Progress | None = None,
                meanwhile: Callable[[], object] | None = None) -> list[FetchResult]:
        """Every URL's result in input order (see :func:`fetch_pages`)."""
        results: list[FetchResult | None] = [None] * len(self.urls)

        def finish(index: int, result: FetchResult) -> None:
            if results[index] is None:
                results[index] = result
                if progress is not None:
                    progress(result)

        for index, result in self._early.items():
            finish(index, result)
        _call(meanwhile)
        fatal = ""
        if self._process is not None:
            receiver, process = self._receiver, self._process
            try:
                while True:
                    try:
                        kind, index, payload = receiver.recv()
                    except EOFError:
                        break
                    if kind == "result":
                        finish(index, payload)
                    else:
                        fatal = str(payload)
            finally:
                receiver.close()
                if process.is_alive():
                    process.join(timeout=5)
                if process.is_alive():
                    process.terminate()
                    process.join()
        for index, url in self.jobs:
            if results[index] is None:
                detail = f"抓取进程出错（{fatal.strip().splitlines()[-1]}）" if fatal.strip() else "抓取进程意外退出"
                finish(index, FetchResult(url, None, FetchError(url, "other", f"无法获取 {url}：{detail}。")))
        return [r for r in results if r is not None]


def start_fetch(urls: Sequence[str], settings: FetchSettings = FetchSettings()) -> StartedFetch:  # noqa: B008
    """Start the crawl of ``urls`` now, in its own process; collect it with ``.results()``.

    The child imports Scrapy itself (nothing is warmed here): the caller goes on loading what it
    needs meanwhile, on the other core.
    """
    return StartedFetch(urls, settings, warm=False)


def fetch_pages(
    urls: Sequence[str],
    settings: FetchSettings = FetchSettings(),  # noqa: B008 - frozen, safe as a default
    progress: Progress | None = None,
    meanwhile: Callable[[], object] | None = None,
    started: StartedFetch | None = None,
) -> list[FetchResult]:
    """Fetch every URL (and its qualification pages) in one crawl; results in input order.

    Never raises for a failed fetch: each failure is a ``FetchResult`` with ``error`` set.
    ``progress`` is called in the caller's process once per finished URL. ``meanwhile`` is
    called in the caller's process while the crawl runs in its own (a one-page scan readies
    its analyzers there instead of after the fetch); it is called once, even with nothing to
    fetch, and what it raises is not the fetch's concern. ``started``: the same crawl begun
    earlier by :func:`start_fetch` (used only if its URLs and settings are these).
    """
    if started is not None and not started.matches(urls, settings):
        started.discard()
        started = None
    if started is None:
        started = StartedFetch(urls, settings, warm=meanwhile is None)
    return started.results(progress, meanwhile)


def _call(meanwhile: Callable[[], object] | None) -> None:
    if meanwhile is not None:
        with contextlib.suppress(Exception):  # the work is done again, and fails there, when needed
            meanwhile()
