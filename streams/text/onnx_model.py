"""The transformer tier at serve time: an exported model run by onnxruntime and `tokenizers`.

No torch and no transformers here (production images do not carry them). A model directory, as
written by `streams.training.export`, holds `model.onnx` and/or `model.int8.onnx`, `tokenizer.json`
and `modstream_model.json` (labels, activation, max_length, languages, preprocessing,
calibration, version).

Texts are tokenised, sorted by length and run in batches padded to the longest text of the batch,
so short texts do not pay for long ones. Results come back in input order.

Note on int8: dynamic quantisation picks activation scales per batch, so an int8 model's score
for a text moves slightly (~1e-3) with the batch it is in. fp32 scores are batch-independent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from infra.errors import ModelError
from streams.text.classifier import Classifier, TextScores
from streams.text.language import SUPPORTED, detect_language
from streams.text.normalize import normalize

__all__ = [
    "CONFIG_FILE",
    "FORMAT",
    "FORMAT_VERSION",
    "FP32_FILE",
    "INT8_FILE",
    "TOKENIZER_FILE",
    "OnnxTextClassifier",
    "content_version",
    "is_model_dir",
    "report_language",
]

FORMAT = "modstream-text-onnx"
FORMAT_VERSION = 1
CONFIG_FILE = "modstream_model.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
PREPROCESSORS = ("none", "modstream-normalize-v1")
_CHARS_PER_TOKEN = 12  # texts are cut to max_length * this many characters before tokenising


def content_version(config: dict[str, Any], files: Sequence[Path]) -> str:
    """`<name>:<12 hex>` over the config (without its version) and the model files."""
    h = hashlib.sha256()
    body = {k: v for k, v in config.items() if k != "version"}
    h.update(json.dumps(body, sort_keys=True).encode())
    for f in files:
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return f"onnx-v1:{config.get('name', 'model')}:{h.hexdigest()[:12]}"


def is_model_dir(directory: Path) -> bool:
    return (directory / CONFIG_FILE).is_file()


def _canonical(lang: str | None) -> str | None:
    if lang is None:
        return None
    return lang.strip().lower().replace("_", "-").split("-", 1)[0] or None


def report_language(text: str, given: str | None) -> str:
    """The language a verdict reports: the producer's if supported, else the detected one."""
    lang = _canonical(given)
    if lang is not None:
        return lang if lang in SUPPORTED else "und"
    detected = detect_language(text)
    return detected if detected in SUPPORTED else "und"


def _sigmoid(z: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0))), dtype=np.float64)


def _read_config(config_path: Path) -> dict[str, Any]:
    try:
        config: dict[str, Any] = json.loads(config_path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"no usable {CONFIG_FILE} in {config_path.parent}: {exc}") from exc
    if config.get("format") != FORMAT or config.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{config_path} is not a {FORMAT} v{FORMAT_VERSION} model")
    return config


def _model_file(directory: Path, config: dict[str, Any], variant: str) -> tuple[str, Path]:
    """The graph of `variant` ("auto": the config's default), or the other one if it is absent."""
    if variant == "auto":
        variant = str(config.get("default_variant", "fp32"))
    files = {"int8": directory / INT8_FILE, "fp32": directory / FP32_FILE}
    if files[variant].is_file():
        return variant, files[variant]
    other = "fp32" if variant == "int8" else "int8"
    if not files[other].is_file():
        raise ModelError(f"no {FP32_FILE} or {INT8_FILE} in {directory}")
    return other, files[other]


