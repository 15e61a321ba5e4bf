"""Batch over models with ops nothing in TFLite can run (tests/models_split.py): a manifest entry with
`split_unsupported` writes the body + its TensorFlow stages and validates end to end, as `convert
--split-unsupported` does; one with `allow_custom_ops` keeps them as declared custom ops. Both get statuses of their
own in the rows and the catalog (not "failed"); the same catalog comes back through a real local Ray."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub2lite.batch import BatchConfig, run_batch
from hub2lite.benchmark import BenchConfig
from hub2lite.report.catalog import render_markdown

@pytest.fixture(scope="module")
def manifest(tmp_path_factory, split_model):
    def src(name: str) -> str:
        return str(split_model(name))

    base = tmp_path_factory.mktemp("batch-split")
    path = base / "manifest.json"
    path.write_text(json.dumps([
        {"source": src("text_script_classifier"), "name": "script", "split_unsupported": True},
        {"source": src("calibrated_classifier"), "name": "post", "split_unsupported": True,
         "modes": ["float32", "float16"]},
        {"source": src("calibrated_classifier"), "name": "custom", "allow_custom_ops": True},
        {"source": src("calibrated_classifier"), "name": "unsplit"}]))
    return path


@pytest.fixture(scope="module")
def local(manifest):
    cfg = BatchConfig(str(manifest), str(manifest.parent / "local"), workers=2, memory_per_model=3.0,
                      bench=BenchConfig(runs=3, warmup=1, threads=1))
    return cfg, run_batch(cfg)


def test_split_and_custom_ops_rows_of_a_real_batch(local):
    cfg, result = local
    out = Path(cfg.output_dir)
    rows = {m["name"]: m for m in result.catalog["models"]}
    assert result.failed == ["unsplit"]  # the same model without a split: its op has no kernel anywhere

    (script,) = rows["script"]["variants"]
    assert rows["script"]["status"] == "ok" and script["status"] == "split"
    assert script["split"]["cut_ops"] == ["UnicodeScript"] and set(script["split"]["stages"]) == {"prefix"}
    pre = out / "models" / "script" / script["split"]["stages"]["prefix"]["dir"]
    assert pre.name == "float32.pre" and (pre / "saved_model.pb").is_file()
    assert (out / "models" / "script" / "float32.tflite").stat().st_size == script["size_bytes"]
    validation = script["validation"]
    assert validation["verdict"] == "passed" and validation["runtime"].startswith("prefix (TensorFlow) -> body")
    assert script["split"]["body_validation"] == "passed" and script["p50_ms"] is None
    assert "hub2lite sweep --split-unsupported" in script["bench"]["not_run"]  # its body reads the prefix's outputs

    post = rows["post"]["variants"]
    assert [v["status"] for v in post] == ["split", "split"]
    for v in post:
        assert v["split"]["cut_ops"] == ["Betainc"] and v["validation"]["verdict"] == "passed", v
        assert (out / "models" / "post" / f"{v['mode']}.post" / "saved_model.pb").is_file()
        assert v["validation"]["runtime"].endswith("-> suffix (TensorFlow)")

    (custom,) = rows["custom"]["variants"]
    assert rows["custom"]["status"] == "ok" and custom["status"] == "custom-ops"
    assert custom["custom_ops"] == ["Betainc"] and custom["size_bytes"] > 0 and custom["p50_ms"] is None
    assert custom["validation"]["verdict"] == "not run" and "Betainc" in custom["validation"]["why"]
    assert "no kernels" in custom["bench"]["not_run"] and not custom["bench"]["error"]  # never a failure

    (unsplit,) = rows["unsplit"]["variants"]
    assert unsplit["status"] == "failed" and unsplit["custom_ops"] == ["Betainc"]

    summary = result.catalog["summary"]
    assert (summary["split"], summary["custom_ops"], summary["variants_failed"]) == (3, 1, 1)
    ops = {(o["op"], o["kind"]): o["models"] for o in result.catalog["ops"]}
    assert ops[("UnicodeScript", "cut")] == ["script"] and ops[("Betainc", "cut")] == ["post"]
    assert ops[("Betainc", "custom")] == ["custom"] and ops[("Betainc", "unsupported")] == ["unsplit"]
    md = render_markdown(result.catalog)
    assert "| script | float32 | split | cut out UnicodeScript" in md and "float32.pre/" in md
    assert "| custom | float32 | custom-ops | custom ops Betainc |" in md and "not timed (custom ops" in md
    assert "3 split, 1 custom ops, 1 failed" in md


def test_the_split_travels_back_from_ray_as_the_same_rows(manifest, local):
    _, result = local  # ray is a test dependency (pyproject's `test` extra): a missing one fails, never skips
    cfg = BatchConfig(str(manifest), str(manifest.parent / "ray"), workers=2, ray="local", memory_per_model=3.0)
    on_ray = run_batch(cfg)

    def rows(catalog):
        def stages(v):  # the folders (a SavedModel's size can differ by a byte from one save to the next)
            return {k: s["dir"] for k, s in ((v.get("split") or {}).get("stages") or {}).items()}

        return [(m["name"], m["status"], [(v["mode"], v["status"], v["size_bytes"], v["custom_ops"], stages(v),
                                           v["validation"]["verdict"]) for v in m["variants"]])
                for m in catalog["models"]]

    assert rows(on_ray.catalog) == rows(result.catalog)
    assert (Path(cfg.output_dir) / "models" / "post" / "float16.post" / "saved_model.pb").is_file()
