"""`hub2lite sweep`: every variant converted once, validated against the original on the same labeled digits,
benchmarked with the same settings, reported in report.json / report.md / report.html."""

from __future__ import annotations

import io
import json
import os

import pytest

from hub2lite import errors
from models_bench import bench_model, digits_sweep


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory, digits_model, digits_split):
    return digits_sweep(tmp_path_factory.getbasetemp() / "digits-sweep", digits_model, digits_split)


def test_sweep_writes_three_files_with_every_variant(sweep_run):
    assert sweep_run.code == 0, sweep_run
    files = {p.name for p in sweep_run.directory.iterdir()}
    assert {"report.json", "report.md", "report.html", "models"} <= files
    assert {p.name for p in (sweep_run.directory / "models").iterdir()} == {
        f"{m}.{ext}" for m in sweep_run.modes for ext in ("tflite", "md")}  # a model card beside each model
    report = json.loads((sweep_run.directory / "report.json").read_text())
    assert report["schema"] == "hub2lite.sweep/1"
    assert [v["mode"] for v in report["variants"]] == list(sweep_run.modes)
    assert report["quality_metric"] == "accuracy" and report["validation_data"]["labeled"] is True
    assert report["validation_data"]["samples"] == sweep_run.test_samples
    assert report["validation_data"]["class_names"] == 10  # names in y mapped through --labels
    assert report["config"]["bench"] == {"runs": 30, "warmup": 3, "threads": 1, "xnnpack": True, "seed": 0,
                                         "rounds": 2, "flex_runtime": True}
    by_mode = {v["mode"]: v for v in report["variants"]}
    for mode, v in by_mode.items():
        assert v["status"] == "ok" and v["error"] is None, v
        assert (sweep_run.directory / v["file"]).stat().st_size == v["size_bytes"]
        assert v["validation"]["samples"] == sweep_run.test_samples
        b = v["bench"]
        assert b["runs"] == 60 and b["rounds"] == 2  # 2 round-robin rounds of 30, pooled
        assert b["threads"] == 1 and b["kind"] == "tflite" and b["input_source"] == "given sample"
        assert v["p50_ms"] == b["p50_ms"] > 0 and b["peak_rss_bytes"] > 0
        assert v["speedup_vs_float32"] == pytest.approx(by_mode["float32"]["p50_ms"] / v["p50_ms"])
        assert v["speedup_vs_original"] == pytest.approx(report["original"]["bench"]["p50_ms"] / v["p50_ms"])
        assert v["accuracy"] > 0.9, (mode, v["accuracy"])  # real held-out digits
        assert v["agreement"] > 0.9
    assert by_mode["float32"]["size_ratio"] == 1.0 and by_mode["float32"]["passed"]
    assert 0.45 < by_mode["float16"]["size_ratio"] < 0.6  # float16 weights: about half
    assert by_mode["int8"]["size_ratio"] < 0.4 and by_mode["dynamic"]["size_ratio"] < 0.4  # int8 weights
    assert by_mode["int8"]["conversion"]["recipe"]["name"] == "static_wi8_ai8_float_fallback"
    orig = report["original"]
    assert orig["bench"]["kind"] == "tensorflow" and orig["bench"]["threads"] == 1 and orig["accuracy"] > 0.9
    assert orig["bench"]["rounds"] == 2
    # the recommendation names measured, passing variants and says why
    rec = report["recommendation"]
    passing = {v["mode"] for v in report["variants"] if v["passed"] and v["p50_ms"]}
    for key in ("size", "latency", "accuracy"):
        assert rec[key]["variant"] in passing and "p50" in rec[key]["reason"]
    # the documented tie-breaks (recommend): size ties go to the lower p50, p50 ties to the smaller file
    # (dynamic and int8 can measure the same p50: a min() over p50 alone would depend on set order)
    measured = [v for v in report["variants"] if v["mode"] in passing]
    assert rec["size"]["variant"] == min(measured, key=lambda v: (v["size_bytes"], v["p50_ms"]))["mode"]
    assert rec["latency"]["variant"] == min(measured, key=lambda v: (v["p50_ms"], v["size_bytes"]))["mode"]
    assert set(report["pareto_front"]) <= passing and report["pareto_front"]


