"""A report as a document in one of :data:`FORMATS`, in memory or written to a file."""

from __future__ import annotations

import json
from pathlib import Path

from .html_render import render_html
from .model import Report
from .xlsx_render import render_xlsx

FORMATS = ("html", "xlsx", "json")


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), ensure_ascii=False, indent=2)


def render(report: Report, fmt: str) -> bytes:
    """The report in ``fmt`` (html, xlsx, json) as bytes (text formats UTF-8)."""
    if fmt == "html":
        return render_html(report).encode("utf-8")
    if fmt == "json":
        return render_json(report).encode("utf-8")
    if fmt == "xlsx":
        return render_xlsx(report)
    raise ValueError(f"unknown report format: {fmt!r}")


def write_report(report: Report, fmt: str, path: Path | str) -> Path:
    """Write the report to ``path`` (atomically: a ``.part`` file renamed into place)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(render(report, fmt))
    tmp.replace(target)
    return target
