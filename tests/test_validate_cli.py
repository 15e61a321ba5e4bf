"""`hub2lite validate` and the validation flags of `convert`, in-process, on real models."""

from __future__ import annotations

from importlib.metadata import version
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import cached_build
from hub2lite import errors

MODELS = Path(__file__).with_name("models_validate.py")


@pytest.fixture(scope="module")
def heads(tmp_path_factory):
    """(original folder, float .tflite, .tflite whose embedding head's weights were perturbed)."""
    from models_validate import BUILDERS, perturb_weights

    from hub2lite.pipeline import ConvertJob, run_convert

    folder = cached_build("two_heads", BUILDERS["two_heads"], MODELS)
    out = tmp_path_factory.mktemp("cli-heads") / "heads.tflite"
    result = run_convert(ConvertJob(str(folder), str(out)))
    bad = out.with_name("perturbed.tflite")
    bad.write_bytes(perturb_weights(result.conversion.model, (32, 16), scale=0.5))
    return folder, out, bad


def test_perturbed_model_exits_3_naming_the_output(cli, heads, tmp_path):
    folder, good, bad = heads
    r = cli("validate", folder, bad, "--save-inputs", tmp_path / "repro")
    assert r.code == errors.EXIT_VALIDATION_FAILED == 3, r
    assert "validation: FAILED on 8 samples (synthetic, seed 0; float32 tolerances)" in r.out
    lines = r.out.splitlines()
    assert any(line.split()[:2] == ["FAIL", "embedding"] for line in lines), r.out
    assert any(line.split()[:2] == ["ok", "probs"] for line in lines), r.out
    assert "- embedding: max abs error" in r.out and "- embedding: cosine similarity" in r.out
    assert f"outputs saved: {tmp_path / 'repro' / 'outputs-original.npz'}" in r.out
    # the saved failure replays exactly from the saved inputs
    r2 = cli("validate", folder, bad, "--load-inputs", tmp_path / "repro", "--json")
    assert r2.code == 3
    doc = json.loads(r2.out)
    assert doc["inputs"]["source"] == "saved"
    emb = next(o for o in doc["outputs"] if o["name"] == "embedding")
    replay = np.load(tmp_path / "repro" / "outputs-tflite.npz")["embedding"]
    ref = np.load(tmp_path / "repro" / "outputs-original.npz")["embedding"]
    assert emb["max_abs"] == pytest.approx(float(np.abs(replay.astype(np.float64) - ref).max()), rel=1e-12)
    assert cli("validate", folder, good).code == 0


def test_json_report_file_and_no_overwrite_without_force(cli, heads, tmp_path):
    folder, good, _ = heads
    report = tmp_path / "v.json"
    r = cli("validate", folder, good, "--report", report, "--json")
    assert r.code == 0, r
    doc = json.loads(report.read_text())
    assert doc["schema"] == "hub2lite.validate/1" and doc["passed"] is True
    assert doc["versions"]["tensorflow"] == version("tensorflow") and doc["created"]
    assert doc["tflite"]["path"] == str(good) and len(doc["tflite"]["sha256"]) == 64
    assert json.loads(r.out)["outputs"] == doc["outputs"]
    r = cli("validate", folder, good, "--report", report)
    assert r.code == errors.OutputError.exit_code and "already exists" in r.err
    assert cli("validate", folder, good, "--report", report, "--force").code == 0


def test_tolerance_flags_override_the_mode_defaults(cli, heads):
    folder, good, _ = heads
    r = cli("validate", folder, good, "--min-snr", "200", "--json")
    assert r.code == 3
    doc = json.loads(r.out)
    assert doc["tolerance"]["min_snr_db"] == 200
    assert all("SNR dB" in f and "< tolerance 200" in f for f in doc["failures"]) and len(doc["failures"]) == 2
    r = cli("validate", folder, good, "--mode", "int8", "--max-kl", "-1", "--json")
    doc = json.loads(r.out)
    assert r.code == 3 and doc["tolerance"]["max_kl"] == -1 and doc["tolerance"]["min_cosine"] == 0.95
    assert doc["failures"] == [f for f in doc["failures"] if f.startswith("probs: KL divergence")] != []
    r = cli("validate", folder, good, "--task", "embedding", "--min-snr=-inf", "--json")
    doc = json.loads(r.out)
    assert r.code == 0 and {o["kind"] for o in doc["outputs"]} == {"embedding"}
    assert doc["tolerance"]["min_snr_db"] is None  # -inf: not checked


