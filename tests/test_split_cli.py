"""`--split-unsupported`, `--body-inputs/--body-outputs`, `--allow-custom-ops` and `inspect --tensors` through the
CLI, on the models of tests/models_split.py served through the loopback hub."""

from __future__ import annotations

import json

import pytest

from hub2lite import errors



@pytest.fixture(scope="session")
def hub_handle(split_model, local_hub, tmp_path_factory):
    from hub2lite.localhub import pack_hub_archive

    def get(name: str) -> str:
        archive = tmp_path_factory.mktemp("split-archives") / f"{name}.tar.gz"
        pack_hub_archive(split_model(name), archive)
        return local_hub.add(f"test/{name.replace('_', '-')}/1", archive)

    return get


def test_inspect_suggests_the_split_and_lists_tensors(hub_handle, hub_cache, cli):
    handle = hub_handle("text_script_classifier")
    r = cli("inspect", handle, "--cache-dir", hub_cache)
    assert r.code == 0, r
    assert "--split-unsupported" in r.out and "UnicodeScript" in r.out
    r = cli("inspect", handle, "--cache-dir", hub_cache, "--json")
    info = json.loads(r.out)
    assert info["split"]["command"].endswith("--split-unsupported")
    assert info["split"]["cut_ops"] == ["UnicodeScript"] and "UnicodeScript" in info["split"]["prefix_ops"]
    r = cli("inspect", handle, "--cache-dir", hub_cache, "--tensors")
    assert r.code == 0, r
    assert "UnicodeScript:0" in r.out and "UnicodeDecode/UnicodeDecode:1" in r.out and "int32" in r.out
    r = cli("inspect", handle, "--cache-dir", hub_cache, "--tensors", "--json")
    tensors = {t["name"]: t for t in json.loads(r.out)["tensors"]}
    assert tensors["UnicodeScript:0"]["op"] == "UnicodeScript"


def test_convert_split_unsupported_writes_body_and_prefix(hub_handle, hub_cache, cli, tmp_path):
    out = tmp_path / "script.tflite"
    r = cli("convert", hub_handle("text_script_classifier"), "--cache-dir", hub_cache, "-o", out,
            "--split-unsupported", "--json")
    assert r.code == 0, r
    report = json.loads(r.out)
    assert out.is_file() and (tmp_path / "script.pre" / "saved_model.pb").is_file()
    assert not (tmp_path / "script.post").exists()
    split = report["split"]
    assert split["cut_ops"] == ["UnicodeScript"] and split["prefix"]["ops"]["UnicodeScript"] == 1
    assert split["files"]["prefix"]["path"] == str(tmp_path / "script.pre") and split["files"]["prefix"]["size_bytes"]
    assert [t["name"] for t in split["body"]["inputs"]] == ["UnicodeDecode_row_splits", "UnicodeDecode_char_values",
                                                            "UnicodeScript"]
    assert report["conversion"]["strategy"] == "builtins"
    validation = report["validation"]
    assert validation["passed"] and validation["outputs"][0]["max_abs"] < 1e-5
    assert validation["runtimes"]["candidate"].startswith("prefix (TensorFlow) -> body (ai_edge_litert")
    assert split["body_validation"]["passed"] and split["body_validation"]["outputs"][0]["max_abs"] < 1e-5
    on_disk = json.loads((tmp_path / "script.report.json").read_text())
    assert on_disk["split"]["files"] == split["files"]
    r = cli("convert", hub_handle("text_script_classifier"), "--cache-dir", hub_cache, "-o", out,
            "--split-unsupported")
    assert r.code == errors.OutputError.exit_code  # outputs exist, no --force
    r = cli("convert", hub_handle("text_script_classifier"), "--cache-dir", hub_cache, "-o", out,
            "--split-unsupported", "--force")
    assert r.code == 0, r
    assert "script.pre" in r.out and "UnicodeScript" in r.out


def test_convert_split_postprocessing_suffix_with_quantization(split_model, cli, tmp_path):
    out = tmp_path / "cal.tflite"
    r = cli("convert", split_model("calibrated_classifier"), "-o", out, "--split-unsupported",
            "--quantize", "float16", "--json")
    assert r.code == 0, r
    report = json.loads(r.out)
    assert (tmp_path / "cal.post" / "saved_model.pb").is_file() and not (tmp_path / "cal.pre").exists()
    assert report["split"]["suffix"]["ops"]["Betainc"] == 1 and report["split"]["prefix"] is None
    assert "MatrixDeterminant" not in report["split"]["suffix"]["ops"]
    assert report["validation"]["passed"] and report["validation"]["mode"] == "float16"
    assert {o["name"] for o in report["validation"]["outputs"]} == {"probabilities", "calibrated"}


