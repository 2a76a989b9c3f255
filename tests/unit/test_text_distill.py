"""Distilling the transformer tier: the targets, the cut encoder, the teacher's scores and a
whole (tiny) distillation run, with a teacher and a base model the tests build."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from infra.errors import ModelError
from streams.text.onnx_model import CONFIG_FILE, OnnxTextClassifier
from streams.training.distill import (
    DistillConfig,
    distill,
    distill_targets,
    teacher_scores,
    truncate_encoder,
)
from streams.training.finetune import FinetuneConfig, TrainExample
from tests.support.tiny_models import BENIGN, TOXIC

pytest.importorskip("torch", reason="distillation needs the train extra")
pytest.importorskip("transformers", reason="distillation needs the train extra")


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.tiny_models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-hf"))


@pytest.fixture(scope="module")
def teacher_dir(tiny_hf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from streams.training.export import export_model

    out = tmp_path_factory.mktemp("teacher")
    export_model(tiny_hf, out, languages=["en"], name="teacher")
    return out


def _example(toxic: int, hate: int | None, group: str, key: str) -> TrainExample:
    return TrainExample(text=key, toxic=toxic, hate=hate, group=group, key=key)


def test_targets_mix_the_teacher_with_gold() -> None:
    examples = [
        _example(1, 1, "a", "x1"),
        _example(0, 0, "a", "x2"),
        _example(1, None, "b", "x3"),
        _example(0, None, "b", "x4"),
    ]
    teacher = np.array([[0.8, 0.6], [0.4, 0.2], [0.9, 0.7], [0.1, 0.3]])
    y, w = distill_targets(examples, teacher, 0.25)
    assert y.dtype == np.float32
    assert w.shape == (4, 2)
    assert y[0] == pytest.approx([0.25 * 0.8 + 0.75, 0.25 * 0.6 + 0.75])
    assert y[1] == pytest.approx([0.25 * 0.4, 0.25 * 0.2])
    # identity_hate is learned only where the source labels it.
    assert w[2, 1] == 0.0
    assert w[3, 1] == 0.0
    assert w[0, 1] > 0.0
    assert w[1, 1] > 0.0
    # All teacher or all gold at the ends.
    assert distill_targets(examples, teacher, 1.0)[0] == pytest.approx(teacher)
    assert distill_targets(examples, teacher, 0.0)[0][:, 0] == pytest.approx([1, 0, 1, 0])


def test_targets_refuse_scores_of_other_rows() -> None:
    with pytest.raises(ValueError, match="do not match"):
        distill_targets([_example(1, None, "a", "x")], np.zeros((2, 2)), 0.5)


def test_config_refuses_nonsense(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one layer"):
        DistillConfig(teacher=tmp_path, layers=0)
    with pytest.raises(ValueError, match="teacher_share"):
        DistillConfig(teacher=tmp_path, teacher_share=1.5)


def test_truncate_keeps_the_first_layers(tiny_hf: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    full = AutoModelForSequenceClassification.from_pretrained(str(tiny_hf)).eval()
    cut = AutoModelForSequenceClassification.from_pretrained(str(tiny_hf)).eval()
    truncate_encoder(cut, 1)
    assert len(cut.bert.encoder.layer) == 1
    assert cut.config.num_hidden_layers == 1
    first = full.bert.encoder.layer[0].attention.self.query.weight
    assert torch.equal(cut.bert.encoder.layer[0].attention.self.query.weight, first)
    ids = torch.tensor([[2, 5, 6, 3]])
    assert cut(input_ids=ids).logits.shape == (1, 2)
    with pytest.raises(ModelError, match="fewer than 3"):
        truncate_encoder(cut, 3)


def test_teacher_scores_are_its_calibrated_scores_and_are_cached(
    teacher_dir: Path, tmp_path: Path
) -> None:
    texts = TOXIC[:3] + BENIGN[:3]
    scores = teacher_scores(teacher_dir, texts, threads=1, cache_dir=tmp_path, progress=False)
    served = OnnxTextClassifier(teacher_dir).probabilities(texts)
    assert scores.shape == (6, 2)
    assert scores[:, 0] == pytest.approx([p["toxic"] for p in served], abs=1e-6)
    assert scores[:, 1] == pytest.approx([p["identity_hate"] for p in served], abs=1e-6)
    assert scores[:3, 0].min() > scores[3:, 0].max()  # the teacher separates its own texts
    # The second call reads the cache per text: mark the cached scores and see them come back,
    # for a subset and a new order too.
    cache = tmp_path / "teacher_scores.npz"
    with np.load(cache) as saved:
        version, keys = saved["version"], saved["keys"]
    assert str(version).startswith("onnx-v1:teacher:")
    np.savez(cache, version=version, keys=keys, scores=np.full((len(keys), 2), 0.25))
    again = teacher_scores(teacher_dir, texts[::-1][:4], cache_dir=tmp_path, progress=False)
    assert again == pytest.approx(np.full((4, 2), 0.25))
    # A text not in the cache is scored and added; the cached ones stay.
    new = [*texts[:2], "have a nice day and a lovely weekend"]
    more = teacher_scores(teacher_dir, new, threads=1, cache_dir=tmp_path, progress=False)
    assert more[:2] == pytest.approx(np.full((2, 2), 0.25))
    assert more[2, 0] == pytest.approx(
        OnnxTextClassifier(teacher_dir).probabilities(new[2:])[0]["toxic"], abs=1e-6
    )
    with np.load(cache) as saved:
        assert len(saved["keys"]) == 7


def test_teacher_without_both_labels_is_refused(teacher_dir: Path, tmp_path: Path) -> None:
    import shutil

    other = tmp_path / "other"
    shutil.copytree(teacher_dir, other)
    config = json.loads((other / CONFIG_FILE).read_text())
    config["labels"] = ["toxic", "insult"]
    (other / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ModelError, match="identity_hate"):
        teacher_scores(other, ["hello"], progress=False)


def _write_data(directory: Path) -> Path:
    rows = []
    for k in range(12):
        for i, t in enumerate(TOXIC):
            rows.append({"id": f"t{k}-{i}", "text": f"{t} {k}", "lang": "en", "toxic": 1,
                         "hate": i % 2, "source": "tiny"})  # fmt: skip
        for i, t in enumerate(BENIGN):
            rows.append({"id": f"b{k}-{i}", "text": f"{t} {k}", "lang": "en", "toxic": 0,
                         "hate": 0, "source": "tiny"})  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "en_tiny_train.jsonl").open("w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    return directory


def test_distill_trains_a_smaller_student(tiny_hf: Path, teacher_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoConfig

    data = _write_data(tmp_path / "data")
    config = FinetuneConfig(
        max_examples=None, epochs=3, lr=3e-3, batch_size=16, max_length=32, threads=1,
        source_shares=(),
    )  # fmt: skip
    student = DistillConfig(teacher=teacher_dir, layers=1, teacher_share=0.5)
    embeddings_before = _word_embeddings(tiny_hf)
    out = tmp_path / "work" / "hf"
    info = distill(data, out, config, student, base=tiny_hf, progress=False)

    assert AutoConfig.from_pretrained(str(out)).num_hidden_layers == 1
    assert info["distillation"]["layers"] == 1
    assert info["distillation"]["teacher_share"] == 0.5
    assert info["distillation"]["teacher_version"].startswith("onnx-v1:teacher:")
    assert 0.0 <= info["distillation"]["teacher_gold_agreement"] <= 1.0
    assert info["distillation"]["freeze_embeddings"] is True
    assert np.array_equal(_word_embeddings(out), embeddings_before)  # kept as pretrained
    assert info["examples"] > 0
    assert info["steps"] > 0
    assert (tmp_path / "work" / "teacher_scores.npz").is_file()
    saved = json.loads((out / "modstream_training.json").read_text())
    assert saved["distillation"] == info["distillation"]
    # The student exports to the serving layout and separates what it learned.
    from streams.training.export import export_model

    export_model(out, tmp_path / "onnx", languages=["en"], int8=True, name="student")
    served = OnnxTextClassifier(tmp_path / "onnx")
    tox = [s.toxic for s in served.classify([TOXIC[0], TOXIC[3], BENIGN[0], BENIGN[2]])]
    assert min(tox[:2]) > max(tox[2:])


def _word_embeddings(hf_dir: Path) -> NDArray[np.float32]:
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(hf_dir))
    return np.asarray(model.get_input_embeddings().weight.detach().numpy()).copy()
