"""The shipped claim model scored without numpy: for a scan of a few pages.

A one-page ``mdwatch scan`` scores a few dozen sentences. Importing numpy and inflating the model
cost it more than that scoring (≈ 0.09 s and ≈ 0.07 s of a one-second scan, on its critical path:
``benchmarks/bench_scan_start.py``), so a scan reads the same arrays another way: the first time,
they are written uncompressed to the user's cache (``analyzers.buildcache.cache_dir``, ≈ 10 MB,
under the arrays' CRC-32s); from then on they are mapped from there, and the n-grams
are looked up by binary search in the sorted keys. Sweeps, which score hundreds of thousands of
sentences, keep the vectorised :class:`~mdwatch.models.claim_classifier.ClaimClassifier`.

The arithmetic is that class's (tf-idf with l2 norm, the linear decision, Platt's sigmoid), in
Python floats; the two agree to the last few bits (``tests/test_claim_model.py``), and the
shipped thresholds keep a margin above every training sentence's probability that is far wider
than that (``claim_training.guard_floors``).
"""

from __future__ import annotations

import ast
import contextlib
import json
import math
import mmap
import os
import sys
import tempfile
import zipfile
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["LightClaimScorer", "load_light_claim_model"]

_CACHE_ENV = "MDWATCH_BUILD_CACHE"  # "0": no cache (the arrays are inflated in memory each time)


class LightClaimScorer:
    """Calibrated claim-class probabilities, as ``ClaimClassifier.probabilities`` gives them."""

    def __init__(self, header: dict[str, Any], keys: Sequence[int], idf: Sequence[float], coef: Sequence[float],
                 intercept: Sequence[float], calib_a: Sequence[float], calib_b: Sequence[float],
                 keep: object = None) -> None:
        self.classes: tuple[str, ...] = tuple(header["classes"])
        self.thresholds: dict[str, float] = {str(k): float(v) for k, v in header["thresholds"].items()}
        self.sublinear_tf = bool(header["sublinear_tf"])
        self.ngram_range = (int(header["ngram_range"][0]), int(header["ngram_range"][1]))
        self._keys, self._idf, self._coef = keys, idf, coef  # coef: (features × classes), row-major
        self._intercept, self._a, self._b = list(intercept), list(calib_a), list(calib_b)
        self._keep = keep  # the mapping the arrays live in
        self.features = len(keys)

    def probabilities(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._one(t) for t in texts]

    def _one(self, text: str) -> list[float]:
        k = len(self.classes)
        counts = self._counts(text)
        scores = list(self._intercept)
        if counts:
            cols = sorted(counts)
            vals = []
            for col in cols:
                tf = float(counts[col])
                if self.sublinear_tf:
                    tf = math.log(tf) + 1.0
                vals.append(tf * self._idf[col])
            norm = math.sqrt(math.fsum(v * v for v in vals))
            coef = self._coef
            for j in range(k):
                total = math.fsum(v * coef[col * k + j] for col, v in zip(cols, vals, strict=True))
                scores[j] += total / norm
        return [1.0 / (1.0 + math.exp(a * s + b)) for a, s, b in zip(self._a, scores, self._b, strict=True)]

    def _counts(self, text: str) -> dict[int, int]:
        """Feature column → occurrences, for every n-gram of ``text`` the model knows."""
        cps = [min(ord(c), 0xFFFF) for c in text.replace("\0", "")]
        lo, hi = self.ngram_range
        keys, size = self._keys, self.features
        counts: dict[int, int] = {}
        for i in range(len(cps)):
            key = 0
            for j in range(min(hi, len(cps) - i)):
                key |= cps[i + j] << (16 * (3 - j))
                if j + 1 < lo:
                    continue
                col = bisect_left(keys, key)
                if col < size and keys[col] == key:
                    counts[col] = counts.get(col, 0) + 1
        return counts


