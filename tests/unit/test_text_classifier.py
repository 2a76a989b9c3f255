"""Text classification's parts that need no trained model: normalisation, language detection, the
dataset's split and rows, span F1, and a missing artifact."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.errors import ModelError
from streams.text import detect_language, normalize
from streams.text.load import load_classifier
from streams.training.dataset import VALIDATION_ONLY, is_holdout, iter_rows, load_dir, split
from streams.training.evaluate import span_f1, spans_char_f1
from tests.support.conformance import (
    BENIGN_AR,
    BENIGN_EN,
    TOXIC_EN,
)
from tests.support.paths import DATA

DATA_DIR = DATA / "text"


def test_missing_artifact_raises_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="modstream train"):
        load_classifier(tmp_path / "nowhere")


def test_normalize() -> None:
    assert (
        normalize("RT @Some_One: Hello   WORLD &amp; http://t.co/x") == "@user : hello world & http"
    )
    assert normalize("<user> sooooo goooood!!!!!") == "@user soo good!!"
    assert normalize("visit www.example.com/page now") == "visit http now"
    assert normalize("") == ""
    # alef forms, ta marbuta, alef maqsura, tatweel and diacritics
    assert normalize("إِنَّ المدرسةَ أكبر علــــى") == "ان المدرسه اكبر علي"
    assert normalize("ههههههه") == "هه"
    assert normalize("A\u00a0B") == "a b"


def test_normalize_idempotent() -> None:
    for text in [TOXIC_EN, BENIGN_AR, "RT @x: &amp;&lt; yesss http://a.b", "إِنَّ"]:
        once = normalize(text)
        assert normalize(once) == once


def test_detect_language() -> None:
    assert detect_language(BENIGN_EN) == "en"
    assert detect_language(BENIGN_AR) == "ar"
    assert detect_language("Привет, как дела?") == "und"
    assert detect_language("") == "und"
    assert detect_language("12345 !!! 😂") == "und"
    assert detect_language("lol " + BENIGN_AR) == "ar"
    assert detect_language("café crème brûlée") == "en"


def test_holdout_is_deterministic() -> None:
    ids = [f"row-{i}" for i in range(5000)]
    first = [is_holdout(i) for i in ids]
    assert first == [is_holdout(i) for i in ids]
    assert 0.12 < sum(first) / len(ids) < 0.18


def test_split_disjoint_and_validation_only() -> None:
    rows = load_dir(DATA_DIR, limit=300)
    train_rows, held = split(rows)
    assert {r.id for r in train_rows}.isdisjoint({r.id for r in held})
    assert len(train_rows) + len(held) == len(rows)
    assert not any(r.dataset in VALIDATION_ONLY for r in train_rows)
    again_train, _ = split(load_dir(DATA_DIR, limit=300))
    assert [r.id for r in again_train] == [r.id for r in train_rows]


def test_iter_rows_fields() -> None:
    rows = list(iter_rows(DATA_DIR / "en_toxic_spans_train.jsonl", limit=20))
    assert len(rows) == 20
    assert all(r.lang == "en" and r.toxic == 1 and r.hate is None for r in rows)
    assert any(r.spans for r in rows)


def test_span_f1() -> None:
    assert span_f1([], []) == 1.0
    assert span_f1([(0, 4)], []) == 0.0
    assert span_f1([], [(0, 4)]) == 0.0
    assert span_f1([(0, 4)], [(0, 4)]) == 1.0
    assert span_f1([(0, 2)], [(0, 4)]) == pytest.approx(2 * 2 / 6)
    assert spans_char_f1([[], [(0, 4)]], [[], [(2, 4)]]) == pytest.approx((1 + 2 * 2 / 6) / 2)
