"""Training and evaluation of the claim classifier (``mdwatch model train`` / ``mdwatch model evaluate``).

Data: ``data/claims/w{1,2,3}_partNN.jsonl`` (three independent writers; fields ``id, text, labels,
hard_negative, context, product, source``; ``labels`` ⊆ CLASSES, at most two, ``[]`` = no claim).
The split is fixed by a rule written down before any training (``README.md``): a sentence is
held out when ``int(sha1(model_text(text)).hexdigest(), 16) % 4 == 0``; everything else is the
development split. Hyper-parameters and thresholds come from the development split only (k-fold
cross-validation), the thresholds then raised to the floors of the guard corpora (``guard_floors``:
no false model finding on the format corpus's development pages); the held-out split is scored,
never tuned on.

Model: scikit-learn ``TfidfVectorizer`` over character 1–4-grams of the normalised sentence (the
claim analyzer's own folding, ``analyzers.claim_model.model_text``), and per class a linear model
(``LinearSVC``, or ``LogisticRegression``) calibrated by ``CalibratedClassifierCV`` (Platt sigmoid,
cross-validated, one model: ``ensemble=False``). Exported as arrays
(``claim_classifier.ClaimClassifier``). Deterministic: sentences sorted by (writer, id), fixed
seeds, liblinear.

Imported by the CLI only when a ``model`` command runs: scikit-learn is imported inside the functions.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mdwatch.analyzers.claim_model import CLASSES, combined_classes, model_text, scorable
from mdwatch.models.claim_classifier import NGRAM_RANGE, ClaimClassifier, char_ngrams, ngram_keys

if TYPE_CHECKING:
    import numpy as np

    from mdwatch.models.page_negatives import PageSource

__all__ = [
    "HELDOUT_MOD",
    "Guards",
    "Params",
    "Sentence",
    "TrainReport",
    "by_sentence",
    "choose_thresholds",
    "data_dir",
    "evaluate_model",
    "fit",
    "format_table",
    "guard_floors",
    "heldout_sentences",
    "is_heldout",
    "load_sentences",
    "oof_probabilities",
    "train",
    "write_card",
]

HELDOUT_MOD = 4  # held out: sha1(normalised text) mod 4 == 0 (≈ 25 %)
TARGET_PRECISION = 0.95
MIN_THRESHOLD = 0.5  # a model claim must at least be more likely than not
# a page floor sits this far above the false finding that set it: far wider than the last-bit
# differences between the two scorers (models.light_scorer), far narrower than any two sentences' gap
FLOOR_MARGIN = 1e-9
FOLDS = 5
SEED = 0
MAX_LABELS = 2
EXTRA_WRITER = "extra"  # the writer of training-only labelled sentences (reviewers' decisions)
_PART = re.compile(r"^(w\d+)_part\d+\.jsonl$")
_DONE = re.compile(r"^(w\d+)\.done$")


@dataclass(frozen=True, slots=True)
class Sentence:
    id: str
    writer: str
    text: str
    labels: frozenset[str]
    hard_negative: bool
    context: str
    product: str
    source: str
    norm: str  # model_text(text): what the model reads and what the split hashes
    # the classes the label speaks for: all for the writers' sentences; for a negative harvested from
    # a labelled page (models.page_negatives) only the classes the page holds no claim of
    known: frozenset[str] = frozenset(CLASSES)
    group: str = ""  # cross-validation group of a harvested negative (its page corpus); "" = none

    @property
    def heldout(self) -> bool:
        return is_heldout(self.norm)


@dataclass(frozen=True, slots=True)
class Params:
    """Hyper-parameters (chosen by cross-validation on the development split; model card)."""

    C: float = 10.0  # with the page negatives (model card: cross-validated recall by C)
    sublinear_tf: bool = True
    min_df: int = 1
    class_weight: str | None = "balanced"
    estimator: str = "svm"  # "svm" (LinearSVC) or "logreg" (LogisticRegression), both liblinear


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def row(self) -> dict[str, float | int]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": round(self.precision, 4),
                "recall": round(self.recall, 4), "f1": round(self.f1, 4)}


@dataclass
class TrainReport:
    """What ``train`` did: the figures of the model card."""

    model_path: str
    meta: dict[str, Any] = field(default_factory=dict)


def data_dir() -> Path:
    return Path(str(resources.files("mdwatch.models").joinpath("data", "claims")))


def is_heldout(norm: str) -> bool:
    """The split rule (fixed before training): held out iff sha1(normalised text) mod 4 == 0."""
    return int(hashlib.sha1(norm.encode("utf-8")).hexdigest(), 16) % HELDOUT_MOD == 0


def data_status(folder: Path) -> dict[str, bool]:
    """Writer → finished (its ``wN.done`` marker exists), for every writer with parts or a marker."""
    out: dict[str, bool] = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else ():
        if m := _PART.match(path.name):
            out.setdefault(m.group(1), False)
        elif m := _DONE.match(path.name):
            out[m.group(1)] = True
    return out


def load_sentences(folder: Path | None = None, problems: list[str] | None = None) -> list[Sentence]:
    """Every well-formed labelled sentence under ``folder``, sorted by (writer, id); malformed lines
    are skipped and described in ``problems``. Files are read, never written."""
    folder = folder or data_dir()
    out: list[Sentence] = []
    seen: set[tuple[str, str]] = set()
    for path in sorted(folder.glob("w*_part*.jsonl")):
        m = _PART.match(path.name)
        if m is None:
            continue
        writer = m.group(1)
        for n, sentence in _read_jsonl(path, writer, problems):
            if (writer, sentence.id) in seen:
                if problems is not None:
                    problems.append(f"{path.name}:{n}: duplicate id {sentence.id}")
                continue
            seen.add((writer, sentence.id))
            out.append(sentence)
    return sorted(out, key=lambda s: (s.writer, s.id))


def load_extra(paths: Sequence[Path], problems: list[str] | None = None) -> list[Sentence]:
    """Labelled sentences from other files of the same schema (``mdwatch model export-feedback``):
    training data only, never held out. Writer ``extra``; the cross-validation group is the file, so
    one file's sentences are scored by a model that did not see that file."""
    out: list[Sentence] = []
    seen: set[str] = set()
    for path in paths:
        for _n, s in _read_jsonl(path, EXTRA_WRITER, problems):
            if s.norm in seen:
                continue  # the same sentence reviewed twice: its first (oldest) line counts
            seen.add(s.norm)
            out.append(replace(s, id=f"{path.name}:{s.id}", group=f"extra:{path.name}"))
    return out


