"""Distil the transformer tier into a smaller student: fewer layers, shorter inputs.

The shipped six-layer model (the teacher) judges about 390 texts a second on one core, and the
cascade sends a fifth to a quarter of all texts to it: escalation caps a worker. The student is
the first `layers` layers of the same MiniLM base (the embeddings and vocabulary stay), trained
on targets that mix the teacher's calibrated scores with the gold labels:

    target = teacher_share * teacher + (1 - teacher_share) * gold

The teacher's scores carry what it learned from every source (how unsure a text is, not only
which side it is on); the gold labels keep the student from copying the teacher's mistakes
outright. Loss weights balance the classes within each source, as for the teacher
(`finetune.loss_weights`), and `identity_hate` is learned only where a source labels it.

The teacher is an exported model directory run by onnxruntime, so scoring every training text
costs a few minutes; its scores are kept in the working folder and reused while the teacher's
version and the texts are the same. Needs the `train` extra; the serving path never imports this.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from infra.errors import ModelError
from infra.progress import task_bar
from streams.training.dataset import load_dir, split
from streams.training.finetune import (
    LABELS,
    FinetuneConfig,
    TrainedRun,
    TrainExample,
    base_model_dir,
    build_examples,
    loss_weights,
    sample,
    save_run,
    train_loop,
)

__all__ = [
    "DistillConfig",
    "distill",
    "distill_targets",
    "teacher_scores",
    "truncate_encoder",
]

_CACHE_FILE = "teacher_scores.npz"


@dataclass(frozen=True, slots=True)
class DistillConfig:
    teacher: Path  # an exported model directory (modstream_model.json) with both labels
    layers: int = 2  # the first this many encoder layers of the base
    teacher_share: float = 0.5  # weight of the teacher's score in each target, the rest gold
    # The word embeddings (11.7M of a two-layer student's 15M parameters) stay as pretrained:
    # their dense Adam updates would cost most of every step and they move little in fine-tuning.
    freeze_embeddings: bool = True

    def __post_init__(self) -> None:
        if self.layers < 1:
            raise ValueError(f"a student needs at least one layer, got {self.layers}")
        if not 0.0 <= self.teacher_share <= 1.0:
            raise ValueError(f"teacher_share must be in [0, 1], got {self.teacher_share}")


def truncate_encoder(model: Any, layers: int) -> Any:
    """Keep the first `layers` encoder layers of a BERT-style model (in place; returned)."""
    encoder: Any = getattr(getattr(model, "base_model", None), "encoder", None)
    blocks = getattr(encoder, "layer", None)
    if encoder is None or blocks is None:
        raise ModelError("the base model has no encoder.layer stack to cut")
    if layers > len(blocks):
        raise ModelError(f"the base model has {len(blocks)} layers, fewer than {layers}")
    encoder.layer = blocks[:layers]
    model.config.num_hidden_layers = layers
    return model


def distill_targets(
    examples: Sequence[TrainExample], teacher: NDArray[np.float64], teacher_share: float
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """(targets, weights), each (n, 2) for toxic and identity_hate: the teacher's scores
    `teacher` (n, 2) mixed with the gold labels; identity_hate weighs 0 where no gold exists."""
    if teacher.shape != (len(examples), len(LABELS)):
        raise ValueError(f"teacher scores {teacher.shape} do not match {len(examples)} examples")
    gold = np.array([[e.toxic, e.hate or 0] for e in examples], dtype=np.float64)
    y = teacher_share * teacher + (1.0 - teacher_share) * gold
    tox_w, hate_w = loss_weights(examples)
    return np.clip(y, 0.0, 1.0).astype(np.float32), np.stack([tox_w, hate_w], axis=1)


def teacher_scores(
    teacher_dir: Path,
    texts: Sequence[str],
    *,
    threads: int = 2,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> NDArray[np.float64]:
    """The teacher's calibrated (toxic, identity_hate) scores of `texts`, (n, 2). Scores of
    this teacher version kept in `cache_dir` are reused per text; only the others are run."""
    from rich.console import Console

    from streams.text.onnx_model import OnnxTextClassifier

    teacher = OnnxTextClassifier(teacher_dir, threads=threads, batch_size=64)
    missing = [lab for lab in LABELS if lab not in teacher.labels]
    if missing:
        raise ModelError(f"the teacher in {teacher_dir} has no {', '.join(missing)} score")
    cache = cache_dir / _CACHE_FILE if cache_dir is not None else None
    known = _read_cache(cache, teacher.version)
    keys = [_text_key(t) for t in texts]
    todo = sorted({k: i for i, k in enumerate(keys) if k not in known}.values())
    bar = task_bar(Console(stderr=True), transient=False, enabled=progress and bool(todo))
    with bar:
        task = bar.add_task("teacher scores", total=len(todo))
        for s in range(0, len(todo), 512):
            part = todo[s : s + 512]
            probs = teacher.probabilities([texts[i] for i in part])
            for i, p in zip(part, probs, strict=True):
                known[keys[i]] = tuple(p[lab] for lab in LABELS)
            bar.advance(task, len(part))
    if cache is not None and todo:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            cache,
            version=np.array(teacher.version),
            keys=np.array(list(known)),
            scores=np.array(list(known.values()), dtype=np.float64),
        )
    return np.array([known[k] for k in keys], dtype=np.float64).reshape(len(texts), len(LABELS))


def _text_key(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _read_cache(cache: Path | None, version: str) -> dict[str, tuple[float, ...]]:
    """Text key -> scores of the teacher `version` from `cache` (empty if absent or another)."""
    if cache is None or not cache.is_file():
        return {}
    with np.load(cache) as saved:
        if "version" not in saved or str(saved["version"]) != version:
            return {}
        return {
            str(k): tuple(float(x) for x in row)
            for k, row in zip(saved["keys"], saved["scores"], strict=True)
        }


def distill(
    data_dir: Path,
    out_dir: Path,
    config: FinetuneConfig,
    student: DistillConfig,
    *,
    base: Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train the student and save it as a Hugging Face model directory into `out_dir`; returns
    the training info (the same keys as `finetune.finetune`, plus `distillation`)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    say = log or (lambda _msg: None)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    np.random.seed(config.seed)
    base = base or base_model_dir()

    train_rows, _ = split(load_dir(data_dir))
    examples = build_examples(train_rows, "en")
    train_ex, rest = sample(examples, config.max_examples, config.seed, config.source_shares)
    say(f"{len(train_ex)} training examples, {len(rest)} left for calibration")
    scores = teacher_scores(
        student.teacher,
        [e.text for e in train_ex],
        threads=config.threads,
        cache_dir=out_dir.parent,
        progress=progress,
    )
    y, w = distill_targets(train_ex, scores, student.teacher_share)

    tokenizer = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base),
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={lab: i for i, lab in enumerate(LABELS)},
        problem_type="multi_label_classification",
    )
    truncate_encoder(model, student.layers)
    if student.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    enc = tokenizer(
        [e.text for e in train_ex], truncation=True, max_length=config.max_length, padding=False
    )
    ids: list[list[int]] = enc["input_ids"]
    pad = tokenizer.pad_token_id or 0
    seconds, losses, steps = train_loop(
        model, ids, y, w, config, pad, progress=progress, log=log, title="distil"
    )
    gold = np.array([e.toxic for e in train_ex])
    run = TrainedRun(base, config, train_ex, len(rest), seconds, losses, steps)
    return save_run(
        model,
        tokenizer,
        out_dir,
        run,
        distillation={
            "teacher": student.teacher.name,
            "teacher_version": _teacher_version(student.teacher),
            "layers": student.layers,
            "teacher_share": student.teacher_share,
            "freeze_embeddings": student.freeze_embeddings,
            # How often the teacher's toxic side (0.5) agrees with the gold label.
            "teacher_gold_agreement": float(np.mean((scores[:, 0] >= 0.5) == (gold == 1))),
        },
    )


def _teacher_version(teacher_dir: Path) -> str:
    from streams.text.onnx_model import CONFIG_FILE

    try:
        return str(json.loads((teacher_dir / CONFIG_FILE).read_text())["version"])
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"no usable teacher in {teacher_dir}: {exc}") from exc
