"""report/analysis.py: the sweep's Pareto front and recommendation rules, on hand-made reports (pure)."""

from __future__ import annotations

from hub2lite.report.analysis import pareto_front, recommend


def test_pareto_front_and_recommendation_rules():
    pts = [("a", 100, 1.0, 0.99), ("b", 50, 2.0, 0.99), ("c", 60, 2.5, 0.98), ("d", 100, 1.0, 0.99)]
    assert pareto_front(pts) == ["a", "b", "d"]  # c is beaten by b everywhere; a and d tie
    variant = {"recipe": {}, "error": None, "size_ratio": 1.0, "speedup_vs_float32": 1.0, "accuracy": None}
    report = {"quality_metric": "top1_agreement", "variants": [
        {**variant, "mode": "float32", "status": "ok", "passed": True, "size_bytes": 400, "p50_ms": 2.0,
         "agreement": 1.0},
        {**variant, "mode": "int8", "status": "ok", "passed": False, "size_bytes": 100, "p50_ms": 1.0,
         "agreement": 0.5},  # fastest and smallest, but fails validation
        {**variant, "mode": "float16", "status": "benchmark failed", "passed": True, "size_bytes": 200,
         "p50_ms": None, "agreement": 1.0},  # no measured latency: never recommended
        {**variant, "mode": "int16x8", "status": "conversion failed", "passed": False, "size_bytes": None,
         "p50_ms": None, "agreement": None}]}
    rec = recommend(report)
    assert rec["size"]["variant"] == rec["latency"]["variant"] == rec["accuracy"]["variant"] == "float32"
    assert "int8 (failed validation)" in rec["lines"][-1] and "float16 (benchmark failed)" in rec["lines"][-1]
    assert "int16x8 (conversion failed)" in rec["lines"][-1]
    report["variants"][0]["passed"] = False
    assert recommend(report)["size"] is None
    assert "none is recommended" in recommend(report)["lines"][0]


def test_recommendation_ties_break_on_the_other_criterion():
    """Equal p50 (dynamic and int8 both measured 0.014 ms once): latency goes to the smaller file; equal size
    goes to the faster; equal quality goes to the faster. The order of the variants does not change the
    size and latency picks."""
    variant = {"recipe": {}, "error": None, "size_ratio": 1.0, "speedup_vs_float32": 1.0, "accuracy": None,
               "status": "ok", "passed": True, "agreement": 1.0}
    variants = [{**variant, "mode": "dynamic", "size_bytes": 300, "p50_ms": 0.014},
                {**variant, "mode": "int8", "size_bytes": 200, "p50_ms": 0.014},
                {**variant, "mode": "float16", "size_bytes": 200, "p50_ms": 0.020},
                {**variant, "mode": "float32", "size_bytes": 800, "p50_ms": 0.030}]
    for order in (variants, variants[::-1], variants[1:] + variants[:1]):
        rec = recommend({"quality_metric": "top1_agreement", "variants": order})
        assert rec["latency"]["variant"] == "int8"  # p50 tie with dynamic: the smaller
        assert rec["size"]["variant"] == "int8"  # size tie with float16: the faster
        assert rec["accuracy"]["variant"] in {"dynamic", "int8"}  # equal agreement: the fastest p50
