"""Test doubles around a real classifier."""

from __future__ import annotations

from collections.abc import Sequence

from streams.text.classifier import Classifier, TextScores


class Wrapping(Classifier):
    """Passes everything through to a real classifier; subclasses watch or break `classify`."""

    def __init__(self, inner: Classifier) -> None:
        self.inner = inner

    @property
    def version(self) -> str:
        return self.inner.version

    @property
    def labels(self) -> tuple[str, ...]:
        return self.inner.labels

    def classify(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[TextScores]:
        return self.inner.classify(texts, langs)
