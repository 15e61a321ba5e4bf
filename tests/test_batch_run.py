"""`run_batch` on the local pool: real models in isolated worker processes, and every way a worker can end —
a native abort, a hub2lite bug, a timeout, the memory limit — plus resume, --force and --retry-failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub2lite.batch import BatchConfig, run_batch
from hub2lite.batch.catalog import CATALOG_SCHEMA
from hub2lite.benchmark import BenchConfig

HOOKS = str(Path(__file__).with_name("models_batch.py"))


@pytest.fixture(scope="module")
def models(model_path):
    from conftest import cached_build
    from models_batch import BUILDERS

    abort = cached_build("keras_abort", BUILDERS["keras_abort"], Path(HOOKS))
    return {"simple": model_path("simple"), "flex": model_path("flex_ops"), "custom": model_path("custom_op"),
            "abort": abort / "model.keras"}


@pytest.fixture(scope="module")
def real_batch(models, tmp_path_factory):
    """One real batch of four models, two at a time: two modes of a builtins model, a Select-TF-ops model, an
    unconvertible one, and one that aborts its worker natively while loading; benchmarked afterwards."""
    base = tmp_path_factory.mktemp("batch")
    manifest = base / "catalog.json"
    manifest.write_text(json.dumps([
        {"source": str(models["simple"]), "name": "simple", "modes": ["float32", "float16"]},
        {"source": str(models["flex"]), "name": "flex"},
        {"source": str(models["custom"]), "name": "custom"},
        {"source": str(models["abort"]), "name": "aborts", "unsafe_keras": True}]))
    events = []
    cfg = BatchConfig(str(manifest), str(base / "out"), workers=2, memory_per_model=3.0,
                      bench=BenchConfig(runs=5, warmup=1, threads=1))
    result = run_batch(cfg, progress=events.append)
    return cfg, result, events


def test_catalog_rows_of_a_real_batch(real_batch):
    cfg, result, events = real_batch
    cat = json.loads((Path(cfg.output_dir) / "catalog.json").read_text())
    assert cat["schema"] == CATALOG_SCHEMA and cat == json.loads(json.dumps(result.catalog))
    rows = {m["name"]: m for m in cat["models"]}
    assert [m["name"] for m in cat["models"]] == ["simple", "flex", "custom", "aborts"]  # manifest order

    simple = rows["simple"]
    assert simple["status"] == "ok" and [v["mode"] for v in simple["variants"]] == ["float32", "float16"]
    for v in simple["variants"]:
        assert v["status"] == "builtins" and v["validation"]["verdict"] == "passed" and v["passed"] is True
        f = Path(cfg.output_dir) / "models" / "simple" / v["file"]
        assert f.stat().st_size == v["size_bytes"] and f.read_bytes()[4:8] == b"TFL3"
        assert (f.parent / v["report"]).exists()
        assert v["p50_ms"] > 0 and v["bench"]["runs"] == 5
    f32, f16 = simple["variants"]
    assert f32["size_ratio"] == 1.0 and f32["speedup"] == 1.0
    assert f16["size_ratio"] == pytest.approx(f16["size_bytes"] / f32["size_bytes"], rel=1e-3)

    flex = rows["flex"]["variants"][0]
    assert flex["status"] == "select-tf-ops" and set(flex["select_ops"]) == {"Erf", "MatrixDeterminant"}
    assert flex["validation"]["verdict"] == "passed"

    custom = rows["custom"]
    assert custom["status"] == "failed" and custom["stage"] == "convert" and "Digamma" in custom["error"]
    assert custom["variants"][0]["custom_ops"] == ["Digamma"]

    aborted = rows["aborts"]
    assert aborted["status"] == "failed" and aborted["crash"]
    assert "native abort (SIGABRT)" in aborted["error"] and aborted["stage"] == "load"
    assert [(v["mode"], v["status"], v["stage"]) for v in aborted["variants"]] == [("float32", "failed", "load")]
    assert (Path(cfg.output_dir) / aborted["files"]["log"]).exists()

    s = cat["summary"]
    assert (s["models"], s["ok"], s["failed"], s["skipped"]) == (4, 2, 2, 0)
    assert (s["builtins"], s["select_tf_ops"], s["variants_failed"]) == (2, 1, 2)  # custom's, and the crash's
    assert s["validation"] == {"passed": 3, "failed": 0, "not run": 0}
    ops = {(o["op"], o["kind"]): o["models"] for o in cat["ops"]}
    assert ops == {("Digamma", "unsupported"): ["custom"], ("Erf", "select"): ["flex"],
                   ("MatrixDeterminant", "select"): ["flex"]}
    assert max(e.running for e in events) == 2  # two workers at a time
    assert events[-1].phase == "bench"
    assert not (Path(cfg.output_dir) / ".work").exists()


def test_rerun_resumes_and_retry_failed_reruns_only_failures(real_batch):
    cfg, first, _ = real_batch
    events = []
    again = run_batch(cfg, progress=events.append)
    assert events[0].to_run == 0  # every model finished before (failed ones too, without --retry-failed)
    assert [m["resumed"] for m in again.catalog["models"]] == [True] * 4
    strip = ("resumed",)
    assert [{k: v for k, v in m.items() if k not in strip} for m in again.catalog["models"]] == \
        [{k: v for k, v in m.items() if k not in strip} for m in first.catalog["models"]]


def _hook_manifest(tmp_path: Path, names: list[str]) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    m = tmp_path / "m.json"
    m.write_text(json.dumps([{"source": str(src), "name": n} for n in names]))
    return m


def test_force_and_retry_failed(tmp_path):
    m = _hook_manifest(tmp_path, ["a", "fail1", "b"])
    runs = tmp_path / "src" / "runs.txt"
    cfg = BatchConfig(str(m), str(tmp_path / "out"), workers=2)
    run_batch(cfg, worker_runner=f"{HOOKS}:hook_count")
    assert sorted(runs.read_text().split()) == ["a", "b", "fail1"]
    runs.unlink()
    run_batch(cfg, worker_runner=f"{HOOKS}:hook_count")
    assert not runs.exists()
    from dataclasses import replace

    result = run_batch(replace(cfg, retry_failed=True), worker_runner=f"{HOOKS}:hook_count")
    assert runs.read_text().split() == ["fail1"]
    assert result.failed == ["fail1"]
    runs.unlink()
    run_batch(replace(cfg, force=True), worker_runner=f"{HOOKS}:hook_count")
    assert sorted(runs.read_text().split()) == ["a", "b", "fail1"]


def test_hub2lite_bug_is_the_models_failed_row_with_traceback(tmp_path):
    m = _hook_manifest(tmp_path, ["bug1", "fine"])
    result = run_batch(BatchConfig(str(m), str(tmp_path / "out"), workers=1), worker_runner=f"{HOOKS}:hook_bug")
    bug, fine = result.catalog["models"]
    assert fine["status"] == "ok"
    assert bug["status"] == "failed" and bug["bug"] and bug["stage"] == "convert"
    assert "hub2lite bug: KeyError" in bug["error"] and "models/bug1/traceback.txt" in bug["error"]
    tb = (tmp_path / "out" / "models" / "bug1" / "traceback.txt").read_text()
    assert "Traceback" in tb and "a hub2lite bug" in tb and "hook_bug" in tb


def test_timeout_and_memory_limit_fail_the_model_and_the_batch_goes_on(tmp_path):
    m = _hook_manifest(tmp_path, ["hang1", "fine"])
    result = run_batch(BatchConfig(str(m), str(tmp_path / "out"), workers=2, timeout_per_model=3),
                       worker_runner=f"{HOOKS}:hook_hang")
    hang, fine = result.catalog["models"]
    assert fine["status"] == "ok"
    assert hang["status"] == "failed" and "timed out after 3 s (while: convert float32)" in hang["error"]
    assert 3 <= hang["seconds"] < 20

    m = _hook_manifest(tmp_path, ["hog1", "fine"])
    result = run_batch(BatchConfig(str(m), str(tmp_path / "out2"), workers=2, memory_per_model=0.25),
                       worker_runner=f"{HOOKS}:hook_hog")
    hog, fine = result.catalog["models"]
    assert fine["status"] == "ok"
    assert hog["status"] == "failed" and "over the 0.25 GiB limit" in hog["error"]
    assert hog["seconds"] < 25  # killed, not waited for


def test_output_folder_checks(tmp_path):
    m = _hook_manifest(tmp_path, ["a"])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep")
    from hub2lite.errors import OutputError

    with pytest.raises(OutputError, match="holds no batch state"):
        run_batch(BatchConfig(str(m), str(tmp_path / "busy")), worker_runner=f"{HOOKS}:hook_count")
    with pytest.raises(OutputError, match="does not exist"):
        run_batch(BatchConfig(str(m), str(tmp_path / "no" / "out")), worker_runner=f"{HOOKS}:hook_count")


def test_select_tf_ops_model_without_flex_runtime_is_not_run_with_why(model_path, tmp_path):
    m = tmp_path / "m.json"
    m.write_text(json.dumps([{"source": str(model_path("flex_ops")), "name": "flex", "no_flex_runtime": True}]))
    result = run_batch(BatchConfig(str(m), str(tmp_path / "out"), workers=1, memory_per_model=3.0))
    row = result.catalog["models"][0]
    v = row["variants"][0]
    assert row["status"] == "ok" and v["status"] == "select-tf-ops" and v["passed"] is None
    assert v["validation"]["verdict"] == "not run" and "Flex runtime" in v["validation"]["why"]
    assert result.catalog["summary"]["validation"] == {"passed": 0, "failed": 0, "not run": 1}


def test_a_crash_keeps_the_modes_that_finished_before_it(model_path, tmp_path):
    m = tmp_path / "m.json"
    m.write_text(json.dumps([{"source": str(model_path("simple")), "name": "simple", "modes": ["float32", "int8"],
                              "calibration": "synthetic"}]))
    result = run_batch(BatchConfig(str(m), str(tmp_path / "out"), workers=1, memory_per_model=3.0),
                       worker_runner=f"{HOOKS}:hook_abort_in_second_mode")
    row = result.catalog["models"][0]
    assert row["status"] == "failed" and row["crash"] and "native abort (SIGABRT)" in row["error"]
    f32, i8 = row["variants"]
    assert (f32["mode"], f32["status"], f32["validation"]["verdict"]) == ("float32", "builtins", "passed")
    assert (tmp_path / "out" / "models" / "simple" / "float32.tflite").stat().st_size == f32["size_bytes"]
    assert (i8["mode"], i8["status"], i8["stage"]) == ("int8", "failed", "convert")
    assert "native abort" in i8["error"]
