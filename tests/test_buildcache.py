"""The per-user cache of lexicon builds: same inputs, same structure, without the build's cost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mdwatch.analyzers import buildcache

PROBE = """
import sys
from mdwatch.analyzers import claims
hits = claims.find_claims("全网最好的血压计，zui好用，三天根治高血压")
print(sorted({h.rule for h in hits}), "pypinyin" in sys.modules)
"""


def _probe(cache: Path) -> tuple[str, bool]:
    env = {**os.environ, "MDWATCH_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120,
                          check=True)
    rules, imported = proc.stdout.strip().rsplit(" ", 1)
    return rules, imported == "True"


def test_the_second_process_finds_the_same_claims_without_building(tmp_path: Path) -> None:
    first = _probe(tmp_path)
    assert first[1]  # built: pypinyin was needed for the pinyin variants
    assert list(tmp_path.glob("claims-*.pickle"))
    second = _probe(tmp_path)
    assert second == (first[0], False)


def test_other_inputs_build_again_and_a_broken_file_is_only_rebuilt(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MDWATCH_CACHE_DIR", str(tmp_path))
    calls: list[int] = []

    def build() -> dict[str, int]:
        calls.append(1)
        return {"n": len(calls)}

    first = buildcache.cached_build("t", build, lexicons=["claims/common.yaml"], modules=["mdwatch.analyzers.claims"])
    again = buildcache.cached_build("t", build, lexicons=["claims/common.yaml"], modules=["mdwatch.analyzers.claims"])
    assert first == again == {"n": 1} and len(calls) == 1
    other = buildcache.cached_build("t", build, lexicons=["claims/absolute.yaml"], modules=["mdwatch.analyzers.claims"])
    assert other == {"n": 2}
    for path in tmp_path.glob("t-*.pickle"):
        path.write_bytes(b"\x80\x05truncated")
    assert buildcache.cached_build("t", build, lexicons=["claims/common.yaml"],
                                   modules=["mdwatch.analyzers.claims"]) == {"n": 3}
    monkeypatch.setenv("MDWATCH_BUILD_CACHE", "0")
    assert buildcache.cached_build("t", build, lexicons=["claims/common.yaml"],
                                   modules=["mdwatch.analyzers.claims"]) == {"n": 4}
