"""`hub2lite optimize` on a real trained model where uniform int8 breaks (tests/models_optimize.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import cached_build
from hub2lite.errors import CalibrationError
from hub2lite.optimize import split_data
from hub2lite.specs import TensorSpec

MODELS = Path(__file__).with_name("models_optimize.py")
SPECS = (TensorSpec("image", "float32", (None, 8, 8, 1)),)


@pytest.fixture(scope="session")
def outlier_model() -> Path:
    from models_optimize import outlier_digits

    return cached_build("outlier_digits", outlier_digits, MODELS)


def _digest(feed) -> str:
    return hashlib.sha256(feed["image"].tobytes()).hexdigest()


def test_one_data_path_is_split_disjointly_with_a_seed(tmp_path):
    x = np.arange(40 * 64, dtype=np.float32).reshape(40, 8, 8, 1)  # every sample distinct
    data = tmp_path / "all.npz"
    np.savez(data, x=x, y=np.arange(40) % 10)
    a = split_data(str(data), None, SPECS, calibration_samples=200, eval_samples=None, seed=3)
    b = split_data(str(data), str(data), SPECS, calibration_samples=200, eval_samples=None, seed=3)
    assert len(a.calibration) == 20 and len(a.evaluation) == 20  # at most half calibrates
    assert not {_digest(f) for f in a.calibration} & {_digest(f) for f in a.evaluation}
    assert [_digest(f) for f in a.evaluation] == [_digest(f) for f in b.evaluation]  # seeded
    assert a.info["mode"] == "split" and "seed 3" in a.info["note"]
    # labels follow their samples
    assert [int(f["image"].ravel()[0]) // 64 % 10 for f in a.evaluation] == list(a.labels)


def test_the_int8_search_ranks_on_calibration_samples_held_out_of_calibration():
    from hub2lite.optimize import ranking_split

    cal, rank = ranking_split(list(range(200)), 64)
    assert cal == list(range(136)) and rank == list(range(136, 200))
    cal, rank = ranking_split(list(range(30)), 64)  # at most a third is held out
    assert len(cal) == 20 and rank == list(range(20, 30))
    cal, rank = ranking_split([0, 1], 64)  # too few to hold any out: rank on the calibration samples
    assert cal == rank == [0, 1]


def test_overlapping_calibration_and_data_are_refused(tmp_path):
    folder = tmp_path / "calib"
    folder.mkdir()
    np.savez(folder / "part.npz", x=np.zeros((4, 8, 8, 1), np.float32))
    with pytest.raises(CalibrationError, match="share 1 file"):
        split_data(str(folder / "part.npz"), str(folder), SPECS, calibration_samples=10, eval_samples=None, seed=0)


@pytest.mark.slow
def test_optimize_finds_a_mixed_model_inside_the_budget_smaller_than_float16(cli, outlier_model, digits_split,
                                                                             tmp_path):
    x_train, y_train, x_test, y_test = digits_split
    np.savez(tmp_path / "calib.npz", x=x_train[:200], y=y_train[:200])
    np.savez(tmp_path / "test.npz", x=x_test, y=y_test)
    out = tmp_path / "best.tflite"
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    (tmp_path / "digits.txt").write_text("\n".join(names) + "\n")
    r = cli("optimize", outlier_model, "--calibration", tmp_path / "calib.npz", "--data", tmp_path / "test.npz",
            "--max-drop", "1.0", "--max-evals", "6", "--runs", "20", "-o", out, "--metadata",
            "--labels", tmp_path / "digits.txt")
    assert r.code == 0, r
    report = json.loads((tmp_path / "best.optimize.json").read_text())
    cands = {c["name"]: c for c in report["candidates"]}
    assert [c["name"] for c in report["candidates"][:6]] == ["float32", "int8-strict", "int8", "int16x8", "dynamic",
                                                              "float16"]
    winner = cands[report["winner"]]
    # measured on the 360 held-out digits: uniform int8 loses far more than the budget ...
    assert cands["int8"]["drop"] > 5.0 and not cands["int8"]["in_budget"]
    # ... the winner keeps a few layers in float, stays inside the budget and is smaller than float16
    assert winner["stage"] == "mixed" and 1 <= winner["float_layers"] <= 3
    assert winner["in_budget"] and winner["drop"] <= 1.0
    assert winner["size_bytes"] < cands["float16"]["size_bytes"]
    assert winner["size_bytes"] < 0.5 * cands["float32"]["size_bytes"]
    assert winner["latency_ms"] is not None and cands["float32"]["latency_ms"] is not None
    assert all(c["latency_ms"] is None for c in report["candidates"] if not c["in_budget"])
    assert 1 <= report["search"]["evaluations"] <= 6
    # the sensitivity search drove it: techniques first (measured, none inside the budget), then ops ranked by
    # the effect of reverting each on held-out calibration samples; the winner floats a prefix of its path
    search = report["search"]
    assert search["ran"] and search["method"] == "sensitivity" and search["ranking"]
    assert {"int8-minmax-bias", "int8-mse", "int8-mse-bias"} <= set(cands)
    assert all(not cands[n]["in_budget"] for n in ("int8-minmax-bias", "int8-mse", "int8-mse-bias"))
    assert winner["float_nodes"] == search["float_nodes"][:winner["float_layers"]]
    assert winner["technique"] == search["technique"]
    assert report["data"]["ranking_samples"] == 64  # held out of the 200 calibration samples
    # the written file is the winner: re-measure its accuracy independently
    from hub2lite.runners import LiteRunner

    lite = LiteRunner(str(out))
    acc = 100 * np.mean([np.argmax(next(iter(lite.infer({"image": x_test[i:i + 1]}).values()))) == y_test[i]
                         for i in range(len(x_test))])
    assert acc == pytest.approx(winner["value"], abs=1e-3) and acc >= report["metric"]["reference"] - 1.0
    # the mixed winner carries its metadata (labels, normalization, descriptions); the network is the one measured
    from hub2lite.metadata import read_metadata

    meta = read_metadata(out.read_bytes())
    assert meta is not None and meta.labels == tuple(names) and meta.name == f"{outlier_model.name} ({winner['name']})"
    assert meta.inputs[0].image is not None and (meta.inputs[0].image.mean, meta.inputs[0].image.std) == ((0.0,), (255.0,))
    assert meta.outputs[0].kind.value == "probabilities" and meta.provenance["recipe"] == winner["name"]
    assert out.stat().st_size == report["output"]["size_bytes"] > winner["size_bytes"]
    assert report["output"]["metadata"]["outputs"][0]["labels_count"] == 10
    card = (tmp_path / "best.md").read_text()
    assert f"chosen by `hub2lite optimize`: {winner['name']} (mixed" in card and "10 labels (zero, one" in card
    assert "optimize " in card and "--metadata" in card and "grayscale" in card
    md = (tmp_path / "best.optimize.md").read_text()
    assert "| candidate | recipe | float layers |" in md and "**winner**" in md
    assert "<svg" in (tmp_path / "best.optimize.html").read_text()
    assert "Ops by the effect of reverting each to float" in md
    assert "winner: mixed-" in r.out


@pytest.mark.slow
def test_optimize_exits_3_naming_the_closest_when_nothing_meets_the_budget(cli, outlier_model, digits_split,
                                                                           tmp_path):
    x_train, y_train, x_test, y_test = digits_split
    np.savez(tmp_path / "all.npz", x=x_test, y=y_test)
    out = tmp_path / "m.tflite"
    # cosine x100 with no drop allowed: every quantized variant drifts a little; no mixed search allowed
    r = cli("optimize", outlier_model, "--data", tmp_path / "all.npz", "--metric", "cosine", "--max-drop", "0",
            "--max-evals", "0", "--runs", "5", "-o", out, "--compact")
    assert r.code == 3, r
    assert not out.exists()
    report = json.loads((tmp_path / "m.optimize.json").read_text())
    # --compact: the uniform candidates (convert) and the technique candidates (Prepared.quantize) are measured
    # compacted alike, so the same network has the same size whichever route made it
    sizes = {c["name"]: c["size_bytes"] for c in report["candidates"] if c["size_bytes"]}
    print("SIZES", sizes)
    assert {"int8", "int8-minmax-bias", "int8-mse"} <= set(sizes)
    assert all(abs(sizes[n] - sizes["int8"]) <= 0.01 * sizes["int8"] for n in ("int8-minmax-bias", "int8-mse"))
    assert report["winner"] is None and report["closest"] == "float16"
    assert report["data"]["mode"] == "split" and "split with seed 0" in report["data"]["note"]
    assert "no candidate meets the budget; closest: float16" in r.out
    assert "split with seed 0" in r.err  # said on the terminal too


def test_class_folders_are_mapped_to_outputs_by_the_labels_file(tmp_path):
    """Class folders are numbered in sorted-name order ('eight' < 'one' < 'zero'); --labels maps them by
    name to output indices, as validate does (accuracy.label_indices), not folder number = output index."""
    import numpy as np

    from hub2lite.optimize import _labels
    from hub2lite.prepare import DataSplit as _Split

    (tmp_path / "labels.txt").write_text("zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n")
    folder_classes = ["eight", "one", "zero"]
    split = _Split([], [{}] * 3, np.array([0, 1, 2]), {"mode": "separate", "classes": folder_classes})
    assert list(_labels(split, str(tmp_path / "labels.txt"))) == [8, 1, 0]
    assert list(_labels(split, None)) == [0, 1, 2]  # no labels file: folder i is output i (with a warning)
