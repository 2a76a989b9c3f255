"""The image-classifier hook with a real ONNX model the test builds: "redness" (the mean of the
red channel), so the expected scores are known. Without a model, decisions come from matches."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from infra.errors import ModelError
from infra.fetch import Fetched
from schemas.media import HashType
from schemas.records import Decision
from streams.bench.synthetic import SIZE as SCENE
from streams.bench.synthetic import encode, scene
from streams.media.catalog import Catalog
from streams.media.classifier import OnnxImageClassifier
from streams.media.flood import FloodGuard
from streams.media.pipeline import MediaPipeline
from streams.pipeline import RawRecord
from streams.policy import DecisionPolicy, PolicyBook, Thresholds

SIZE = 8


def redness_model(directory: Path) -> Path:
    """input [N,3,S,S] in [0,1] → output [N,1] = mean of channel 0."""
    starts = helper.make_tensor("starts", TensorProto.INT64, [1], [0])
    ends = helper.make_tensor("ends", TensorProto.INT64, [1], [1])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    reduce_axes = helper.make_tensor("reduce_axes", TensorProto.INT64, [2], [2, 3])
    graph = helper.make_graph(
        [
            helper.make_node("Slice", ["image", "starts", "ends", "axes"], ["red"]),
            helper.make_node("ReduceMean", ["red", "reduce_axes"], ["score"], keepdims=0),
        ],
        "redness",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        [starts, ends, axes, reduce_axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    path = directory / "redness.onnx"
    onnx.save(model, path)
    path.with_suffix(".json").write_text(
        json.dumps({"labels": ["nudity"], "size": SIZE, "version": "redness-1"})
    )
    return path


def solid(color: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> Image.Image:
    return Image.new("RGB", size, color)


def test_the_onnx_classifier_scores_each_image(tmp_path: Path) -> None:
    classifier = OnnxImageClassifier(redness_model(tmp_path))
    red, blue, pink = classifier.classify(
        [solid((255, 0, 0)), solid((0, 0, 255)), solid((128, 100, 100))]
    )
    assert red["nudity"] == pytest.approx(1.0, abs=1e-3)
    assert blue["nudity"] == pytest.approx(0.0, abs=1e-3)
    assert pink["nudity"] == pytest.approx(128 / 255, abs=1e-2)
    assert classifier.version == "redness-1"


def test_an_unusable_model_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a model")
    path.with_suffix(".json").write_text(json.dumps({"labels": ["x"]}))
    with pytest.raises(ModelError, match="broken"):
        OnnxImageClassifier(path)
    with pytest.raises(ModelError):
        OnnxImageClassifier(tmp_path / "missing.onnx")


async def test_unmatched_media_is_decided_by_the_installed_classifier_under_the_tenants_policy(
    tmp_path: Path,
) -> None:
    # Different scenes (flat images would be near-duplicates of each other), tinted.
    images = {
        "https://cdn.example/red.png": encode(
            Image.blend(scene(1), solid((255, 0, 0), SCENE), 0.9)
        ),
        "https://cdn.example/blue.png": encode(
            Image.blend(scene(2), solid((0, 0, 255), SCENE), 0.9)
        ),
    }

    async def fetch(url: str) -> Fetched:  # the network seam: bytes as a CDN would serve them
        return Fetched(url=url, body=images[url], content_type="image/png", kind="image")

    # "kids" rejects any trace of the label; everyone else has the default bands.
    strict = DecisionPolicy(labels={"nudity": Thresholds(0.0, 0.0)})
    pipeline = MediaPipeline(
        fetch,
        Catalog({HashType.PDQ: 31, HashType.PHASH: 10, HashType.SHA256: 0}),
        PolicyBook(DecisionPolicy(), {"kids": strict}),
        flood=FloodGuard(window=60, max_matches=100),
        classifier=OnnxImageClassifier(redness_model(tmp_path)),
    )
    sent = [("demo", url) for url in images] + [("kids", "https://cdn.example/blue.png")]
    records = [
        RawRecord("events.media", 0, n, b"x", json.dumps(event(n, url, tenant)).encode())
        for n, (tenant, url) in enumerate(sent)
    ]
    result = await pipeline.process(records)
    by_key = {(v.tenant, v.url): v for v in result.verdicts}
    red = by_key["demo", "https://cdn.example/red.png"]
    blue = by_key["demo", "https://cdn.example/blue.png"]
    kids_blue = by_key["kids", "https://cdn.example/blue.png"]
    assert (red.decision, red.reason) == (Decision.REJECT, "classifier")
    assert red.scores["nudity"] > 0.9
    assert red.model_version == "redness-1"
    assert blue.decision is Decision.APPROVE
    assert 0 < blue.scores["nudity"] < 0.1
    assert (kids_blue.decision, kids_blue.reason) == (Decision.REJECT, "classifier")
    assert kids_blue.scores == blue.scores
    assert kids_blue.policy_version == f"media-v1:approve/{strict.version}"
    assert blue.policy_version == f"media-v1:approve/{DecisionPolicy().version}"


def event(n: int, url: str, tenant: str = "demo") -> dict[str, object]:
    return {
        "event_id": f"cls-{n}",
        "tenant": tenant,
        "source": "media",
        "kind": "media",
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {"external_id": f"m{n}", "owner": "ann", "url": url, "media_type": "image"},
    }
