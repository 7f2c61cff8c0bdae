"""The shape the code keeps: layers that never import each other, a small application layer,
shared options declared once, storage checked against its protocols."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mdwatch"

# layer → the layers it must never import (shared/DESIGN.md: crawler, analyzers and storage are
# independent; the application layer, scheduler/, composes them)
FORBIDDEN = {
    "analyzers": ("mdwatch.crawler", "mdwatch.storage", "mdwatch.scheduler"),
    "storage": ("mdwatch.analyzers", "mdwatch.crawler", "mdwatch.scheduler"),
    "crawler": ("mdwatch.analyzers", "mdwatch.storage", "mdwatch.scheduler"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_do_not_import_each_other(layer: str) -> None:
    bad = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name in sorted(_imports(path))
        if name.startswith(FORBIDDEN[layer])
    ]
    assert not bad, bad


def test_application_layer_modules_and_functions_stay_small() -> None:
    too_big: list[str] = []
    for path in sorted((PACKAGE / "scheduler").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > 400:
            too_big.append(f"{path.relative_to(PACKAGE)}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    too_big.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: {length} lines")
    assert not too_big, too_big


def test_shared_options_are_declared_once() -> None:
    from mdwatch.scheduler.settings import SETTINGS

    for setting in SETTINGS.values():
        declared = [
            str(path.relative_to(PACKAGE))
            for path in sorted((PACKAGE / "scheduler").rglob("*.py"))
            if f'"{setting.flag}"' in path.read_text(encoding="utf-8")
        ]
        assert declared == ["scheduler/settings.py"], (setting.flag, declared)


def test_every_command_takes_shared_options_from_the_settings() -> None:
    """Each --db of the command tree is the settings' option (same parameter, variable, help)."""
    import click

    from mdwatch.scheduler.cli import cli
    from mdwatch.scheduler.settings import SETTINGS

    def walk(command: click.Command, path: str) -> list[tuple[str, click.Parameter]]:
        out = [(path, p) for p in command.params]
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                out.extend(walk(sub, f"{path} {name}"))
        return out

    by_flag = {s.flag: s for s in SETTINGS.values()}
    checked = 0
    for path, param in walk(cli, "mdwatch"):
        flags = [o for o in getattr(param, "opts", []) if o in by_flag]
        for flag in flags:
            setting = by_flag[flag]
            assert param.name == setting.param and getattr(param, "help", None) == setting.help, (path, flag)
            checked += 1
    assert checked >= 15


def test_storage_implements_its_protocols() -> None:
    from mdwatch.storage import interfaces
    from mdwatch.storage.history import HistoryStore
    from mdwatch.storage.images import ImageStore
    from mdwatch.storage.registry_store import RegistryStore
    from mdwatch.storage.store import Store

    pairs = [(interfaces.RunStore, Store), (interfaces.RegistryReader, RegistryStore),
             (interfaces.SnapshotStore, HistoryStore), (interfaces.ImageCache, ImageStore)]
    for protocol, implementation in pairs:
        for name, member in vars(protocol).items():
            if name.startswith("_") or not callable(member):
                continue
            impl = getattr(implementation, name, None)
            assert impl is not None, f"{implementation.__name__} lacks {name}"
            want = list(inspect.signature(member).parameters)
            have = list(inspect.signature(impl).parameters)
            assert have[: len(want)] == want, (implementation.__name__, name, want, have)


def test_records_crossing_the_layers_are_defined_once() -> None:
    from mdwatch.analyzers.model import ListingSnapshot, Registration
    from mdwatch.records import ListingSnapshot as SharedSnapshot
    from mdwatch.records import Registration as SharedRegistration
    from mdwatch.storage.registry_store import RegistrationRecord

    assert Registration is SharedRegistration is RegistrationRecord
    assert ListingSnapshot is SharedSnapshot


# the application layer's roles, each importing only those after it (cli → app → service, jobs →
# outputs → pipeline → settings, params)
ROLE_ORDER = ("cli", "app", "schedules", "service", "jobs", "outputs", "pipeline", "settings", "params")


def test_application_roles_import_one_way() -> None:
    bad: list[str] = []
    for path in sorted((PACKAGE / "scheduler").rglob("*.py")):
        rel = path.relative_to(PACKAGE / "scheduler")
        role = rel.parts[0].removesuffix(".py")
        if role not in ROLE_ORDER:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mdwatch.scheduler."):
                target = node.module.split(".")[2]
                if target in ROLE_ORDER and target != role and ROLE_ORDER.index(target) < ROLE_ORDER.index(role):
                    bad.append(f"{rel} imports {node.module}")
    assert not bad, bad
