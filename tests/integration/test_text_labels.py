"""The trained classifier adds the rule labels, with their floor and spans."""

from __future__ import annotations

from pathlib import Path

from streams.text.linear import LinearTextClassifier
from streams.text.rules import (
    RULE_LABELS,
    TOXIC_FLOOR,
)


def test_classifier_adds_rule_labels_floor_and_spans(model_dir: Path) -> None:
    clf = LinearTextClassifier.load(model_dir)
    assert set(RULE_LABELS) <= set(clf.labels)
    text = "the weather is lovely. i know where you live"
    threat, benign = clf.classify([text, "the weather is lovely today"], ["en", "en"])
    assert threat.labels["threat"] == 1.0
    assert threat.labels["harassment"] == 0.0
    assert threat.toxic >= TOXIC_FLOOR
    assert any(text[s:e].endswith("where you live") for s, e in threat.spans)
    assert benign.labels["threat"] == 0.0
    assert benign.toxic < TOXIC_FLOOR
