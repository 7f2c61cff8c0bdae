"""Reviewable data files (word lists, warning texts, rule catalogue) and their loader.

Every file here carries a provenance note in its header. Logic lives in ``mdwatch.analyzers``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


def read_text(name: str) -> str:
    """The text of a data file in this package, e.g. ``read_text("claims/absolute.yaml")``."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


#: libyaml's parser when PyYAML was built with it (ten times faster: the lexicons are most of
#: what a one-page scan parses); the same safe subset either way
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def load_yaml(name: str) -> Any:
    """Parse a YAML data file of this package (cached: files are read once per process)."""
    return yaml.load(read_text(name), Loader=_SAFE_LOADER)
