"""The shipped two-layer student: it loads with onnxruntime alone, is the default model cut
shorter and calibrated, and judges like a toxicity model."""

from __future__ import annotations

import json

from streams.text.load import DEFAULT_TRANSFORMER_DIR, STUDENT_TRANSFORMER_DIR
from streams.text.onnx_model import CONFIG_FILE, OnnxTextClassifier

TOXIC_EN = "you are a fucking stupid idiot, shut up you worthless moron"
BENIGN_EN = "thank you for the lovely photos of the garden, have a wonderful weekend"


def test_the_student_is_a_shorter_calibrated_copy_of_the_default() -> None:
    student = json.loads((STUDENT_TRANSFORMER_DIR / CONFIG_FILE).read_text())
    teacher = json.loads((DEFAULT_TRANSFORMER_DIR / CONFIG_FILE).read_text())
    assert student["labels"] == teacher["labels"] == ["toxic", "identity_hate"]
    assert student["max_length"] == 64 < teacher["max_length"]
    assert student["default_variant"] == "int8"
    assert set(student["calibration"]) == {"toxic", "identity_hate"}
    metrics = json.loads((STUDENT_TRANSFORMER_DIR / "metrics.json").read_text())
    assert metrics["training"]["distillation"]["layers"] == 2
    assert metrics["training"]["distillation"]["teacher_version"] == teacher["version"]


def test_the_student_judges_without_torch() -> None:
    clf = OnnxTextClassifier(STUDENT_TRANSFORMER_DIR)
    assert clf.variant == "int8"
    toxic, benign = clf.classify([TOXIC_EN, BENIGN_EN], ["en", "en"])
    assert toxic.toxic > 0.5 > benign.toxic
    assert set(toxic.labels) == {"toxic", "identity_hate"}
