"""The linear tier's artifact, pickle-free: `model.json` (feature parameters, labels,
calibration, span settings) and `weights.npz` (idf vectors, coefficients and intercepts as plain
arrays). Its version is a digest of both files and of the rules' version."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infra.errors import ModelError
from streams.text.features import FeatureSpec
from streams.text.lang_model import LangModel
from streams.text.rules import RULES_VERSION
from streams.text.span_tagger import N_FEATURES as TAGGER_FEATURES
from streams.text.span_tagger import SpanTagger

FORMAT = "modstream-text-linear"
FORMAT_VERSION = 2
MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.npz"
_TRAIN_HINT = "run `modstream train` to build the text model"

Arrays = dict[str, np.ndarray[Any, Any]]


@dataclass(frozen=True, slots=True)
class Artifact:
    spec: FeatureSpec
    models: dict[str, LangModel]
    version: str
    meta: dict[str, Any]


def write(
    directory: Path, spec: FeatureSpec, models: dict[str, LangModel], meta: dict[str, Any]
) -> str:
    """Write model.json + weights.npz into `directory`; returns the version."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays: Arrays = {}
    langs: dict[str, Any] = {}
    for lang, m in models.items():
        arrays[f"{lang}.idf.char"] = m.idf[0]
        arrays[f"{lang}.idf.word"] = m.idf[1]
        arrays[f"{lang}.coef"] = m.coef.astype(np.float32)
        arrays[f"{lang}.intercept"] = m.intercept.astype(np.float32)
        if m.tagger is not None:
            arrays[f"{lang}.span.coef"] = m.tagger.coef.astype(np.float32)
        langs[lang] = {
            "labels": list(m.labels),
            "calibration": {
                lab: [float(m.calib_a[k]), float(m.calib_b[k])] for k, lab in enumerate(m.labels)
            },
            "span_threshold": m.span_threshold,
            "span_ratio": m.span_ratio,
            "span_tagger": None if m.tagger is None else m.tagger.settings(),
            "info": m.info,
        }
    weights_path = directory / WEIGHTS_FILE
    with weights_path.open("wb") as fh:
        np.savez_compressed(fh, allow_pickle=False, **arrays)
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "features": spec.to_json(),
        "languages": langs,
        "meta": meta,
    }
    model_bytes = json.dumps(doc, indent=2, sort_keys=True).encode("utf-8")
    (directory / MODEL_FILE).write_bytes(model_bytes)
    return _version_of(model_bytes, weights_path.read_bytes())


def read(directory: Path) -> Artifact:
    """The artifact in `directory`; `ModelError` if it is missing, corrupt or of another
    format version."""
    model_path, weights_path = directory / MODEL_FILE, directory / WEIGHTS_FILE
    if not model_path.is_file() or not weights_path.is_file():
        raise ModelError(
            f"no text model in {directory} (need {MODEL_FILE}, {WEIGHTS_FILE}); {_TRAIN_HINT}"
        )
    try:
        model_bytes = model_path.read_bytes()
        weights_bytes = weights_path.read_bytes()
        doc = json.loads(model_bytes)
        if doc.get("format") != FORMAT or doc.get("format_version") != FORMAT_VERSION:
            raise ModelError(
                f"{model_path} is not a {FORMAT} v{FORMAT_VERSION} artifact "
                f"(found {doc.get('format')!r} v{doc.get('format_version')!r}); {_TRAIN_HINT}"
            )
        spec = FeatureSpec.from_json(doc["features"])
        with np.load(weights_path, allow_pickle=False) as npz:
            models = {
                lang: _lang_model(lang, info, npz, spec, weights_path)
                for lang, info in doc["languages"].items()
            }
        return Artifact(
            spec, models, _version_of(model_bytes, weights_bytes), dict(doc.get("meta", {}))
        )
    except ModelError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise ModelError(f"corrupt text model in {directory}: {exc}; {_TRAIN_HINT}") from exc
    except Exception as exc:  # zipfile.BadZipFile and friends from np.load
        raise ModelError(f"corrupt text model in {directory}: {exc!r}; {_TRAIN_HINT}") from exc


def _lang_model(
    lang: str, info: dict[str, Any], npz: Any, spec: FeatureSpec, weights_path: Path
) -> LangModel:
    """One language's weights from the npz, checked against the feature spec."""
    labels = tuple(str(x) for x in info["labels"])
    idf = (
        np.asarray(npz[f"{lang}.idf.char"], dtype=np.float32),
        np.asarray(npz[f"{lang}.idf.word"], dtype=np.float32),
    )
    coef = np.asarray(npz[f"{lang}.coef"], dtype=np.float32)
    intercept = np.asarray(npz[f"{lang}.intercept"], dtype=np.float32)
    calib = np.asarray([info["calibration"][lab] for lab in labels], dtype=np.float32).reshape(
        len(labels), 2
    )
    if (
        idf[0].shape != (2**spec.char_bits,)
        or idf[1].shape != (2**spec.word_bits,)
        or coef.shape != (len(labels), spec.n_features)
        or intercept.shape != (len(labels),)
        or "toxic" not in labels
    ):
        raise ModelError(f"{weights_path}: arrays of {lang} do not match; {_TRAIN_HINT}")
    thr = info.get("span_threshold")
    return LangModel(
        lang=lang,
        labels=labels,
        idf=idf,
        coef=coef,
        intercept=intercept,
        calib_a=calib[:, 0].copy(),
        calib_b=calib[:, 1].copy(),
        span_threshold=None if thr is None else float(thr),
        span_ratio=float(info.get("span_ratio", 0.0)),
        tagger=_tagger(lang, info.get("span_tagger"), npz, weights_path),
        info=dict(info.get("info", {})),
    )


def _tagger(
    lang: str, settings: dict[str, Any] | None, npz: Any, weights_path: Path
) -> SpanTagger | None:
    if not settings:
        return None
    coef = np.asarray(npz[f"{lang}.span.coef"], dtype=np.float32)
    if coef.shape != (TAGGER_FEATURES,):
        raise ModelError(f"{weights_path}: span tagger of {lang} does not match; {_TRAIN_HINT}")
    return SpanTagger(
        coef,
        float(settings["intercept"]),
        float(settings["threshold"]),
        float(settings["floor"]),
        float(settings["ratio"]),
    )


def _version_of(model_bytes: bytes, weights_bytes: bytes) -> str:
    h = hashlib.sha256()
    h.update(RULES_VERSION.encode())  # the rules are part of what the classifier answers
    h.update(model_bytes)
    h.update(weights_bytes)
    return f"linear-v1:{h.hexdigest()[:12]}"
