"""Leave-one-source-out: which rows each fold trains on and scores, and what it reports."""

from __future__ import annotations

from streams.text.features import FeatureSpec
from streams.training.dataset import Row, is_holdout
from streams.training.loso import _fold_rows, folds, run_loso, sample_per_source, source_key
from streams.training.train import fit_toxic

_BAD = {"en": ["you idiot", "stupid pig", "shut up moron"], "ar": ["يا حمار", "يا كلب", "غبي"]}
_GOOD = {"en": ["nice day", "thank you", "good game"], "ar": ["صباح الخير", "شكرا", "جميل"]}


def _rows(lang: str, source: str, n: int = 24, *, toxic: int | None = None) -> list[Row]:
    out = []
    for i in range(n):
        label = (i % 2) if toxic is None else toxic
        word = (_BAD if label else _GOOD)[lang][i % 3]
        out.append(
            Row(
                id=f"{lang}-{source}-{i}",
                text=f"{word} {source} {i}",
                lang=lang,
                toxic=label,
                hate=None,
                sub=None,
                votes=None,
                spans=None,
                source=source,
                dataset=f"{lang}_{source}_train",
            )
        )
    return out


def test_a_source_is_a_set_in_one_language() -> None:
    en, ar = _rows("en", "mlma", 1)[0], _rows("ar", "mlma", 1)[0]
    assert source_key(en) == "en/mlma" != source_key(ar) == "ar/mlma"


def test_folds_leave_each_source_out_within_its_language() -> None:
    rows = [
        *_rows("en", "a"),
        *_rows("en", "b"),
        *_rows("en", "toxic_spans", toxic=1),  # all toxic: trained on, never scored alone
        *_rows("en", "diag"),  # scored, never trained on
        *_rows("ar", "c"),
        *_rows("ar", "d"),
        *_rows("ar", "one_class", toxic=0),
    ]
    trainable = frozenset({"en/a", "en/b", "en/toxic_spans", "ar/c", "ar/d", "ar/one_class"})
    plan = {f.name: f for f in folds(rows, trainable)}
    assert set(plan) == {"en/a", "en/b", "en/diag", "en/pooled", "ar/c", "ar/d", "ar/pooled"}
    assert plan["en/a"].train_sources == {"en/b", "en/toxic_spans"}
    assert plan["en/diag"].train_sources == {"en/a", "en/b", "en/toxic_spans"}
    assert plan["ar/c"].train_sources == {"ar/d", "ar/one_class"}
    assert plan["ar/pooled"].pooled

    train_rows, test = _fold_rows(plan["en/a"], rows)
    assert {r.source for r in test} == {"a"}
    assert len(test) == 24
    assert {r.source for r in train_rows} == {"b", "toxic_spans"}
    assert all(r.lang == "en" for r in train_rows)

    train_rows, held = _fold_rows(plan["en/pooled"], rows)
    assert not {r.id for r in train_rows} & {r.id for r in held}
    assert all(not is_holdout(r.id) for r in train_rows)
    assert {r.source for r in held if not is_holdout(r.id)} == {"diag"}  # scored whole


def test_run_loso_reports_unseen_and_pooled_figures() -> None:
    rows = [*_rows("en", "a", 40), *_rows("en", "b", 40), *_rows("ar", "c", 40), *_rows("ar", "d")]
    trainable = frozenset({"en/a", "en/b", "ar/c", "ar/d"})
    steps: list[str] = []
    report = run_loso(
        rows, trainable, fit_toxic, spec=FeatureSpec(char_bits=12, word_bits=10), step=steps.append
    )
    assert set(report["unseen"]) == {"en/a", "en/b", "ar/c", "ar/d"}
    assert sorted(steps) == sorted([*report["unseen"], "en/pooled", "ar/pooled"])
    assert report["folds"] == 6
    assert {"en/all", "ar/all"} <= set(report["pooled"])
    for m in report["unseen"].values():
        assert m["n"] in (24, 40)
        assert 0.0 <= m["macro_f1"] <= 1.0
        assert 0.0 <= m["f1_toxic"] <= 1.0
        assert m["roc_auc"] > 0.9  # the words of the other source carry over


def test_sample_per_source_is_stable_and_not_the_head_of_the_file() -> None:
    rows = [*_rows("en", "a", 40), *_rows("en", "b", 10)]
    picked = sample_per_source(rows, 16)
    assert [r.id for r in picked] == [r.id for r in sample_per_source(list(reversed(rows)), 16)]
    assert sum(r.source == "a" for r in picked) == 16
    assert sum(r.source == "b" for r in picked) == 10  # a smaller source is kept whole
    assert {r.id for r in picked if r.source == "a"} != {r.id for r in rows[:16]}