def test_conflicting_input_sources_are_a_usage_error(cli, heads, tmp_path):
    folder, good, _ = heads
    np.save(tmp_path / "x.npy", np.zeros((2, 16), np.float32))
    r = cli("validate", folder, good, "--data", tmp_path / "x.npy", "--load-inputs", tmp_path)
    assert r.code == errors.EXIT_USAGE and "--load-inputs and --data" in r.err
    r = cli("validate", folder, good, "--labels", tmp_path / "nope.txt")
    assert r.code == errors.EXIT_USAGE and "--labels needs labeled inputs" in r.err


@pytest.mark.slow
def test_convert_int8_measures_labeled_accuracy_with_class_names(cli, digits_model, digits_split, tmp_path):
    x_train, y_train, x_test, y_test = digits_split
    np.savez(tmp_path / "train.npz", x=x_train[:200], y=y_train[:200])
    np.savez(tmp_path / "test.npz", x=x_test, y=y_test)
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    (tmp_path / "labels.json").write_text(json.dumps(names))
    out = tmp_path / "d8.tflite"
    r = cli("convert", digits_model, "-o", out, "--quantize", "int8", "--calibration", tmp_path / "train.npz",
            "--data", tmp_path / "test.npz", "--labels", tmp_path / "labels.json")
    assert r.code == 0, r
    assert "accuracy on 360 labeled samples (output 'output_0', 10 classes, names from" in r.out
    assert "top-1: original 99.4%" in r.out, r.out
    report = json.loads((tmp_path / "d8.report.json").read_text())
    acc = report["validation"]["accuracy"]
    assert acc["samples"] == 360 and acc["labels_file"] == str(tmp_path / "labels.json")
    assert acc["top1_drop"] <= 0.02 and acc["passed"] is True
    # the same model through `validate`, with a stricter accuracy tolerance than the drop measured
    r = cli("validate", digits_model, out, "--mode", "int8", "--data", tmp_path / "test.npz", "--labels",
            tmp_path / "labels.json", "--max-accuracy-drop", "-0.01", "--json")
    doc = json.loads(r.out)
    assert r.code == 3 and doc["accuracy"]["passed"] is False
    assert doc["failures"][-1].startswith("accuracy: top-1 dropped")
    assert doc["accuracy"]["top1_tflite"] == acc["top1_tflite"]


def test_standalone_validate_of_an_integer_io_model_feeds_the_originals_float_data(cli, digits_model, digits_split,
                                                                                   tmp_path):
    """int8-strict .tflite (int8 input/output) checked later on its own: inputs are generated/loaded as the
    original's float32 and quantized with the model's scale, not drawn as random int8 codes."""
    x_train, _, x_test, y_test = digits_split
    np.save(tmp_path / "calib.npy", x_train[:100])
    np.savez(tmp_path / "test.npz", x=x_test[:120], y=y_test[:120])
    out = tmp_path / "strict.tflite"
    r = cli("convert", digits_model, "-o", out, "--quantize", "int8-strict", "--calibration", tmp_path / "calib.npy",
            "--seed", "0")
    assert r.code == 0, r
    for data in ([], ["--data", tmp_path / "test.npz"]):
        r = cli("validate", digits_model, out, "--mode", "int8-strict", "--json", *data)
        assert r.code == 0, r
        report = json.loads(r.out)
        assert report["passed"] is True
        assert report["outputs"][0]["top1_agreement"] >= 0.9
    assert report["accuracy"]["top1_tflite"] >= 0.9
    r = cli("validate", digits_model, out, "--mode", "int8-strict", "--data", tmp_path / "test.npz",
            "--input-range", "0,2,3")
    assert r.code == errors.EXIT_USAGE, r
