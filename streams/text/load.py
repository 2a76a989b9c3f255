"""Loading the text classifier from a model directory."""

from __future__ import annotations

from pathlib import Path

from streams.text.classifier import Classifier
from streams.text.linear import LinearTextClassifier

__all__ = ["load_classifier"]


def load_classifier(model_dir: Path) -> Classifier:
    """The classifier stored in `model_dir`; raises infra.errors.ModelError if it is unusable."""
    return LinearTextClassifier.load(model_dir)