def _npy_header(raw: bytes) -> tuple[dict[str, Any], int]:
    """The header of an ``.npy`` file (format versions 1–3) and where its data starts."""
    if raw[:6] != b"\x93NUMPY":
        raise ValueError("not an .npy array")
    size_len = 2 if raw[6] == 1 else 4
    header_len = int.from_bytes(raw[8 : 8 + size_len], "little")
    start = 8 + size_len
    header = ast.literal_eval(raw[start : start + header_len].decode("latin1"))
    return header, start + header_len


def _npy(raw: bytes) -> tuple[str, tuple[int, ...], memoryview]:
    """(dtype, shape, data) of an ``.npy`` file's bytes (C order)."""
    header, data = _npy_header(raw)
    if header.get("fortran_order"):
        raise ValueError("Fortran-ordered array")
    return str(header["descr"]), tuple(header["shape"]), memoryview(raw)[data:]


_PARTS = (("keys", "<u8"), ("idf", "<f8"), ("coef", "<f4"))  # the large arrays, in the cache file in this order
_SMALL = ("intercept", "calib_a", "calib_b")  # float64, one value per class


def _raw(zf: zipfile.ZipFile, name: str, descr: str) -> bytes:
    """The data bytes of the array ``name`` in the model file, which must be of type ``descr``."""
    got, _shape, data = _npy(zf.read(f"{name}.npy"))
    if got != descr:
        raise ValueError(f"{name}: dtype {got}")
    return bytes(data)


def _cache_file(key: str) -> Path | None:
    """Where the large arrays of the model with content ``key`` are kept (None: no cache)."""
    from mdwatch.analyzers.buildcache import cache_dir

    if os.environ.get(_CACHE_ENV, "1") == "0":
        return None
    return cache_dir() / f"claim-model-{key}.bin"


def _write_cache(target: Path, large: dict[str, bytes]) -> bool:
    """Write the large arrays to ``target`` whole or not at all (parallel scans never map half a file)."""
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".claim-model-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                for name, _descr in _PARTS:
                    fh.write(large[name])
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return True
    return False


def load_light(path: Path) -> LightClaimScorer:
    """The model at ``path`` for scoring without numpy (its large arrays mapped from the cache)."""
    if sys.byteorder != "little":  # the file's arrays are little-endian; the numpy model reads them there
        raise ValueError("big-endian machine")
    with zipfile.ZipFile(path) as zf:
        header = json.loads(zf.read("header.json").decode("utf-8"))
        intercept, calib_a, calib_b = (list(array("d", _raw(zf, name, "<f8"))) for name in _SMALL)
        # the cache file is named by the large arrays' CRC-32s (the zip directory holds them): a
        # retrained model never maps another model's arrays
        key = "-".join(f"{zf.getinfo(f'{name}.npy').CRC:08x}" for name, _descr in _PARTS)
        with zf.open("keys.npy") as fh:  # the header only: how many features the cache must hold
            features = int(_npy_header(fh.read(256))[0]["shape"][0])
        classes = len(header["classes"])
        target = _cache_file(key)
        if target is None or not (target.is_file() and target.stat().st_size == features * (16 + 4 * classes)):
            # no cache yet, none wanted, or a file that is not this model's
            large = {name: _raw(zf, name, descr) for name, descr in _PARTS}
            if target is None or not _write_cache(target, large):  # the arrays as inflated
                return LightClaimScorer(header, array("Q", large["keys"]), array("d", large["idf"]),
                                        array("f", large["coef"]), intercept, calib_a, calib_b)
    with target.open("rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(mapped)
    keys = view[: 8 * features].cast("Q")
    idf = view[8 * features : 16 * features].cast("d")
    coef = view[16 * features : (16 + 4 * classes) * features].cast("f")
    return LightClaimScorer(header, keys, idf, coef, intercept, calib_a, calib_b, keep=mapped)


@cache
def load_light_claim_model() -> LightClaimScorer | None:
    """The shipped model for scoring without numpy, loaded once per process; None without one."""
    from mdwatch.models.claim_classifier import model_path

    path = model_path()
    if not path.is_file():
        return None
    try:
        return load_light(path)
    except (KeyError, ValueError, OSError, SyntaxError):  # a file in another layout: the numpy model reads it
        return None
