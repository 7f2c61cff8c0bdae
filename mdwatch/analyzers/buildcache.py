"""A per-user cache of structures built from the lexicons (automata, variant tables).

Building the claim automaton means importing pypinyin (its phrase dictionary alone takes a
quarter of a second) and generating every term's evasion variants: most of what a one-page
``mdwatch scan`` costs after the fetch. The result only changes when its inputs do, so it is
kept, pickled, in the user's cache directory under a digest of everything it is built from: the
lexicon files, the source of the modules that build it, the versions of the libraries they use
and of Python. A changed lexicon or builder gives a new digest and a fresh build; a cache that
cannot be read or written (a read-only home, a truncated file) only costs the build.

``MDWATCH_CACHE_DIR`` moves the cache; ``MDWATCH_BUILD_CACHE=0`` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar, cast

from mdwatch import __version__
from mdwatch.lexicons import read_text

__all__ = ["cache_dir", "cached_build"]

_T = TypeVar("_T")


def cache_dir() -> Path:
    explicit = os.environ.get("MDWATCH_CACHE_DIR")
    if explicit:
        return Path(explicit)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mdwatch")) / "built"


def _module_bytes(name: str) -> bytes:
    spec = importlib.util.find_spec(name)
    origin = spec.origin if spec is not None else None
    if not origin or not os.path.isfile(origin):
        return name.encode()
    return Path(origin).read_bytes()


def _digest(name: str, lexicons: Iterable[str], modules: Iterable[str]) -> str:
    h = hashlib.sha256(f"{name}\0{__version__}\0{sys.version}\0".encode())
    for lexicon in sorted(lexicons):
        h.update(lexicon.encode() + b"\0" + read_text(lexicon).encode("utf-8") + b"\0")
    for module in sorted(modules):
        h.update(module.encode() + b"\0" + _module_bytes(module) + b"\0")
    return h.hexdigest()[:32]


def cached_build(name: str, build: Callable[[], _T], *, lexicons: Iterable[str], modules: Iterable[str]) -> _T:
    """``build()``, or the copy kept from an earlier process with the same inputs.

    ``lexicons`` are data files of :mod:`mdwatch.lexicons` the build reads; ``modules`` the
    modules whose code (or, for libraries, whose version module) decides its result.
    """
    if os.environ.get("MDWATCH_BUILD_CACHE", "1") == "0":
        return build()
    try:
        path = cache_dir() / f"{name}-{_digest(name, lexicons, modules)}.pickle"
    except OSError:
        return build()
    # missing, truncated or from another build: build it again
    with contextlib.suppress(Exception), path.open("rb") as fh:
        return cast(_T, pickle.load(fh))
    built = build()
    with contextlib.suppress(OSError, pickle.PicklingError):
        path.parent.mkdir(parents=True, exist_ok=True)
        # written whole under a temporary name, then renamed: parallel processes never read half
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(built, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    return built
