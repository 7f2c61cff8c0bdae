"""The docs describe the system as built: every command, option, shared setting, rule pack and
JSON field is in docs/ (Datasette-style documentation tests). ``python -m devtools.docs``
regenerates the reference pages."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from devtools.docs import command_paths

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize(("path", "command"), command_paths()[1:], ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_and_option_is_documented(path: str, command: click.Command) -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert f"## `{path}`" in text, f"{path} missing from docs/cli.md (python -m devtools.docs)"
    section = text.split(f"## `{path}`", 1)[1].split("\n## ", 1)[0]
    for param in command.params:
        if isinstance(param, click.Option):
            for flag in param.opts:
                assert f"`{flag}`" in section, f"{path} {flag} missing from docs/cli.md"


def test_every_setting_is_documented() -> None:
    from mdwatch.scheduler.settings import SETTINGS

    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    for s in SETTINGS.values():
        assert f"`{s.flag}`" in text
        if s.envvar:
            assert f"`{s.envvar}`" in text


def test_every_pack_and_its_rules_are_documented() -> None:
    from mdwatch.analyzers.packs import load_pack, pack_names

    text = (DOCS / "packs.md").read_text(encoding="utf-8")
    for name in pack_names():
        assert f"## `{name}`" in text
        section = text.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
        for rule in load_pack(name).rules:
            assert f"`{rule}`" in section, (name, rule)


def test_every_json_field_is_documented() -> None:
    from mdwatch.analyzers.extract import extract_page
    from mdwatch.analyzers.model import Evidence, Finding
    from mdwatch.crawler.capture import Capture
    from mdwatch.scheduler.pipeline import ScanOutcome, extracted_json, make_context, outcome_json

    page = extract_page("http://127.0.0.1/p.html", "<title>t</title><p>型号：A1</p>".encode())
    capture = Capture.__new__(Capture)
    for name, value in {"url": page.url, "final_url": page.url, "status": 200, "headers": {}, "body": b"",
                        "sha256": "0" * 64, "fetched_at": make_context().now, "method": "GET",
                        "encoding": "utf-8"}.items():
        object.__setattr__(capture, name, value)
    finding = Finding("PRODUCT_REGNO_MISSING", "high", "GSP-NET 13", "m", (Evidence("text", "s"),))
    doc = outcome_json(ScanOutcome(url=page.url, capture=capture, page=page, findings=(finding,),
                                   extracted=extracted_json(page, make_context())))
    text = (DOCS / "json.md").read_text(encoding="utf-8")
    keys = set(doc) | set(doc["extracted"]) | set(doc["findings"][0]) | {"registry", "images_read", "via_browser"}
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert not missing, missing
