"""A classifier that runs in child processes, so a worker uses more than one core.

The model is CPU-bound Python under the GIL: in a thread it competes with the Faust event loop
that fetches, buffers and produces. In a child process the loop keeps fetching the next batch
while this one is scored.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from infra.broker import die_with_parent
from streams.text.classifier import Classifier, TextScores
from streams.text.load import TierOptions, load_classifier

_model: Classifier | None = None


def _init(model_dir: Path, options: TierOptions | None) -> None:
    global _model
    die_with_parent()
    _model = load_classifier(model_dir, options)


def _classify(texts: Sequence[str], langs: Sequence[str | None] | None) -> list[TextScores]:
    assert _model is not None, "child process was not initialised"
    return _model.classify(texts, langs)


class PooledClassifier(Classifier):
    """Same answers as `load_classifier(model_dir, options)`; `classify` blocks its calling thread
    only."""

    def __init__(
        self, model_dir: Path, processes: int = 1, options: TierOptions | None = None
    ) -> None:
        # Fails fast, and answers version and labels.
        self._local = load_classifier(model_dir, options)
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),  # never fork a threaded process
            initializer=_init,
            initargs=(model_dir, options),
        )
        self._pool.submit(_classify, ["warm-up"], None).result()

    @property
    def version(self) -> str:
        return self._local.version

    @property
    def labels(self) -> tuple[str, ...]:
        return self._local.labels

    def classify(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[TextScores]:
        return self._pool.submit(
            _classify, list(texts), None if langs is None else list(langs)
        ).result()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
