"""Train the linear text classifier on the labeled data, evaluate it, write the artifact."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streams.text.classifier import Classifier
from streams.text.features import FeatureSpec, Featurizer
from streams.text.lang_model import LangModel, select_spans
from streams.text.linear import LinearTextClassifier
from streams.text.rules import RULE_LABELS, RULES_VERSION, evaluate_rules
from streams.text.span_tagger import SpanTagger
from streams.training.cards import linear_model_card
from streams.training.dataset import (
    EXTRA_TRAIN,
    HOLDOUT_FRACTION,
    VALIDATION_ONLY,
    Row,
    load_dir,
    load_extra,
    split,
)
from streams.training.evaluate import binary_metrics, span_f1, spans_char_f1
from streams.training.labels import LABELS, blanked_targets, targets
from streams.training.linear_fit import Example, fit_language
from streams.training.loso import run_loso, source_key
from streams.training.span_fit import fit_tagger

__all__ = ["LABELS", "evaluate", "train"]

# The regularisation strength per language (picked by leave-one-source-out tests).
C_BY_LANG: dict[str, float] = {"en": 4.0, "ar": 8.0}
# Naive-Bayes feature scaling (NB-LR) per language: it lifts Arabic in and across sources
# (held-out ROC-AUC 0.931 -> 0.943, macro-F1 0.832 -> 0.853; trained without MPOLD, MPOLD
# ROC-AUC 0.795 -> 0.824; without OSACT2020, 0.779 -> 0.821) and leaves English as it was.
NB_SCALE_BY_LANG: dict[str, bool] = {"en": False, "ar": True}
CALIBRATION_FOLDS = 3
# The default policy approves at or below 0.2: with a share here, the calibration's slope puts 0.2
# where that share of toxic training rows (out of fold) score above it (`linear_fit.approve_slope`;
# 0.5 stays at the macro-F1 boundary). Off: at 0.8 with the extra sources it kept everyday texts
# far below 0.2, but also pushed a hateful generalisation without its slur to 0.003.
APPROVE_RECALL: float | None = None
SPAN_TUNE_ROWS = 3000
SPAN_THRESHOLDS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8)
SPAN_RATIOS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6)
SPAN_MIN_F1 = 0.35  # below this the explainer is noise and spans are switched off


def _blank_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    chars = list(text)
    for s, e in spans:
        for i in range(max(s, 0), min(e, len(chars))):
            chars[i] = " "
    return "".join(chars)


def build_examples(
    rows: Sequence[Row], lang: str, labels: tuple[str, ...] | None = None
) -> list[Example]:
    """Training examples of one language, with the targets of `streams.training.labels`.

    Toxic-spans posts are all toxic; each one with spans also yields a pseudo-negative, the post
    with its toxic spans blanked out, so the model learns the toxic words rather than the style
    of Civil Comments posts.
    """
    names = labels if labels is not None else LABELS[lang]
    out: list[Example] = []
    for r in rows:
        if r.lang != lang:
            continue
        out.append(Example(r.text, targets(r, names), r.id, r.source))
        if r.source == "toxic_spans" and r.spans:
            blanked = _blank_spans(r.text, r.spans)
            if blanked.strip():
                out.append(
                    Example(blanked, blanked_targets(blanked, lang, names), r.id + "#neg", r.source)
                )
    return out


def _span_rows(rows: Sequence[Row]) -> list[Row]:
    return [r for r in rows if r.spans is not None]


def tune_spans(
    clf: LinearTextClassifier, rows: Sequence[Row], lang: str = "en"
) -> tuple[float | None, float, float]:
    """Pick (threshold, ratio) maximising mean char-F1 on training span rows; returns its F1 too."""
    model = clf.models[lang]
    texts = [r.text for r in rows]
    probs = [s.toxic for s in clf.classify(texts, [lang] * len(texts))]
    contribs = clf.contributions(texts, lang)
    cached = [
        (r.text, ranges, contrib, list(r.spans or ()), p > 0.5)
        for r, p, (ranges, contrib) in zip(rows, probs, contribs, strict=True)
    ]
    best: tuple[float, float | None, float] = (-1.0, None, 0.0)
    for thr in SPAN_THRESHOLDS:
        for ratio in SPAN_RATIOS:
            scores = []
            for text, ranges, contrib, gold, toxic in cached:
                pred = select_spans(text, ranges, contrib, thr, ratio) if toxic else []
                scores.append(span_f1(pred, gold))
            f1 = float(np.mean(scores)) if scores else 0.0
            if f1 > best[0]:
                best = (f1, thr, ratio)
    best_f1, best_thr, best_ratio = best
    model.span_threshold = best_thr
    model.span_ratio = best_ratio
    return best_thr, best_ratio, best_f1


def evaluate(
    clf: Classifier,
    held: Sequence[Row],
    step: Callable[[int], None] | None = None,
    tagger: SpanTagger | None = None,
) -> dict[str, Any]:
    """Held-out metrics per language and per data set: every learned label, the share of texts
    each rule label fires on, and span char-F1 as served (spans only for texts scored above
    `EXPLAINED_ABOVE`) and, with a `tagger` (default: the fast tier's English one), of the
    tagger on every post (the SemEval-2021 protocol, where every post is toxic)."""
    if tagger is None and isinstance(clf, LinearTextClassifier) and "en" in clf.models:
        tagger = clf.models["en"].tagger
    out: dict[str, Any] = {"per_language": {}, "per_dataset": {}}
    scores = []
    for i in range(0, len(held), 512):
        part = held[i : i + 512]
        scores += clf.classify([r.text for r in part], [r.lang for r in part])
        if step:
            step(len(part))
    gold = [targets(r, LABELS.get(r.lang, ("toxic",))) for r in held]

    def block(idx: list[int]) -> dict[str, Any]:
        res: dict[str, Any] = {}
        names = dict.fromkeys(lab for i in idx for lab in gold[i])
        for label in names:
            lidx = [i for i in idx if gold[i].get(label) is not None and label in scores[i].labels]
            if lidx:
                res[label] = binary_metrics(
                    [int(gold[i][label] or 0) for i in lidx],
                    [scores[i].labels[label] for i in lidx],
                )
        for label in RULE_LABELS:
            res[f"{label}_fires"] = float(np.mean([scores[i].labels[label] > 0.5 for i in idx]))
        sidx = [i for i in idx if held[i].spans is not None]
        if sidx:
            res["spans_char_f1"] = spans_char_f1(
                [scores[i].spans for i in sidx], [list(held[i].spans or ()) for i in sidx]
            )
            res["spans_n"] = len(sidx)
            if tagger is not None and all(held[i].lang == "en" for i in sidx):
                res["spans_tagger_char_f1"] = spans_char_f1(
                    tagger.spans([held[i].text for i in sidx]),
                    [list(held[i].spans or ()) for i in sidx],
                )
        return res

    for lang in sorted({r.lang for r in held}):
        out["per_language"][lang] = block([i for i, r in enumerate(held) if r.lang == lang])
    for ds in sorted({r.dataset for r in held}):
        out["per_dataset"][ds] = block([i for i, r in enumerate(held) if r.dataset == ds])
    return out


def training_rows(data_dir: Path, limit: int | None = None) -> list[Row]:
    """Every file of `text/` and the `EXTRA_TRAIN` files of `extra/`."""
    return load_dir(data_dir, limit) + load_extra(data_dir, limit, EXTRA_TRAIN)


def trainable_sources(rows: Sequence[Row]) -> frozenset[str]:
    """The sources (`loso.source_key`) of `rows`."""
    return frozenset(source_key(r) for r in rows)


def fit_toxic(rows: Sequence[Row], lang: str, spec: FeatureSpec) -> LangModel:
    """The shipped recipe for `toxic` alone (what leave-one-source-out measures)."""
    return fit_language(
        lang, build_examples(rows, lang, ("toxic",)), ("toxic",), Featurizer(spec),
        c=C_BY_LANG[lang], calibration_folds=CALIBRATION_FOLDS, nb_scale=NB_SCALE_BY_LANG[lang],
        approve_recall=APPROVE_RECALL,
    )  # fmt: skip


def train(
    data_dir: Path,
    out_dir: Path,
    *,
    limit: int | None = None,
    progress: bool = True,
    cross_source_eval: bool = False,
) -> dict[str, Any]:
    """Train every language and label, evaluate on the held-out rows, write the artifact.

    Writes model.json + weights.npz (the model), metrics.json and MODEL_CARD.md into `out_dir`
    and returns the metrics. `limit` caps the rows read per file (for small test models).
    """
    started = time.perf_counter()
    spec = FeatureSpec()
    featurizer = Featurizer(spec)
    fits = sum(len(labels) * (1 + CALIBRATION_FOLDS) for labels in LABELS.values())
    total = 1 + fits + 3 + 1 + 1 + 1
    console = Console(stderr=True)
    bar = Progress(
        TextColumn("[bold]train[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
        transient=False,
    )
    with bar:
        task = bar.add_task("loading data", total=total)

        def step(desc: str) -> None:
            bar.update(task, description=desc)
            bar.advance(task)

        rows = training_rows(data_dir, limit)
        train_rows, held = split(rows)
        step("data loaded")
        models: dict[str, LangModel] = {}
        for lang, labels in LABELS.items():
            examples = build_examples(train_rows, lang)
            if not examples:
                raise ValueError(f"no {lang} training rows in {data_dir}")
            models[lang] = fit_language(
                lang, examples, labels, featurizer, c=C_BY_LANG[lang],
                calibration_folds=CALIBRATION_FOLDS, nb_scale=NB_SCALE_BY_LANG[lang],
                approve_recall=APPROVE_RECALL, step=step,
            )  # fmt: skip
        clf = LinearTextClassifier(spec, models)
        span_rows = _span_rows(train_rows)
        span_info: dict[str, Any] = {"tuned_on_rows": min(len(span_rows), SPAN_TUNE_ROWS)}
        if span_rows:
            # The word-contribution explainer: Arabic (no gold spans) and the cascade use it.
            bar.update(task, description="tuning the contribution explainer")
            thr, ratio, f1 = tune_spans(clf, span_rows[:SPAN_TUNE_ROWS], "en")
            span_info.update({"threshold": thr, "ratio": ratio, "train_char_f1": f1})
            if f1 < SPAN_MIN_F1:
                thr = None
            for m in models.values():
                m.span_threshold, m.span_ratio = thr, ratio
            span_info["enabled"] = thr is not None
            tagger, tuned_f1 = fit_tagger(
                [(r.id, r.text, r.spans or ()) for r in span_rows], step=step
            )
            models["en"].tagger = tagger
            span_info["tagger"] = tagger.settings() | {
                "posts": len(span_rows),
                "tune_char_f1": tuned_f1,
            }
        else:
            step("no span rows")
            step("")
            step("")
        step("span explainers ready")
        bar.update(task, description="evaluating on held-out rows")
        metrics = evaluate(clf, held)
        step("evaluated")
        if cross_source_eval:
            bar.update(task, description="leave-one-source-out")
            metrics["cross_source"] = run_loso(
                rows + load_extra(data_dir, limit), trainable_sources(rows), fit_toxic
            )
        metrics["spans"] = span_info
        metrics["rules"] = {"version": RULES_VERSION, "cases": evaluate_rules()}
        metrics["labels"] = {
            lang: list(labels) + list(RULE_LABELS) for lang, labels in LABELS.items()
        }
        metrics["data"] = _data_summary(rows, train_rows, held)
        metrics["speed"] = _speed(clf, held)
        metrics["train_seconds"] = round(time.perf_counter() - started, 1)
        metrics["limit"] = limit
        clf.meta = {
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "labels": {k: list(v) for k, v in LABELS.items()},
            "rules": {"version": RULES_VERSION, "labels": list(RULE_LABELS)},
            "holdout": f"blake2b(id) < {HOLDOUT_FRACTION}; always held out: "
            + ", ".join(sorted(VALIDATION_ONLY)),
            "limit": limit,
        }
        out_dir.mkdir(parents=True, exist_ok=True)
        version = clf.save(out_dir)
        metrics["version"] = version
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        (out_dir / "MODEL_CARD.md").write_text(linear_model_card(metrics))
        step(f"saved {version}")
    return metrics


def _data_summary(
    rows: Sequence[Row], train_rows: Sequence[Row], held: Sequence[Row]
) -> dict[str, Any]:
    tr = Counter(r.dataset for r in train_rows)
    ho = Counter(r.dataset for r in held)
    return {
        ds: {"train": tr.get(ds, 0), "held_out": ho.get(ds, 0)}
        for ds in sorted({r.dataset for r in rows})
    }


def _speed(clf: LinearTextClassifier, held: Sequence[Row]) -> dict[str, float]:
    texts = [r.text for r in held if len(r.text) <= 280][:2000]
    if not texts:
        return {}
    clf.classify(texts[:50])
    t0 = time.perf_counter()
    for i in range(0, len(texts), 256):
        clf.classify(texts[i : i + 256])
    dt = time.perf_counter() - t0
    return {"texts_per_second": round(len(texts) / dt, 1), "n": float(len(texts))}