def test_sweep_prints_the_markdown_table_and_writes_it(sweep_run):
    md = (sweep_run.directory / "report.md").read_text()
    header = "| variant | size | size ratio | p50 latency | speed-up vs float32 | speed-up vs TF |"
    assert header in sweep_run.out and header in md
    for mode in sweep_run.modes:
        assert any(line.startswith(f"| {mode}") for line in md.splitlines()), mode
        assert any(line.startswith(f"| {mode}") for line in sweep_run.out.splitlines()), mode
    assert "| original (TF) |" in md and "best for size:" in md and "best for latency:" in sweep_run.out
    assert "PASS" in md
    # not a terminal: no progress output at all
    assert "converting" not in sweep_run.err and "\x1b[" not in sweep_run.err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_regression_model_json_and_progress_bar_on_a_terminal(monkeypatch, tmp_path):
    """A non-classifier: quality is the minimum cosine; --json prints exactly report.json; synthetic calibration
    is flagged as unverified in the report and on the terminal; on a terminal a rich progress bar is drawn on
    stderr (never on stdout)."""
    from hub2lite.cli import main

    monkeypatch.delenv("CI", raising=False)
    out, err = io.StringIO(), _Terminal()
    target = tmp_path / "sweep"
    code = main(["sweep", os.fspath(bench_model("sin_mlp")), "--modes", "int8", "--calibration", "synthetic",
                 "--int8-ranges", "mse", "--runs", "5", "--warmup", "1", "--rounds", "1", "-o", os.fspath(target),
                 "--json"], out=out, err=err)
    assert code == 0, err.getvalue()
    assert "benchmarking int8" in err.getvalue() and "━" in err.getvalue()  # rich's bar
    report = json.loads(out.getvalue())  # stdout holds the JSON and nothing else
    assert report == json.loads((target / "report.json").read_text())
    assert [v["mode"] for v in report["variants"]] == ["float32", "int8"]
    assert "float32 was added" in report["notes"][0]
    assert report["calibration"]["source"] == "synthetic" and "UNVERIFIED" in report["calibration"]["warning"]
    assert "UNVERIFIED" in err.getvalue()
    assert report["quality_metric"] == "cosine" and report["variants"][0]["agreement"] > 0.9999
    assert report["validation_data"]["source"].startswith("synthetic")
    assert all(v["bench"]["p50_ms"] > 0 for v in report["variants"])
    # --int8-ranges concerns the int8 variant only (ConvertConfig.for_mode): float32 is converted without it
    assert [v["conversion"]["recipe"].get("int8_ranges") for v in report["variants"]] == [None, "mse"]


def test_failed_conversions_are_reported_not_dropped(cli, model_path, tmp_path):
    """A model that needs Select TF ops, swept with --no-flex: no variant converts; each is in every report with
    its error, nothing is recommended, and the exit code says no variant passed."""
    out = tmp_path / "sweep"
    r = cli("sweep", model_path("flex_ops"), "--modes", "float32,float16,dynamic", "--no-flex", "--runs", "3",
            "--warmup", "0", "--rounds", "1", "-o", out)
    assert r.code == errors.EXIT_VALIDATION_FAILED, r
    report = json.loads((out / "report.json").read_text())
    assert [v["mode"] for v in report["variants"]] == ["float32", "float16", "dynamic"]
    for v in report["variants"]:
        assert v["status"] == "conversion failed" and "--no-flex" in v["error"] and v["bench"] is None
        assert not (out / "models" / f"{v['mode']}.tflite").exists()
    assert report["original"]["bench"]["p50_ms"] > 0  # the original still runs and is measured
    assert report["recommendation"]["size"] is None and "none is recommended" in r.out
    md = (out / "report.md").read_text()
    for mode in ("float32", "float16", "dynamic"):
        assert f"| {mode} | — |" in md
    assert md.count("CONVERSION FAILED") == 3
    html = (out / "report.html").read_text()
    assert html.count("class='variant fail'") == 3


def test_sweep_refuses_bad_setups_before_any_work(cli, digits_model, tmp_path):
    r = cli("sweep", digits_model, "--modes", "float32,int8", "-o", tmp_path / "a")
    assert r.code == errors.CalibrationError.exit_code and "need calibration data" in r.err
    r = cli("sweep", digits_model, "--modes", "float32,int4", "-o", tmp_path / "b")
    assert r.code == errors.ConfigError.exit_code and "unknown mode 'int4'" in r.err
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "report.json").write_text("{}")
    r = cli("sweep", digits_model, "--modes", "float32", "-o", tmp_path / "c")
    assert r.code == errors.OutputError.exit_code and "--force" in r.err
    assert (tmp_path / "c" / "report.json").read_text() == "{}"


def test_sweep_honours_the_input_range_it_accepts(cli, digits_model, digits_split, tmp_path):
    """--input-range reaches calibration and validation data like in convert: digits in [0,1] calibrated
    against a stated 0..255 range are refused in one line, before any conversion."""
    import numpy as np

    x_train, _, _, _ = digits_split
    np.save(tmp_path / "calib.npy", x_train[:20] * 0.5)
    r = cli("sweep", digits_model, "--modes", "float32,int8", "--calibration", tmp_path / "calib.npy",
            "--input-range", "-1,-0.5", "-o", tmp_path / "s")
    assert r.code == errors.CalibrationError.exit_code, r
    assert "-0.5" in r.err and r.err.count("\n") == 1
    assert not (tmp_path / "s" / "report.json").exists()
