"""Select-TF-ops models through the commands: which runtime ran, `--no-flex-runtime` (validation "not run",
exit 10, never a pass), what is refused for Flex models in one line, and `doctor` / `setup-flex`.

The Flex runtime is built once per machine by the session fixture (see tests/test_flexruntime.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

import pytest

from hub2lite import errors, flexruntime
from models_reliability import assert_one_line_error


@pytest.fixture(scope="module")
def flex_tflite(cli, model_path, tmp_path_factory):
    flexruntime.ensure_runtime(notify=print)
    out = tmp_path_factory.mktemp("flex") / "flex.tflite"
    r = cli("convert", model_path("flex_ops"), "-o", out, "--json")
    assert r.code == 0, r
    return out, json.loads(r.out)


@pytest.fixture(scope="module")
def cli():
    import io

    from hub2lite.cli import main

    class Result:
        def __init__(self, code, out, err):
            self.code, self.out, self.err = code, out, err

        def __repr__(self):
            return f"Result({self.code}, out={self.out[-1500:]!r}, err={self.err[-1500:]!r})"

    def run(*argv):
        out, err = io.StringIO(), io.StringIO()
        code = main([str(a) for a in argv], out=out, err=err)
        return Result(code, out.getvalue(), err.getvalue())

    return run


def test_convert_validates_a_flex_model_in_the_flex_runtime_and_says_so(flex_tflite):
    _, report = flex_tflite
    v = report["validation"]
    assert v["passed"] is True and v["status"] == "passed"
    assert v["runtimes"]["candidate"] == "flex-runtime: tf.lite.Interpreter (TensorFlow 2.18.1, with Flex delegate)"
    assert report["versions"]["tensorflow"] == version("tensorflow")  # converted by the installed TensorFlow
    for out in v["outputs"]:
        assert out["max_abs"] <= 1e-6, out


def test_no_flex_runtime_converts_but_reports_validation_not_run(cli, model_path, tmp_path):
    out = tmp_path / "f.tflite"
    r = cli("convert", model_path("flex_ops"), "-o", out, "--no-flex-runtime")
    assert r.code == errors.EXIT_FLEX_UNAVAILABLE == 10, r
    assert out.exists()  # the model still converts
    assert "validation: NOT RUN" in r.out and "setup-flex" in r.out
    report = json.loads(out.with_suffix(".report.json").read_text())
    v = report["validation"]
    assert v["passed"] is False and v["status"] == "not run" and "setup-flex" in v["not_run"]
    assert v["failures"][0].startswith("validation not run:")


def test_validate_no_flex_runtime_exits_9_with_the_fix(cli, model_path, flex_tflite, tmp_path):
    path, _ = flex_tflite
    report = tmp_path / "v.json"
    r = cli("validate", model_path("flex_ops"), path, "--no-flex-runtime", "--report", report)
    assert r.code == errors.EXIT_FLEX_UNAVAILABLE, r
    assert "validation: NOT RUN: the Flex runtime is disabled" in r.out
    doc = json.loads(report.read_text())
    assert doc["status"] == "not run" and doc["passed"] is False
    r = cli("validate", model_path("flex_ops"), path, "--json")
    assert r.code == 0, r
    assert json.loads(r.out)["runtimes"]["candidate"].startswith("flex-runtime:")


def test_int8_calibration_of_a_flex_model_is_refused_in_one_line(cli, model_path, tmp_path):
    r = cli("convert", model_path("flex_ops"), "-o", tmp_path / "q.tflite", "--quantize", "int8",
            "--calibration", "synthetic")
    assert_one_line_error(r, errors.ConversionError.exit_code, "cannot calibrate", "Flex delegate", "float16")
    assert not (tmp_path / "q.tflite").exists()


def test_per_layer_of_a_flex_model_is_refused_before_any_work(cli, model_path, flex_tflite):
    path, _ = flex_tflite
    r = cli("validate", model_path("flex_ops"), path, "--per-layer")
    assert_one_line_error(r, errors.ConfigError.exit_code, "--per-layer", "Select TF ops", "QuantizationDebugger")
    assert "validation:" not in r.out


def test_sweep_without_the_runtime_marks_variants_not_run(cli, model_path, tmp_path):
    r = cli("sweep", model_path("flex_ops"), "--modes", "float32", "--runs", "2", "--no-flex-runtime",
            "-o", tmp_path / "sweep", "--json")
    assert r.code == errors.EXIT_FLEX_UNAVAILABLE, r
    (variant,) = json.loads(r.out)["variants"]
    assert variant["status"] == "validation not run" and "setup-flex" in variant["error"]
    assert variant["passed"] is False and variant["bench"] is None and variant["file"]


def test_doctor_reports_versions_runtime_and_caches_without_tensorflow(cli, flex_tflite):
    r = cli("doctor", "--json")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["schema"] == "hub2lite.doctor/1"
    assert d["packages"]["tensorflow"] == version("tensorflow") and d["packages"]["ai-edge-litert"]
    assert d["flex_runtime"]["ready"] is True and d["flex_runtime"]["tensorflow"] == "2.18.1"
    assert set(d["caches"]) == {"hub", "flex"}
    text = cli("doctor").out
    assert "flex runtime    TensorFlow 2.18.1" in text and "ready" in text
    probe = subprocess.run([sys.executable, "-c", "import sys; from hub2lite.cli import main; "
                            "code = main(['doctor']); print('tensorflow' in sys.modules, code)"],
                           capture_output=True, text=True, check=True)
    assert probe.stdout.strip().splitlines()[-1] == "False 0"


def test_setup_flex_is_idempotent_and_refuses_an_unsupported_python(cli, flex_tflite, monkeypatch, tmp_path):
    r = cli("setup-flex", "--json")
    assert r.code == 0, r
    assert json.loads(r.out)["ready"] is True
    monkeypatch.setenv("HUB2LITE_FLEX_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setattr(flexruntime, "MAX_PYTHON", (3, 9))
    r = cli("setup-flex")
    assert_one_line_error(r, errors.EXIT_FLEX_UNAVAILABLE, "needs Python <= 3.9", "Python 3.10-3.12")


def test_python_api_takes_flex_runtime_like_the_cli(model_path, flex_tflite, tmp_path):
    import hub2lite

    result = hub2lite.api.convert(str(model_path("flex_ops")), str(tmp_path / "f.tflite"), flex_runtime=False)
    assert result.passed is False and result.validation.status == "not run"
    assert "setup-flex" in result.validation.not_run and (tmp_path / "f.tflite").exists()
    path, _ = flex_tflite
    report = hub2lite.api.validate(str(model_path("flex_ops")), str(path))
    assert report.passed and report.runtimes["candidate"].startswith("flex-runtime:")
    with pytest.raises(errors.FlexRuntimeError, match="disabled"):
        hub2lite.api.bench(str(path), runs=2, flex_runtime=False)


def test_optimize_no_flex_runtime_exits_10_in_one_line_and_writes_nothing(cli, model_path, tmp_path):
    import numpy as np

    data = tmp_path / "m.npy"
    np.save(data, np.random.default_rng(0).normal(size=(8, 3, 3)).astype(np.float32))
    out = tmp_path / "opt.tflite"
    r = cli("optimize", model_path("flex_ops"), "-o", out, "--data", data, "--metric", "cosine",
            "--no-flex-runtime")
    assert_one_line_error(r, errors.FlexRuntimeError.exit_code, "Flex runtime is disabled", "--no-flex-runtime")
    assert errors.FlexRuntimeError.exit_code == errors.EXIT_FLEX_UNAVAILABLE == 10
    assert not out.exists() and not list(tmp_path.glob("opt.*"))
