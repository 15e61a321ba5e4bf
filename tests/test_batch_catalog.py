"""The catalog data model (hub2lite.batch.catalog) and its renderers (hub2lite.report.catalog): pure, on rows
shaped as the workers produce them."""

from __future__ import annotations

import json

from hub2lite.batch.catalog import CATALOG_SCHEMA, build_catalog, model_row, skipped_row
from hub2lite.report.catalog import render_html, render_markdown, summary_text


def _variant(mode, status="builtins", size=1000, p50=None, verdict="passed", select=(), custom=(), **extra):
    v = {"mode": mode, "status": status, "stage": None, "error": None, "select_ops": list(select),
         "custom_ops": list(custom), "size_bytes": size, "file": f"{mode}.tflite", "report": f"{mode}.report.json",
         "validation": {"verdict": verdict, "why": None if verdict != "not run" else "no Flex runtime",
                        "top1_agreement": 0.98}, **extra}
    if p50 is not None:
        v["bench"] = {"p50_ms": p50}
    return v


def _rows():
    ok = model_row(name="a", source="/m/a", key="k1", seconds=3.0, peak_rss_bytes=1, files={"dir": "models/a"},
                   result={"status": "ok", "variants": [_variant("float32", size=1000, p50=2.0),
                                                        _variant("float16", size=520, p50=1.0),
                                                        _variant("int8", status="failed", size=None,
                                                                 verdict="not run", custom=("Foo",),
                                                                 stage="convert", error="no kernel")]})
    flex = model_row(name="b", source="/m/b", key="k2", seconds=1.0, peak_rss_bytes=None, files={},
                     result={"status": "ok", "variants": [_variant("float32", status="select-tf-ops",
                                                                   select=("Erf",), verdict="not run")]})
    crash = model_row(name="c", source="/m/c", key="k3", seconds=9.0, peak_rss_bytes=None, files={},
                      result={"status": "failed", "stage": "load", "crash": True, "variants": [],
                              "error": "worker crashed: native abort (SIGABRT)"})
    skipped = skipped_row(name="d", source="/m/d", key="k4", why="not run: the batch was interrupted first")
    return [(ok, False), (flex, True), (crash, False), (skipped, False)]


def test_catalog_document():
    cat = build_catalog(_rows(), config={"workers": 2}, interrupted=True)
    assert cat["schema"] == CATALOG_SCHEMA and json.loads(json.dumps(cat)) == cat
    a, b, c, d = cat["models"]
    f32, f16, i8 = a["variants"]
    assert (f32["size_ratio"], f32["speedup"]) == (1.0, 1.0)
    assert (f16["size_ratio"], f16["speedup"], f16["p50_ms"]) == (0.52, 2.0, 1.0)
    assert f16["passed"] is True and f16["agreement"] == 0.98
    assert i8["status"] == "failed" and i8["passed"] is None and i8["size_ratio"] is None
    assert b["resumed"] is True and b["variants"][0]["validation"]["why"] == "no Flex runtime"
    assert (c["status"], c["stage"], d["status"]) == ("failed", "load", "skipped")
    s = cat["summary"]
    assert (s["models"], s["ok"], s["failed"], s["skipped"]) == (4, 2, 1, 1)
    assert (s["variants"], s["builtins"], s["select_tf_ops"], s["variants_failed"]) == (4, 2, 1, 1)
    assert s["validation"] == {"passed": 2, "failed": 0, "not run": 1} and s["crashes"] == 1
    assert cat["ops"] == [{"op": "Foo", "kind": "unsupported", "models": ["a"], "variants": 1},
                          {"op": "Erf", "kind": "select", "models": ["b"], "variants": 1}]


def test_markdown_html_and_text_share_the_rows():
    cat = build_catalog(_rows(), config={})
    md, html, text = render_markdown(cat), render_html(cat), summary_text(cat)
    row = "| a | float16 | builtins |  | 520 B | 0.52× | 1.000 ms | 2.00× | PASS | top-1 98.0% |"
    assert row in md and row in text
    assert "| b | float32 | select-tf-ops | Erf |" in md and "not run (no Flex runtime)" in md
    assert "| c | — | failed | load: worker crashed: native abort (SIGABRT) |" in md
    assert "| Foo | no kernel (failed) | a | 1 |" in md
    assert "4 models: 2 ok, 1 failed, 1 skipped" in md
    assert html.startswith("<!DOCTYPE html>") and "<table id=catalog>" in html
    assert "native abort (SIGABRT)" in html and "<tr class=fail>" in html
    assert "<script src" not in html and "http" not in html.replace("http-equiv", "")


def test_validation_verdicts_from_reports():
    from hub2lite.batch.adapter import verdict

    assert verdict(None, skipped_why="validation was turned off (no_validate)") == \
        {"verdict": "not run", "why": "validation was turned off (no_validate)"}
    flex = verdict({"passed": False, "not_run": "the Flex runtime is disabled (fix: hub2lite setup-flex)",
                    "runtimes": {"candidate": "flex"}, "outputs": []})
    assert flex == {"verdict": "not run", "why": "the Flex runtime is disabled (fix: hub2lite setup-flex)",
                    "runtime": "flex"}
    crashed = verdict({"passed": False, "outputs": [], "problems": ["the .tflite failed: bad op"]})
    assert crashed["verdict"] == "not run" and crashed["why"] == "the .tflite failed: bad op"
    failed = verdict({"passed": False, "samples": 8, "failures": ["y: max |error| 0.2 > 1e-4"],
                      "outputs": [{"max_abs": 0.2, "cosine": 0.99, "top1_agreement": None}],
                      "accuracy": {"top1_tflite": 0.9, "top1_original": 0.95}})
    assert (failed["verdict"], failed["why"], failed["max_abs_error"], failed["cosine"], failed["accuracy"]) == \
        ("failed", "y: max |error| 0.2 > 1e-4", 0.2, 0.99, 0.9)
