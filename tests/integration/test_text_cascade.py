"""The cascade (fast tier + ONNX transformer tier) and how `load_classifier` assembles it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.errors import ModelError
from infra.settings import Settings
from streams.pipeline import RawRecord
from streams.pipeline_process import InProcess, Outgoing, PipelineProcess, text_pipeline
from streams.text import Classifier, TextScores
from streams.text.cascade import CascadeClassifier
from streams.text.linear import LinearTextClassifier
from streams.text.load import FAST_ONLY, TierOptions, load_classifier
from streams.text.onnx_model import OnnxTextClassifier, is_model_dir
from tests.support.conformance import BENIGN_EN, TOXIC_AR, TOXIC_EN, ClassifierConformance
from tests.support.events import post_event

pytest.importorskip("torch", reason="export needs the train extra")
pytest.importorskip("transformers", reason="export needs the train extra")


@pytest.fixture(scope="session")
def fast(model_dir: Path) -> LinearTextClassifier:
    return LinearTextClassifier.load(model_dir)


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from streams.training.export import export_model
    from tests.support.tiny_models import build_tiny_model

    hf = build_tiny_model(tmp_path_factory.mktemp("cascade-hf"))
    out = tmp_path_factory.mktemp("cascade-onnx")
    export_model(hf, out, languages=["en"], name="tiny")
    return out


@pytest.fixture(scope="session")
def cascade(fast: LinearTextClassifier, tiny_export: Path) -> CascadeClassifier:
    # The whole range is uncertain, so every English text reaches the transformer.
    return CascadeClassifier(fast, {"en": OnnxTextClassifier(tiny_export)}, band=(0.0, 1.0))


class TestCascadeClassifier(ClassifierConformance):
    @pytest.fixture
    def classifier(self, cascade: CascadeClassifier) -> Classifier:
        return cascade


class TestCascadeDefaultBand(ClassifierConformance):
    @pytest.fixture
    def classifier(self, fast: LinearTextClassifier, tiny_export: Path) -> Classifier:
        return CascadeClassifier(fast, {"en": OnnxTextClassifier(tiny_export)})


def test_routes_only_uncertain_texts_of_covered_languages(
    fast: LinearTextClassifier, tiny_export: Path
) -> None:
    transformer = OnnxTextClassifier(tiny_export)
    texts = [BENIGN_EN, TOXIC_EN, TOXIC_AR, "you idiot"]
    f = fast.classify(texts)
    c = CascadeClassifier(fast, {"en": transformer}, band=(0.0, 1.0), blend=1.0)
    out = c.classify(texts)
    assert c.last_escalated == 3  # the Arabic text has no transformer
    assert out[2] == f[2]
    t = transformer.classify([texts[0], texts[1], texts[3]])
    for got, want in zip([out[0], out[1], out[3]], t, strict=True):
        assert got.toxic == pytest.approx(want.toxic)
    narrow = CascadeClassifier(fast, {"en": transformer}, band=(0.5, 0.5))
    assert narrow.classify(texts) == f
    assert narrow.last_escalated == 0
    empty = CascadeClassifier(fast, {"en": transformer}, band=(1.0, 1.0))
    assert empty.classify(texts[:2]) == f[:2]


def test_blend(fast: LinearTextClassifier, tiny_export: Path) -> None:
    transformer = OnnxTextClassifier(tiny_export)
    half = CascadeClassifier(fast, {"en": transformer}, band=(0.0, 1.0), blend=0.5)
    f = fast.classify([TOXIC_EN])[0]
    t = transformer.classify([TOXIC_EN])[0]
    got = half.classify([TOXIC_EN])[0]
    assert got.toxic == pytest.approx(0.5 * f.toxic + 0.5 * t.toxic)
    with pytest.raises(ValueError, match="blend"):
        CascadeClassifier(fast, {"en": transformer}, blend=2.0)
    with pytest.raises(ValueError, match="band"):
        CascadeClassifier(fast, {"en": transformer}, band=(0.9, 0.1))


class _Fixed(OnnxTextClassifier):
    """A transformer stand-in that answers a fixed toxic probability."""

    def __init__(self, base: OnnxTextClassifier, p: float) -> None:
        self.__dict__.update(base.__dict__)
        self.p = p

    def classify(self, texts, langs=None):  # type: ignore[no-untyped-def]
        return [TextScores(self.p, {"toxic": self.p}, "en", []) for _ in texts]


def test_spans_follow_the_final_decision(fast: LinearTextClassifier, tiny_export: Path) -> None:
    base = OnnxTextClassifier(tiny_export)
    text = "have a nice day you stupid idiot"
    f = fast.classify([text], ["en"])[0]
    # The transformer clears the text: no spans.
    cleared = CascadeClassifier(fast, {"en": _Fixed(base, 0.01)}, band=(0.0, 1.0), blend=1.0)
    out = cleared.classify([text], ["en"])[0]
    assert out.toxic == pytest.approx(0.01)
    assert out.spans == []
    # The transformer finds a text toxic: spans come from the fast tier's contributions.
    flagged = CascadeClassifier(fast, {"en": _Fixed(base, 0.99)}, band=(0.0, 1.0), blend=1.0)
    outs = flagged.classify([text, BENIGN_EN], ["en", "en"])
    assert outs[0].toxic == pytest.approx(0.99)
    if f.toxic > 0.5:
        assert outs[0].spans == f.spans
    words = " ".join(text[a:b] for a, b in outs[0].spans)
    assert "idiot" in words or "stupid" in words
    for a, b in outs[1].spans:
        assert 0 <= a < b <= len(BENIGN_EN)


def test_load_classifier_assembles_tiers(model_dir: Path, tiny_export: Path) -> None:
    assert isinstance(load_classifier(model_dir, FAST_ONLY), LinearTextClassifier)
    options = TierOptions(transformers={"ar": tiny_export}, use_default=False, band=(0.2, 0.8))
    clf = load_classifier(model_dir, options)
    assert isinstance(clf, CascadeClassifier)
    assert set(clf.transformers) == {"ar"}
    assert clf.band == (0.2, 0.8)
    with pytest.raises(ModelError, match="no exported transformer"):
        load_classifier(model_dir, TierOptions(transformers={"ar": model_dir}))


def test_shipped_english_model_is_used_by_default(model_dir: Path) -> None:
    from streams.text.load import DEFAULT_TRANSFORMER_DIR

    if not is_model_dir(DEFAULT_TRANSFORMER_DIR):
        pytest.skip("no shipped transformer artifact in this checkout")
    clf = load_classifier(model_dir)
    assert isinstance(clf, CascadeClassifier)
    assert "en" in clf.transformers
    out = clf.classify([TOXIC_EN, BENIGN_EN])
    assert out[0].toxic > 0.5 > out[1].toxic


def _published(out: Outgoing) -> list[tuple[str, str, dict[str, Any]]]:
    """The records, without the fields that depend on when they were made."""
    timing = ("judged_at", "latency_ms", "failed_at")
    return [
        (topic, key, {k: v for k, v in json.loads(value).items() if k not in timing})
        for topic, key, value in out.records
    ]


def test_the_pipeline_process_judges_like_in_process(
    model_dir: Path, tiny_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker judges in a child process built from the same settings: the cascade and the
    rest of the pipeline must survive that and publish the same records."""
    monkeypatch.setenv("MODSTREAM_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("MODSTREAM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MODSTREAM_TRANSFORMER_MODELS", json.dumps({"en": str(tiny_export)}))
    monkeypatch.setenv("MODSTREAM_CASCADE_LOW", "0")  # every English text reaches the transformer
    texts = [TOXIC_EN, BENIGN_EN, TOXIC_AR]
    records = [
        RawRecord("events.text", 0, i, b"demo:user-1", json.dumps(post_event(f"e{i}", t)).encode())
        for i, t in enumerate(texts)
    ] + [RawRecord("events.text", 0, 3, b"demo:user-1", b"{not json")]
    pipeline, _ = text_pipeline(Settings())
    assert isinstance(pipeline.classifier, CascadeClassifier)
    local = InProcess(pipeline).process(records)
    child = PipelineProcess()
    try:
        remote = child.process(records)
    finally:
        child.close()
    assert child.model_version == pipeline.classifier.version
    assert (remote.verdicts, len(remote.dead_letters)) == (3, 1)
    assert _published(remote) == _published(local)


def test_a_pipeline_process_without_models_fails_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODSTREAM_MODEL_DIR", str(tmp_path / "nothing here"))
    monkeypatch.setenv("MODSTREAM_DATA_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="could not start"):
        PipelineProcess()
