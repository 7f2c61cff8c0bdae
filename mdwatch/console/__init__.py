"""mdwatch.console: 监测工作台, the web console and its JSON API (``mdwatch serve``).

A consumer of the application layer: it takes the CLI's application object
(``scheduler.app.build_app``) and reads and writes through ``scheduler`` jobs and ``storage``
repositories; nothing in ``crawler``, ``analyzers`` or ``storage`` knows about it.

Modules: ``factory`` (the ASGI app), ``core`` (services shared by the routes), ``auth`` (sessions,
API tokens, roles, CSRF), ``render`` (Jinja2 templates), ``jobs`` (on-demand scans), ``ops`` (one
module per area: what a page and its JSON twin both do), ``pages`` and ``api`` (the routes),
``templates/`` and ``static/`` (htmx and Apache ECharts shipped in ``static/vendor/``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ConsoleSettings", "create_console"]

if TYPE_CHECKING:
    from mdwatch.console.core import ConsoleSettings
    from mdwatch.console.factory import create_console


def __getattr__(name: str) -> Any:  # FastAPI and Jinja2 load only when the console is used
    if name == "create_console":
        from mdwatch.console.factory import create_console

        return create_console
    if name == "ConsoleSettings":
        from mdwatch.console.core import ConsoleSettings

        return ConsoleSettings
    raise AttributeError(name)
