from __future__ import annotations

from importlib.metadata import version
import json
import subprocess
import sys

import pytest

from hub2lite import errors


def test_help_does_not_import_tensorflow():
    code = ("import sys; from hub2lite.cli import main; rc = main(['--help']); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; print('rc', rc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "rc 0" in done.stdout and "convert" in done.stdout


def test_convert_writes_model_and_report(cli, model_path, tmp_path):
    out = tmp_path / "m.tflite"
    r = cli("convert", model_path("simple"), "-o", out)
    assert r.code == 0, r
    assert out.read_bytes()[4:8] == b"TFL3"
    report = json.loads((tmp_path / "m.report.json").read_text())
    assert report["schema"] == "hub2lite.convert/1"
    assert report["passed"] is True
    assert report["conversion"]["strategy"] == "builtins"
    assert report["output"]["size_bytes"] == out.stat().st_size
    assert report["versions"]["tensorflow"] == version("tensorflow")
    assert report["source"]["kind"] == "folder"
    assert report["conversion"]["inputs"] == [{"name": "x", "dtype": "float32", "shape": [1, 4]}]
    assert {o["name"] for o in report["validation"]["outputs"]} == {"y", "score"}
    assert "validation: PASSED" in r.out
    assert not list(tmp_path.glob(".*part"))  # no temp files left


def test_convert_from_local_hub_handle(cli, local_hub, archive_of, tmp_path):
    handle = local_hub.add("google/simple-cli/1", archive_of("simple"))
    out = tmp_path / "h.tflite"
    r = cli("convert", handle, "-o", out, "--cache-dir", tmp_path / "cache")
    assert r.code == 0, r
    report = json.loads((tmp_path / "h.report.json").read_text())
    assert report["source"]["kind"] == "hub" and report["source"]["handle"] == handle


def test_refuses_to_overwrite_without_force(cli, model_path, tmp_path):
    out = tmp_path / "m.tflite"
    out.write_bytes(b"precious")
    r = cli("convert", model_path("simple"), "-o", out)
    assert r.code == errors.OutputError.exit_code
    assert "already exists" in r.err and "--force" in r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err
    assert out.read_bytes() == b"precious"
    assert not (tmp_path / "m.report.json").exists()
    r = cli("convert", model_path("simple"), "-o", out, "--force")
    assert r.code == 0, r
    assert out.read_bytes()[4:8] == b"TFL3"


def test_validation_failure_exits_3(cli, model_path, tmp_path):
    out = tmp_path / "m.tflite"
    assert cli("convert", model_path("simple"), "-o", out).code == 0
    r = cli("validate", model_path("simple_other_weights"), out)
    assert r.code == errors.EXIT_VALIDATION_FAILED, r
    assert "FAILED" in r.out and "max abs error" in r.out
    r = cli("validate", model_path("simple"), out, "--json")
    assert r.code == 0, r
    assert json.loads(r.out)["passed"] is True


def test_flex_model_via_cli_and_no_flex(cli, model_path, tmp_path):
    r = cli("convert", model_path("flex_ops"), "-o", tmp_path / "f.tflite")
    assert r.code == 0, r
    assert "forced by Erf, MatrixDeterminant" in r.out
    assert "Flex delegate" in r.out  # validated by a runtime that executes Select TF ops
    r = cli("convert", model_path("flex_ops"), "-o", tmp_path / "g.tflite", "--no-flex")
    assert r.code == errors.ConversionError.exit_code
    assert "Erf" in r.err and "MatrixDeterminant" in r.err
    assert not (tmp_path / "g.tflite").exists()


def test_inspect_json(cli, model_path):
    r = cli("inspect", model_path("flex_ops"), "--json")
    assert r.code == 0, r
    info = json.loads(r.out)
    assert info["schema"] == "hub2lite.inspect/1"
    assert info["format"] == "saved_model"
    assert info["chosen_signature"] == "serving_default"
    sig = info["signatures"][0]
    assert sig["inputs"] == [{"name": "m", "dtype": "float32", "shape": [None, 3, 3]}]
    ops = {o["op"]: o["support"] for o in info["ops"]}
    assert ops["MatrixDeterminant"] == "select" and ops["Erf"] == "select"
    assert ops["BatchMatMulV2"] == "builtin" and ops["Mean"] == "builtin"
    assert info["strategy"] == "builtins+select"
    assert info["parameters"] == 9
    assert info["suggested_command"].startswith("hub2lite convert ")


def test_inspect_text_shows_dynamic_dims_and_suggestion(cli, model_path):
    r = cli("inspect", model_path("dynamic_image"))
    assert r.code == 0, r
    assert "images: float32 [?,?,?,3]" in r.out
    assert "--input-shape images=1,224,224,3" in r.out


def test_inspect_unconvertible_op(cli, model_path):
    r = cli("inspect", model_path("custom_op"), "--json")
    assert r.code == 0, r
    info = json.loads(r.out)
    assert {o["op"]: o["support"] for o in info["ops"]}["Digamma"] == "unsupported"
    assert info["strategy"] is None and "Digamma" in info["probe_error"]


def test_two_signatures_cli_error_lists_them(cli, model_path, tmp_path):
    r = cli("convert", model_path("two_signatures"), "-o", tmp_path / "t.tflite")
    assert r.code == errors.EXIT_USAGE
    assert "classify" in r.err and "embed" in r.err and "--signature" in r.err
    r = cli("convert", model_path("two_signatures"), "-o", tmp_path / "t.tflite", "--signature", "classify")
    assert r.code == 0, r


def test_keep_dynamic_cli(cli, model_path, tmp_path):
    r = cli("convert", model_path("dynamic_image"), "-o", tmp_path / "d.tflite", "--keep-dynamic", "--json")
    assert r.code == 0, r
    assert json.loads(r.out)["conversion"]["inputs"][0]["shape"] == [None, None, None, 3]


@pytest.mark.slow
def test_demo_end_to_end(cli, tmp_path):
    r = cli("demo", "-o", tmp_path / "demo", "--cache-dir", tmp_path / "cache")
    assert r.code == 0, r
    assert "through tensorflow_hub" in r.out
    assert "validation: PASSED" in r.out
    assert (tmp_path / "demo" / "digits.tflite").exists()
    report = json.loads((tmp_path / "demo" / "digits.report.json").read_text())
    assert report["source"]["kind"] == "hub"
    line = next(ln for ln in r.out.splitlines() if ln.startswith("labeled accuracy"))
    acc = float(line.split(".tflite ")[1].split("%")[0])
    assert acc > 90.0


@pytest.mark.parametrize("argv, flag, value", [
    (["convert", "m", "-o", "x.tflite", "--input-range", "-1,1"], "input_range", "-1,1"),
    (["convert", "m", "-o", "x.tflite", "--mean", "-0.5,0,0.5", "--std", "1"], "mean", "-0.5,0,0.5"),
    (["validate", "m", "x.tflite", "--min-snr", "-inf"], "min_snr", float("-inf")),
    (["convert", "m", "-o", "x.tflite", "--input-range=-1,1"], "input_range", "-1,1"),
])
def test_documented_negative_values_parse(argv, flag, value):
    """`--input-range -1,1` is the documented spelling; argparse alone rejects it as a second flag."""
    from hub2lite.cli import _join_negative_values, build_parser

    args = build_parser().parse_args(_join_negative_values(argv))
    assert getattr(args, flag) == value
