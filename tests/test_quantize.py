"""Every quantization mode on a CNN trained here on scikit-learn's real digits (tests/models_quant.py).

For each mode: the .tflite is written, its tensor types are read back from the file, its size relative to the
float32 conversion is within a stated margin, it passed validation (never skipped), and its labeled accuracy on
the 360 held-out digits is within a stated drop of the float32 model's.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import cached_build
from models_quant import BUILDERS, split_halves

MODELS_QUANT = Path(__file__).with_name("models_quant.py")

# mode, --io-type, expected size / float32 size (low, high), max accuracy drop (points) vs float32
MODES = [
    ("float16", None, (0.45, 0.55), 1.0),
    ("dynamic", None, (0.22, 0.31), 1.0),
    ("int8", None, (0.22, 0.31), 2.0),
    ("int8-strict", "int8", (0.22, 0.31), 2.0),
    ("int8-strict", "uint8", (0.22, 0.31), 2.0),
    ("int16x8", None, (0.22, 0.31), 2.0),
]


@pytest.fixture(scope="session")
def quant_model():
    def get(name: str) -> Path:
        return cached_build(name, BUILDERS[name], MODELS_QUANT)

    return get


@pytest.fixture(scope="module")
def digits_files(tmp_path_factory, digits_split) -> dict[str, Path]:
    x_train, y_train, x_test, y_test = digits_split
    d = tmp_path_factory.mktemp("digits-data")
    np.savez(d / "train.npz", x=x_train, y=y_train)
    np.savez(d / "test.npz", x=x_test, y=y_test)
    return {"train": d / "train.npz", "test": d / "test.npz"}


def lite_accuracy(model: bytes | Path, feeds_x: dict[str, np.ndarray], y: np.ndarray) -> float:
    """Labeled top-1 accuracy of a .tflite through LiteRunner (which quantizes float feeds and dequantizes
    integer outputs with the model's own scale/zero-point)."""
    from hub2lite.runners import LiteRunner

    data = model if isinstance(model, bytes) else Path(model).read_bytes()
    lite = LiteRunner(data)
    hits = 0
    for i in range(len(y)):
        out = lite.infer({k: v[i:i + 1] for k, v in feeds_x.items()})
        hits += int(np.argmax(next(iter(out.values()))) == y[i])
    return hits / len(y)


def tensor_types(path: Path) -> tuple[Counter, str, str]:
    """(dtype counts over all tensors, input dtype, output dtype), read from the .tflite itself."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    counts = Counter(np.dtype(d["dtype"]).name for d in it.get_tensor_details())
    return counts, np.dtype(it.get_input_details()[0]["dtype"]).name, np.dtype(it.get_output_details()[0]["dtype"]).name


@pytest.fixture(scope="module")
def float32_baseline(quant_model, digits_split, tmp_path_factory, cli) -> dict:
    _, _, x_test, y_test = digits_split
    out = tmp_path_factory.mktemp("f32") / "f32.tflite"
    r = cli("convert", quant_model("digits_wide"), "-o", out)
    assert r.code == 0, r
    return {"size": out.stat().st_size, "accuracy": lite_accuracy(out, {"image": x_test}, y_test)}


@pytest.fixture(scope="module")
def cli():  # module-scoped twin of conftest's `cli`
    import io

    from conftest import CliResult
    from hub2lite.cli import main

    def run(*argv):
        o, e = io.StringIO(), io.StringIO()
        code = main([str(a) for a in argv], out=o, err=e)
        return CliResult(code, o.getvalue(), e.getvalue())

    return run


@pytest.mark.parametrize("mode,io_type,size_ratio,max_drop", MODES, ids=[m + (f"-{i}" if i else "") for m, i, _, _ in MODES])
def test_every_mode_size_types_accuracy(mode, io_type, size_ratio, max_drop, quant_model, digits_files, digits_split,
                                        float32_baseline, tmp_path, cli):
    _, _, x_test, y_test = digits_split
    out = tmp_path / f"{mode}.tflite"
    argv = ["convert", quant_model("digits_wide"), "-o", out, "--quantize", mode]
    if io_type:
        argv += ["--io-type", io_type]
    calibrated = mode in ("int8", "int8-strict", "int16x8")
    if calibrated:
        argv += ["--calibration", digits_files["train"]]
    r = cli(*argv)
    assert r.code == 0, r
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["conversion"]["recipe"]["mode"] == mode
    assert report["validation"] is not None and report["validation"]["passed"]  # validated, never skipped
    if calibrated:
        cal = report["calibration"]
        assert cal["samples"] == 200 and cal["total"] == len(digits_split[0])  # seeded 200 of 1437
        assert cal["input_scaling"]["image"]["source"] == "default"
        assert "calibration: 200 samples" in r.out
    else:
        assert report["calibration"] is None

    counts, t_in, t_out = tensor_types(out)
    if mode == "float16":
        assert counts["float16"] > 0 and (t_in, t_out) == ("float32", "float32")
    elif mode == "dynamic":
        assert counts["int8"] > 0 and counts["float16"] == 0 and (t_in, t_out) == ("float32", "float32")
    elif mode == "int8":
        assert counts["int8"] > counts["float32"] and (t_in, t_out) == ("float32", "float32")
        assert "QUANTIZE" in report["conversion"]["tflite_ops"]
    elif mode == "int8-strict":
        assert (t_in, t_out) == (io_type, io_type)
        assert counts["float32"] == 0  # integer only: not one float tensor
        assert report["conversion"]["converter_settings"]["inference_input_type"] == io_type
    elif mode == "int16x8":
        assert counts["int16"] > 0 and counts["int8"] > 0 and (t_in, t_out) == ("float32", "float32")

    ratio = out.stat().st_size / float32_baseline["size"]
    assert size_ratio[0] <= ratio <= size_ratio[1], f"{mode}: size ratio {ratio:.3f}"
    acc = lite_accuracy(out, {"image": x_test}, y_test)
    drop = 100 * (float32_baseline["accuracy"] - acc)
    assert float32_baseline["accuracy"] > 0.97
    assert drop <= max_drop, f"{mode}: accuracy {acc:.2%} vs float32 {float32_baseline['accuracy']:.2%}"


def test_two_input_model_calibrated_by_name_from_npz(quant_model, digits_split, tmp_path, cli):
    """Inputs 'top' (in [0,1]) and 'bottom' (in [0,255]): hub2lite feeds each by name, so int8 keeps the float
    accuracy; the same conversion calibrated with the two inputs swapped collapses — the bug that cannot happen."""
    from hub2lite.convert import ConvertConfig, convert
    from hub2lite.load import load
    from hub2lite.resolve import resolve
    from hub2lite.runners import TFRunner
    from hub2lite.specs import QuantMode

    x_train, _, x_test, y_test = digits_split
    halves, test = split_halves(x_train), split_halves(x_test)
    calib = tmp_path / "calib.npz"
    np.savez(calib, top=halves["top"], bottom=halves["bottom"])  # key order differs from the signature's
    out = tmp_path / "two.tflite"
    r = cli("convert", quant_model("digits_two_inputs"), "-o", out, "--quantize", "int8", "--calibration", calib)
    assert r.code == 0, r
    loaded = load(resolve(str(quant_model("digits_two_inputs"))))
    tf_runner = TFRunner(loaded.choose())
    float_acc = np.mean([np.argmax(tf_runner.infer({k: v[i:i + 1] for k, v in test.items()})["output_0"]) == y_test[i]
                         for i in range(len(y_test))])
    int8_acc = lite_accuracy(out, test, y_test)
    assert float_acc > 0.95
    assert 100 * (float_acc - int8_acc) <= 2.0, (float_acc, int8_acc)

    swapped = [{"top": halves["bottom"][i:i + 1], "bottom": halves["top"][i:i + 1]} for i in range(200)]
    bad = convert(loaded, ConvertConfig(quantize=QuantMode.INT8), calibration=swapped)
    swapped_acc = lite_accuracy(bad.model, test, y_test)
    assert swapped_acc < float_acc - 0.3, swapped_acc  # measured: 11% vs 99%


def test_wrong_shaped_npy_fails_with_one_line(digits_model, digits_split, tmp_path, cli):
    x_train = digits_split[0]
    bad = tmp_path / "bad.npy"
    np.save(bad, x_train[:50, :, :4])
    out = tmp_path / "m.tflite"
    r = cli("convert", digits_model, "-o", out, "--quantize", "int8", "--calibration", bad)
    assert r.code == 7, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert "Traceback" not in r.err
    assert "input 'image' expects samples of shape [N,8,8,1], found [50, 8, 4, 1]" in lines[0]
    assert not out.exists() and not out.with_suffix(".report.json").exists()


def test_calibration_needed_and_synthetic_is_loud(digits_model, tmp_path, cli):
    r = cli("convert", digits_model, "-o", tmp_path / "a.tflite", "--quantize", "int8")
    assert r.code == 7 and "needs calibration data" in r.err
    out = tmp_path / "s.tflite"
    r = cli("convert", digits_model, "-o", out, "--quantize", "int8", "--calibration", "synthetic")
    assert r.code == 0, r
    assert "UNVERIFIED" in r.err and "WARNING: calibrated on random synthetic data" in r.out
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert "UNVERIFIED" in report["calibration"]["warning"]


def test_mis_scaled_npy_warns_and_explicit_range_rejects_it(digits_model, digits_split, tmp_path, cli):
    raw = tmp_path / "raw.npy"
    np.save(raw, digits_split[0][:100] * 255.0)
    out = tmp_path / "w.tflite"
    r = cli("convert", digits_model, "-o", out, "--quantize", "int8", "--calibration", raw)
    assert "looks mis-scaled" in r.err and "[0, 255]" in r.err  # warned, and the bad calibration shows in validation
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert any("mis-scaled" in n for n in report["calibration"]["notes"])
    r = cli("convert", digits_model, "-o", tmp_path / "x.tflite", "--quantize", "int8", "--calibration", raw,
            "--input-range", "0,1")
    assert r.code == 7 and len(r.err.strip().splitlines()) == 1
    assert "input 'image' expects values in [0, 1] (--input-range 0,1), found [0, 255]" in r.err
    r = cli("convert", digits_model, "-o", tmp_path / "y.tflite", "--quantize", "int8", "--calibration", raw,
            "--input-range", "0,1", "--mean", "3")
    assert r.code == 2 and "cannot be combined" in r.err


def test_int8_strict_refuses_a_model_that_would_keep_float_ops(cli, model_path, tmp_path):
    """The converter silently keeps ops without int8 kernels in float (DEQUANTIZE/SIN/QUANTIZE);
    int8-strict must not hand that back as 'integer-only'. int8 (float fallback) accepts it."""
    out = tmp_path / "s.tflite"
    r = cli("convert", model_path("float_only_op"), "-o", out, "--quantize", "int8-strict",
            "--calibration", "synthetic", "--no-flex")
    assert r.code == 6, r
    assert "['SIN']" in r.err and "--quantize int8" in r.err
    assert not out.exists()
    r = cli("convert", model_path("float_only_op"), "-o", out, "--quantize", "int8", "--calibration", "synthetic")
    assert r.code == 0, r
    assert "SIN" in json.loads((tmp_path / "s.report.json").read_text())["conversion"]["tflite_ops"]
