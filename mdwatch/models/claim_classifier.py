"""The shipped claim classifier: character n-grams → one-vs-rest linear model → calibrated probabilities.

Trained with scikit-learn by ``mdwatch model train`` (``mdwatch.models.claim_training``), shipped
as plain arrays in ``claim_model.npz`` (the n-gram keys, idf, coefficients, intercepts, the Platt
sigmoid of each class, the per-class thresholds and the model card's figures). Scoring needs numpy
only: a scan never imports scikit-learn (its import costs seconds) and loading runs no pickle.
The arithmetic is scikit-learn's (``TfidfVectorizer`` with l2 norm, ``decision_function``,
``_SigmoidCalibration``); ``tests/test_claim_model.py`` checks both give the same probabilities.

Inputs are sentences already normalised the way the claim analyzer reads text
(``mdwatch.analyzers.claim_model.model_text``); this module does no text processing of its own
beyond cutting n-grams, so training and scanning cannot drift apart.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CLASSES", "MODEL_FILE", "ClaimClassifier", "char_ngrams", "load_claim_model", "model_path", "ngram_keys"]

#: the claim classes, in the order of the model's columns
CLASSES: tuple[str, ...] = ("guarantee", "absolute", "endorsement", "comparative", "disease")
MODEL_FILE = "claim_model.npz"
NGRAM_RANGE = (1, 4)
_ARRAYS = ("keys", "idf", "coef", "intercept", "calib_a", "calib_b")


def char_ngrams(text: str, lo: int = NGRAM_RANGE[0], hi: int = NGRAM_RANGE[1]) -> list[str]:
    """Every character n-gram of ``text`` with ``lo <= n <= hi`` (the vectorizer's analyzer)."""
    size = len(text)
    return [text[i : i + n] for n in range(lo, min(hi, size) + 1) for i in range(size - n + 1)]


def ngram_keys(grams: np.ndarray) -> np.ndarray:
    """One 64-bit key per n-gram (an array of strings of at most 4 characters): the code points
    packed left-aligned, 16 bits each (a character beyond the BMP counts as U+FFFF; no character
    of a text is U+0000, so keys of different n-grams differ)."""
    import numpy as np

    width = grams.dtype.itemsize // 4
    cps = np.ascontiguousarray(grams).view(np.uint32).reshape(len(grams), width).astype(np.uint64)
    cps = np.minimum(cps, 0xFFFF)
    keys = np.zeros(len(grams), dtype=np.uint64)
    for j in range(min(width, 4)):
        keys |= cps[:, j] << np.uint64(16 * (3 - j))
    return keys


_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing multiplier


@dataclass(frozen=True, slots=True)
class _KeyTable:
    """Open addressing with linear probing over 64-bit n-gram keys, looked up a whole array at a
    time: a few gathers per query instead of a binary search's seventeen dependent reads."""

    keys: np.ndarray  # (slots,) uint64; 0 = empty (no n-gram key is 0)
    columns: np.ndarray  # (slots,) int64; the feature column of the key in the slot, -1 when empty
    shift: int
    max_probe: int

    @classmethod
    def build(cls, keys: np.ndarray) -> _KeyTable:
        import numpy as np

        bits = max(8, len(keys).bit_length() + 1)  # at most half full
        size = 1 << bits
        table = np.zeros(size, dtype=np.uint64)
        columns = np.full(size, -1, dtype=np.int64)
        shift = 64 - bits
        home = cls._hash(keys, shift).astype(np.int64)
        # inserted in the order of their home slots, each key takes its home or the slot after the
        # previous key's, whichever is later: pos[i] = i + max(home[j] - j, j <= i), in one pass
        order = np.argsort(home, kind="stable")
        ranks = np.arange(len(keys))
        pos = ranks + np.maximum.accumulate(home[order] - ranks) if len(keys) else ranks
        if not len(keys) or pos[-1] < size:  # no cluster runs past the end (else: probe as below)
            table[pos] = keys[order]
            columns[pos] = order
            longest = int((pos - home[order]).max()) if len(keys) else 0
            return cls(table, columns, shift, longest + 1)
        pending = np.arange(len(keys))
        slots = cls._hash(keys, shift)
        probe = 0
        while len(pending):
            free = table[slots] == 0
            # of the keys that want one free slot, the first takes it; the others probe on
            cand_slots, first = np.unique(slots[free], return_index=True)
            winners = np.flatnonzero(free)[first]
            table[cand_slots] = keys[pending[winners]]
            columns[cand_slots] = pending[winners]
            placed = np.zeros(len(pending), dtype=bool)
            placed[winners] = True
            pending = pending[~placed]
            slots = (slots[~placed] + 1) & (size - 1)
            probe += 1 if len(pending) else 0
        return cls(table, columns, shift, probe + 1)

    @staticmethod
    def _hash(keys: np.ndarray, shift: int) -> np.ndarray:
        import numpy as np

        return (keys * np.uint64(_GOLDEN)) >> np.uint64(shift)  # wraps modulo 2**64 by design

    def lookup(self, queries: np.ndarray) -> np.ndarray:
        """The feature column of each query key, -1 where the vocabulary lacks it."""
        import numpy as np

        out = np.full(len(queries), -1, dtype=np.int64)
        todo = np.arange(len(queries))
        slots = self._hash(queries, self.shift)
        mask = np.uint64(len(self.keys) - 1)
        for _ in range(self.max_probe):
            found = self.keys[slots]
            hit = found == queries[todo]
            out[todo[hit]] = self.columns[slots[hit]]
            more = ~hit & (found != 0)
            if not more.any():
                break
            todo, slots = todo[more], (slots[more] + np.uint64(1)) & mask
        return out


@dataclass(frozen=True, eq=False)
class ClaimClassifier:
    """Calibrated one-vs-rest probabilities of the claim classes for normalised sentences."""

    classes: tuple[str, ...]
    keys: np.ndarray  # the n-gram of each feature column as its 64-bit key (``ngram_keys``)
    idf: np.ndarray  # (features,)
    coef: np.ndarray  # (features, classes)
    intercept: np.ndarray  # (classes,)
    calib_a: np.ndarray  # Platt sigmoid per class: p = 1 / (1 + exp(a * decision + b))
    calib_b: np.ndarray
    thresholds: dict[str, float]  # per class, chosen on the development split (model card)
    sublinear_tf: bool = False
    ngram_range: tuple[int, int] = NGRAM_RANGE
    meta: dict[str, Any] = field(default_factory=dict)  # data, split, metrics: the model card's source
    # the vocabulary as an open-addressing hash table of n-gram keys (derived once, at load)
    _table: _KeyTable = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_table", _KeyTable.build(self.keys))

    @property
    def features(self) -> int:
        return len(self.keys)

    def _features(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every n-gram occurrence of ``texts`` found in the vocabulary.

        Vectorised: the texts' code points in one array (U+0000 between texts), the n-grams of every
        size as packed keys over shifted views, one ``searchsorted`` against the vocabulary's keys.
        """
        import numpy as np

        joined = "\0".join(t.replace("\0", "") for t in texts) + "\0"
        cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        cps = np.minimum(cps, 0xFFFF)
        size = len(cps)
        padded = np.concatenate([cps, np.zeros(3, dtype=np.uint64)])
        row_of = np.repeat(np.arange(len(texts)), [len(t.replace("\0", "")) + 1 for t in texts])
        lo, hi = self.ngram_range
        key = np.zeros(size, dtype=np.uint64)
        ok = np.ones(size, dtype=bool)
        starts: list[np.ndarray] = []
        keys: list[np.ndarray] = []
        for j in range(hi):
            part = padded[j : j + size]
            key |= part << np.uint64(16 * (3 - j))
            ok &= part != 0
            if j + 1 < lo:
                continue
            at = np.flatnonzero(ok)
            if not len(at):
                break
            starts.append(at)
            keys.append(key[at])  # a copy: ``key`` grows by one code point per size
        if not keys:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        # every size looked up at once: a page has few sentences, and each look-up is a dozen numpy calls
        at = np.concatenate(starts)
        col = self._table.lookup(np.concatenate(keys))
        hit = col >= 0
        return row_of[at[hit]], col[hit]

    def decision(self, texts: Sequence[str]) -> np.ndarray:
        """The linear model's decision values, shape (len(texts), classes)."""
        import numpy as np

        out = np.tile(self.intercept, (len(texts), 1))
        rows, cols = self._features(texts)
        if not len(cols):
            return out
        # term counts per (sentence, feature): one sort of the pairs instead of a Counter per sentence
        features = len(self.idf)
        uniq, counts = np.unique(rows.astype(np.int64) * features + cols, return_counts=True)
        r, c = np.divmod(uniq, features)
        tf = counts.astype(np.float64)
        if self.sublinear_tf:
            tf = np.log(tf) + 1.0
        val = tf * self.idf[c]
        starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        norms = np.sqrt(np.add.reduceat(val * val, starts))
        scores = np.add.reduceat(val[:, None] * self.coef[c], starts, axis=0)
        out[r[starts]] += scores / norms[:, None]
        return out

    def probabilities(self, texts: Sequence[str]) -> list[list[float]]:
        """Calibrated probability of every class for every text (rows in ``texts`` order)."""
        import numpy as np

        if not texts:
            return []
        dec = self.decision(texts)
        proba: np.ndarray = 1.0 / (1.0 + np.exp(self.calib_a * dec + self.calib_b))
        return proba.tolist()

    # --- the file ----------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the model as an ``.npz`` whose bytes depend on the model only (fixed zip times,
        sorted entries), so that retraining on the same data reproduces the same file."""
        import numpy as np

        arrays: dict[str, np.ndarray] = {
            "keys": self.keys,  # the n-grams as the scorer looks them up (no conversion at load)
            "idf": self.idf.astype(np.float64),
            "coef": self.coef.astype(np.float32),
            "intercept": self.intercept.astype(np.float64),
            "calib_a": self.calib_a.astype(np.float64),
            "calib_b": self.calib_b.astype(np.float64),
        }
        header = {
            "classes": list(self.classes),
            "thresholds": {k: self.thresholds[k] for k in self.classes},
            "sublinear_tf": self.sublinear_tf,
            "ngram_range": list(self.ngram_range),
            "meta": self.meta,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(arrays):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, arrays[name], allow_pickle=False)
                zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue(),
                            compress_type=zipfile.ZIP_DEFLATED)
            raw = json.dumps(header, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
            zf.writestr(zipfile.ZipInfo("header.json", date_time=(1980, 1, 1, 0, 0, 0)), raw,
                        compress_type=zipfile.ZIP_DEFLATED)

    @classmethod
    def load(cls, source: Path | Any) -> ClaimClassifier:
        """Read a model written by :meth:`save` (a path or a readable binary file)."""
        import numpy as np

        with zipfile.ZipFile(source) as zf:
            header = json.loads(zf.read("header.json").decode("utf-8"))
            names = set(zf.namelist())
            arrays = {name: np.lib.format.read_array(io.BytesIO(zf.read(f"{name}.npy")), allow_pickle=False)
                      for name in _ARRAYS if f"{name}.npy" in names}
            if "keys" not in arrays:  # a model written before the keys were shipped: the n-grams as text
                vocabulary = np.lib.format.read_array(io.BytesIO(zf.read("vocabulary.npy")), allow_pickle=False)
                arrays["keys"] = ngram_keys(vocabulary)
        return cls(
            classes=tuple(header["classes"]),
            keys=arrays["keys"],
            idf=arrays["idf"],
            coef=arrays["coef"],  # float32 as shipped; the scoring multiplies it into float64
            intercept=arrays["intercept"],
            calib_a=arrays["calib_a"],
            calib_b=arrays["calib_b"],
            thresholds={str(k): float(v) for k, v in header["thresholds"].items()},
            sublinear_tf=bool(header["sublinear_tf"]),
            ngram_range=(int(header["ngram_range"][0]), int(header["ngram_range"][1])),
            meta=dict(header.get("meta") or {}),
        )


def model_path() -> Path:
    """Where the shipped model lives (package data of ``mdwatch.models``)."""
    return Path(str(resources.files("mdwatch.models").joinpath(MODEL_FILE)))


@cache
def load_claim_model() -> ClaimClassifier | None:
    """The shipped model, loaded once per process; None when the package carries none."""
    path = model_path()
    if not path.is_file():
        return None
    return ClaimClassifier.load(path)

