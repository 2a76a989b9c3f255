"""The image-classifier hook: an operator-installed ONNX model (nudity, violence, …) scores images.

Without one, media decisions come from matches and the policy's default. A model is a `.onnx`
file with a sidecar `<name>.json`: `{"labels": [...], "size": 224, "version": "..."}`. Its one
input takes float32 NCHW RGB in [0, 1] at `size`×`size`; its first output gives one probability
per label (apply sigmoid/softmax inside the graph). The highest probability is the item's score,
decided by the same thresholds as text (`MODSTREAM_POLICY_LOW`/`_HIGH`). NudeNet (AGPL-3.0) is
not bundled; an operator may export a classifier of their choice to this shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from infra.errors import ModelError


class ImageClassifier(Protocol):
    version: str

    def classify(self, images: list[Image.Image]) -> list[dict[str, float]]:
        """Probability per label for each image."""
        ...


class OnnxImageClassifier:
    def __init__(self, path: Path) -> None:
        import onnxruntime

        meta_path = path.with_suffix(".json")
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
            self.labels: list[str] = list(meta["labels"])
            self.size = int(meta.get("size", 224))
            self.version = str(meta.get("version", path.stem))
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            self._session: Any = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot load image classifier {path}: {exc}") from exc
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"cannot load image classifier {path}: {exc}") from exc
        self._input = self._session.get_inputs()[0].name

    def classify(self, images: list[Image.Image]) -> list[dict[str, float]]:
        if not images:
            return []
        batch = np.stack(
            [
                np.asarray(i.convert("RGB").resize((self.size, self.size)), np.float32) / 255
                for i in images
            ]
        ).transpose(0, 3, 1, 2)
        try:
            probs = self._session.run(None, {self._input: batch})[0]
        except Exception as exc:
            raise ModelError(f"image classifier failed: {exc}") from exc
        return [
            {label: float(np.clip(p, 0, 1)) for label, p in zip(self.labels, row, strict=True)}
            for row in np.asarray(probs).reshape(len(images), -1)
        ]
