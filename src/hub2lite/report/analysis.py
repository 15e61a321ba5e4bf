"""Numbers derived from a sweep's measurements: size ratios, speed-ups, quality, the Pareto front and the
recommendation (best variant for size, latency and accuracy, with reasons). Pure: no TensorFlow, no files;
the renderers (report/sweep.py) only format what this module adds to the report dict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .format import fmt_ms, fmt_quality, fmt_x, human_size

__all__ = ["analyze", "pareto_front", "recommend", "quality", "QUALITY_LABELS"]

QUALITY_LABELS = {"accuracy": "accuracy", "top1_agreement": "top-1 agreement", "cosine": "min cosine"}


def _p50(bench: Mapping[str, Any] | None) -> float | None:
    return None if not bench else bench.get("p50_ms")


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return num / den


def quality(v: Mapping[str, Any], metric: str) -> float | None:
    """A variant's quality under the report's metric: labeled accuracy, else agreement with the original."""
    return v.get("accuracy") if metric == "accuracy" else v.get("agreement")


def pareto_front(points: Sequence[tuple[str, float, float, float]]) -> list[str]:
    """Names of the points (name, size, latency, quality) that no other point beats: smaller-or-equal size,
    lower-or-equal latency and higher-or-equal quality, strictly better in at least one."""
    front = []
    for name, size, lat, q in points:
        dominated = any(s <= size and t <= lat and u >= q and (s < size or t < lat or u > q)
                        for other, s, t, u in points if other != name)
        if not dominated:
            front.append(name)
    return front


def recommend(report: Mapping[str, Any]) -> dict[str, Any]:
    """Best variant for size, latency and accuracy among those that converted, passed validation and have a
    measured latency (never one without), each with its reason. Ties: size is broken by p50 latency,
    latency by size, accuracy (rounded to 6 decimals) by the lower p50."""
    metric = report["quality_metric"]
    label = QUALITY_LABELS[metric]
    ok = [v for v in report["variants"] if v["status"] == "ok" and v["passed"] and v.get("p50_ms") is not None]
    excluded = [f"{v['mode']} ({v['status'] if v['status'] != 'ok' else 'failed validation'})"
                for v in report["variants"] if v not in ok]
    rec: dict[str, Any] = {"size": None, "latency": None, "accuracy": None, "lines": []}
    if not ok:
        rec["lines"] = ["no variant passed validation with a measured latency: none is recommended"
                        + (f" (excluded: {', '.join(excluded)})" if excluded else "")]
        return rec

    def facts(v: Mapping[str, Any]) -> str:
        return (f"{human_size(v['size_bytes'])} ({fmt_x(v['size_ratio'])} float32's size), "
                f"p50 {fmt_ms(v['p50_ms'])} ({fmt_x(v['speedup_vs_float32'])} float32's speed), "
                f"{label} {fmt_quality(quality(v, metric), metric)}")

    best_size = min(ok, key=lambda v: (v["size_bytes"], v["p50_ms"]))
    best_lat = min(ok, key=lambda v: (v["p50_ms"], v["size_bytes"]))
    with_q = [v for v in ok if quality(v, metric) is not None]
    best_q = max(with_q, key=lambda v: (round(quality(v, metric), 6), -v["p50_ms"])) if with_q else None
    rec["size"] = {"variant": best_size["mode"], "reason": f"smallest that passes validation: {facts(best_size)}"}
    rec["latency"] = {"variant": best_lat["mode"], "reason": f"lowest measured p50 latency: {facts(best_lat)}"}
    if best_q is not None:
        rec["accuracy"] = {"variant": best_q["mode"],
                           "reason": f"highest {label} (ties go to the faster): {facts(best_q)}"}
    rec["lines"] = [f"best for {k}: {rec[k]['variant']} — {rec[k]['reason']}"
                    for k in ("size", "latency", "accuracy") if rec[k] is not None]
    if excluded:
        rec["lines"].append(f"not recommended: {', '.join(excluded)}")
    return rec


def analyze(report: dict[str, Any]) -> dict[str, Any]:
    """Add size ratios, speed-ups, quality, the Pareto front and the recommendation to a sweep report."""
    metric = report["quality_metric"]
    variants = report["variants"]
    base = next((v for v in variants if v["mode"] == "float32"), None)
    base_size = None if base is None else base.get("size_bytes")
    base_p50 = None if base is None else _p50(base.get("bench"))
    orig_p50 = _p50(report["original"].get("bench"))
    for v in variants:
        v["p50_ms"] = _p50(v.get("bench"))
        v["size_ratio"] = _ratio(v.get("size_bytes"), base_size)
        v["speedup_vs_float32"] = _ratio(base_p50, v["p50_ms"])
        v["speedup_vs_original"] = _ratio(orig_p50, v["p50_ms"])
        v["quality"] = quality(v, metric)
    report["original"]["speedup_vs_float32"] = _ratio(base_p50, orig_p50)
    report["original"]["size_ratio"] = _ratio(report["original"].get("size_bytes"), base_size)
    points = [(v["mode"], float(v["size_bytes"]), float(v["p50_ms"]), float(v["quality"])) for v in variants
              if v["status"] == "ok" and v["passed"] and v["p50_ms"] is not None and v["quality"] is not None]
    front = pareto_front(points)
    for v in variants:
        v["pareto"] = v["mode"] in front
    report["pareto_front"] = front
    report["recommendation"] = recommend(report)
    return report
