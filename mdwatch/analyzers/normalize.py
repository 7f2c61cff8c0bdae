"""Length-preserving text folding and evidence snippets.

``fold`` maps each character to one character (full-width → ASCII, CJK brackets → ASCII
brackets, upper → lower case), so an offset in the folded text is the same offset in the text
as it stood on the page: evidence quotes the original. Heavier, length-changing work (dropping
spaces and symbols inside words, traditional → simplified) lives in ``analyzers.evasion``.
"""

from __future__ import annotations

import re

_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_WIDTH[0x3000] = 0x20  # ideographic space
_BRACKETS = {ord(a): ord(b) for a, b in zip("〔〕【】﹝﹞〈〉［］（）", "[][][][][]()", strict=True)}
FOLD_TABLE: dict[int, int] = {**_WIDTH, **_BRACKETS}


def fold(text: str) -> str:
    """Full-width forms and CJK brackets to ASCII; same length as ``text``."""
    return text.translate(FOLD_TABLE)


_WS = re.compile(r"\s+")


def collapse_ws(text: str) -> str:
    return _WS.sub(" ", text).strip()


def snippet(text: str, start: int, end: int, width: int = 30) -> str:
    """``text[start:end]`` with ``width`` characters of context each side, on one line."""
    lo = max(0, start - width)
    hi = min(len(text), end + width)
    out = text[lo:hi].replace("\n", " ")
    return ("…" if lo > 0 else "") + out + ("…" if hi < len(text) else "")
