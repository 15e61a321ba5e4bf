"""The one prepare path and the shared input flags (issue 11): every command that reads data takes the same
flags, usage errors come before TensorFlow, and the bugs the four copies caused stay fixed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hub2lite import errors

ROOT = Path(__file__).resolve().parent.parent


def _help(command: str) -> str:
    from hub2lite.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return " ".join(sub.choices[command].format_help().split())


def test_every_data_command_takes_the_same_input_flags():
    """Bug 1: optimize had no --input-range/--mean/--std. One argument group gives them (and --data, --labels,
    --seed) to convert, validate, sweep and optimize, with one help text for --labels."""
    for command in ("convert", "validate", "sweep", "optimize"):
        text = _help(command)
        for flag in ("--data", "--labels", "--seed", "--input-range", "--mean", "--std"):
            assert flag in text, (command, flag)
        assert "--labels FILE class names by output index: one per line, or JSON; maps the data's own labels" in text


def _image_folder(root: Path, x: np.ndarray, y: np.ndarray) -> Path:
    from PIL import Image

    for i, (img, label) in enumerate(zip(x, y)):
        folder = root / str(int(label))
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((img[..., 0] * 255).astype(np.uint8), mode="L").save(folder / f"{i}.png")
    return root


def test_optimize_scales_image_data_with_the_input_range_flag(cli, digits_model, digits_split, tmp_path):
    """Bug 1, end to end: `optimize --input-range -1,1` reads the image folder in [-1, 1] (before: exit 2,
    unknown flag), for calibration and evaluation alike, and the report says so."""
    _, _, x_test, y_test = digits_split
    data = _image_folder(tmp_path / "digits", x_test[:16], y_test[:16])
    out = tmp_path / "m.tflite"
    r = cli("optimize", digits_model, "--data", data, "--input-range", "-1,1", "--metric", "agreement",
            "--max-drop", "100", "--max-evals", "0", "--runs", "3", "-o", out)
    assert r.code == 0, r
    report = json.loads((tmp_path / "m.optimize.json").read_text())
    scaling = report["data"]["input_scaling"]["image"]
    assert scaling["source"] == "flag" and scaling["range"] == [-1.0, 1.0]


def test_split_data_applies_the_scaling_to_both_parts(digits_split, tmp_path):
    from hub2lite.datasets import ImageScaling
    from hub2lite.prepare import split_data
    from hub2lite.specs import TensorSpec

    _, _, x_test, y_test = digits_split
    data = _image_folder(tmp_path / "digits", x_test[:12], y_test[:12])
    spec = (TensorSpec("image", "float32", (None, 8, 8, 1)),)
    split = split_data(str(data), None, spec, calibration_samples=6, eval_samples=None, seed=0,
                       scaling=ImageScaling.from_range(-1.0, 1.0, "flag", "test"))
    values = np.concatenate([f["image"].ravel() for f in split.calibration + split.evaluation])
    assert values.min() < -0.9 and values.max() > 0.9  # [-1, 1], not [0, 1]


@pytest.mark.parametrize("argv", [
    ["convert", "MODEL", "-o", "OUT", "--quantize", "int8", "--no-validate"],
    ["convert", "MODEL", "-o", "OUT", "--quantize", "int8"],  # no --calibration
    ["convert", "MODEL", "-o", "OUT", "--input-range", "1,0"],
    ["validate", "MODEL", "OUT", "--mean", "127.5"],
    ["sweep", "MODEL", "-o", "OUT", "--modes", "int8"],
    ["optimize", "MODEL", "--data", "D", "-o", "OUT", "--max-drop", "-1"],
])
def test_usage_errors_are_refused_before_tensorflow_is_imported(argv, tmp_path):
    """Bug 4: a flag combination that needs no model is refused (exit 2 or 7) with TensorFlow never imported
    (nor numpy, except by optimize's config checks), in a fresh interpreter."""
    argv = [str(tmp_path / a) if a in ("MODEL", "OUT", "D") else a for a in argv]
    code = ("import sys, time\nt = time.perf_counter()\nfrom hub2lite.cli import main\n"
            f"code = main({argv!r})\n"
            "print(code, 'tensorflow' in sys.modules, 'numpy' in sys.modules, time.perf_counter() - t)")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    exit_code, tf_loaded, np_loaded, seconds = r.stdout.split()
    assert int(exit_code) in (errors.EXIT_USAGE, errors.CalibrationError.exit_code), r
    assert tf_loaded == "False", r
    assert np_loaded == str(argv[0] == "optimize"), r
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("hub2lite: error: "), r.stderr
    print(f"refused in {float(seconds):.3f} s")


def test_validate_refuses_a_tflite_of_another_model_before_running_it(model_path, tmp_path):
    """Bug 3: same input name, different shape (x[?,4] vs a .tflite of x[?,5]): one line, exit 2, nothing run
    (before: TensorFlow's C++ aborted the process, exit 134)."""
    from hub2lite.pipeline import ConvertJob, run_convert

    other = tmp_path / "other.tflite"
    run_convert(ConvertJob(str(model_path("no_signature")), str(other)))
    r = subprocess.run([sys.executable, "-m", "hub2lite", "validate", str(model_path("simple")), str(other)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == errors.EXIT_USAGE, r
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "input 'x'" in lines[0] and "[1,5]" in lines[0].replace(" ", ""), r.stderr


def test_validate_reads_the_mode_from_the_tflite(cli, model_path, tmp_path):
    """Bug 5: without --mode, a float16 .tflite is judged with float16 tolerances (said on the terminal and in
    the report); --mode overrides."""
    from hub2lite.pipeline import ConvertJob, run_convert
    from hub2lite.convert import ConvertConfig
    from hub2lite.specs import QuantMode

    f16 = tmp_path / "m16.tflite"
    run_convert(ConvertJob(str(model_path("simple")), str(f16), convert=ConvertConfig(quantize=QuantMode.FLOAT16)))
    r = cli("validate", model_path("simple"), f16, "--report", tmp_path / "v.json")
    assert r.code == 0, r
    assert "mode float16 (inferred from the .tflite: float16 weights" in r.out
    assert "float16 tolerances" in r.out
    assert json.loads((tmp_path / "v.json").read_text())["mode"] == "float16"
    r = cli("validate", model_path("simple"), f16, "--mode", "float32")
    assert "mode float32 (--mode)" in r.out and "float32 tolerances" in r.out


def test_sweep_calls_a_7_class_softmax_a_classifier_as_validate_does():
    """One classifier rule: sweep's copy wanted >= 10 columns and judged a 7-class softmax by cosine."""
    from hub2lite.sweep import _class_output
    from hub2lite.validate import output_kind

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 7))
    probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    reference = [{"probs": p[None].astype(np.float32)} for p in probs]
    assert output_kind("probs", probs.astype(np.float32)) == "classifier"
    assert _class_output(reference, None) == "probs"
    embedding = [{"embedding": rng.normal(size=(1, 7)).astype(np.float32)} for _ in range(6)]
    assert _class_output(embedding, None) is None


def test_labels_is_a_class_names_file_in_optimize_too(tmp_path):
    """--labels means class names everywhere; per-sample labels travel with the data (.npz y, folders)."""
    from hub2lite.optimize import _labels
    from hub2lite.prepare import DataSplit

    np.save(tmp_path / "y.npy", np.array([0, 1, 2]))
    split = DataSplit([], [{}] * 3, None, {"mode": "separate", "classes": None})
    with pytest.raises(errors.ConfigError, match="--labels names classes"):
        _labels(split, str(tmp_path / "y.npy"))


def test_a_hub2lite_bug_in_sweep_is_exit_1_not_a_row(cli, model_path, tmp_path, monkeypatch):
    """A model's failure stays a row, but an error in hub2lite's own code (here: a TypeError from the
    comparison step) is a bug: exit 1 and 'internal error', never 'validation failed to run'."""
    import importlib

    sweep_module = importlib.import_module("hub2lite.sweep")  # `hub2lite.sweep` is the API call

    def broken(*args, **kwargs):
        raise TypeError("a bug in hub2lite")

    monkeypatch.setattr(sweep_module, "compare", broken)
    r = cli("sweep", model_path("simple"), "-o", tmp_path / "out", "--modes", "float32", "--runs", "2",
            "--rounds", "1", "--samples", "2")
    assert r.code == errors.EXIT_ERROR, r
    assert "internal error: TypeError: a bug in hub2lite" in r.err
