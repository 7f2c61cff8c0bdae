"""OCR benchmark on the generated images (``mdwatch.demo.ocrimages``): speed and accuracy per engine.

For each engine, over certificates (clean and degraded) and promotional banners:
images per second and median seconds per image (one process, one thread: the OCR pool
multiplies throughput by its size), character accuracy (1 − CER, whitespace dropped, NFKC),
certificate-number exact match (``numbers.extract_numbers`` on the OCR text; the truth number
among the normalised numbers found, a trailing 号 ignored) and, for banners, claim recall and
precision (``claims.find_claims`` on OCR text vs on the drawn text), and document-type accuracy
(``certificates.read_certificate`` on the OCR text vs the generated type). Also the triage accuracy
and, through the real OCR stage (``scheduler.ocr_stage.OcrStage``), that 50 pages sharing one
certificate image cause exactly one OCR run (the process exits 1 otherwise).

    python benchmarks/bench_ocr.py              # 36 certificates × (clean + 2 degradations), 32 banners
    python benchmarks/bench_ocr.py --full       # every certificate in every degradation
    python benchmarks/bench_ocr.py --quick      # a few images, for a smoke run
    python benchmarks/bench_ocr.py --engines rapidocr --triage-only
    python benchmarks/bench_ocr.py --scaling    # the cost savers of issue 15, and what they cost in accuracy

``--scaling`` (issue 15, ``analyzers/ocr/scaling.py``), per engine, on encoded images as the OCR
stage receives them (certificates as PNG and as 2× scans in JPEG, degraded certificates,
banners; photos, some at phone-camera size):

1. the largest side the engine gains from: 2× certificate scans read within pixel budgets of
   2000², 1600², 1280², 1024², 800² and at full size: character accuracy, certificate-number
   exact match, CPU seconds per image;
2. each shortcut on and off: no shortcut (every image read at full size), the triage after a
   full decode (the stage before issue 15), the triage before the full decode (header, reduced
   JPEG decode), and downscaling to the engine's ``max_side``²: character accuracy over the text
   images (one the triage skips counts as read empty), number exact match, photos read, text
   images lost, CPU seconds per image.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image

from mdwatch.analyzers.certificates import read_certificate
from mdwatch.analyzers.claims import find_claims
from mdwatch.analyzers.numbers import extract_numbers
from mdwatch.analyzers.ocr.engine import ENGINES, get_engine
from mdwatch.analyzers.ocr.scaling import cpu_seconds
from mdwatch.analyzers.ocr.triage import needs_ocr
from mdwatch.demo.ocrimages import (
    DEGRADATIONS,
    GeneratedImage,
    degrade,
    generate_certificates,
    generate_photos,
    generate_promos,
)

YEAR_NOW = 2025
# generator document type → ``certificates.DocType``
DOC_TYPE_TRUTH = {"filing": "class1_filing", "uscc": "company_license"}
SHARED_PAGES = 50


def _norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def edit_distance(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def char_accuracy(truth: str, read: str) -> float:
    t, r = _norm(truth), _norm(read)
    return max(0.0, 1.0 - edit_distance(t, r) / max(1, len(t)))


def number_found(truth: str, text: str) -> bool:
    want = truth.rstrip("号")
    return any(n.normalized.rstrip("号") == want for n in extract_numbers(text, year_now=YEAR_NOW))


def claim_set(text: str) -> set[tuple[str, str]]:
    return {(h.rule, h.term) for h in find_claims(text)}


@dataclass
class Tally:
    seconds: list[float] = field(default_factory=list)
    acc: list[float] = field(default_factory=list)
    numbers_ok: int = 0
    numbers: int = 0
    claims_tp: int = 0
    claims_fp: int = 0
    claims_fn: int = 0
    docs_ok: int = 0
    docs: int = 0
    misses: list[str] = field(default_factory=list)

    def row(self, engine: str, label: str) -> str:
        n = len(self.seconds)
        ips = n / sum(self.seconds) if self.seconds else 0.0
        med = statistics.median(self.seconds) if self.seconds else 0.0
        num = f"{self.numbers_ok}/{self.numbers} = {100 * self.numbers_ok / self.numbers:5.1f} %" if self.numbers else "-"
        tp = self.claims_tp
        rec = tp / (tp + self.claims_fn) if tp + self.claims_fn else float("nan")
        prec = tp / (tp + self.claims_fp) if tp + self.claims_fp else float("nan")
        claims = f"R {rec:.2f} P {prec:.2f}" if tp + self.claims_fn + self.claims_fp else "-"
        acc = statistics.mean(self.acc) if self.acc else 0.0
        docs = f"{self.docs_ok}/{self.docs} = {100 * self.docs_ok / self.docs:5.1f} %" if self.docs else "-"
        return f"{engine:<10} {label:<22} {n:>4} {ips:>7.2f} {med:>8.2f} {acc:>8.3f}  {num:<20} {docs:<20} {claims}"


def sets(quick: bool, full: bool) -> dict[str, list[tuple[str, GeneratedImage, Image.Image]]]:
    certs = generate_certificates(6 if quick else 36, seed=4)
    promos = generate_promos(4 if quick else 32, seed=4)
    out: dict[str, list[tuple[str, GeneratedImage, Image.Image]]] = {
        "certificate clean": [(g.name, g, g.image) for g in certs],
        "certificate degraded": [],
        "promo clean": [(g.name, g, g.image) for g in promos],
        "promo degraded": [],
    }
    per = len(DEGRADATIONS) if full else 2
    for i, g in enumerate(certs):
        kinds = DEGRADATIONS if full else [DEGRADATIONS[(i * per + k) % len(DEGRADATIONS)] for k in range(per)]
        for k in kinds[: 1 if quick else None]:
            out["certificate degraded"].append((f"{g.name}/{k}", g, degrade(g.image, k, seed=i)))
    for i, g in enumerate(promos):
        k = DEGRADATIONS[i % len(DEGRADATIONS)]
        out["promo degraded"].append((f"{g.name}/{k}", g, degrade(g.image, k, seed=i)))
    return out


def run_engine(name: str, data: dict[str, list[tuple[str, GeneratedImage, Image.Image]]]) -> list[str]:
    engine = get_engine(name)
    engine.read(data["certificate clean"][0][2])  # load the models outside the timing
    rows = []
    for label, items in data.items():
        t = Tally()
        for key, g, img in items:
            res = engine.read(img)
            t.seconds.append(res.seconds)
            t.acc.append(char_accuracy(g.truth["text"], res.text))
            if g.truth.get("number"):
                t.numbers += 1
                if number_found(g.truth["number"], res.text):
                    t.numbers_ok += 1
                else:
                    t.misses.append(f"{key}: want {g.truth['number']}")
            if g.kind == "certificate":
                t.docs += 1
                want_type = DOC_TYPE_TRUTH.get(g.doc_type, g.doc_type)
                cert = read_certificate(res.text, year_now=YEAR_NOW)
                got_type = cert.doc_type if cert is not None else None
                if got_type == want_type:
                    t.docs_ok += 1
                else:
                    t.misses.append(f"{key}: document type {got_type}, want {want_type}")
            if g.kind == "promo":
                want, got = claim_set(g.truth["text"]), claim_set(res.text)
                t.claims_tp += len(want & got)
                t.claims_fp += len(got - want)
                t.claims_fn += len(want - got)
        rows.append(t.row(name, label))
        for m in t.misses:
            print(f"  miss [{name}] {m}", file=sys.stderr)
        print(rows[-1], flush=True)
    return rows


def run_triage(quick: bool) -> str:
    text = generate_certificates(6 if quick else 36, seed=4) + generate_promos(4 if quick else 32, seed=4)
    photos = generate_photos(4 if quick else 24, seed=4)
    right = total = 0
    wrong: list[str] = []
    start = time.perf_counter()
    for want, items in ((True, text), (False, photos)):
        for i, g in enumerate(items):
            kinds = [k for k in (None, *DEGRADATIONS) if not (not want and k == "watermark")]
            for k in kinds:
                img = g.image if k is None else degrade(g.image, k, seed=i)
                ok, _ = needs_ocr(img)
                total += 1
                if ok == want:
                    right += 1
                else:
                    wrong.append(f"{g.name}/{k}")
    secs = time.perf_counter() - start
    for w in wrong:
        print(f"  triage wrong: {w}", file=sys.stderr)
    return f"triage: {right}/{total} right = {100 * right / total:.1f} % (text images must pass, photos be skipped), {1000 * secs / total:.0f} ms/image incl. degrading"


def run_shared(engine_name: str) -> tuple[str, bool]:
    """50 pages showing the same certificate image, scanned at once through the real OCR stage.

    Each page is its own batch (``OcrStage.submit``, as concurrent scans submit them): the first
    read is shared by the pages waiting for it and cached for the rest.
    """
    from mdwatch.crawler.images import ImageCapture
    from mdwatch.scheduler.pipeline.ocr import OcrStage

    buf = io.BytesIO()
    generate_certificates(1, seed=4)[0].image.save(buf, "PNG")
    body = buf.getvalue()
    pages = [
        [ImageCapture.downloaded(f"http://127.0.0.1/products/p{i:03d}/cert.png", 200, "image/png", body)]
        for i in range(SHARED_PAGES)
    ]
    start = time.perf_counter()
    with OcrStage(engine_name, use_db=False) as stage:
        futures = [stage.submit(captures) for captures in pages]
        batches = [f.result() for f in futures]
        runs = stage.stats.ocr_runs
        read = sum(1 for b in batches for r in b.texts if r.text.strip())
    secs = time.perf_counter() - start
    ok = runs == 1 and read == SHARED_PAGES
    line = (
        f"shared image [{engine_name}]: {SHARED_PAGES} pages sharing one certificate image → {runs} OCR run(s), "
        f"{read}/{SHARED_PAGES} pages got its text, {secs:.1f} s" + ("" if ok else "  ← expected exactly 1 run")
    )
    return line, ok


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def scaling_sets(quick: bool) -> tuple[list[tuple[str, GeneratedImage, bytes]], list[tuple[str, bytes]]]:
    """(text images with their truth, photos): encoded bytes, as the OCR stage receives them."""
    certs = generate_certificates(4 if quick else 18, seed=9)
    promos = generate_promos(4 if quick else 16, seed=9)
    text: list[tuple[str, GeneratedImage, bytes]] = []
    for i, g in enumerate(certs):
        text.append((f"{g.name}/png", g, _encoded(g.image, "PNG")))
        scan = g.image.resize((g.image.width * 2, g.image.height * 2), Image.Resampling.BICUBIC)
        text.append((f"{g.name}/scan2x", g, _encoded(scan, "JPEG")))
        if not quick and i % 3 == 0:
            kind = DEGRADATIONS[i % len(DEGRADATIONS)]
            text.append((f"{g.name}/{kind}", g, _encoded(degrade(g.image, kind, seed=i), "JPEG")))
    text += [(f"{g.name}/png", g, _encoded(g.image, "PNG")) for g in promos]
    photos = [(g.name, _encoded(g.image, "JPEG")) for g in generate_photos(4 if quick else 16, seed=9)]
    for g in generate_photos(2 if quick else 4, seed=10):
        big = g.image.resize((g.image.width * 3, g.image.height * 3), Image.Resampling.BICUBIC)
        photos.append((f"{g.name}/3x", _encoded(big, "JPEG")))
    return text, photos


def _scored(g: GeneratedImage, text: str) -> tuple[float, bool | None]:
    number = g.truth.get("number")
    return char_accuracy(g.truth["text"], text), (number_found(number, text) if number else None)


def run_scaling(engine_name: str, quick: bool) -> list[str]:
    """The largest useful side, and each shortcut's saving and accuracy cost, for one engine."""
    from mdwatch.analyzers.ocr.imageguard import LoadedImage, fit_within, load_image
    from mdwatch.analyzers.ocr.scaling import BEFORE, NONE, Shortcuts, examine

    engine = get_engine(engine_name)
    text, photos = scaling_sets(quick)
    engine.read(text[0][1].image)  # the models load outside the timing
    lines = [f"[{engine_name}] largest useful side: 2× certificate scans read within a pixel budget side²"
             f" (engine max_side = {getattr(engine, 'max_side', None)})",
             f"  {'budget side':<12} {'n':>3} {'char acc':>8} {'number exact':>13} {'CPU s/img':>10}"]
    print("\n".join(lines), flush=True)
    scans = [(key, g, data) for key, g, data in text if key.endswith("/scan2x")]
    for side in (None, 2000, 1600, 1280, 1024, 800):
        acc, found, cpu = [], 0, 0.0
        for _key, g, data in scans:
            loaded = load_image(data)
            assert isinstance(loaded, LoadedImage)
            image = loaded.image
            if side is not None and image.width * image.height > side * side:
                image = image.resize(fit_within(image.width, image.height, side), Image.Resampling.LANCZOS,
                                     reducing_gap=3.0)
            started = cpu_seconds()
            result = engine.read(image)
            cpu += cpu_seconds() - started
            a, ok = _scored(g, result.text)
            acc.append(a)
            found += bool(ok)
        label = "full size" if side is None else f"{side}"
        lines.append(f"  {label:<12} {len(scans):>3} {statistics.mean(acc):>8.3f} "
                     f"{found:>6}/{len(scans):<6} {cpu / len(scans):>10.2f}")
        print(lines[-1], flush=True)
    # each shortcut: two reads per text image at most (full size, reduced), triage per path
    full_reads: dict[str, tuple[str, float]] = {}
    small_reads: dict[str, tuple[str, float]] = {}
    verdicts: dict[str, dict[str, tuple[bool, float]]] = {}
    decodes: dict[str, float] = {}  # a full decode: the stage before issue 15 made one for both triage and read
    paths = {"none": NONE, "triage": BEFORE, "early": Shortcuts(downscale=False), "all": Shortcuts()}
    for key, data in [(k, d) for k, _, d in text] + photos:
        started = cpu_seconds()
        load_image(data)
        decodes[key] = cpu_seconds() - started
        verdicts[key] = {}
        for label, shortcuts in paths.items():
            started = cpu_seconds()
            out = examine(data, None, shortcuts)
            verdicts[key][label] = (out.wanted, cpu_seconds() - started)
        started = cpu_seconds()
        out = examine(data, engine, NONE, triaged=True)
        full_reads[key] = (out.result.text if out.result else "", cpu_seconds() - started)
        started = cpu_seconds()
        out = examine(data, engine, Shortcuts(), triaged=True)
        small_reads[key] = (out.result.text if out.result else "", cpu_seconds() - started)
    head = (f"  {'shortcuts':<44} {'char acc':>8} {'number exact':>13} {'photos read':>12} "
            f"{'text lost':>9} {'CPU s/img':>10}")
    lines += [f"[{engine_name}] each shortcut: {len(text)} text images, {len(photos)} photos "
              f"(a text image the triage skips counts as read empty)", head]
    print("\n".join(lines[-2:]), flush=True)
    rows = (("none", "no shortcut: every image read at full size", full_reads),
            ("triage", "triage after a full decode (before issue 15)", full_reads),
            ("early", "+ triage before the full decode", full_reads),
            ("all", "+ downscale to max_side² (all shortcuts)", small_reads))
    numbers = sum(1 for _, g, _ in text if g.truth.get("number"))
    for label, title, reads in rows:
        acc, found, lost, cpu = [], 0, 0, 0.0
        for key, g, _ in text:
            wanted, triage_s = verdicts[key][label]
            read, read_s = reads[key] if wanted else ("", 0.0)
            cpu += (0.0 if label == "none" else triage_s) + read_s - (decodes[key] if wanted and label == "triage" else 0.0)
            lost += not wanted
            a, ok = _scored(g, read)
            acc.append(a)
            found += bool(ok)
        photos_read = 0
        for key, _ in photos:
            wanted, triage_s = verdicts[key][label]
            photos_read += wanted
            cpu += (0.0 if label == "none" else triage_s) + (reads[key][1] if wanted else 0.0)
            cpu -= decodes[key] if wanted and label == "triage" else 0.0
        n = len(text) + len(photos)
        lines.append(f"  {title:<44} {statistics.mean(acc):>8.3f} {found:>6}/{numbers:<6} "
                     f"{photos_read:>5}/{len(photos):<6} {lost:>9} {cpu / n:>10.2f}")
        print(lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a few images only")
    ap.add_argument("--full", action="store_true", help="every certificate in every degradation")
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma-separated (default: all)")
    ap.add_argument("--triage-only", action="store_true")
    ap.add_argument("--scaling", action="store_true", help="only the cost savers of issue 15 and their accuracy cost")
    args = ap.parse_args(argv)
    if args.scaling:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"OCR scaling (load average {load} on {os.cpu_count()} CPUs; CPU seconds, not wall)", flush=True)
        for name in [n.strip() for n in args.engines.split(",") if n.strip()]:
            run_scaling(name, args.quick)
        return 0
    print(run_triage(args.quick), flush=True)
    if args.triage_only:
        return 0
    data = sets(args.quick, args.full)
    header = f"{'engine':<10} {'set':<22} {'n':>4} {'img/s':>7} {'median s':>8} {'char acc':>8}  "
    print(header + f"{'number exact':<20} {'document type':<20} claims")
    rows = []
    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    for name in engines:
        rows += run_engine(name, data)
    shared_ok = True
    for name in engines:
        line, ok = run_shared(name)
        print(line, flush=True)
        rows.append(line)
        shared_ok = shared_ok and ok
    print("\n".join(["", "summary", *rows]))
    return 0 if shared_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
