"""Arabic for the fast tier: dialect spellings folded so that they meet in the features."""

from __future__ import annotations

import pytest

from streams.text.arabic import LAUGH, fold_arabic
from streams.text.features import FeatureSpec, Featurizer
from streams.text.normalize import normalize


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("حلووووو يا كلبببب", "حلو يا كلب"),  # elongation, capped by normalize, then written once
        ("هههههههه والله", f"{LAUGH} والله"),  # laughter is one token
        ("خخخخخ يا حمار", f"{LAUGH} يا حمار"),
        ("هاهاهاها", LAUGH),
        ("سأل المسؤول عن ٣ أشياء", "سال المسول عن 3 اشيا"),  # hamza forms, Arabic-Indic digits
        ("مَدْرَسَة إِلى", "مدرسه الي"),  # diacritics, ta marbuta, alef and ya forms
        ("ممكن طيب", "ممكن طيب"),  # a real double letter inside a word stays
        ("no arabic here", "no arabic here"),
    ],
)
def test_fold_arabic(raw: str, folded: str) -> None:
    assert fold_arabic(normalize(raw)) == folded


def test_dialect_spellings_meet_in_the_features() -> None:
    featurizer = Featurizer(FeatureSpec(char_bits=12, word_bits=10, fold=("arabic",)))
    assert featurizer.prepare("يا كلبببب") == featurizer.prepare("يَا كَلْب")
    assert featurizer.prepare("have a nice day") == "have a nice day"  # English as it was


def test_an_artifact_from_before_folding_reads_text_as_it_was_trained() -> None:
    spec = FeatureSpec.from_json({**FeatureSpec().to_json(), "fold": []})
    assert spec.fold == ()
    legacy = {k: v for k, v in FeatureSpec().to_json().items() if k != "fold"}
    assert FeatureSpec.from_json(legacy).fold == ()
    assert Featurizer(FeatureSpec.from_json(legacy)).prepare("يا كلبببب") == "يا كلبب"