def _read_jsonl(path: Path, writer: str, problems: list[str] | None) -> Iterator[tuple[int, Sentence]]:
    """``(line number, sentence)`` of every well-formed line of ``path``; the others are described in
    ``problems`` (when given) and skipped."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, _parse(json.loads(line), writer)
        except (ValueError, KeyError, TypeError) as exc:
            if problems is not None:
                problems.append(f"{path.name}:{n}: {exc}")


def _parse(row: Mapping[str, Any], writer: str) -> Sentence:
    text = str(row["text"]).strip()
    if not text:
        raise ValueError("empty text")
    labels = row.get("labels") or []
    if not isinstance(labels, list) or not set(labels) <= set(CLASSES) or len(labels) > MAX_LABELS:
        raise ValueError(f"bad labels {labels!r}")
    return Sentence(str(row["id"]), writer, text, frozenset(labels), bool(row.get("hard_negative")),
                    str(row.get("context", "")), str(row.get("product", "")), str(row.get("source", "")),
                    model_text(text))


# --- fitting ---------------------------------------------------------------------------------------


def fit(sentences: Sequence[Sentence], params: Params | None = None, seed: int = SEED) -> ClaimClassifier:
    """A calibrated one-vs-rest model on ``sentences`` (thresholds all 0.5 until chosen)."""
    params = params or Params()
    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import LinearSVC

    texts = [s.norm for s in sentences]
    vectorizer = TfidfVectorizer(analyzer=char_ngrams, sublinear_tf=params.sublinear_tf, min_df=params.min_df,
                                 dtype=np.float64)
    X = vectorizer.fit_transform(texts)
    coef, intercept, calib_a, calib_b = [], [], [], []
    for cls in CLASSES:
        rows = np.array([cls in s.known for s in sentences], dtype=bool)
        y = np.array([cls in s.labels for s in sentences], dtype=int)[rows]
        folds = min(FOLDS, int(y.sum()), int(len(y) - y.sum()))
        if folds < 2:
            raise ValueError(f"类别 {cls} 的正例或反例太少（每种至少 2 句）")
        base: Any
        if params.estimator == "svm":
            base = LinearSVC(C=params.C, class_weight=params.class_weight, random_state=seed, max_iter=10000)
        else:
            base = LogisticRegression(C=params.C, solver="liblinear", class_weight=params.class_weight,
                                      random_state=seed, max_iter=1000)
        cal = CalibratedClassifierCV(base, method="sigmoid", ensemble=False,
                                     cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
        cal.fit(X[np.flatnonzero(rows)], y)
        fitted = cal.calibrated_classifiers_[0]
        coef.append(fitted.estimator.coef_[0])
        intercept.append(float(fitted.estimator.intercept_[0]))
        calib_a.append(float(fitted.calibrators[0].a_))
        calib_b.append(float(fitted.calibrators[0].b_))
    grams = vectorizer.get_feature_names_out()  # in column order
    return ClaimClassifier(
        classes=CLASSES,
        keys=ngram_keys(np.array([str(g) for g in grams], dtype=f"<U{NGRAM_RANGE[1]}")),
        idf=np.asarray(vectorizer.idf_, dtype=np.float64),
        coef=np.stack(coef, axis=1).astype(np.float32).astype(np.float64),  # as shipped (float32)
        intercept=np.array(intercept),
        calib_a=np.array(calib_a),
        calib_b=np.array(calib_b),
        thresholds=dict.fromkeys(CLASSES, 0.5),
        sublinear_tf=params.sublinear_tf,
        ngram_range=NGRAM_RANGE,
        meta={"params": asdict(params), "seed": seed},
    )


def oof_probabilities(sentences: Sequence[Sentence], params: Params | None = None, folds: int = FOLDS,
                      seed: int = SEED) -> np.ndarray:
    """Out-of-fold probabilities (rows in ``sentences`` order): each sentence scored by a model that
    did not see it. The cross-validation the thresholds are chosen on."""
    import numpy as np

    fold_of = cv_folds(sentences, folds, seed)
    out = np.zeros((len(sentences), len(CLASSES)))
    for k in range(folds):
        train_idx = [int(i) for i in np.flatnonzero(fold_of != k)]
        test_idx = [int(i) for i in np.flatnonzero(fold_of == k)]
        model = fit([sentences[i] for i in train_idx], params, seed)
        out[test_idx] = model.probabilities([sentences[i].norm for i in test_idx])
    return out


def cv_folds(sentences: Sequence[Sentence], folds: int = FOLDS, seed: int = SEED) -> np.ndarray:
    """The fold of each sentence: the writers' sentences shuffled into ``folds`` folds; a harvested
    negative goes with its group (its page corpus: one format-corpus writer, or the demo site), so
    that the cross-validated probabilities of page text come from a model that never saw that
    writer's pages — the situation of a page from a site nobody labelled."""
    import numpy as np
    from sklearn.model_selection import KFold

    fold_of = np.zeros(len(sentences), dtype=int)
    plain = [i for i, s in enumerate(sentences) if not s.group]
    for k, (_train, test) in enumerate(KFold(folds, shuffle=True, random_state=seed).split(np.arange(len(plain)))):
        fold_of[[plain[i] for i in test]] = k
    groups = sorted({s.group for s in sentences if s.group})
    where = {g: k % folds for k, g in enumerate(groups)}
    for i, s in enumerate(sentences):
        if s.group:
            fold_of[i] = where[s.group]
    return fold_of


