"""Punctuation-blind phrase presence, for mandated wordings (warnings) and labels."""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from functools import cache

from mdwatch.analyzers.normalize import FOLD_TABLE


@cache
def _squash_table() -> dict[int, int | None]:
    """Full-width → ASCII, and whitespace, punctuation, symbols and controls deleted (BMP)."""
    table: dict[int, int | None] = dict(FOLD_TABLE)
    for cp in range(min(sys.maxunicode, 0xFFFF) + 1):
        if unicodedata.category(chr(cp))[0] in "ZPSC" or chr(cp) == "_":
            table[cp] = None
    for src, dst in FOLD_TABLE.items():  # a full-width form of punctuation is punctuation too
        if table.get(dst, dst) is None:
            table[src] = None
    return table


def squash(text: str) -> str:
    """Text without whitespace and punctuation, full-width folded: for wording comparison."""
    return text.translate(_squash_table())


Forms = tuple[tuple[str, ...], ...]


def compile_forms(forms: Iterable[Mapping[str, Sequence[str]]]) -> Forms:
    """Accepted wordings (``[{"all_of": [fragment, …]}, …]`` as in the lexicons), squashed once."""
    return tuple(tuple(squash(frag) for frag in form["all_of"]) for form in forms)


def has_any_form(squashed_text: str, forms: Forms) -> bool:
    """True when every fragment of at least one accepted form occurs in ``squashed_text``."""
    return any(all(frag in squashed_text for frag in form) for form in forms)


class LazySquash:
    """A text whose squashed form is computed only when a verbatim search fails.

    Most pages carry a mandated wording verbatim; only the others pay for squashing.
    """

    __slots__ = ("_squashed", "raw")

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self._squashed: str | None = None

    def has_any_form(self, forms: Forms) -> bool:
        if has_any_form(self.raw, forms):
            return True
        if self._squashed is None:
            self._squashed = squash(self.raw)
        return has_any_form(self._squashed, forms)
