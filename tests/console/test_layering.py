"""The console is a consumer: it uses the application layer (``scheduler``), storage and the
analyzers' data, never the crawler directly (fetching goes through ``App.scan``), and nothing but
``mdwatch serve`` imports it. Its static files are in the package (no CDN, nothing fetched at run
time), and its templates are all autoescaped."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mdwatch"
CONSOLE = PACKAGE / "console"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_console_uses_the_application_layer_not_the_crawler() -> None:
    bad = [f"{p.relative_to(PACKAGE)} imports {n}" for p in sorted(CONSOLE.rglob("*.py")) for n in _imports(p)
           if n.startswith(("mdwatch.crawler", "mdwatch.scheduler.cli"))]
    assert not bad, bad


def test_only_the_serve_command_imports_the_console() -> None:
    users = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                   if CONSOLE not in p.parents and any(n.startswith("mdwatch.console") for n in _imports(p)))
    assert users == ["scheduler/cli/serve.py"], users


def test_scripts_and_styles_are_shipped_and_nothing_comes_from_elsewhere() -> None:
    vendor = CONSOLE / "static" / "vendor"
    for name in ("htmx.min.js", "echarts.min.js", "htmx.LICENSE", "echarts.LICENSE", "echarts.NOTICE"):
        assert (vendor / name).stat().st_size > 0, name
    for template in (CONSOLE / "templates").rglob("*.j2"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r'(src|href)="(https?:)?//', text), template  # no CDN, no remote asset
        assert "|safe" not in text and "autoescape false" not in text, template


def test_templates_are_autoescaped() -> None:
    from mdwatch.console.render import environment

    rendered = environment().from_string("{{ x }}").render(x="<script>alert(1)</script>")
    assert rendered == "&lt;script&gt;alert(1)&lt;/script&gt;"
    page = environment().get_template("fragments/error.html.j2").render(detail="<b>x</b>")
    assert "<b>" not in page
