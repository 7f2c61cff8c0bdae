"""The HTML report, from the Jinja2 templates of ``mdwatch/scheduler/templates/``.

The same environment renders the notification e-mails (``notify.py``).
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, select_autoescape

from .labels import SEVERITY_ZH
from .model import Report


@cache
def template_env() -> Environment:
    """The Jinja2 environment of mdwatch's report and notification templates (autoescape on)."""
    return Environment(
        # named by package, not by this module's location: the templates stay in mdwatch/scheduler/
        loader=PackageLoader("mdwatch.scheduler", "templates"),
        # HTML templates (*.html.j2) are autoescaped; plain-text ones (*.txt.j2, e-mail bodies) are not
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml", "html.j2", "xml.j2"),
                                     default_for_string=True, default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(report: Report) -> str:
    return template_env().get_template("report.html.j2").render(report=report, severity_zh=SEVERITY_ZH)
