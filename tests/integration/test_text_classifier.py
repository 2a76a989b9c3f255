"""Text classification with the trained model: the Classifier conformance suite for the linear
model, its artifact and its parts (those that need no model: tests/unit/test_text_classifier.py)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from infra.errors import ModelError
from streams.policy import DecisionPolicy
from streams.text import Classifier, classify_jsonl
from streams.text.arabizi import to_arabic
from streams.text.classifier import EXPLAINED_ABOVE
from streams.text.linear import MODEL_FILE, WEIGHTS_FILE, LinearTextClassifier
from streams.text.load import load_classifier
from tests.support.conformance import (
    BENIGN_AR,
    BENIGN_EN,
    TOXIC_AR,
    TOXIC_EN,
    ClassifierConformance,
)
from tests.support.paths import DATA

DATA_DIR = DATA / "text"


@pytest.fixture(scope="session")
def linear(model_dir: Path) -> Classifier:
    return LinearTextClassifier.load(model_dir)


class TestLinearClassifier(ClassifierConformance):
    @pytest.fixture
    def classifier(self, linear: Classifier) -> Classifier:
        return linear

    def test_version_is_content_hash(self, classifier: Classifier) -> None:
        assert classifier.version.startswith("linear-v1:")
        assert len(classifier.version.split(":", 1)[1]) == 12

    def test_toxic_text_gets_spans_on_toxic_words(self, classifier: Classifier) -> None:
        text = "have a nice day you stupid idiot"
        s = classifier.classify([text], ["en"])[0]
        if s.toxic > 0.5 and s.spans:
            words = " ".join(text[a:b] for a, b in s.spans)
            assert "idiot" in words or "stupid" in words
        assert classifier.classify([BENIGN_EN])[0].toxic < 0.5

    def test_explains_what_it_scores_above_the_line(self, classifier: Classifier) -> None:
        assert isinstance(classifier, LinearTextClassifier)
        texts = [TOXIC_EN, TOXIC_AR, "have a nice day you stupid idiot", "x" * 10_001]
        scored = classifier.classify(texts)
        explained = classifier.explain(texts, [None] * len(texts))
        for s, spans in zip(scored[:3], explained, strict=False):
            assert s.toxic > EXPLAINED_ABOVE
            assert s.spans
            assert spans == s.spans
        assert explained[3] is None  # past what the model reads: the caller uses its windows

    def test_labels(self, classifier: Classifier) -> None:
        assert set(classifier.labels) >= {
            "toxic",
            "identity_hate",
            "insult",
            "obscene",
            "severe_toxic",
            "threat",
            "harassment",
        }
        en, ar = classifier.classify([TOXIC_EN, TOXIC_AR], ["en", "ar"])
        assert "severe_toxic" in en.labels
        assert "severe_toxic" not in ar.labels  # no Arabic data supports it
        assert {"insult", "obscene", "threat", "harassment"} <= set(ar.labels)


# -- artifact ---------------------------------------------------------------------------------


def test_training_outputs(model_dir: Path) -> None:
    for name in (MODEL_FILE, WEIGHTS_FILE, "metrics.json", "MODEL_CARD.md"):
        assert (model_dir / name).is_file()
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["per_language"]["en"]["toxic"]["roc_auc"] > 0.7
    assert metrics["per_language"]["ar"]["toxic"]["roc_auc"] > 0.7
    assert "en_hatexplain_val" in metrics["per_dataset"]
    en = metrics["per_language"]["en"]
    for label in ("identity_hate", "insult", "obscene"):
        assert 0.0 <= en[label]["roc_auc"] <= 1.0
    assert 0.0 <= en["spans_char_f1"] <= 1.0
    assert 0.0 <= en["spans_tagger_char_f1"] <= 1.0
    assert set(metrics["rules"]["cases"]) == {
        "en/threat",
        "en/harassment",
        "ar/threat",
        "ar/harassment",
    }
    card = (model_dir / "MODEL_CARD.md").read_text()
    assert "HateXplain" in card
    assert "CC0" in card
    assert "ROC-AUC" in card


def test_no_pickle_in_artifact(model_dir: Path) -> None:
    import numpy as np

    with np.load(model_dir / WEIGHTS_FILE, allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)
        assert "en.span.coef" in npz.files  # the span tagger
    json.loads((model_dir / MODEL_FILE).read_text())


def test_save_load_round_trip(model_dir: Path, tmp_path: Path) -> None:
    clf = LinearTextClassifier.load(model_dir)
    version = clf.save(tmp_path / "copy")
    again = LinearTextClassifier.load(tmp_path / "copy")
    assert again.version == version == clf.version
    texts = [TOXIC_EN, BENIGN_AR, TOXIC_AR]
    assert again.classify(texts) == clf.classify(texts)


def test_corrupt_artifact_raises_model_error(model_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    (bad / WEIGHTS_FILE).write_bytes(b"not a zip file")
    with pytest.raises(ModelError, match="modstream train"):
        load_classifier(bad)
    shutil.copy(model_dir / WEIGHTS_FILE, bad / WEIGHTS_FILE)
    (bad / MODEL_FILE).write_text("{not json")
    with pytest.raises(ModelError, match="modstream train"):
        load_classifier(bad)


def test_other_version_raises_model_error(model_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(model_dir, other)
    doc = json.loads((other / MODEL_FILE).read_text())
    doc["format_version"] = 999
    (other / MODEL_FILE).write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="modstream train"):
        load_classifier(other)


# -- batch ------------------------------------------------------------------------------------


def test_classify_jsonl(linear: Classifier) -> None:
    lines = [
        json.dumps({"id": "a", "text": TOXIC_EN}),
        json.dumps({"id": 2, "text": BENIGN_AR, "lang": "ar"}),
        "{not json",
        json.dumps({"id": "c"}),
        json.dumps(["a list"]),
        "",
        json.dumps({"id": "d", "text": BENIGN_EN, "lang": None}),
    ]
    src = io.StringIO("\n".join(lines) + "\n")
    dst = io.StringIO()
    n = classify_jsonl(linear, DecisionPolicy(), src, dst, progress=False, batch_size=2)
    out = [json.loads(x) for x in dst.getvalue().splitlines()]
    assert n == len(out) == 6
    assert [o["id"] for o in out] == ["a", 2, None, "c", None, "d"]
    assert out[0]["decision"] in {"review", "reject"}
    assert out[0]["toxic"] > out[5]["toxic"]
    assert out[1]["lang"] == "ar"
    assert set(out[0]) == {"id", "toxic", "labels", "decision", "lang", "spans"}
    assert "toxic" in out[0]["labels"]
    assert "error" in out[2]
    assert "error" in out[3]
    assert "error" in out[4]
    assert out[5]["decision"] in {"approve", "review"}
    assert out[5]["toxic"] < 0.5


# -- normalisation, language, data ------------------------------------------------------------


def test_arabizi_is_judged_as_its_arabic_script(linear: Classifier) -> None:
    """A post in Arabic written in Latin letters gets the Arabic model's reading of its Arabic
    spelling, reported as Arabic, with spans on the words the author wrote."""
    latin, arabic = "ya ibn el kalb enta 7mar", "يا ابن الكلب انت حمار"
    served, script, as_english = (
        linear.classify([latin])[0],
        linear.classify([arabic])[0],
        linear.classify([latin], ["en"])[0],
    )
    assert served.lang == "ar"
    assert served.toxic == pytest.approx(script.toxic, abs=1e-9)
    assert served.toxic > as_english.toxic
    if served.spans:
        words = latin.split()
        assert all(latin[a:b].split()[0] in words for a, b in served.spans)


def test_english_the_english_model_finds_harmful_wins_over_an_arabizi_reading(
    linear: Classifier,
) -> None:
    """Latin script taken for Arabizi is read by both models; the English reading wins only
    where it finds the text harmful (above 0.5) and the Arabic reading does not."""
    text = "ya 7mar, fuck you bitch"  # taken for Arabizi: two Arabizi words, one English
    english = linear.classify([text], ["en"])[0].toxic
    arabic = linear.classify([to_arabic(text).text])[0].toxic
    served = linear.classify([text])[0]
    assert served.lang == "ar"
    assert served.toxic == pytest.approx(english if english > max(arabic, 0.5) else arabic)
