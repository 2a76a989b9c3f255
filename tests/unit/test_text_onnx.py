"""The ONNX transformer tier: export a tiny model the test builds, check it, serve it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from infra.errors import ModelError
from streams.text import Classifier
from streams.text.onnx_model import CONFIG_FILE, FP32_FILE, INT8_FILE, OnnxTextClassifier
from tests.support.conformance import ClassifierConformance
from tests.support.tiny_models import BENIGN, TOXIC

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("torch", reason="export needs the train extra")
pytest.importorskip("transformers", reason="export needs the train extra")


@pytest.fixture(scope="session")
def tiny_hf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.tiny_models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-hf"))


@pytest.fixture(scope="session")
def tiny_onnx(tiny_hf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from streams.training.export import export_model

    out = tmp_path_factory.mktemp("tiny-onnx")
    report = export_model(tiny_hf, out, int8=True, languages=["en", "ar"], name="tiny")
    assert report.max_abs_diff < 1e-4
    return out


@pytest.fixture(scope="session")
def tiny_fp32(tiny_onnx: Path) -> OnnxTextClassifier:
    return OnnxTextClassifier(tiny_onnx, variant="fp32")


class TestOnnxClassifier(ClassifierConformance):
    @pytest.fixture
    def classifier(self, tiny_fp32: OnnxTextClassifier) -> Classifier:
        return tiny_fp32


def test_layout_and_config(tiny_onnx: Path) -> None:
    for name in (FP32_FILE, INT8_FILE, "tokenizer.json", CONFIG_FILE):
        assert (tiny_onnx / name).is_file()
    config = json.loads((tiny_onnx / CONFIG_FILE).read_text())
    assert config["labels"] == ["toxic", "identity_hate"]
    assert config["activation"] == "sigmoid"
    assert config["languages"] == ["en", "ar"]
    assert config["version"].startswith("onnx-v1:tiny:")
    assert config["default_variant"] == "int8"


@pytest.mark.parametrize("sizes", [(1,), (3,), (7,), (2, 40)])
def test_onnx_logits_match_torch(
    tiny_hf: Path, tiny_fp32: OnnxTextClassifier, sizes: tuple[int, ...]
) -> None:
    """Several batch sizes and sequence lengths (padding differs per batch)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    texts = (TOXIC + BENIGN)[: sizes[0]]
    if len(sizes) > 1:
        texts = [" ".join(TOXIC * 4)[: sizes[1] * 6], BENIGN[0]]
    tok = AutoTokenizer.from_pretrained(str(tiny_hf))
    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_hf)).eval()
    enc = tok(
        texts, padding=True, truncation=True, max_length=tiny_fp32.max_length, return_tensors="pt"
    )
    with torch.no_grad():
        ref = model(**enc).logits.numpy()
    got = tiny_fp32.logits(texts)
    np.testing.assert_allclose(got, ref, atol=1e-4)


def test_int8_close_to_fp32(tiny_onnx: Path, tiny_fp32: OnnxTextClassifier) -> None:
    int8 = OnnxTextClassifier(tiny_onnx)  # the config's default variant
    assert int8.variant == "int8"
    assert int8.version.endswith(":int8")
    texts = TOXIC + BENIGN
    a = np.array([s.toxic for s in int8.classify(texts)])
    b = np.array([s.toxic for s in tiny_fp32.classify(texts)])
    assert np.abs(a - b).max() < 0.1
    assert a[: len(TOXIC)].min() > a[len(TOXIC) :].max()


def test_calibration_is_applied(tiny_onnx: Path, tmp_path: Path) -> None:
    from streams.training.export import copy_model_dir, set_calibration

    copy_model_dir(tiny_onnx, tmp_path)
    before = OnnxTextClassifier(tmp_path, variant="fp32")
    z = before.logits([TOXIC[0]])[0, 0]
    set_calibration(tmp_path, {"toxic": (0.5, -1.0)})
    after = OnnxTextClassifier(tmp_path, variant="fp32")
    assert after.version != before.version
    got = after.classify([TOXIC[0]])[0].toxic
    assert got == pytest.approx(1 / (1 + np.exp(-(0.5 * z - 1.0))), abs=1e-6)


def test_softmax_model(tmp_path: Path) -> None:
    """A single-label two-class model (e.g. an operator's Arabic BERT): toxic = 1 - p(normal)."""
    from streams.training.export import export_model
    from tests.support.tiny_models import build_tiny_model

    hf = build_tiny_model(tmp_path / "hf", multi_label=False, steps=30)
    export_model(hf, tmp_path / "onnx", languages=["ar"])
    clf = OnnxTextClassifier(tmp_path / "onnx")
    assert clf.labels == ("toxic",)
    out = clf.classify([TOXIC[1], BENIGN[1]], ["ar", "ar"])
    assert out[0].toxic > out[1].toxic
    assert set(out[0].labels) == {"toxic"}


def test_resolve_labels() -> None:
    from streams.training.export import _resolve_labels

    assert _resolve_labels({0: "toxic", 1: "insult"}, True, None, None) == (
        ["toxic", "insult"],
        None,
    )
    assert _resolve_labels({0: "OFF"}, True, None, None) == (["toxic"], None)
    assert _resolve_labels({0: "LABEL_0", 1: "LABEL_1"}, False, None, None)[1] == "LABEL_0"
    assert (
        _resolve_labels({0: "hate", 1: "normal", 2: "offensive"}, False, None, None)[1] == "normal"
    )
    with pytest.raises(ModelError, match="toxic-label"):
        _resolve_labels({0: "a", 1: "b"}, True, None, None)
    with pytest.raises(ModelError, match="negative-label"):
        _resolve_labels({0: "a", 1: "b", 2: "c"}, False, None, None)


def test_bad_model_dirs(tmp_path: Path, tiny_onnx: Path) -> None:
    with pytest.raises(ModelError):
        OnnxTextClassifier(tmp_path)
    (tmp_path / CONFIG_FILE).write_text("{not json")
    with pytest.raises(ModelError):
        OnnxTextClassifier(tmp_path)
    config = json.loads((tiny_onnx / CONFIG_FILE).read_text())
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ModelError, match=r"model\.onnx"):
        OnnxTextClassifier(tmp_path)  # config but no graph
    from streams.training.export import export_model

    with pytest.raises(ModelError, match=r"config\.json"):
        export_model(tmp_path, tmp_path / "out")


def test_serving_path_imports_without_torch(tiny_onnx: Path) -> None:
    """Workers run onnxruntime + tokenizers only: torch and transformers must never be imported."""
    code = f"""
import sys

BLOCKED = ("torch", "transformers", "onnx", "onnxscript")


class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is blocked on the serving path")
        return None


sys.meta_path.insert(0, Block())
from pathlib import Path
from streams.text.onnx_model import OnnxTextClassifier
from streams.text.load import load_classifier, TierOptions
from streams.text.cascade import CascadeClassifier
import streams.pipeline_process, streams.cli, streams.bench.classify
clf = OnnxTextClassifier(Path({str(tiny_onnx)!r}))
assert not any(m.split(".")[0] in BLOCKED for m in sys.modules), "a blocked module was imported"
print(round(clf.classify(["you idiot"])[0].toxic, 3))
"""
    env = os.environ | {"PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert 0.0 <= float(proc.stdout.strip()) <= 1.0
