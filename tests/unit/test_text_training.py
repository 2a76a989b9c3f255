"""Fitting the fast tier: the naive-Bayes feature scaling (NB-LR) and where it is used."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from streams.text.linear import FeatureSpec, Featurizer
from streams.training.labels import LABELS
from streams.training.linear_fit import Example, fit_language, nb_ratios
from streams.training.train import C_BY_LANG, NB_SCALE_BY_LANG


def test_nb_ratios_weigh_features_that_separate_the_classes() -> None:
    # Feature 0 only in positives, feature 1 in every row, feature 2 only in negatives.
    x = sp.csr_matrix(np.array([[1, 1, 0], [2, 1, 0], [0, 1, 1], [0, 1, 3]], dtype=np.float32))
    y = np.array([1, 1, 0, 0], dtype=np.int64)
    r = nb_ratios(x, y, np.ones(4))
    assert r[0] > 0.5
    assert r[2] > 0.5
    assert r[1] < 1e-9
    assert np.isclose(r[0], r[2])  # by presence, not by count
    # Sample weights count as rows: a heavier positive row moves the ratios.
    assert not np.allclose(nb_ratios(x, y, np.array([3.0, 1.0, 1.0, 1.0])), r)


def _examples() -> list[Example]:
    bad = ["يا حمار", "يا كلب يا حقير", "انت غبي وحقير", "يا واطي يا كلب", "حمار وغبي"]
    good = ["صباح الخير", "شكرا لك يا صديقي", "مباراه جميله", "الله يحفظك", "كلام جميل"]
    out = []
    for k in range(4):
        out += [Example(f"{t} {k}", {"toxic": 1}, f"b{k}{i}", "s") for i, t in enumerate(bad)]
        out += [Example(f"{t} {k}", {"toxic": 0}, f"g{k}{i}", "s") for i, t in enumerate(good)]
    return out


def test_fit_with_nb_scale_folds_the_scale_into_the_weights() -> None:
    featurizer = Featurizer(FeatureSpec(char_bits=12, word_bits=10))
    examples = _examples()
    plain = fit_language("ar", examples, ("toxic",), featurizer, calibration_folds=2)
    scaled = fit_language(
        "ar", examples, ("toxic",), featurizer, calibration_folds=2, nb_scale=True
    )
    assert scaled.info["toxic"]["nb_scale"] is True
    assert plain.info["toxic"]["nb_scale"] is False
    assert scaled.coef.shape == plain.coef.shape
    assert not np.allclose(scaled.coef, plain.coef)
    # Applied as any model: the stored weights score the unscaled features.
    blocks = featurizer.counts([featurizer.prepare(t) for t in ("يا حقير", "صباح جميل")])
    x, _ = featurizer.weigh(blocks, scaled.idf)
    z = scaled.logits(x)[:, 0]
    assert z[0] > 0 > z[1]


def test_nb_scale_is_arabic_only() -> None:
    assert set(NB_SCALE_BY_LANG) == set(LABELS) == set(C_BY_LANG)
    assert NB_SCALE_BY_LANG == {"en": False, "ar": True}
