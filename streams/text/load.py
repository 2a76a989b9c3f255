"""Loading the text classifier: the fast tier from a model directory, plus transformers.

`load_classifier(model_dir)` returns the cascade (fast tier + transformer tier) when transformer
models are available: the shipped English default (`streams/text/models/en-minilm`) and any
operator-exported model directories (`MODSTREAM_TRANSFORMER_MODELS='{"ar": "/path"}'`); the
fast tier alone otherwise (judging long texts by windows; `FAST_ONLY` gives the bare fast tier).
Nothing here imports torch or transformers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from infra.errors import ModelError
from infra.settings import LongTextSettings, TextSettings
from streams.text.cascade import DEFAULT_BAND, DEFAULT_BLEND, CascadeClassifier
from streams.text.classifier import Classifier
from streams.text.linear import LinearTextClassifier
from streams.text.longtext import LongTextClassifier, LongTextOptions
from streams.text.onnx_model import OnnxTextClassifier, is_model_dir

__all__ = [
    "DEFAULT_TRANSFORMER_DIR",
    "FAST_ONLY",
    "STUDENT_TRANSFORMER_DIR",
    "TierOptions",
    "load_classifier",
    "transformer_dirs",
]

DEFAULT_TRANSFORMER_DIR = Path(__file__).resolve().parent / "models" / "en-minilm"
# A two-layer student distilled from the default (`modstream train-student`): about three times
# cheaper per escalated text, not the default while its cascade ranks below the default's on
# held-out data (docs/performance.md); serve it with MODSTREAM_TRANSFORMER_MODELS.
STUDENT_TRANSFORMER_DIR = Path(__file__).resolve().parent / "models" / "en-minilm-l2"


@dataclass(frozen=True, slots=True)
class TierOptions:
    """How the transformer tier is assembled (from settings; picklable for child processes)."""

    transformers: Mapping[str, Path] = field(default_factory=dict)  # lang -> exported model dir
    use_default: bool = True  # the shipped English model, unless "en" is configured
    threads: int = 1
    band: tuple[float, float] = DEFAULT_BAND
    blend: float = DEFAULT_BLEND
    enabled: bool = True  # False: the fast tier alone
    long_text: LongTextOptions = field(default_factory=LongTextOptions)

    @classmethod
    def from_settings(cls, settings: TextSettings, longtext: LongTextSettings) -> TierOptions:
        return cls(
            transformers=dict(settings.transformer_models),
            use_default=settings.transformer_default,
            threads=settings.transformer_threads,
            band=(settings.cascade_low, settings.cascade_high),
            blend=settings.cascade_blend,
            long_text=LongTextOptions.from_settings(longtext),
        )


FAST_ONLY = TierOptions(enabled=False)


def transformer_dirs(options: TierOptions) -> dict[str, Path]:
    """Language -> model directory of every transformer the options make available."""
    dirs: dict[str, Path] = {}
    if options.use_default and is_model_dir(DEFAULT_TRANSFORMER_DIR):
        dirs["en"] = DEFAULT_TRANSFORMER_DIR
    for lang, path in options.transformers.items():
        if not is_model_dir(path):
            raise ModelError(f"no exported transformer in {path} (configured for {lang!r})")
        dirs[lang.strip().lower()] = path
    return dirs


def load_classifier(model_dir: Path, options: TierOptions | None = None) -> Classifier:
    """The classifier for `model_dir`; raises infra.errors.ModelError if it is unusable.

    With default options: the cascade over the fast tier in `model_dir` and the shipped
    English transformer.
    """
    options = options or TierOptions()
    fast = LinearTextClassifier.load(model_dir)
    if not options.enabled:
        return fast
    dirs = transformer_dirs(options)
    if not dirs:
        return LongTextClassifier(fast, options.long_text)
    models = {
        lang: OnnxTextClassifier(path, threads=options.threads) for lang, path in dirs.items()
    }
    return CascadeClassifier(
        fast, models, band=options.band, blend=options.blend, long_text=options.long_text
    )
