"""Claim classifier throughput on one core: sentences per second (target ≥ 5,000).

Scores the labelled sentences (``mdwatch/models/data/claims``) as the claim analyzer does:
normalisation (``model_text``) and the shipped model's probabilities, in batches of a page's size.
Also prints what the model costs a page: the claim analyzer on the demo product pages with and
without ``Context.claim_model``, and the one-off load time of the model.
Run: ``make bench`` (or ``python benchmarks/bench_claim_model.py``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources

from mdwatch.analyzers import claims
from mdwatch.analyzers.claim_model import model_text
from mdwatch.analyzers.extract import extract_page
from mdwatch.analyzers.model import Context, Page
from mdwatch.models.claim_classifier import ClaimClassifier, model_path
from mdwatch.models.claim_training import load_sentences

MIN_SECONDS = 2.0
TARGET_SENTENCES_S = 5000
BATCH = 40  # sentences scored together: about one listing's worth


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _rate(fn: Callable[[], int]) -> float:
    fn()  # warm caches
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < MIN_SECONDS:
        done += fn()
    return done / elapsed


def _product_pages() -> list[Page]:
    site = resources.files("mdwatch.demo").joinpath("site")
    manifest = json.loads(site.joinpath("manifest.json").read_text(encoding="utf-8"))
    return [extract_page("http://127.0.0.1" + e["path"], site.joinpath(e["path"].lstrip("/")).read_bytes())
            for e in manifest if e["kind"] == "product"]


def main() -> None:
    _pin_one_core()
    start = time.perf_counter()
    model = ClaimClassifier.load(model_path())
    load_s = time.perf_counter() - start
    texts = [s.text for s in load_sentences()]
    batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]

    def score_all() -> int:
        for batch in batches:
            model.probabilities([model_text(t) for t in batch])
        return len(texts)

    def score_one_by_one() -> int:
        for t in texts[:500]:
            model.probabilities([model_text(t)])
        return 500

    pages = _product_pages()
    plain = Context(now=datetime.now(UTC))
    with_model = replace(plain, claim_model=model)

    def pages_rate(ctx: Context) -> Callable[[], int]:
        def run() -> int:
            for p in pages:
                claims.analyze(replace(p), ctx)
            return len(pages)
        return run

    rate = _rate(score_all)
    single = _rate(score_one_by_one)
    chars = sum(len(t) for t in texts) / len(texts)
    met = "达标" if rate >= TARGET_SENTENCES_S else "未达标"
    print(f"claim model: {model.features:,} features; loaded in {load_s * 1000:.0f} ms; one core")
    print(f"sentences (labelled data, {len(texts)}, mean {chars:.0f} chars), batches of {BATCH}: "
          f"{rate:,.0f} sentences/s (target ≥ {TARGET_SENTENCES_S:,}: {met})")
    print(f"sentences one at a time:                      {single:,.0f} sentences/s")
    # the numpy-free scorer a scan uses (models/light_scorer.py; its arrays mapped from the user's cache)
    from mdwatch.models.light_scorer import load_light

    load_light(model_path())  # writes the cache if needed
    start = time.perf_counter()
    light = load_light(model_path())
    light_load = time.perf_counter() - start

    def light_all() -> int:
        for batch in batches:
            light.probabilities([model_text(t) for t in batch])
        return len(texts)

    print(f"numpy-free scorer (scans): loaded in {light_load * 1000:.1f} ms, {_rate(light_all):,.0f} sentences/s")
    lexicon_only = _rate(pages_rate(plain))
    combined = _rate(pages_rate(with_model))
    print(f"claim analyzer on {len(pages)} demo product pages: lexicon only {lexicon_only:,.0f} pages/s, "
          f"lexicon + model {combined:,.0f} pages/s")


if __name__ == "__main__":
    main()