def choose_thresholds(sentences: Sequence[Sentence], probs: np.ndarray, off_limits: Sequence[set[str]],
                      target: float = TARGET_PRECISION) -> dict[str, float]:
    """Per class, the lowest threshold (≥ MIN_THRESHOLD) at which what the model adds — sentences
    the lexicon did not flag with the class nor rule out for it — keeps precision ≥ ``target``;
    1.0 (off) if none does."""
    out: dict[str, float] = {}
    for k, cls in enumerate(CLASSES):
        cands = sorted(
            ((float(probs[i, k]), cls in s.labels) for i, s in enumerate(sentences)
             if cls in s.known and cls not in off_limits[i] and scorable(s.text, s.norm)
             and probs[i, k] >= MIN_THRESHOLD),
            key=lambda c: -c[0],
        )
        best, tp, fp = 1.0, 0, 0
        for i, (p, good) in enumerate(cands):
            tp += good
            fp += not good
            if i + 1 < len(cands) and cands[i + 1][0] == p:
                continue  # a threshold keeps or drops tied probabilities together
            if tp and tp / (tp + fp) >= target:
                best = p
        out[cls] = round(best, 4) if best < 1.0 else 1.0
    return out


# --- scoring ---------------------------------------------------------------------------------------


def score(sentences: Sequence[Sentence], predicted: Sequence[set[str]]) -> dict[str, Counts]:
    """Per class and ``micro`` (over the five classes) counts."""
    out = {cls: Counts() for cls in (*CLASSES, "micro")}
    for s, got in zip(sentences, predicted, strict=True):
        for cls in CLASSES:
            if cls not in s.known:
                continue
            want, hit = cls in s.labels, cls in got
            for key in (cls, "micro"):
                c = out[key]
                c.tp += want and hit
                c.fp += hit and not want
                c.fn += want and not hit
    return out


def by_sentence(sentences: Sequence[Sentence], predicted: Sequence[set[str]]) -> dict[str, float | int]:
    """Claim sentences found, the acceptance's measure ("recall on claim sentences"): a sentence
    labelled with a claim is found when the detector gives it at least one of its classes (recall
    over the claim sentences); a sentence the detector flags is right when at least one class it
    gives is labelled (precision over the flagged sentences). ``score`` is the stricter per-label
    count, where a sentence labelled with two classes must get both."""
    claims = found = flagged = right = exact = 0
    for s, got in zip(sentences, predicted, strict=True):
        hit = bool(got & s.labels)
        if s.labels:
            claims += 1
            found += hit
        if got:
            flagged += 1
            right += hit
            exact += got <= s.labels
    return {"claim_sentences": claims, "found": found, "flagged": flagged, "right": right,
            "recall": round(found / claims, 4) if claims else 1.0,
            "precision": round(right / flagged, 4) if flagged else 1.0,
            "precision_every_class": round(exact / flagged, 4) if flagged else 1.0}


