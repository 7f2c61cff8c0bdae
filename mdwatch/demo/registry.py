"""The demo platform's registration database: a CSV export and a UDID XML shard (package data).

``make demo`` and the evaluation import these files before scanning the demo platform so the
registry rules (PRODUCT_UNREGISTERED, PRODUCT_REG_INVALID_STATUS, PRODUCT_INFO_MISMATCH,
CLAIM_SCOPE_EXCEEDED) have something to look numbers up in. The labels in
``tests/corpus/pages.yaml`` assume these records are loaded. The data is synthetic.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

REGISTRY_FILES: tuple[str, ...] = ("demo_registry.csv", "demo_udid.xml")


def registry_paths() -> list[Path]:
    """Paths of the demo registry files (CSV first, then UDID XML), in import order."""
    root = resources.files("mdwatch.demo").joinpath("registry")
    return [Path(str(root.joinpath(name))) for name in REGISTRY_FILES]
