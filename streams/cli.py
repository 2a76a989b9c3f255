"""Subcommands of `modstream` that run stream workers and models."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from infra.errors import ConfigError, ModelError
from infra.kafka import ensure_topics
from infra.logging import configure_logging
from infra.settings import Settings, get_settings
from streams.policy import DecisionPolicy, PolicyBook

console = Console(stderr=True)


def policies_from(settings: Settings) -> PolicyBook:
    return PolicyBook.load(
        settings.policy_file, DecisionPolicy(settings.policy_low, settings.policy_high)
    )


def worker() -> None:
    """Run the stream worker (Faust): events.text → verdicts.text, events.media → verdicts.media."""
    import faust

    from streams.app import create_app
    from streams.classify_text import register as register_text
    from streams.hash_media import build_pipeline as build_media
    from streams.hash_media import register as register_media
    from streams.pipeline import TextPipeline
    from streams.text.load import load_classifier
    from streams.text.pool import PooledClassifier

    settings = get_settings()
    configure_logging(settings.log_level)
    bootstrap = settings.kafka_bootstrap
    if not bootstrap:
        raise ConfigError(
            "MODSTREAM_KAFKA_BOOTSTRAP is not set (or start everything: modstream up)"
        )
    asyncio.run(ensure_topics(bootstrap))
    classifier = (
        PooledClassifier(settings.models_path, settings.worker_model_processes)
        if settings.worker_model_processes
        else load_classifier(settings.models_path)
    )
    pipeline = TextPipeline(
        classifier, policies_from(settings), cache_size=settings.dedupe_cache_size
    )
    app = create_app(settings, bootstrap)
    register_text(app, pipeline, settings)
    register_media(app, build_media(settings, policies_from(settings).default), settings, bootstrap)
    faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True).execute_from_commandline()


def train(
    output: Annotated[
        Path | None, typer.Option(help="Artifact folder [default: models dir]")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Labeled data [default: setting]")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many rows per file.")] = None,
    if_missing: Annotated[bool, typer.Option(help="Do nothing if a model is there.")] = False,
) -> None:
    """Train the text models from the labeled data and write the artifact and its model card."""
    from streams.text.load import load_classifier
    from streams.text.training import train as run_training

    settings = get_settings()
    out = output or settings.models_path
    if if_missing:
        try:
            load_classifier(out)
        except ModelError:
            pass
        else:
            console.print(f"model present in {out}")
            return
    source = data or settings.training_data
    if not source.is_dir():
        raise ConfigError(f"no training data at {source} (set MODSTREAM_TRAINING_DATA)")
    metrics = run_training(source, out, limit=limit)
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
) -> None:
    """Score a JSONL file without Kafka, one output row per input row."""
    from streams.text.batch import classify_jsonl
    from streams.text.load import load_classifier

    settings = get_settings()
    classifier = load_classifier(model or settings.models_path)
    with input.open(encoding="utf-8") as src:
        if output is None:
            classify_jsonl(classifier, policies_from(settings).default, src, sys.stdout)
        else:
            with output.open("w", encoding="utf-8") as dst:
                n = classify_jsonl(classifier, policies_from(settings).default, src, dst)
            console.print(f"{n} rows written to {output}")


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.command()(train)
    app.command()(classify)
    from infra.cli import add_commands
    from streams.bench import bench_app

    add_commands(app, "bench", bench_app)
