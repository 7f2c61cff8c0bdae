"""Text-analysis throughput on one core: Page → findings over the demo product pages.

Fetch and OCR are excluded. Printed next to a bare pyahocorasick pass over the same page text
with the same claim terms, as a ratio (how many times the bare pass our full analysis costs).
Run: ``make bench`` (or ``python benchmarks/bench_analysis.py``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources

import ahocorasick

from mdwatch.analyzers.claims import automaton_terms
from mdwatch.analyzers.extract import extract_page
from mdwatch.analyzers.model import Context, Page
from mdwatch.analyzers.registry import analyze

MIN_SECONDS = 2.0


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _product_pages() -> list[Page]:
    site = resources.files("mdwatch.demo").joinpath("site")
    manifest = json.loads(site.joinpath("manifest.json").read_text(encoding="utf-8"))
    pages = []
    for entry in manifest:
        if entry["kind"] != "product":
            continue
        body = site.joinpath(entry["path"].lstrip("/")).read_bytes()
        headers = {"content-type": f"text/html; charset={entry['encoding']}"} if entry.get("charset_in_header") else {}
        pages.append(extract_page("http://127.0.0.1" + entry["path"], body, headers=headers))
    return pages


def _rate(fn: Callable[[], int]) -> float:
    """Items per second of ``fn`` (which returns how many items it processed), over ≥ MIN_SECONDS."""
    fn()  # warm caches (lexicons, automata)
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < MIN_SECONDS:
        done += fn()
    return done / elapsed


def main() -> None:
    _pin_one_core()
    pages = _product_pages()
    ctx = Context(now=datetime.now(UTC))
    texts = [p.all_text() for p in pages]
    chars = sum(map(len, texts)) / len(texts)

    auto = ahocorasick.Automaton()
    for term in automaton_terms():
        auto.add_word(term, term)
    auto.make_automaton()

    def run_analysis() -> int:
        for p in pages:
            analyze(p, ctx)
        return len(pages)

    def run_bare() -> int:
        for t in texts:
            for _ in auto.iter(t):
                pass
        return len(texts)

    site = resources.files("mdwatch.demo").joinpath("site")
    manifest = [e for e in json.loads(site.joinpath("manifest.json").read_text(encoding="utf-8"))
                if e["kind"] == "product"]
    bodies = [(e["path"], site.joinpath(e["path"].lstrip("/")).read_bytes()) for e in manifest]

    def run_extract_and_analyze() -> int:
        for path, body in bodies:
            analyze(extract_page("http://127.0.0.1" + path, body), ctx)
        return len(bodies)

    # real listings carry more copy than the demo pages: the same pages merged six at a time
    long_pages = [
        replace(pages[i], blocks=tuple(b for p in pages[i : i + 6] for b in p.blocks))
        for i in range(0, len(pages) - 5, 6)
    ]
    long_chars = sum(len(p.all_text()) for p in long_pages) / len(long_pages)

    def run_long() -> int:
        for p in long_pages:
            analyze(p, ctx)
        return len(long_pages)

    analysis = _rate(run_analysis)
    long_rate = _rate(run_long)
    bare = _rate(run_bare)
    full = _rate(run_extract_and_analyze)
    print(f"demo product pages: {len(pages)}, mean visible text {chars:.0f} chars; one core")
    print(f"text analysis (Page → findings, all analyzers): {analysis:,.0f} pages/s")
    print(f"long pages ({long_chars:.0f} chars, six demo pages merged):    {long_rate:,.0f} pages/s")
    print(f"bare pyahocorasick pass, {len(auto)} claim terms:   {bare:,.0f} pages/s")
    print(f"ratio (bare / analysis): {bare / analysis:.1f}× — analysis costs that many bare passes")
    print(f"HTML extraction + analysis:                       {full:,.0f} pages/s")


if __name__ == "__main__":
    main()