def evaluate_model(model: ClaimClassifier | None, sentences: Sequence[Sentence]) -> dict[str, Any]:
    """Lexicon-only and lexicon + model scores of ``sentences`` (per class and micro, and by sentence)."""
    both = combined_classes([s.text for s in sentences], model)
    lexicon = score(sentences, [b[0] for b in both])
    combined = score(sentences, [b[1] for b in both])
    return {"lexicon": {k: v.row() for k, v in lexicon.items()},
            "combined": {k: v.row() for k, v in combined.items()},
            "by_sentence": {"lexicon": by_sentence(sentences, [b[0] for b in both]),
                            "combined": by_sentence(sentences, [b[1] for b in both])},
            "sentences": len(sentences), "claims": sum(len(s.labels) for s in sentences)}


View = tuple[set[str], set[str]]  # (classes the lexicon found, classes the model may not add)


def _thresholds_by_cv(dev: Sequence[Sentence], params: Params, seed: int,
                      folds: int = FOLDS) -> tuple[dict[str, float], np.ndarray, list[View]]:
    from mdwatch.analyzers.claim_model import lexicon_view

    probs = oof_probabilities(dev, params, folds=folds, seed=seed)
    views = [lexicon_view(s.text) for s in dev]
    return choose_thresholds(dev, probs, [off for _found, off in views]), probs, views


def _cv_predicted(dev: Sequence[Sentence], probs: np.ndarray, views: Sequence[View],
                  thresholds: Mapping[str, float]) -> list[set[str]]:
    predicted = []
    for i, s in enumerate(dev):
        found, off = views[i]
        got = set(found)
        if scorable(s.text, s.norm):
            got |= {cls for k, cls in enumerate(CLASSES) if cls not in off and probs[i, k] >= thresholds[cls]}
        predicted.append(got)
    return predicted


def _cv_scores(dev: Sequence[Sentence], probs: np.ndarray, views: Sequence[View],
               thresholds: Mapping[str, float]) -> dict[str, dict[str, float | int]]:
    """Cross-validated scores of the writers' sentences (the harvested negatives are counted apart:
    ``_cv_page_false``)."""
    predicted = _cv_predicted(dev, probs, views, thresholds)
    keep = [i for i, s in enumerate(dev) if not s.group]
    return {k: v.row() for k, v in score([dev[i] for i in keep], [predicted[i] for i in keep]).items()}


def _cv_page_false(dev: Sequence[Sentence], probs: np.ndarray, views: Sequence[View],
                   thresholds: Mapping[str, float]) -> dict[str, Any]:
    """Per class, the cross-validated false model claims on the harvested page sentences (each scored
    by a model that never saw its page writer's pages), and the worst of them."""
    predicted = _cv_predicted(dev, probs, views, thresholds)
    out: dict[str, Any] = {"sentences": sum(bool(s.group) for s in dev)}
    for k, cls in enumerate(CLASSES):
        wrong = sorted(((float(probs[i, k]), f"{s.source}: {s.text[:60]}") for i, s in enumerate(dev)
                        if s.group and cls in s.known and cls in predicted[i] and cls not in views[i][0]),
                       reverse=True)
        out[cls] = {"false": len(wrong), "negatives": sum(bool(s.group) and cls in s.known for s in dev),
                    "worst": wrong[:3]}
    return out


def _summary(sentences: Sequence[Sentence]) -> dict[str, Any]:
    writers = sorted({s.writer for s in sentences})
    return {
        "sentences": len(sentences),
        "hard_negatives": sum(s.hard_negative for s in sentences),
        "none": sum(not s.labels for s in sentences),
        "per_class": {cls: sum(cls in s.labels for s in sentences) for cls in CLASSES},
        "per_writer": {w: sum(s.writer == w for s in sentences) for w in writers},
    }


