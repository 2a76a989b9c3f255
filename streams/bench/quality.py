"""`modstream bench quality`: how good the text models are on sources they never saw, and on the
held-out rows.

It leads with leave-one-source-out (`streams.training.loso`): per source and language, the fast
tier's recipe fitted without that source scores all of its rows (ROC-AUC, macro-F1 and toxic F1
at the shipped threshold), beside the pooled split's figure for the same source. Then it loads the
fast tier (or trains it first with `--train`) and, where a transformer is available, the cascade;
scores the held-out split (`streams.training.dataset.split`: never trained on) and the `extra/`
files the fast tier does not train on, and prints ROC-AUC and macro-F1 per label, language and
data set, toxic-span char-F1 (as served and under the SemEval protocol), the rule labels on their
hand-written cases, and texts/s per tier with the cascade's uncertain share. `--json` prints the
same as JSON.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from infra.errors import ConfigError
from infra.progress import task_bar
from infra.settings import get_settings
from streams.bench.arabizi import arabizi_report
from streams.text.classifier import Classifier
from streams.training.dataset import EXTRA_TRAIN, Row
from streams.training.loso import run_loso

bench_quality_app = typer.Typer(no_args_is_help=True)
console = Console(stderr=True)

_LABEL_ORDER = ("toxic", "identity_hate", "insult", "obscene", "severe_toxic")


def _speed(
    clf: Classifier, rows: list[Row], batch: int, bar: Progress, name: str
) -> dict[str, float]:
    """Texts/s over `rows` in batches, and the share a cascade escalated."""
    if not rows:
        return {"texts": 0.0, "texts_per_second": 0.0}
    clf.classify([r.text for r in rows[:32]], [r.lang for r in rows[:32]])  # warm-up
    task = bar.add_task(f"speed: {name}", total=len(rows))
    escalated = 0
    started = time.perf_counter()
    for i in range(0, len(rows), batch):
        part = rows[i : i + batch]
        clf.classify([r.text for r in part], [r.lang for r in part])
        escalated += int(getattr(clf, "last_escalated", 0))
        bar.advance(task, len(part))
    seconds = time.perf_counter() - started
    out = {"texts": float(len(rows)), "texts_per_second": len(rows) / seconds}
    if hasattr(clf, "last_escalated"):
        out["uncertain_share"] = escalated / len(rows)
    return out


def _quality(
    clf: Classifier, held: list[Row], bar: Progress, name: str, tagger: Any = None
) -> dict[str, Any]:
    from streams.training.train import evaluate

    task = bar.add_task(f"score: {name}", total=len(held))
    return evaluate(clf, held, step=lambda n: bar.advance(task, n), tagger=tagger)


def _loso(
    data: Path, limit: int | None, sample: int | None, jobs: int, bar: Progress
) -> dict[str, Any]:
    from streams.training.dataset import load_extra
    from streams.training.loso import folds, sample_per_source
    from streams.training.train import fit_toxic, trainable_sources, training_rows

    rows = training_rows(data, limit)
    trainable = trainable_sources(rows)
    scored = rows + [r for r in load_extra(data, limit) if r.dataset not in EXTRA_TRAIN]
    if sample is not None:
        scored = sample_per_source(scored, sample)
    task = bar.add_task("leave-one-source-out", total=len(folds(scored, trainable)))

    def step(name: str) -> None:
        bar.update(task, description=f"leave-one-source-out: {name}")
        bar.advance(task)

    return run_loso(scored, trainable, fit_toxic, jobs=jobs, step=step)


def run_bench(  # noqa: PLR0913 - the command's options, keyword-only
    data: Path,
    model_dir: Path,
    *,
    train_first: bool,
    limit: int | None,
    speed_texts: int,
    batch: int,
    cascade: bool,
    threads: int,
    progress: bool,
    loso: bool = True,
    sample: int | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Everything `bench quality` reports, as a dict."""
    from dataclasses import replace

    from streams.text.cascade import CascadeClassifier
    from streams.text.linear import LinearTextClassifier
    from streams.text.load import TierOptions, load_classifier
    from streams.text.rules import RULES_VERSION, evaluate_rules
    from streams.training.dataset import load_extra, split
    from streams.training.train import train, training_rows

    if not data.is_dir():
        raise ConfigError(f"no labeled data at {data} (set MODSTREAM_TRAINING_DATA)")
    if train_first:
        train(data, model_dir, limit=limit, progress=progress)
    fast = LinearTextClassifier.load(model_dir)
    tiers: dict[str, Classifier] = {"fast": fast}
    transformer = None
    if cascade:
        settings = get_settings()
        options = TierOptions.from_settings(settings.text, settings.longtext)
        options = replace(options, threads=threads)
        full = load_classifier(model_dir, options)
        if isinstance(full, CascadeClassifier):
            tiers["cascade"] = full
            transformer = full.transformers.get("en")
    _, held = split(training_rows(data, limit))
    held += [r for r in load_extra(data, limit) if r.dataset not in EXTRA_TRAIN]
    random.Random(7).shuffle(held)
    tagger = fast.models["en"].tagger if "en" in fast.models else None

    report: dict[str, Any] = {
        "models": {name: clf.version for name, clf in tiers.items()},
        "limit": limit,
        "sample": sample,
        "held_out_rows": len(held),
        "quality": {},
        "speed": {},
        "rules": {"version": RULES_VERSION, "cases": evaluate_rules()},
    }
    bar = task_bar(console, enabled=progress)
    with bar:
        if loso:
            report["loso"] = _loso(data, limit, sample, jobs, bar)
        for name, clf in tiers.items():
            report["quality"][name] = _quality(clf, held, bar, name, tagger)
        report["arabizi"] = arabizi_report(fast, held)
        speed_rows = held[:speed_texts]
        report["speed"]["fast"] = _speed(fast, speed_rows, batch, bar, "fast")
        if transformer is not None:
            en_rows = [r for r in held if r.lang == "en"][: max(64, speed_texts // 4)]
            report["speed"]["transformer"] = _speed(
                transformer, en_rows, batch, bar, "transformer (en)"
            )
        if "cascade" in tiers:
            report["speed"]["cascade"] = _speed(tiers["cascade"], speed_rows, batch, bar, "cascade")
    return report


def _cell(m: dict[str, float] | None) -> str:
    if not m:
        return "–"
    if "roc_auc" in m:
        return f"{m['roc_auc']:.3f}/{m['macro_f1']:.3f}"
    return f"acc {m.get('accuracy', float('nan')):.3f}"


def _f(m: dict[str, float] | None, key: str) -> str:
    return f"{m[key]:.3f}" if m and key in m else "–"


def print_loso(loso: dict[str, Any], out: Console) -> None:
    """The lead table: each source scored by a model that never saw it, beside the pooled split."""
    table = Table(
        title="toxic on unseen sources: leave-one-source-out (trained on every other source of"
        f" the language); F1 at the shipped threshold {loso['threshold']}"
    )
    for col in ("source", "n", "pos", "ROC-AUC", "macro-F1", "F1 toxic", "pooled AUC/F1"):
        table.add_column(col, justify="left" if col == "source" else "right")
    for name, m in loso["unseen"].items():
        table.add_row(
            name,
            str(int(m["n"])),
            f"{m['pos_rate']:.0%}",
            _f(m, "roc_auc"),
            _f(m, "macro_f1"),
            _f(m, "f1_toxic"),
            _cell(loso["pooled"].get(name)),
        )
    for name, m in loso["pooled"].items():
        if name.endswith("/all"):
            table.add_row(name + " (pooled split)", str(int(m["n"])), f"{m['pos_rate']:.0%}",
                          "", "", _f(m, "f1_toxic"), _cell(m))  # fmt: skip
    out.print(table)


def print_arabizi(arabizi: dict[str, Any], out: Console) -> None:
    if not arabizi:
        return
    table = Table(title=f"Arabizi: the {arabizi['rows']:,} held-out Arabic rows rendered in Latin")
    table.add_column("read as")
    table.add_column("ROC-AUC / macro-F1", justify="right")
    for key, name in (
        ("arabic_script", "Arabic script (the rows as written)"),
        ("arabizi_served", "Arabizi, detected and transliterated (served)"),
        ("arabizi_as_english", "Arabizi read by the English model"),
    ):
        table.add_row(name, _cell(arabizi[key]))
    out.print(table)
    out.print(
        f"Detected as Arabizi: {arabizi['detected']:.1%} of the rendered rows;"
        f" English held-out rows taken for Arabizi: {arabizi['english_taken_for_arabizi']:.2%}."
    )


def print_report(report: dict[str, Any], out: Console) -> None:
    if "loso" in report:
        print_loso(report["loso"], out)
    spans = Table(title="toxic-span char-F1 and rule firing rates on held-out rows")
    for col in ("tier", "scope", "span F1 served", "span F1 tagger", "posts", "threat", "harass."):
        spans.add_column(col, justify="left" if col in ("tier", "scope") else "right")
    for tier, q in report["quality"].items():
        scopes = {**q["per_language"], **q["per_dataset"]}
        labels = [lab for lab in _LABEL_ORDER if any(lab in m for m in scopes.values())]
        table = Table(title=f"{tier}: held-out ROC-AUC/macro-F1 at 0.5 (acc: one class in the set)")
        table.add_column("scope")
        table.add_column("n", justify="right")
        for lab in labels:
            table.add_column(lab, justify="right")
        for scope, m in scopes.items():
            n = int(m["toxic"]["n"]) if "toxic" in m else 0
            table.add_row(scope, str(n), *(_cell(m.get(lab)) for lab in labels))
            if scope in q["per_language"] or "spans_char_f1" in m:
                tagged = m.get("spans_tagger_char_f1")
                spans.add_row(
                    tier,
                    scope,
                    f"{m['spans_char_f1']:.3f}" if "spans_char_f1" in m else "–",
                    "–" if tagged is None else f"{tagged:.3f}",
                    str(m.get("spans_n", "–")),
                    f"{m.get('threat_fires', 0):.2%}",
                    f"{m.get('harassment_fires', 0):.2%}",
                )
        out.print(table)
    out.print(spans)
    out.print(
        "Served spans exist only for texts scored above 0.2 (the default policy's review line);"
        " the tagger column runs the span tagger on every post (the SemEval-2021 protocol: every"
        " post is toxic)."
    )
    rules = Table(title=f"rule labels ({report['rules']['version']}) on the hand-written cases")
    for col in ("language / label", "cases", "positives", "precision", "recall", "F1"):
        rules.add_column(col, justify="left" if col.startswith("lang") else "right")
    for name, m in report["rules"]["cases"].items():
        rules.add_row(
            name,
            str(int(m["n"])),
            str(int(m["positives"])),
            f"{m['precision']:.2f}",
            f"{m['recall']:.2f}",
            f"{m['f1']:.2f}",
        )
    out.print(rules)
    print_arabizi(report.get("arabizi") or {}, out)
    speed = Table(title="speed (one process; the fast tier is single-threaded)")
    for col in ("tier", "texts", "texts/s", "uncertain share"):
        speed.add_column(col, justify="left" if col == "tier" else "right")
    for tier, m in report["speed"].items():
        share = m.get("uncertain_share")
        speed.add_row(
            tier,
            str(int(m["texts"])),
            f"{m['texts_per_second']:,.0f}",
            "–" if share is None else f"{share:.1%}",
        )
    out.print(speed)
    out.print("Models: " + ", ".join(f"{k} {v}" for k, v in report["models"].items()))


@bench_quality_app.command("quality")
def bench_quality(  # noqa: PLR0913, PLR0917 - a command: one parameter per option
    train: Annotated[
        bool, typer.Option("--train", help="Train the fast tier into --model first.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option(help="At most this many rows per data file (train and score).")
    ] = None,
    model: Annotated[Path | None, typer.Option(help="Fast-tier folder [default: setting]")] = None,
    data: Annotated[Path | None, typer.Option(help="Labeled data [default: setting]")] = None,
    texts: Annotated[int, typer.Option(help="Held-out texts for the speed runs.")] = 2000,
    batch: Annotated[int, typer.Option(help="Texts per classify() call.")] = 256,
    cascade: Annotated[
        bool, typer.Option(help="Also measure the cascade (when a transformer is available).")
    ] = True,
    threads: Annotated[int, typer.Option(help="onnxruntime intra-op threads.")] = 1,
    loso: Annotated[
        bool, typer.Option(help="Lead with leave-one-source-out (one fit per source).")
    ] = True,
    sample: Annotated[
        int | None,
        typer.Option(help="Leave-one-source-out on at most N rows a source (a stable sample)."),
    ] = None,
    jobs: Annotated[
        int, typer.Option(help="Worker processes for the leave-one-source-out fits.")
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Leave-one-source-out per source first; then ROC-AUC / macro-F1 per label, language and
    data set on the held-out rows, span F1, rules, texts/s per tier."""
    settings = get_settings()
    report = run_bench(
        data or settings.training_data,
        model or settings.models_path,
        train_first=train,
        limit=limit,
        speed_texts=texts,
        batch=batch,
        cascade=cascade,
        threads=threads,
        progress=not as_json and sys.stderr.isatty(),
        loso=loso,
        sample=sample,
        jobs=jobs,
    )
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
    else:
        print_report(report, Console(width=max(Console().width, 120)))
