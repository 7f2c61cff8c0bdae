"""jieba, imported without ``pkg_resources``.

jieba finds its data files through ``pkg_resources`` when that imports, and falls back to paths
next to its own modules when it does not. Importing ``pkg_resources`` scans every installed
distribution: 0.12 s of CPU, a tenth of a one-page scan's start and of each sweep worker's, spent
to locate files whose paths jieba knows anyway (and setuptools now warns that the module is
deprecated). So jieba is imported while ``pkg_resources`` is marked unimportable, unless something
else imported it already.
"""

from __future__ import annotations

import sys
from types import ModuleType

__all__ = ["load_jieba"]


def load_jieba() -> ModuleType:
    """The ``jieba`` module (imported on the first call)."""
    loaded = sys.modules.get("jieba")
    if loaded is not None:
        return loaded
    block = "pkg_resources" not in sys.modules
    if block:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import jieba
    finally:
        if block and sys.modules.get("pkg_resources", ...) is None:
            del sys.modules["pkg_resources"]
    return jieba
