"""Export a Hugging Face sequence-classification model directory to the ONNX serving layout.

Needs the `train` extra (torch, transformers, onnx, onnxscript); they are imported inside the
functions, so importing this module costs nothing. The result is what `OnnxTextClassifier` loads
with onnxruntime and `tokenizers` alone:

    DIR/model.onnx          fp32 graph (torch.onnx.export, dynamo=True), inputs input_ids and
                            attention_mask with dynamic batch and sequence axes, output logits
    DIR/model.int8.onnx     optional: int8 dynamic quantisation of model.onnx
    DIR/tokenizer.json      the fast tokenizer (padding and truncation are set by the server)
    DIR/modstream_model.json  labels, activation, max_length, languages, preprocessing,
                            calibration, version, which variant serves by default

Any architecture transformers can load with AutoModelForSequenceClassification and that has a
fast tokenizer works (BERT, RoBERTa, DistilBERT, XLM-R, an operator's fine-tuned Arabic BERT…).
Labels come from the model's `id2label`. Multi-label models (problem_type
`multi_label_classification`) are scored with a sigmoid per label; single-label models with a
softmax, where the toxic probability is one minus the probability of the negative class.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from infra.errors import ModelError
from streams.text.onnx_model import (
    CONFIG_FILE,
    FORMAT,
    FORMAT_VERSION,
    FP32_FILE,
    INT8_FILE,
    TOKENIZER_FILE,
    content_version,
)

__all__ = ["ExportReport", "export_model", "quantize_int8", "set_calibration"]

_NEGATIVE_NAMES = ("normal", "neutral", "not", "none", "clean", "non-toxic", "non_toxic", "neg")
_VERIFY_TEXTS = (
    "hello",
    "you are a complete idiot and everyone knows it",
    "thank you so much for the lovely photos of the garden, have a wonderful weekend!",
    "يا كلب يا حقير",
    "a " * 200,
)


@dataclass(slots=True)
class ExportReport:
    output: Path
    labels: list[str]
    activation: str
    max_abs_diff: float  # ONNX fp32 vs torch logits over the verification shapes
    shapes: list[tuple[int, int]]
    int8: bool
    int8_max_abs_diff: float | None = None
    info: dict[str, Any] = field(default_factory=dict)


def _resolve_labels(
    id2label: dict[int, str], multi_label: bool, toxic_label: str | None, negative_label: str | None
) -> tuple[list[str], str | None]:
    """(names per logit with the toxic one renamed `toxic`, negative class name for softmax)."""
    names = [str(id2label[i]) for i in range(len(id2label))]
    lower = [n.lower() for n in names]
    if multi_label:
        pick = toxic_label or next(
            (n for n in names if n.lower() in ("toxic", "toxicity", "offensive", "abusive")), None
        )
        if pick is None:
            if len(names) == 1:
                pick = names[0]
            else:
                raise ModelError(
                    f"which label is toxic? the model has {names}; pass --toxic-label NAME"
                )
        if pick not in names:
            raise ModelError(f"--toxic-label {pick!r} is not one of {names}")
        return ["toxic" if n == pick else n for n in names], None
    if len(names) < 2:
        raise ModelError("a single-label model needs at least two classes")
    if negative_label is not None:
        if negative_label not in names:
            raise ModelError(f"--negative-label {negative_label!r} is not one of {names}")
        neg = negative_label
    elif any(n in _NEGATIVE_NAMES for n in lower):
        neg = names[next(i for i, n in enumerate(lower) if n in _NEGATIVE_NAMES)]
    elif len(names) == 2:
        neg = names[0]  # LABEL_0 / LABEL_1 and the like: class 1 is the positive one
    else:
        raise ModelError(f"which class is harmless? the model has {names}; pass --negative-label")
    return names, neg


def export_model(  # noqa: PLR0913 - the export's options, keyword-only with defaults
    hf_dir: Path,
    output: Path,
    *,
    languages: Sequence[str] = ("en",),
    int8: bool = False,
    max_length: int | None = None,
    preprocess: str = "none",
    toxic_label: str | None = None,
    negative_label: str | None = None,
    name: str | None = None,
    verify_tolerance: float = 1e-3,
    opset: int = 18,
) -> ExportReport:
    """Export `hf_dir` into `output`; raises ModelError when the graph disagrees with torch."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelError("exporting needs the train extra: pip install 'modstream[train]'") from exc
    if not (hf_dir / "config.json").is_file():
        raise ModelError(f"{hf_dir} is not a Hugging Face model directory (no config.json)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(hf_dir))
        model = AutoModelForSequenceClassification.from_pretrained(str(hf_dir))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"cannot load {hf_dir} as a sequence classifier: {exc}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"{hf_dir} has no fast tokenizer (tokenizer.json); it cannot be served")
    model.eval()
    cfg = model.config
    multi = cfg.problem_type == "multi_label_classification"
    labels, negative = _resolve_labels(
        {int(k): v for k, v in cfg.id2label.items()}, multi, toxic_label, negative_label
    )
    limit = int(max_length or min(getattr(tokenizer, "model_max_length", 512) or 512, 512))
    limit = min(limit, int(getattr(cfg, "max_position_embeddings", limit) or limit))

    class Logits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.inner(
                input_ids=input_ids, attention_mask=attention_mask
            ).logits
            return out

    wrapper = Logits(model).eval()
    output.mkdir(parents=True, exist_ok=True)
    fp32_path = output / FP32_FILE
    example = tokenizer(
        list(_VERIFY_TEXTS[:3]), padding=True, truncation=True, max_length=limit,
        return_tensors="pt",
    )  # fmt: skip
    batch, seq = (
        torch.export.Dim("batch", min=1, max=4096),
        torch.export.Dim("seq", min=1, max=limit),
    )
    # The exporter warns about its own internals (pytree deprecations, merged axis names):
    # nothing a caller can act on, and the result is verified against torch below.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            wrapper,
            (example["input_ids"], example["attention_mask"]),
            dynamo=True,
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
            opset_version=opset,
            optimize=True,
            verbose=False,
        )
    if program is None:  # pragma: no cover
        raise ModelError("torch.onnx.export returned nothing")
    program.save(str(fp32_path), external_data=False)
    tokenizer.backend_tokenizer.save(str(output / TOKENIZER_FILE))

    shapes, diff = _verify(wrapper, tokenizer, fp32_path, limit, verify_tolerance)
    int8_diff: float | None = None
    if int8:
        quantize_int8(fp32_path, output / INT8_FILE)
        _, int8_diff = _verify(wrapper, tokenizer, output / INT8_FILE, limit, None)
    else:
        (output / INT8_FILE).unlink(missing_ok=True)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    config: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name or hf_dir.resolve().name,
        "labels": labels,
        "activation": "sigmoid" if multi else "softmax",
        "negative_label": negative,
        "max_length": limit,
        "pad_id": int(pad_id),
        "languages": [str(x) for x in languages],
        "preprocess": preprocess,
        "calibration": {},
        "default_variant": "int8" if int8 else "fp32",
        "source": {
            "model_type": cfg.model_type,
            "architectures": list(cfg.architectures or []),
            "verify_max_abs_diff": diff,
            "int8_max_abs_diff": int8_diff,
        },
    }
    _write_config(output, config)
    return ExportReport(output, labels, config["activation"], diff, shapes, int8, int8_diff)


