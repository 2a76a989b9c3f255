"""Leave-one-source-out: how the fast tier's recipe does on a source it never saw.

The pooled held-out split (`streams.training.dataset.split`) shares platform, annotators and
label scheme with the training rows, so it overstates quality on other platforms and dialects.
Here each source (a data set in one language) is scored whole by a `toxic` model fitted, with
the shipped recipe (`streams.training.train.fit_toxic`), on the training rows of the other
sources of its language. The pooled column is the model fitted on the training split of every
training source, scored on each source's held-out rows. Folds are independent, so they run in
worker processes (`jobs`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.text.features import FeatureSpec
from streams.text.lang_model import LangModel
from streams.text.linear import LinearTextClassifier
from streams.training.dataset import Row, is_holdout, split
from streams.training.evaluate import binary_metrics

__all__ = ["FitToxic", "Fold", "folds", "run_loso", "sample_per_source", "source_key"]

# A recipe: (training rows, language, feature spec) -> a `toxic` model.
FitToxic = Callable[[Sequence[Row], str, FeatureSpec], LangModel]

# Sources that cannot be scored on `toxic` on their own (every row is toxic); still trained on.
UNSCORED: frozenset[str] = frozenset({"toxic_spans"})


def source_key(row: Row) -> str:
    """A source within one language ("en/mlma" and "ar/mlma" are different sources)."""
    return f"{row.lang}/{row.source}"


def sample_per_source(rows: Sequence[Row], n: int) -> list[Row]:
    """At most `n` rows of each source, picked by a stable hash of the row id (not the first
    `n` of the file, which some sets sort by class), in source order."""
    by_source: dict[str, list[Row]] = {}
    for r in rows:
        by_source.setdefault(source_key(r), []).append(r)

    def rank(r: Row) -> bytes:
        return hashlib.blake2b(f"sample:{r.id}".encode(), digest_size=8).digest()

    return [r for key in sorted(by_source) for r in sorted(by_source[key], key=rank)[:n]]


@dataclass(frozen=True, slots=True)
class Fold:
    """Fit `toxic` for `lang` on the sources `train_sources` and score `test` (`name`'s rows).

    `pooled` marks the fold of the pooled split: its training rows are every training source's
    training split and its test rows their held-out rows."""

    name: str
    lang: str
    train_sources: frozenset[str]
    pooled: bool = False


def folds(scored: Sequence[Row], trainable: frozenset[str]) -> list[Fold]:
    """One fold per source of `scored` with both classes (and not in `UNSCORED`), plus one
    pooled fold per language. A fold trains on the `trainable` sources of its language other
    than the one it scores; a source that is never trained on (a diagnostic) is scored by the
    model of every trainable source of its language."""
    out: list[Fold] = []
    langs = sorted({r.lang for r in scored})
    for lang in langs:
        pool = frozenset(s for s in trainable if s.startswith(f"{lang}/"))
        if not pool:
            continue
        labels: dict[str, set[int]] = {}
        for r in scored:
            if r.lang == lang:
                labels.setdefault(source_key(r), set()).add(r.toxic)
        for key in sorted(labels):
            if key.split("/", 1)[1] in UNSCORED or len(labels[key]) < 2:
                continue
            rest = pool - {key}
            if rest:
                out.append(Fold(key, lang, rest))
        out.append(Fold(f"{lang}/pooled", lang, pool, pooled=True))
    return out


def _fold_rows(fold: Fold, rows: Sequence[Row]) -> tuple[list[Row], list[Row]]:
    mine = [r for r in rows if r.lang == fold.lang]
    if fold.pooled:
        train_rows, held = split(r for r in mine if source_key(r) in fold.train_sources)
        # Held-out rows of every scored source, trained on or not.
        held = [r for r in mine if source_key(r) not in fold.train_sources or is_holdout(r.id)]
        return train_rows, held
    train_rows = [r for r in mine if source_key(r) in fold.train_sources]
    return train_rows, [r for r in mine if source_key(r) == fold.name]


def _run_fold(
    fold: Fold, rows: Sequence[Row], fit: FitToxic, spec: FeatureSpec
) -> tuple[Fold, list[Row], list[float]]:
    """Fit the fold's model and score its test rows (in a worker process)."""
    train_rows, test = _fold_rows(fold, rows)
    model = fit(train_rows, fold.lang, spec)
    clf = LinearTextClassifier(spec, {"en": model, fold.lang: model})
    scores: list[float] = []
    for i in range(0, len(test), 512):
        part = test[i : i + 512]
        scores += [s.toxic for s in clf.classify([r.text for r in part], [fold.lang] * len(part))]
    return fold, test, scores


def _metrics(test: Sequence[Row], scores: Sequence[float], threshold: float) -> dict[str, float]:
    y = np.array([r.toxic for r in test], dtype=np.int64)
    p = np.array(scores, dtype=np.float64)
    out = binary_metrics(y, p, threshold)
    pred = p > threshold
    tp = float((pred & (y == 1)).sum())
    out["f1_toxic"] = 2 * tp / max(float(pred.sum() + (y == 1).sum()), 1.0)
    return out


def run_loso(
    rows: Sequence[Row],
    trainable: frozenset[str],
    fit: FitToxic,
    *,
    jobs: int = 1,
    threshold: float = 0.5,
    spec: FeatureSpec | None = None,
    step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """{"unseen": {source: metrics}, "pooled": {source: metrics}, "folds": n}.

    "unseen" is each source scored by the model that never saw it; "pooled" each source's
    held-out rows scored by the pooled model (also "<lang>/all"). `fit` is the recipe (a
    module-level function, so that worker processes can run it). Metrics: n, pos_rate,
    roc_auc, macro_f1 and f1_toxic at `threshold` (the shipped policy line)."""
    plan = folds(rows, trainable)
    spec = spec or FeatureSpec()
    unseen: dict[str, dict[str, float]] = {}
    pooled: dict[str, dict[str, float]] = {}

    def record(fold: Fold, test: list[Row], scores: list[float]) -> None:
        if step:
            step(fold.name)
        if not fold.pooled:
            unseen[fold.name] = _metrics(test, scores, threshold)
            return
        pooled[fold.name.replace("/pooled", "/all")] = _metrics(test, scores, threshold)
        for key in sorted({source_key(r) for r in test}):
            idx = [i for i, r in enumerate(test) if source_key(r) == key]
            pooled[key] = _metrics([test[i] for i in idx], [scores[i] for i in idx], threshold)

    if jobs <= 1:
        for fold in plan:
            record(*_run_fold(fold, rows, fit, spec))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(_run_fold, fold, rows, fit, spec) for fold in plan]
            for fut in futures:
                record(*fut.result())
    return {"unseen": unseen, "pooled": pooled, "folds": len(plan), "threshold": threshold}
