"""The catalog: one row per model x mode, summary counts and the per-op table (schema `hub2lite.catalog/1`).

    {"schema": "hub2lite.catalog/1", "created", "versions", "config",
     "summary": {"models", "ok", "failed", "skipped", "variants", "builtins", "select_tf_ops", "split",
                 "custom_ops", "variants_failed", "validation": {"passed", "failed", "not run"}},
     "ops": [{"op", "kind": "select" | "cut" | "custom" | "unsupported", "models": [names], "variants"}],
     "models": [{"name", "source", "key", "status": "ok" | "failed" | "skipped", "error", "stage", "seconds",
                 "peak_rss_bytes", "format", "family", "signature", "resumed", "files",
                 "variants": [{"mode", "status": "builtins" | "select-tf-ops" | "split" | "custom-ops" | "failed",
                               "stage", "error", "select_ops", "custom_ops", "split": null | {"cut_ops",
                               "ops_outside_body", "stages": {"prefix"|"suffix": {"dir", "size_bytes"}},
                               "body_validation"}, "size_bytes", "size_ratio", "p50_ms", "speedup",
                               "validation": {"verdict": "passed" | "failed" | "not run", "why", ...},
                               "passed", "agreement", "accuracy", "file", "report", "bench"}]}]}

A model is "failed" when it did not finish (crash, timeout, memory limit, a hub2lite bug), its source could not be
resolved or loaded, or none of its modes converted; a mode that failed while others converted is a failed
variant of a finished model. A variant whose unconvertible ops were cut out (`split_unsupported`, body
inputs/outputs) is "split": MODE.tflite is the body, MODE.pre/ and MODE.post/ the TensorFlow stages, validated end to
end; one whose ops were kept as declared custom ops (`allow_custom_ops`) is "custom-ops": it converted, and cannot
run (nor be validated or timed) without the app's kernels. Neither is a failure. "skipped" models did not run (the batch was interrupted first). `size_ratio` and
`speedup` are relative to the same model's float32 variant.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["CATALOG_SCHEMA", "model_row", "skipped_row", "build_catalog", "VARIANT_STATUSES", "MODEL_STATUSES"]

CATALOG_SCHEMA = "hub2lite.catalog/1"
MODEL_STATUSES = ("ok", "failed", "skipped")
VARIANT_STATUSES = ("builtins", "select-tf-ops", "split", "custom-ops", "failed")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def model_row(*, name: str, source: str, key: str, result: Mapping[str, Any], seconds: float,
              peak_rss_bytes: int | None, files: Mapping[str, str]) -> dict[str, Any]:
    """The state/catalog row of a model that ran, from the worker's result (or the supervisor's failure)."""
    status = "ok" if result.get("status") == "ok" else "failed"
    return {"name": name, "source": source, "key": key, "status": status,
            "error": result.get("error") if status == "failed" else None,
            "stage": result.get("stage") if status == "failed" else None,
            "bug": bool(result.get("bug")), "crash": bool(result.get("crash")),
            "seconds": round(float(seconds), 3), "peak_rss_bytes": peak_rss_bytes,
            "format": result.get("format"), "family": result.get("family"), "signature": result.get("signature"),
            "finished": _now(), "files": dict(files),
            "variants": [dict(v) for v in result.get("variants") or []]}


def skipped_row(*, name: str, source: str, key: str, why: str) -> dict[str, Any]:
    return {"name": name, "source": source, "key": key, "status": "skipped", "error": why, "stage": None,
            "bug": False, "crash": False, "seconds": None, "peak_rss_bytes": None, "format": None, "family": None,
            "signature": None, "finished": None, "files": {}, "variants": []}


def _catalog_variant(v: Mapping[str, Any], f32: Mapping[str, Any] | None) -> dict[str, Any]:
    out = dict(v)
    validation = dict(v.get("validation") or {"verdict": "not run", "why": "no result"})
    out["validation"] = validation
    out["passed"] = {"passed": True, "failed": False}.get(validation.get("verdict"))
    out["agreement"] = validation.get("top1_agreement")
    out["accuracy"] = validation.get("accuracy")
    bench = v.get("bench") or {}
    out["p50_ms"] = bench.get("p50_ms")
    base_size = (f32 or {}).get("size_bytes")
    out["size_ratio"] = (round(v["size_bytes"] / base_size, 4)
                         if v.get("size_bytes") and base_size else None)
    base_p50 = ((f32 or {}).get("bench") or {}).get("p50_ms")
    out["speedup"] = round(base_p50 / out["p50_ms"], 4) if base_p50 and out["p50_ms"] else None
    return out


def _catalog_model(row: Mapping[str, Any], resumed: bool) -> dict[str, Any]:
    variants = row.get("variants") or []
    f32 = next((v for v in variants if v.get("mode") == "float32" and v.get("status") != "failed"), None)
    return {**row, "resumed": resumed, "variants": [_catalog_variant(v, f32) for v in variants]}


def _summary(models: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    variants = [v for m in models for v in m["variants"]]
    verdicts = [v["validation"].get("verdict") for v in variants if v.get("status") != "failed"]
    return {"models": len(models), **{s: sum(m["status"] == s for m in models) for s in MODEL_STATUSES},
            "variants": len(variants), "builtins": sum(v.get("status") == "builtins" for v in variants),
            "select_tf_ops": sum(v.get("status") == "select-tf-ops" for v in variants),
            "split": sum(v.get("status") == "split" for v in variants),
            "custom_ops": sum(v.get("status") == "custom-ops" for v in variants),
            "variants_failed": sum(v.get("status") == "failed" for v in variants),
            "validation": {k: verdicts.count(k) for k in ("passed", "failed", "not run")},
            "bugs": sum(bool(m.get("bug")) for m in models), "crashes": sum(bool(m.get("crash")) for m in models)}


def _op_table(models: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Which ops forced Select TF ops ("select"), were cut out into TensorFlow stages ("cut"), were kept as declared
    custom ops ("custom") or had no kernel at all and failed the conversion ("unsupported"), across the catalog."""
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for m in models:
        for v in m["variants"]:
            failed = v.get("status") == "failed"
            for kind, ops in (("select", v.get("select_ops") or ()),
                              ("cut", (v.get("split") or {}).get("cut_ops") or ()),
                              ("unsupported" if failed else "custom", v.get("custom_ops") or ())):
                for op in ops:
                    entry = table.setdefault((op, kind), {"op": op, "kind": kind, "models": [], "variants": 0})
                    entry["variants"] += 1
                    if m["name"] not in entry["models"]:
                        entry["models"].append(m["name"])
    order = {"unsupported": 0, "custom": 1, "cut": 2, "select": 3}
    return sorted(table.values(), key=lambda e: (order[e["kind"]], -len(e["models"]), e["op"]))


def build_catalog(rows: Iterable[tuple[Mapping[str, Any], bool]], *, config: Mapping[str, Any],
                  interrupted: bool = False) -> dict[str, Any]:
    """The catalog document from (row, resumed-from-state) pairs in manifest order."""
    from ..report import versions

    models = [_catalog_model(row, resumed) for row, resumed in rows]
    return {"schema": CATALOG_SCHEMA, "created": _now(), "versions": versions(), "config": dict(config),
            "interrupted": interrupted, "summary": _summary(models), "ops": _op_table(models), "models": models}
