"""`modstream bench classify`: throughput and latency of each text tier, in one process.

Held-out texts of the labeled data (never trained on), in batches like the worker's. Reports
texts/s and p50/p95/p99 latency per batch and per text for the fast tier, the transformer tier
(each variant present: fp32, int8) and the cascade, plus the share the cascade escalated.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from infra.errors import ConfigError
from infra.progress import task_bar
from infra.settings import get_settings
from streams.text.classifier import Classifier

bench_classify_app = typer.Typer(no_args_is_help=True)
console = Console()


@dataclass
class TierResult:
    name: str
    texts: int
    seconds: float
    batch_ms: list[float]
    batch_sizes: list[int]
    note: str = ""

    @property
    def rate(self) -> float:
        return self.texts / self.seconds if self.seconds else 0.0

    def pct(self, q: float, per_text: bool = False) -> float:
        vals = np.asarray(self.batch_ms)
        if per_text:
            vals = vals / np.asarray(self.batch_sizes)
        return float(np.percentile(vals, q)) if len(vals) else float("nan")


def _run(
    name: str, clf: Classifier, texts: list[str], langs: list[str | None], batch: int, bar: Progress
) -> TierResult:
    clf.classify(texts[: min(batch, 32)], langs[: min(batch, 32)])  # warm-up
    task = bar.add_task(name, total=len(texts))
    times: list[float] = []
    sizes: list[int] = []
    escalated = 0
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        t0 = time.perf_counter()
        clf.classify(texts[i : i + batch], langs[i : i + batch])
        times.append((time.perf_counter() - t0) * 1000)
        sizes.append(len(texts[i : i + batch]))
        escalated += int(getattr(clf, "last_escalated", 0))
        bar.advance(task, sizes[-1])
    seconds = time.perf_counter() - started
    note = f"escalated {escalated / len(texts):.1%}" if hasattr(clf, "last_escalated") else ""
    return TierResult(name, len(texts), seconds, times, sizes, note)


def _with_fp32(data_dir: Path, shipped: Path) -> Path:
    """The working export of the shipped model (it keeps fp32 beside int8), else `shipped`."""
    from streams.text.onnx_model import CONFIG_FILE, FP32_FILE

    try:
        version = json.loads((shipped / CONFIG_FILE).read_text())["version"]
    except (OSError, ValueError, KeyError):
        return shipped
    for work in sorted(data_dir.glob("*-work*/onnx")):
        try:
            same = json.loads((work / CONFIG_FILE).read_text()).get("version") == version
        except (OSError, ValueError):
            continue
        if same and (work / FP32_FILE).is_file():
            return work
    return shipped


@bench_classify_app.command("classify")
def bench_classify(
    texts: Annotated[
        int, typer.Option(help="Held-out texts for the fast tier and cascade.")
    ] = 4000,
    transformer_texts: Annotated[
        int, typer.Option(help="Held-out English texts for the transformer alone.")
    ] = 1024,
    batch: Annotated[int, typer.Option(help="Texts per classify() call.")] = 256,
    threads: Annotated[int, typer.Option(help="onnxruntime intra-op threads.")] = 2,
    model: Annotated[Path | None, typer.Option(help="Fast-tier folder [default: setting]")] = None,
    transformer: Annotated[
        Path | None,
        typer.Option(
            help="Exported transformer folder [default: the shipped model; its fp32 twin from"
            " <data dir>/*-work*/onnx when that is there]"
        ),
    ] = None,
    lang: Annotated[str | None, typer.Option(help="Only texts of this language (en, ar).")] = None,
) -> None:
    """Throughput and latency of the fast tier, the transformer tier and the cascade."""
    from dataclasses import replace

    from streams.text.linear import LinearTextClassifier
    from streams.text.load import DEFAULT_TRANSFORMER_DIR, TierOptions, load_classifier
    from streams.text.onnx_model import FP32_FILE, INT8_FILE, OnnxTextClassifier, is_model_dir
    from streams.training.dataset import load_dir, split

    settings = get_settings()
    if not settings.training_data.is_dir():
        raise ConfigError(f"no labeled data at {settings.training_data}")
    _, held = split(load_dir(settings.training_data))
    if lang:
        held = [r for r in held if r.lang == lang]
    random.Random(7).shuffle(held)
    rows = held[:texts]
    en_rows = [r for r in held if r.lang == "en"][:transformer_texts]
    model_dir = model or settings.models_path
    tdir = transformer or _with_fp32(settings.data_dir, DEFAULT_TRANSFORMER_DIR)

    results: list[TierResult] = []
    bar = task_bar(console)
    with bar:
        fast = LinearTextClassifier.load(model_dir)
        results.append(
            _run("fast (linear)", fast, [r.text for r in rows], [r.lang for r in rows], batch, bar)
        )
        if is_model_dir(tdir):
            for variant, file in (("fp32", FP32_FILE), ("int8", INT8_FILE)):
                if not (tdir / file).is_file():
                    continue
                clf = OnnxTextClassifier(tdir, variant=variant, threads=threads)
                results.append(
                    _run(
                        f"transformer {variant} (en)",
                        clf,
                        [r.text for r in en_rows],
                        ["en"] * len(en_rows),
                        batch,
                        bar,
                    )
                )
        options = replace(
            TierOptions.from_settings(settings.text, settings.longtext), threads=threads
        )
        if transformer is not None:
            options = replace(options, transformers={"en": transformer}, use_default=False)
        cascade = load_classifier(model_dir, options)
        results.append(
            _run("cascade", cascade, [r.text for r in rows], [r.lang for r in rows], batch, bar)
        )

    table = Table(
        title=f"bench classify: held-out texts, batches of {batch}, {threads} onnxruntime threads"
    )
    for col in ("tier", "texts", "texts/s", "batch p50/p95/p99 ms", "per text p50/p95/p99 ms", ""):
        table.add_column(col, justify="left" if col in ("tier", "") else "right")
    for r in results:
        table.add_row(
            r.name,
            str(r.texts),
            f"{r.rate:,.0f}",
            f"{r.pct(50):.1f} / {r.pct(95):.1f} / {r.pct(99):.1f}",
            f"{r.pct(50, True):.2f} / {r.pct(95, True):.2f} / {r.pct(99, True):.2f}",
            r.note,
        )
    console.print(table)
    console.print(
        "One process; the fast tier is single-threaded. The cascade line includes the"
        " transformer work on the escalated share."
    )
