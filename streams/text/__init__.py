"""Text moderation: normalisation, language guess, classifiers (linear fast tier, ONNX transformer
tier, their cascade), training."""

from streams.text.batch import classify_jsonl
from streams.text.classifier import Classifier, TextScores
from streams.text.language import detect_language
from streams.text.load import load_classifier
from streams.text.normalize import normalize

__all__ = [
    "Classifier",
    "TextScores",
    "classify_jsonl",
    "detect_language",
    "load_classifier",
    "normalize",
]
