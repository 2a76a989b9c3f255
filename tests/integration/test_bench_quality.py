"""`modstream bench quality`: it runs through the real command line and reports in-range metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import DATA


def _in_unit(x: float) -> bool:
    return 0.0 <= x <= 1.0


def test_bench_quality_json(model_dir: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MODSTREAM_TRAINING_DATA": str(DATA),
        "MODSTREAM_DATA_DIR": str(tmp_path),
    }
    argv = [sys.executable, "-c", "from infra.cli import main; main()", "bench", "quality"]
    argv += ["--model", str(model_dir), "--limit", "120", "--texts", "64", "--json"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    assert report["limit"] == 120
    assert report["held_out_rows"] > 0
    # The lead figure: every scored source by a model fitted without it, beside the pooled split.
    loso = report["loso"]
    assert {k.split("/")[0] for k in loso["unseen"]} == {"en", "ar"}
    assert {"en/davidson", "ar/osact2020"} <= set(loso["unseen"])
    assert {"en/all", "ar/all"} <= set(loso["pooled"])
    for m in loso["unseen"].values():
        assert m["n"] > 0
        for key in ("roc_auc", "macro_f1", "f1_toxic"):
            assert _in_unit(m[key])
    assert set(report["quality"]) == set(report["models"])
    assert "fast" in report["quality"]
    for tier, quality in report["quality"].items():
        assert set(quality["per_language"]) == {"en", "ar"}, tier
        assert {"en_hatexplain_val", "ar_osact2020_dev"} <= set(quality["per_dataset"])
        for scope in (*quality["per_language"].values(), *quality["per_dataset"].values()):
            assert "toxic" in scope
            for name, value in scope.items():
                if isinstance(value, dict):
                    assert value["n"] > 0
                    for key in ("roc_auc", "macro_f1", "accuracy", "pos_rate"):
                        if key in value:
                            assert _in_unit(value[key]), (tier, name, key, value)
                elif name != "spans_n":
                    assert _in_unit(value), (tier, name, value)
        en = quality["per_language"]["en"]
        assert _in_unit(en["spans_char_f1"])
        assert _in_unit(en["spans_tagger_char_f1"])
    for name, m in report["rules"]["cases"].items():
        assert name.split("/")[1] in {"threat", "harassment"}
        assert all(_in_unit(m[k]) for k in ("precision", "recall", "f1"))
    assert report["speed"]["fast"]["texts"] == 64
    assert report["speed"]["fast"]["texts_per_second"] > 0
    if "cascade" in report["speed"]:
        assert _in_unit(report["speed"]["cascade"]["uncertain_share"])
        assert report["speed"]["transformer"]["texts_per_second"] > 0


def test_bench_quality_trains_then_prints_tables(tmp_path: Path) -> None:
    env = {**os.environ, "MODSTREAM_TRAINING_DATA": str(DATA), "MODSTREAM_DATA_DIR": str(tmp_path)}
    model = tmp_path / "model"
    argv = [sys.executable, "-c", "from infra.cli import main; main()", "bench", "quality"]
    argv += ["--train", "--model", str(model), "--limit", "100", "--texts", "32", "--no-cascade"]
    argv += ["--sample", "60"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    assert (model / "metrics.json").is_file()  # --train wrote the artifact it then measured
    version = json.loads((model / "metrics.json").read_text())["version"]
    assert f"fast {version}" in done.stdout
    titles = ("toxic on unseen sources", "fast: held-out ROC-AUC/macro-F1", "rule labels", "speed")
    for title in titles:
        assert title in done.stdout
    assert done.stdout.index(titles[0]) < done.stdout.index(titles[1])  # it leads
    assert "cascade" not in done.stdout.split("speed")[1]