def test_manual_cut_and_its_errors(split_model, cli, tmp_path):
    src = split_model("text_script_classifier")
    out = tmp_path / "m.tflite"
    r = cli("convert", src, "-o", out, "--body-inputs",
            "UnicodeDecode/UnicodeDecode:0,UnicodeDecode/UnicodeDecode:1,UnicodeScript:0", "--json")
    assert r.code == 0, r
    assert json.loads(r.out)["split"]["mode"] == "manual"
    r = cli("convert", src, "-o", tmp_path / "n.tflite", "--body-inputs", "UnicodeScript:0")
    assert r.code == errors.EXIT_USAGE, r
    assert "UnicodeDecode/UnicodeDecode:0" in r.err and "--body-inputs" in r.err
    assert not (tmp_path / "n.tflite").exists() and not (tmp_path / "n.pre").exists()
    r = cli("convert", src, "-o", tmp_path / "n.tflite", "--body-outputs", "nope:0")
    assert r.code == errors.EXIT_USAGE and "inspect" in r.err, r


def test_split_of_a_model_that_converts_is_a_usage_error(split_model, model_path, cli, tmp_path):
    r = cli("convert", model_path("simple"), "-o", tmp_path / "s.tflite", "--split-unsupported")
    assert r.code == errors.EXIT_USAGE and "nothing to cut out" in r.err, r


def test_allow_custom_ops_reports_them_and_validate_bench_refuse(split_model, cli, tmp_path):
    src = split_model("calibrated_classifier")
    out = tmp_path / "custom.tflite"
    r = cli("convert", src, "-o", out, "--allow-custom-ops", "--json")
    assert r.code == 0, r
    report = json.loads(r.out)
    (op,) = report["conversion"]["custom_ops"]
    assert op["name"] == "Betainc" and op["attributes"] == {"T": "float32"}
    assert [i["dtype"] for i in op["inputs"]] == ["float32"] * 3 and op["outputs"][0]["shape"] == [1, 4]
    assert report["validation"] is None and any("Betainc" in n for n in report["notes"])
    r = cli("convert", src, "-o", tmp_path / "c2.tflite", "--allow-custom-ops")
    assert r.code == 0 and "Betainc" in r.out, r
    # float16 converts a float32 twin for its guard: it must keep the custom op too (the catalog found it did not)
    r = cli("convert", src, "-o", tmp_path / "c16.tflite", "--allow-custom-ops", "--quantize", "float16", "--json")
    assert r.code == 0, r
    assert [op["name"] for op in json.loads(r.out)["conversion"]["custom_ops"]] == ["Betainc"]
    for argv in (("validate", src, out), ("bench", out)):
        r = cli(*argv)
        assert r.code == errors.EXIT_MISSING_KERNELS, (argv, r)
        line = r.err.strip()
        assert "\n" not in line and "Betainc" in line and "kernel" in line, (argv, r.err)


def test_sweep_splits_and_validates_each_variant_end_to_end(split_model, cli, tmp_path):
    r = cli("sweep", split_model("calibrated_classifier"), "-o", tmp_path / "sw", "--modes", "float32,float16",
            "--split-unsupported", "--runs", "3", "--rounds", "1", "--json")
    assert r.code == 0, r
    report = json.loads(r.out)
    assert report["split"]["suffix"]["ops"] == {"Betainc": 1}
    for v in report["variants"]:
        assert v["passed"], v
        assert v["validation"]["runtimes"]["candidate"].endswith("-> suffix (TensorFlow)")
        assert {o["name"] for o in v["validation"]["outputs"]} == {"probabilities", "calibrated"}
    assert any("split model" in n for n in report["notes"])
    for v in report["variants"]:  # its latency is the chain's: the suffix's TensorFlow time is counted
        bench = v["bench"]
        assert bench["target"].endswith("(body + suffix)") and bench["runtime"].endswith("-> suffix (TensorFlow)")
        assert bench["p50_ms"] > 0 and bench["runs"] == 3


