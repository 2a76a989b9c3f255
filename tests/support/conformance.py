"""Conformance suites: what every implementation of an interface must do, written once.

A test module subclasses a suite once per implementation (`class TestPDQ(HasherContract)`,
`class TestLinearClassifier(ClassifierConformance)`); pytest collects the subclasses, not the
suites, whose names do not start with `Test`."""

from __future__ import annotations

from typing import ClassVar

import pytest
from PIL import Image

from streams.bench import synthetic
from streams.media.decode import open_image
from streams.media.hashers import BY_TYPE, Hasher, distance
from streams.text import Classifier, TextScores
from streams.text.classifier import EXPLAINED_ABOVE

# --- hashers ---------------------------------------------------------------------------------

ORIGINAL = synthetic.scene(11)
OTHERS = [synthetic.scene(s) for s in (12, 13, 14, 15)]


def prepared(image: Image.Image, fmt: str = "PNG") -> tuple[bytes, Image.Image]:
    """The bytes of `image` encoded as `fmt`, and the image decoded back from them."""
    data = synthetic.encode(image, fmt)
    return data, open_image(data, 50_000_000)


class HasherContract:
    """What every hasher must do. Subclasses set `hasher`."""

    hasher: ClassVar[Hasher]

    def digest(self, image: Image.Image, fmt: str = "PNG") -> bytes:
        return self.hasher.hash(*prepared(image, fmt))

    def test_width_and_determinism(self) -> None:
        first = self.digest(ORIGINAL)
        assert len(first) * 8 == self.hasher.bits
        assert self.digest(ORIGINAL) == first
        assert distance(first, first) == 0

    def test_registered_under_its_type(self) -> None:
        assert BY_TYPE[self.hasher.hash_type] is self.hasher
        assert 0 <= self.hasher.default_threshold < self.hasher.bits

    def test_different_content_does_not_match(self) -> None:
        original = self.digest(ORIGINAL)
        for other in OTHERS:
            assert distance(original, self.digest(other)) > self.hasher.default_threshold

    def test_edited_copies(self) -> None:
        """Perceptual hashers match re-encodes, resizes and near-copies; exact ones do not."""
        original = self.digest(ORIGINAL)
        edits = {
            "jpeg": self.digest(ORIGINAL, "JPEG"),
            "resize": self.digest(synthetic.resize(ORIGINAL, 0.5)),
            "overlay": self.digest(synthetic.overlay(ORIGINAL)),
        }
        for name, edited in edits.items():
            close = distance(original, edited) <= self.hasher.default_threshold
            assert close == self.hasher.perceptual, name


# --- text classifiers ------------------------------------------------------------------------

TOXIC_EN = "you are a fucking stupid bitch, shut up you worthless idiot"
BENIGN_EN = "thank you for the lovely photos of the garden, have a wonderful weekend"
TOXIC_AR = "يا كلب يا حقير يا ابن الكلب يا وسخ"
BENIGN_AR = "صباح الخير يا أصدقاء، أتمنى لكم يوما جميلا مليئا بالسعادة"


class ClassifierConformance:
    """What every Classifier must do. Subclasses override the `classifier` fixture."""

    @pytest.fixture
    def classifier(self) -> Classifier:
        raise NotImplementedError

    def test_version_and_labels(self, classifier: Classifier) -> None:
        assert isinstance(classifier.version, str)
        assert classifier.version
        assert "toxic" in classifier.labels

    def test_one_result_per_text_in_order(self, classifier: Classifier) -> None:
        texts = [BENIGN_EN, TOXIC_EN, BENIGN_AR, TOXIC_AR, ""]
        out = classifier.classify(texts)
        assert len(out) == len(texts)
        assert all(isinstance(s, TextScores) for s in out)
        assert out[1].toxic > out[0].toxic
        assert out[3].toxic > out[2].toxic
        assert classifier.classify([]) == []

    def test_probabilities_in_range(self, classifier: Classifier) -> None:
        for s in classifier.classify([BENIGN_EN, TOXIC_EN, TOXIC_AR, "!!!", "1234"]):
            assert 0.0 <= s.toxic <= 1.0
            assert s.labels["toxic"] == s.toxic
            assert set(s.labels) <= set(classifier.labels)
            assert all(0.0 <= p <= 1.0 for p in s.labels.values())

    def test_spans_inside_text_sorted_disjoint(self, classifier: Classifier) -> None:
        texts = [TOXIC_EN, TOXIC_AR, f"  {TOXIC_EN}!!  ", "idiot", BENIGN_EN]
        for text, s in zip(texts, classifier.classify(texts), strict=True):
            last = 0
            for start, end in s.spans:
                assert 0 <= start < end <= len(text)
                assert start >= last
                last = end

    def test_languages(self, classifier: Classifier) -> None:
        out = classifier.classify(
            [BENIGN_EN, BENIGN_AR, "Привет, как дела?", BENIGN_EN, BENIGN_EN],
            [None, None, None, "en", "fr"],
        )
        assert [s.lang for s in out] == ["en", "ar", "und", "en", "und"]
        given = classifier.classify([BENIGN_AR], ["ar-EG"])
        assert given[0].lang == "ar"

    def test_langs_length_mismatch(self, classifier: Classifier) -> None:
        with pytest.raises(ValueError, match="languages"):
            classifier.classify(["a", "b"], ["en"])

    def test_edge_inputs(self, classifier: Classifier) -> None:
        long_text = (TOXIC_EN + " " + BENIGN_EN + " ") * 2000
        mixed = f"{TOXIC_EN} {TOXIC_AR} 你好 😂😂 http://example.com @someone"
        texts = ["", " ", "\n\t", long_text, mixed, "\x00\ufffd", "a" * 50_000]
        out = classifier.classify(texts)
        assert len(out) == len(texts)
        for text, s in zip(texts, out, strict=True):
            assert 0.0 <= s.toxic <= 1.0
            assert all(0 <= a < b <= len(text) for a, b in s.spans)
        assert out[0].spans == []

    def test_no_spans_at_or_below_the_line(self, classifier: Classifier) -> None:
        texts = [BENIGN_EN, BENIGN_AR, TOXIC_EN, TOXIC_AR, "you idiot", "lovely weather"]
        for s in classifier.classify(texts):
            assert s.toxic > EXPLAINED_ABOVE or s.spans == []

    def test_deterministic(self, classifier: Classifier) -> None:
        texts = [TOXIC_EN, BENIGN_AR, TOXIC_AR]
        assert classifier.classify(texts) == classifier.classify(texts)

    def test_batch_equals_one_by_one(self, classifier: Classifier) -> None:
        texts = [BENIGN_EN, TOXIC_AR, TOXIC_EN, "", BENIGN_AR, "you idiot"]
        langs: list[str | None] = [None, "ar", None, None, None, "en"]
        batch = classifier.classify(texts, langs)
        single = [classifier.classify([t], [lg])[0] for t, lg in zip(texts, langs, strict=True)]
        for b, s in zip(batch, single, strict=True):
            assert b.lang == s.lang
            assert b.spans == s.spans
            assert b.toxic == pytest.approx(s.toxic, abs=1e-6)
            assert b.labels == pytest.approx(s.labels, abs=1e-6)