def data_digest(folder: Path) -> str:
    """SHA-256 over the data files (names and bytes, sorted): which data a model was trained on."""
    h = hashlib.sha256()
    for path in sorted(folder.glob("w*_part*.jsonl")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def guard_floors(model: ClaimClassifier, pages: Path | None = None,
                 sentences: Path | None = None) -> tuple[dict[str, float], dict[str, Any]]:
    """Per class, the lowest threshold (from ``model``'s own up) at which the model adds no false
    finding on the guard corpora, and what decided each floor.

    ``pages``: a page corpus (``<writer>/labels.yaml`` naming each page's file, kind and rules). A
    product page not labelled with a rule holds no claim of that rule, so every model finding of it
    there is false; pages go through extraction and the claim analyzer as in a scan (no browser, no
    OCR). ``sentences``: a YAML list of ``{text, rules}`` labelled for the four lexicon rules (a
    sentence is read as the analyzer reads OCR text). The floor sits just above the highest
    probability of a false finding (``FLOOR_MARGIN`` above it: the scan's numpy-free scorer sums in
    another order, and the floor must hold for both)."""
    worst: dict[str, tuple[float, str]] = {}

    def note(cls: str, text: str, where: str) -> None:
        p = model.probabilities([model_text(text)])[0][CLASSES.index(cls)]
        if p > worst.get(cls, (0.0, ""))[0]:
            worst[cls] = (p, f"{where}: {text[:60]}")

    counted = {"pages": 0, "sentences": 0}
    if pages is not None:
        for where, text, cls in _false_on_pages(model, pages, counted):
            note(cls, text, where)
    if sentences is not None:
        for where, text, cls in _false_on_sentences(model, sentences, counted):
            note(cls, text, where)
    floors = {cls: max(model.thresholds[cls], min(1.0, worst[cls][0] + FLOOR_MARGIN) if cls in worst else 0.0)
              for cls in CLASSES}
    return floors, {**counted, "worst": {cls: {"probability": v[0], "sentence": v[1]} for cls, v in worst.items()}}


def _false_on_pages(model: ClaimClassifier, folder: Path, counted: dict[str, int]) -> Iterator[tuple[str, str, str]]:
    import yaml

    from mdwatch.analyzers import claims
    from mdwatch.analyzers.claim_model import DETECTOR
    from mdwatch.analyzers.model import Context
    from mdwatch.models.page_negatives import LabelledPage, read_page

    ctx = Context(now=datetime.now(UTC), claim_model=model)
    for labels in sorted(folder.glob("*/labels.yaml")):
        for entry in yaml.safe_load(labels.read_text(encoding="utf-8")) or []:
            if not isinstance(entry, dict) or entry.get("kind") != "product" or not entry.get("file"):
                continue
            # as make eval reads it: scanned from its folder (rendered where a scan renders)
            page = read_page(LabelledPage(labels.parent / str(entry["file"]), str(entry["file"]), frozenset(),
                                          served_from=labels.parent))
            if page is None:
                continue
            counted["pages"] += 1
            expected = set(entry.get("rules") or [])
            for found in claims.analyze(page, ctx):
                if found.rule not in expected:
                    for ev in found.evidence:
                        if ev.detail.get("detector") == DETECTOR:
                            yield f"{labels.parent.name}/{entry['file']}", ev.match, ev.detail["class"]


def _false_on_sentences(model: ClaimClassifier, path: Path, counted: dict[str, int]) -> Iterator[tuple[str, str, str]]:
    import yaml

    from mdwatch.analyzers.claim_model import CLASS_RULES, lexicon_view, model_classes

    items = [d for d in yaml.safe_load(path.read_text(encoding="utf-8")) or [] if isinstance(d, dict) and d.get("text")]
    counted["sentences"] += len(items)
    texts = [str(d["text"]) for d in items]
    added = model_classes(model, texts, [lexicon_view(t)[1] for t in texts])
    for item, text, extra in zip(items, texts, added, strict=True):
        expected = set(item.get("rules") or [])
        for cls in extra:
            if cls != "disease" and CLASS_RULES[cls] not in expected:  # disease: not labelled there
                yield path.name, text, cls


def _fitted(dev: Sequence[Sentence], params: Params, seed: int, folds: int, guards: Guards,
            say: Any) -> tuple[ClaimClassifier, dict[str, Any]]:
    """The model on ``dev`` with its thresholds: cross-validated on ``dev`` for precision ≥ 0.95,
    then raised to the floors of the guard corpora (if any)."""
    cv_thresholds, probs, views = _thresholds_by_cv(dev, params, seed, folds)
    model = replace(fit(dev, params, seed), thresholds=cv_thresholds)
    info: dict[str, Any] = {"cv_thresholds": cv_thresholds}
    if guards.pages is not None or guards.sentences is not None:
        thresholds, info["floors"] = guard_floors(model, guards.pages, guards.sentences)
        model = replace(model, thresholds=thresholds)
    say("阈值：" + "，".join(f"{c} {model.thresholds[c]:.7g}" for c in CLASSES))
    info["dev_cv"] = _cv_scores(dev, probs, views, model.thresholds)
    info["dev_cv_without_floors"] = _cv_scores(dev, probs, views, cv_thresholds)
    if any(s.group for s in dev):
        info["page_negatives_cv"] = _cv_page_false(dev, probs, views, model.thresholds)
    return model, info


@dataclass(frozen=True, slots=True)
class Guards:
    """The corpora the thresholds are raised on (``guard_floors``): none, or those of a checkout."""

    pages: Path | None = None
    sentences: Path | None = None

    @classmethod
    def of_checkout(cls, with_sentences: bool = False) -> Guards:
        """In a source checkout: the format corpus's development half (its held-out half is never used
        for choosing anything) and, if asked, the lexicon's labelled claim sentences of ``tests/corpus``."""
        corpus = Path(__file__).resolve().parents[2] / "tests" / "corpus"
        pages, sentences = corpus / "formats" / "dev", corpus / "sentences.yaml"
        return cls(pages if pages.is_dir() else None,
                   sentences if with_sentences and sentences.is_file() else None)

    def describe(self) -> str:
        root = Path(__file__).resolve().parents[2]
        parts = [str(p.resolve().relative_to(root)) if p.resolve().is_relative_to(root) else str(p)
                 for p in (self.pages, self.sentences) if p is not None]
        return ", ".join(parts) or "—"


def train(folder: Path | None = None, out: Path | None = None, *, params: Params | None = None, seed: int = SEED,
          folds: int = FOLDS, guards: Guards | None = None, leave_one_writer_out: bool = True,
          trained_on: str | None = None, progress: Any = None, negatives: Sequence[PageSource] = (),
          extra: Sequence[Path] = ()) -> TrainReport:
    """Fit the shipped model on the development split plus the training-only sentences — ordinary
    listing text harvested from the labelled pages of ``negatives`` (``models.page_negatives``) and
    the labelled sentences of the ``extra`` files (reviewers' decisions, ``mdwatch model
    export-feedback``) — with thresholds by cross-validation there (raised to the page floors of
    ``guards``, if any); score the held-out split (the writers' sentences only) and
    leave-one-writer-out for the model card, and write the model to ``out``."""
    from mdwatch.models.claim_classifier import model_path
    from mdwatch.models.page_negatives import harvest

    params = params or Params()
    guards = guards or Guards()
    folder = folder or data_dir()
    out = out or model_path()
    say = progress or (lambda _msg: None)
    problems: list[str] = []
    sentences = load_sentences(folder, problems)
    dev_writers = [s for s in sentences if not s.heldout]
    heldout = [s for s in sentences if s.heldout]
    # training-only sentences never share a text with the writers' (either split): the writers' label
    # wins, and a held-out text must not be trained on under another label
    writer_texts = {s.norm for s in sentences}
    harvested, harvest_info = harvest(negatives, writer_texts) if negatives else ([], {})
    fed = [s for s in load_extra(extra, problems) if s.norm not in writer_texts]
    training_only = [*harvested, *fed]
    dev = [*dev_writers, *training_only]
    say(f"共 {len(sentences)} 句：开发集 {len(dev_writers)} 句，留出集 {len(heldout)} 句；"
        f"另有仅用于训练的页面普通句 {len(harvested)} 句、审核反馈 {len(fed)} 句")
    model, info = _fitted(dev, params, seed, folds, guards, say)
    meta: dict[str, Any] = {
        "trained_on": trained_on or date.today().isoformat(),
        "data_sha256": data_digest(folder),
        "writers_done": data_status(folder),
        "problems": problems[:50],
        "split_rule": "held out iff int(sha1(model_text(text).encode('utf-8')).hexdigest(), 16) % 4 == 0",
        "params": asdict(params),
        "seed": seed,
        "folds": folds,
        "features": model.features,
        "data": {"all": _summary(sentences), "development": _summary(dev_writers), "heldout": _summary(heldout)},
        "page_negatives": harvest_info,
        "extra": {"files": [p.name for p in extra], "sentences": len(fed), **_summary(fed)} if extra else {},
        "guards": guards.describe(),
        "thresholds": dict(model.thresholds),
        **info,
    }
    model = replace(model, meta=meta)
    meta["heldout"] = evaluate_model(model, heldout)
    meta["heldout_without_floors"] = evaluate_model(replace(model, thresholds=info["cv_thresholds"]), heldout)
    say("留出集：" + _micro_line(meta["heldout"]))
    if leave_one_writer_out:
        meta["leave_one_writer_out"] = _leave_one_writer_out(sentences, training_only, params, seed, folds,
                                                             guards, say)
    model.save(out)
    return TrainReport(str(out), meta)


def _micro_line(result: Mapping[str, Any]) -> str:
    lex, comb = result["lexicon"]["micro"], result["combined"]["micro"]
    return (f"词表 精确率 {lex['precision']:.3f} 召回率 {lex['recall']:.3f}；"
            f"词表+模型 精确率 {comb['precision']:.3f} 召回率 {comb['recall']:.3f}")


def _leave_one_writer_out(sentences: Sequence[Sentence], training_only: Sequence[Sentence], params: Params,
                          seed: int, folds: int, guards: Guards, say: Any) -> dict[str, Any]:
    """Train on two writers' development parts and the training-only sentences (thresholds chosen
    the same way, on those), score the third writer's held-out part: how the model fares on a
    writer it never saw."""
    out: dict[str, Any] = {}
    writers = sorted({s.writer for s in sentences})
    for writer in writers:
        train_part = [*(s for s in sentences if s.writer != writer and not s.heldout), *training_only]
        test_part = [s for s in sentences if s.writer == writer and s.heldout]
        if len(writers) < 2 or not test_part:
            continue
        model, _info = _fitted(train_part, params, seed, folds, guards, lambda _m: None)
        out[writer] = {"thresholds": dict(model.thresholds), **evaluate_model(model, test_part)}
        say(f"留出写作者 {writer}：" + _micro_line(out[writer]))
    return out


CARD_MARKER = "<!-- figures: generated by `mdwatch model train`; do not edit below -->"


def _table(result: Mapping[str, Any]) -> list[str]:
    lines = ["| class | lexicon P | R | F1 | lexicon + model P | R | F1 | TP / FP / FN |", "|---|---|---|---|---|---|---|---|"]
    for cls in (*CLASSES, "micro"):
        lex, comb = result["lexicon"][cls], result["combined"][cls]
        name = "**micro**" if cls == "micro" else cls
        lines.append(f"| {name} | {lex['precision']:.3f} | {lex['recall']:.3f} | {lex['f1']:.3f} | "
                     f"{comb['precision']:.3f} | {comb['recall']:.3f} | {comb['f1']:.3f} | "
                     f"{comb['tp']} / {comb['fp']} / {comb['fn']} |")
    return lines


def _prob(p: float) -> str:
    """A probability for the card: close to 1 as 1 − ε, so that 0.9999996 does not read as 1.0 (off)."""
    return f"1 − {1 - p:.1e}" if 0.9999 < p < 1.0 else f"{p:.4f}"


def card_figures(meta: Mapping[str, Any]) -> str:
    """The generated part of the model card (README.md) from a model's metadata."""
    data = meta["data"]
    done = meta.get("writers_done") or {}
    lines = [CARD_MARKER, "", f"## Figures (trained {meta['trained_on']})", "",
             f"Data SHA-256 `{meta['data_sha256'][:16]}…`; writers: "
             + ", ".join(f"{w} ({n} sentences{'' if done.get(w) else ', not finished'})"
                         for w, n in data["all"]["per_writer"].items()) + ".", ""]
    lines += ["| split | sentences | hard negatives | none | " + " | ".join(CLASSES) + " |",
              "|---|---|---|---|" + "---|" * len(CLASSES)]
    for name in ("all", "development", "heldout"):
        d = data[name]
        lines.append(f"| {name} | {d['sentences']} | {d['hard_negatives']} | {d['none']} | "
                     + " | ".join(str(d["per_class"][c]) for c in CLASSES) + " |")
    harvest = meta.get("page_negatives") or {}
    if harvest:
        per_source = ", ".join(f"{name} {c['sentences']} from {c['pages']} pages"
                               for name, c in harvest["sources"].items())
        lines += ["", f"Training only (never held out): {harvest['sentences']} negatives harvested from the product "
                  f"pages of the labelled page corpora (`mdwatch/models/page_negatives.py`; pages SHA-256 "
                  f"`{harvest['pages_sha256'][:16]}…`): {per_source}. Negative for: "
                  + ", ".join(f"{c} {n}" for c, n in harvest["per_class"].items())
                  + f". Left out: {harvest['dropped_as_writer_text']} with the text of a writers' sentence; "
                  f"{harvest['duplicates']} repeats of a line merged."]
    extra = meta.get("extra") or {}
    if extra:
        lines += ["", f"Training only: {extra['sentences']} labelled sentences from {', '.join(extra['files'])} "
                  "(`--extra`, e.g. reviewers' decisions)."]
    params = meta["params"]
    lines += ["", f"Hyper-parameters: {params['estimator']} (liblinear), C = {params['C']}, sublinear tf = "
              f"{params['sublinear_tf']}, min_df = {params['min_df']}, class weight = {params['class_weight']}; "
              f"{meta['features']} features; {meta['folds']}-fold cross-validation; seed {meta['seed']}.", "",
              "Thresholds: first the lowest probability at which what the model adds (sentences the lexicon "
              "neither flagged with the class nor ruled out for it) keeps precision ≥ 0.95 in "
              "cross-validation on the development "
              "split and the training-only sentences (a harvested negative in the fold of its page corpus; "
              "never below 0.5; 1.0 = off); then raised, where needed, just above the highest "
              "probability of a false model finding on the guard corpora "
              f"({meta.get('guards') or '—'}; pages: product pages with page-level labels):", "",
              "| class | cross-validated | floor (worst false sentence) | shipped |", "|---|---|---|---|"]
    worst = (meta.get("floors") or {}).get("worst") or {}
    for cls in CLASSES:
        w = worst.get(cls)
        floor = f"{_prob(w['probability'])} ({w['sentence']})" if w else "—"
        lines.append(f"| {cls} | {_prob(meta['cv_thresholds'][cls])} | {floor} | {_prob(meta['thresholds'][cls])} |")
    lines += ["", "### Held-out split (scored once, not tuned on)", "",
              f"{meta['heldout']['sentences']} sentences, {meta['heldout']['claims']} claim labels. "
              "Lexicon only vs lexicon + model (shipped thresholds), per class and micro over the five classes:", ""]
    lines += _table(meta["heldout"])
    sentence_level = meta["heldout"].get("by_sentence")
    if sentence_level:
        lex, comb = sentence_level["lexicon"], sentence_level["combined"]
        lines += ["", f"By sentence (the acceptance's measure, recall on claim sentences): of the "
                  f"{comb['claim_sentences']} held-out claim sentences, a sentence is found when the detector gives it "
                  "at least one of its labelled classes; a flagged sentence is right when at least one class given "
                  "is labelled (in brackets: every class given is labelled).", "",
                  "| detector | sentences found | recall | sentences flagged | precision |", "|---|---|---|---|---|",
                  f"| lexicon | {lex['found']} | {lex['recall']:.3f} | {lex['flagged']} | {lex['precision']:.3f} "
                  f"({lex['precision_every_class']:.3f}) |",
                  f"| lexicon + model | {comb['found']} | {comb['recall']:.3f} | {comb['flagged']} | "
                  f"{comb['precision']:.3f} ({comb['precision_every_class']:.3f}) |"]
    if meta.get("heldout_without_floors"):
        lines += ["", "The same with the cross-validated thresholds only (without the page floors: what the "
                  "model does on the writers' kind of text when page precision is not guarded):", ""]
        lines += _table(meta["heldout_without_floors"])
    lines += ["", "### Development split, cross-validated (shipped thresholds; without floors in brackets)", "",
              "| class | P | R | F1 |", "|---|---|---|---|"]
    plain = meta.get("dev_cv_without_floors") or meta["dev_cv"]
    lines += [f"| {cls} | {r['precision']:.3f} ({plain[cls]['precision']:.3f}) | {r['recall']:.3f} "
              f"({plain[cls]['recall']:.3f}) | {r['f1']:.3f} ({plain[cls]['f1']:.3f}) |"
              for cls, r in meta["dev_cv"].items()]
    page_cv = meta.get("page_negatives_cv") or {}
    if page_cv:
        lines += ["", "### Page text, cross-validated (shipped thresholds)", "",
                  f"False model claims on the {page_cv['sentences']} harvested page sentences, each scored by a "
                  "model that never saw its page corpus (one format-corpus writer, or the demo site):", "",
                  "| class | false / negatives | highest false |", "|---|---|---|"]
        for cls in CLASSES:
            c = page_cv[cls]
            top = f"{_prob(c['worst'][0][0])} ({c['worst'][0][1]})" if c["worst"] else "—"
            lines.append(f"| {cls} | {c['false']} / {c['negatives']} | {top} |")
    lowo = meta.get("leave_one_writer_out") or {}
    if lowo:
        lines += ["", "### Leave one writer out (train on the two others' development parts, score this "
                  "writer's held-out part)", "",
                  "| writer left out | sentences | lexicon P | R | lexicon + model P | R | F1 |",
                  "|---|---|---|---|---|---|---|"]
        for writer, res in lowo.items():
            lex, comb = res["lexicon"]["micro"], res["combined"]["micro"]
            lines.append(f"| {writer} | {res['sentences']} | {lex['precision']:.3f} | {lex['recall']:.3f} | "
                         f"{comb['precision']:.3f} | {comb['recall']:.3f} | {comb['f1']:.3f} |")
    if meta.get("problems"):
        lines += ["", "Skipped data lines: " + "; ".join(meta["problems"][:10])]
    return "\n".join(lines) + "\n"


def write_card(meta: Mapping[str, Any], path: Path) -> None:
    """Replace the generated part of the model card ``path`` (after CARD_MARKER) with ``meta``'s figures."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    head = text.split(CARD_MARKER, 1)[0].rstrip("\n")
    path.write_text((head + "\n\n" if head else "") + card_figures(meta), encoding="utf-8")


def _cell(text: str, width: int) -> str:
    """``text`` right-aligned in ``width`` terminal columns (a CJK character takes two)."""
    import unicodedata

    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return " " * max(0, width - shown) + text


def format_table(result: Mapping[str, Any], title: str) -> list[str]:
    """Per class P/R/F1, lexicon only and lexicon + model side by side, for the terminal."""
    heads = ("类别", "词表 精确率", "召回率", "F1", "词表+模型 精确率", "召回率", "F1", "TP/FP/FN")
    widths = (12, 13, 8, 7, 19, 8, 7, 14)
    lines = [title, "".join(_cell(h, w) for h, w in zip(heads, widths, strict=True))]
    for cls in (*CLASSES, "micro"):
        lex, comb = result["lexicon"][cls], result["combined"][cls]
        cells = ("微平均" if cls == "micro" else cls, f"{lex['precision']:.3f}", f"{lex['recall']:.3f}",
                 f"{lex['f1']:.3f}", f"{comb['precision']:.3f}", f"{comb['recall']:.3f}", f"{comb['f1']:.3f}",
                 f"{comb['tp']}/{comb['fp']}/{comb['fn']}")
        lines.append("".join(_cell(c, w) for c, w in zip(cells, widths, strict=True)))
    if "by_sentence" in result:
        lex, comb = result["by_sentence"]["lexicon"], result["by_sentence"]["combined"]
        lines.append(f"按句（{comb['claim_sentences']} 个声明句：找到其任一标注类别即为找到）：词表 精确率 {lex['precision']:.3f} "
                     f"召回率 {lex['recall']:.3f}；词表+模型 精确率 {comb['precision']:.3f} 召回率 {comb['recall']:.3f}"
                     f"（标记 {comb['flagged']} 句，其中 {comb['right']} 句类别正确）")
    return lines


def heldout_sentences(folder: Path | None = None) -> list[Sentence]:
    """The held-out split of the labelled data (the split rule above)."""
    return [s for s in load_sentences(folder) if s.heldout]