class OnnxTextClassifier(Classifier):
    """Scores every text with one exported model (spans: none; the cascade adds them)."""

    def __init__(
        self,
        directory: Path,
        *,
        variant: str = "auto",
        threads: int = 1,
        batch_size: int = 32,
    ) -> None:
        self.directory = directory
        config_path = directory / CONFIG_FILE
        config = _read_config(config_path)
        if variant not in ("auto", "int8", "fp32"):
            raise ValueError(f"variant must be auto, int8 or fp32, not {variant!r}")
        variant, path = _model_file(directory, config, variant)
        self._configure(config, config_path)
        self.variant = variant
        self.batch_size = batch_size
        self.config = config
        self._load(path, threads)
        self._inputs = {i.name for i in self.session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= self._inputs:
            raise ModelError(f"{path} lacks input_ids / attention_mask inputs")
        if self.activation == "sigmoid":
            self._labels = tuple(self.labels_out)
        else:
            rest = [n for n in self.labels_out if n != self.negative]
            self._labels = ("toxic", *(rest if len(rest) > 1 else []))

    def _configure(self, config: dict[str, Any], config_path: Path) -> None:
        """The model's settings from its config, refused if incomplete or inconsistent."""
        try:
            self.labels_out: list[str] = [str(x) for x in config["labels"]]
            self.activation = str(config["activation"])
            self.negative: str | None = config.get("negative_label")
            self.max_length = int(config["max_length"])
            self.pad_id = int(config.get("pad_id", 0))
            self.languages = tuple(str(x) for x in config.get("languages", ["en"]))
            self.preprocess = str(config.get("preprocess", "none"))
            calib = config.get("calibration") or {}
            self.calibration = {str(k): (float(v[0]), float(v[1])) for k, v in calib.items()}
            self._version = str(config["version"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ModelError(f"{config_path} is incomplete: {exc!r}") from exc
        if self.activation not in ("sigmoid", "softmax"):
            raise ModelError(f"{config_path}: unknown activation {self.activation!r}")
        if self.preprocess not in PREPROCESSORS:
            raise ModelError(f"{config_path}: unknown preprocessing {self.preprocess!r}")
        if self.activation == "softmax" and self.negative not in self.labels_out:
            raise ModelError(f"{config_path}: the negative label is not one of the labels")
        if self.activation == "sigmoid" and "toxic" not in self.labels_out:
            raise ModelError(f"{config_path}: no `toxic` label")

    def _load(self, path: Path, threads: int) -> None:
        """The tokenizer and the onnxruntime session (sequential, `threads` intra-op)."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        try:
            self.tokenizer = Tokenizer.from_file(str(self.directory / TOKENIZER_FILE))
            self.tokenizer.no_padding()
            self.tokenizer.enable_truncation(self.max_length)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = max(1, threads)
            opts.inter_op_num_threads = 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.log_severity_level = 3
            self.session = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime and tokenizers raise their own exception types
            raise ModelError(f"cannot load the model in {self.directory}: {exc}") from exc

    @property
    def version(self) -> str:
        return f"{self._version}:{self.variant}"

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    def _prepare(self, text: str) -> str:
        text = text[: self.max_length * _CHARS_PER_TOKEN]
        return normalize(text) if self.preprocess == "modstream-normalize-v1" else text

    def logits(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Raw logits (n, n_labels), batched by token length."""
        out = np.zeros((len(texts), len(self.labels_out)), dtype=np.float64)
        if not texts:
            return out
        encs = self.tokenizer.encode_batch([self._prepare(t) for t in texts])
        ids = [e.ids for e in encs]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for s in range(0, len(order), self.batch_size):
            rows = order[s : s + self.batch_size]
            width = max(1, max(len(ids[i]) for i in rows))
            input_ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                input_ids[r, : len(ids[i])] = ids[i]
                mask[r, : len(ids[i])] = 1
            feed = {"input_ids": input_ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(input_ids)
            try:
                z = self.session.run(None, feed)[0]
            except Exception as exc:
                raise ModelError(f"onnxruntime failed on {self.directory}: {exc}") from exc
            out[rows] = np.asarray(z, dtype=np.float64)
        return out

    def probabilities(self, texts: Sequence[str]) -> list[dict[str, float]]:
        z = self.logits(texts)
        if self.activation == "sigmoid":
            cols = {lab: z[:, k] for k, lab in enumerate(self.labels_out)}
        else:
            zs = z - z.max(axis=1, keepdims=True)
            p = np.exp(zs) / np.exp(zs).sum(axis=1, keepdims=True)
            neg = self.labels_out.index(str(self.negative))
            tox = np.clip(1.0 - p[:, neg], 1e-12, 1 - 1e-12)
            cols = {"toxic": np.log(tox / (1.0 - tox))}
            if len(self._labels) > 1:
                for k, lab in enumerate(self.labels_out):
                    if k != neg:
                        pk = np.clip(p[:, k], 1e-12, 1 - 1e-12)
                        cols[lab] = np.log(pk / (1.0 - pk))
        probs: dict[str, NDArray[np.float64]] = {}
        for lab in self._labels:
            a, b = self.calibration.get(lab, (1.0, 0.0))
            probs[lab] = _sigmoid(a * cols[lab] + b)
        return [{lab: float(probs[lab][i]) for lab in self._labels} for i in range(len(texts))]

    def classify(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[TextScores]:
        if langs is not None and len(langs) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(langs)} languages")
        probs = self.probabilities(texts)
        return [
            TextScores(
                toxic=p["toxic"],
                labels=p,
                lang=report_language(t, langs[i] if langs is not None else None),
                spans=[],
            )
            for i, (t, p) in enumerate(zip(texts, probs, strict=True))
        ]
