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


class Counting(Classifier):
    """Scores "idiot" as toxic, everything else as benign, and counts what it was asked."""

    def __init__(self, version: str = "counting-v1") -> None:
        self._version = version
        self.texts: list[str] = []

    @property
    def version(self) -> str:
        return self._version

    @property
    def labels(self) -> tuple[str, ...]:
        return ("toxic",)

    def classify(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[TextScores]:
        self.texts += texts
        out = []
        for text in texts:
            at = text.casefold().find("idiot")
            score = 0.95 if at >= 0 else 0.05
            spans = [(at, at + 5)] if at >= 0 else []
            out.append(TextScores(score, {"toxic": score}, "en", spans))
        return out