def test_split_body_that_needs_select_tf_ops_runs_in_the_flex_runtime(split_model, cli, tmp_path):
    """Betainc cut out into the suffix, MatrixDeterminant kept inside the body as a Select TF op (a cut by hand at
    the softmax: --split-unsupported would cut MatrixDeterminant out too, for a body that runs without Flex): the
    body runs in the Flex runtime (TensorFlow 2.18.1) for both checks, end to end and at the cut."""
    src = split_model("flex_body_calibrated")
    r = cli("inspect", src, "--tensors", "--json")
    assert r.code == 0, r
    (softmax,) = [t["name"] for t in json.loads(r.out)["tensors"] if t["op"] == "Softmax"]
    out = tmp_path / "flexbody.tflite"
    r = cli("convert", src, "-o", out, "--body-outputs", softmax, "--json")
    assert r.code == 0, r
    report = json.loads(r.out)
    assert report["split"]["suffix"]["ops"]["Betainc"] == 1 and report["split"]["prefix"] is None
    assert "MatrixDeterminant" not in report["split"]["suffix"]["ops"]
    assert report["conversion"]["strategy"] != "builtins"
    assert "MatrixDeterminant" in report["conversion"]["forced_select_by"]
    validation = report["validation"]
    assert validation["passed"], validation
    assert "body (flex-runtime: tf.lite.Interpreter (TensorFlow 2.18" in validation["runtimes"]["candidate"]
    assert validation["runtimes"]["candidate"].endswith("-> suffix (TensorFlow)")
    assert {o["name"] for o in validation["outputs"]} == {"probabilities", "calibrated"}
    assert max(o["max_abs"] for o in validation["outputs"]) < 1e-5
    body = report["split"]["body_validation"]
    assert body["passed"] and body["runtimes"]["candidate"].startswith("flex-runtime:")
    assert (tmp_path / "flexbody.post" / "saved_model.pb").is_file()


def test_python_api_splits_too(split_model, tmp_path):
    import hub2lite

    result = hub2lite.convert(str(split_model("calibrated_classifier")), str(tmp_path / "api.tflite"),
                              split_unsupported=True)
    assert result.passed and result.report["split"]["cut_ops"] == ["Betainc"]
    assert (tmp_path / "api.post").is_dir()


def test_optimize_splits_and_ships_the_suffix_beside_the_model(split_model, cli, tmp_path):
    import numpy as np

    data = tmp_path / "x.npz"
    np.savez(data, x=np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32))
    out = tmp_path / "opt.tflite"
    r = cli("optimize", split_model("calibrated_classifier"), "-o", out, "--data", data, "--metric", "agreement",
            "--max-drop", "5", "--max-evals", "0", "--runs", "3", "--split-unsupported", "--json")
    assert r.code == 0, r
    report = json.loads(r.out)
    assert report["data"]["split"]["suffix"]["ops"] == {"Betainc": 1}
    # scored on the model's final output, made by the suffix from the body's: prefix -> body -> suffix
    assert report["metric"]["output"] == "calibrated"
    assert report["metric"]["reference"] == pytest.approx(100.0)
    winner = next(c for c in report["candidates"] if c["name"] == report["winner"])
    assert winner["value"] >= 95  # agreement on 'calibrated' within --max-drop 5
    assert out.is_file() and (tmp_path / "opt.post" / "saved_model.pb").is_file()


def test_optimize_measures_the_int8_techniques_of_a_split_model_end_to_end(split_model, cli, tmp_path):
    """The sensitivity search cannot rank a split body (the score reads the suffix's output), but the int8
    techniques (ranges x bias correction) still run, each measured end to end on the evaluation data."""
    import numpy as np

    data = tmp_path / "x.npz"
    np.savez(data, x=np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32))
    r = cli("optimize", split_model("calibrated_classifier"), "-o", tmp_path / "opt.tflite", "--data", data,
            "--metric", "cosine", "--max-drop", "0", "--runs", "3", "--split-unsupported", "--json")
    assert r.code in (0, 3), r
    report = json.loads(r.out)
    search = report["search"]
    assert "split model" in search["skipped"] and not search["ran"]
    measured = {c["name"]: c for c in report["candidates"] if c["stage"] == "technique"}
    assert set(measured) == {"int8-minmax-bias", "int8-mse", "int8-mse-bias"}
    for name, t in search["techniques"].items():
        if name != "minmax":
            # the report rounds candidate values to 4 decimals
            assert t["evaluation"] == pytest.approx(measured["int8-" + name.replace("+", "-")]["value"], abs=1e-4)
