"""Punctuation-blind phrase presence, for mandated wordings (warnings) and labels."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from mdwatch.analyzers.normalize import fold

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def squash(text: str) -> str:
    """Text without whitespace and punctuation, full-width folded: for wording comparison."""
    return _NOISE.sub("", fold(text))


def has_any_form(squashed_text: str, forms: Iterable[Mapping[str, Sequence[str]]]) -> bool:
    """True when every fragment of at least one accepted form occurs in ``squashed_text``."""
    return any(all(squash(frag) in squashed_text for frag in form["all_of"]) for form in forms)
