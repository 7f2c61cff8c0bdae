"""One URL per listing: what a sweep requests, deduplicates and counts.

``canonical_url`` drops the fragment and the tracking parameters of ``lexicons/tracking_params.yaml``
(names compared case-insensitively; names or prefixes of a profile added to them), sorts the
remaining parameters by name (a stable sort: repeated names keep their order) and lower-cases the
scheme and host. Nothing else of the URL changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mdwatch.lexicons import load_yaml

__all__ = ["canonical_url"]


@cache
def _tracking() -> tuple[frozenset[str], tuple[str, ...]]:
    data = load_yaml("tracking_params.yaml")
    return (frozenset(str(n).lower() for n in data.get("names") or ()),
            tuple(str(p).lower() for p in data.get("prefixes") or ()))


def _tracked(name: str, extra: frozenset[str]) -> bool:
    names, prefixes = _tracking()
    key = name.lower()
    return key in names or key in extra or key.startswith(prefixes)


def canonical_url(url: str, extra_params: Iterable[str] = ()) -> str:
    """``url`` without its fragment and tracking parameters, its parameters in name order."""
    parts = urlsplit(url)
    extra = frozenset(p.lower() for p in extra_params)
    query = ""
    if parts.query:
        kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _tracked(k, extra)]
        kept.sort(key=lambda kv: kv[0])
        query = urlencode(kept, doseq=False)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, query, ""))