def _verify(
    wrapper: Any, tokenizer: Any, onnx_path: Path, limit: int, tolerance: float | None
) -> tuple[list[tuple[int, int]], float]:
    """Largest |ONNX - torch| logit difference over several batch and sequence shapes."""
    import onnxruntime as ort
    import torch

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    cases = [
        list(_VERIFY_TEXTS[:1]),
        list(_VERIFY_TEXTS[1:3]),
        list(_VERIFY_TEXTS),
        [_VERIFY_TEXTS[4]] * 2 + [_VERIFY_TEXTS[0]] * 5,
    ]
    worst = 0.0
    shapes: list[tuple[int, int]] = []
    for texts in cases:
        enc = tokenizer(texts, padding=True, truncation=True, max_length=limit, return_tensors="np")
        ids = enc["input_ids"].astype(np.int64)
        mask = enc["attention_mask"].astype(np.int64)
        with torch.no_grad():
            ref = wrapper(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        got = sess.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
        worst = max(worst, float(np.abs(np.asarray(got) - ref).max()))
        shapes.append((int(ids.shape[0]), int(ids.shape[1])))
    if tolerance is not None and worst > tolerance:
        raise ModelError(
            f"the exported graph disagrees with torch (max |diff| {worst:.2e} > {tolerance:g}) "
            f"at shapes {shapes}"
        )
    return shapes, worst


def quantize_int8(src: Path, dst: Path) -> None:
    """int8 dynamic quantisation (weights int8, activations quantised per batch at run time)."""
    import tempfile

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The dynamo exporter records intermediate shapes from its example input; the quantiser's
    # shape inference rejects them, so drop them and let it infer its own.
    model = onnx.load(str(src))
    del model.graph.value_info[:]
    root = logging.getLogger()
    level = root.level
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = Path(tmp) / "plain.onnx"
        onnx.save(model, str(plain))
        root.setLevel(logging.ERROR)  # it logs a generic "consider pre-processing" hint
        try:
            quantize_dynamic(str(plain), str(dst), weight_type=QuantType.QInt8)
        finally:
            root.setLevel(level)


def _write_config(directory: Path, config: dict[str, Any]) -> None:
    files = [directory / FP32_FILE, directory / INT8_FILE]
    config["version"] = content_version(config, [f for f in files if f.is_file()])
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def set_calibration(
    directory: Path,
    calibration: dict[str, tuple[float, float]],
    *,
    default_variant: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store Platt parameters (a, b per label: p = sigmoid(a·logit + b)) and re-version."""
    path = directory / CONFIG_FILE
    config: dict[str, Any] = json.loads(path.read_text())
    config["calibration"] = {k: [float(a), float(b)] for k, (a, b) in calibration.items()}
    if default_variant is not None:
        if default_variant == "fp32":
            (directory / INT8_FILE).unlink(missing_ok=True)
        config["default_variant"] = default_variant
    if extra:
        config.update(extra)
    _write_config(directory, config)
    return config


def copy_model_dir(src: Path, dst: Path) -> None:
    """Copy an exported layout (the serving files only)."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in (FP32_FILE, INT8_FILE, TOKENIZER_FILE, CONFIG_FILE):
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
