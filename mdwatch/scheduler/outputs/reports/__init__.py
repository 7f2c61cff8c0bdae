"""Monitoring reports (监测报告) of runs, sweeps and campaigns: HTML, XLSX and JSON, in Chinese.

:func:`build_report` reads one or more runs from the database into a :class:`Report` (plain
dataclasses); :func:`render_html` (Jinja2 templates under ``templates/``, autoescaped),
:func:`render_xlsx` (openpyxl) and :func:`render_json` turn it into a document.

A report holds totals by rule (with the rule's title and legal article), by severity, by shop and
by platform; every page with findings, with its URL, capture time and SHA-256, a screenshot
thumbnail (from ``evidence_files``, embedded as a ``data:`` URI so the HTML opens from disk) and
its findings with their evidence snippets (the match highlighted); and the repeat offenders:
shops with findings in ``REPEAT_RUNS`` or more runs of the database up to the report's last run
(the credit file of HAINAN measures (15), 信用档案).

A sweep whose precision guard tripped (``precision_guard.py``: one rule on most pages of its
kind) puts its one-line alert with sample pages at the top of the report (``precision_alerts``).

The platform of a page is the sweep's platform profile (``runs.stats["profile"]``) when there is
one, else the host of the page's URL.

Modules: ``model`` (the dataclasses), ``source`` (database reads), ``tally`` (counts and pages),
``offenders`` (repeat offenders), ``screenshots`` (thumbnails), ``build`` (assembling a report),
``labels`` (Chinese labels, Beijing time), ``html_render``, ``xlsx_render`` and ``output``
(format choice, writing files). Import from this package, not from its modules.
"""

from __future__ import annotations

from .build import build_report
from .html_render import render_html, template_env
from .labels import RUN_KIND_ZH, SEVERITY_ORDER, SEVERITY_ZH, shanghai
from .model import Report, ReportError
from .offenders import REPEAT_RUNS
from .output import FORMATS, render, render_json, write_report
from .screenshots import thumbnail_data_uri
from .source import campaign_run_ids
from .xlsx_render import render_xlsx

__all__ = [
    "FORMATS",
    "REPEAT_RUNS",
    "RUN_KIND_ZH",
    "SEVERITY_ORDER",
    "SEVERITY_ZH",
    "Report",
    "ReportError",
    "build_report",
    "campaign_run_ids",
    "render",
    "render_html",
    "render_json",
    "render_xlsx",
    "shanghai",
    "template_env",
    "thumbnail_data_uri",
    "write_report",
]
