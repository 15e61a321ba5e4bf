"""A split model's latency: prefix (TensorFlow) + body (.tflite) + suffix (TensorFlow), what an app that runs the
three pays per inference.

The body is timed as every .tflite is (benchmark.benchmark_tflite: its own process, the same settings); the
stages run in TensorFlow in this process (`time_stages`: the same loop, benchmark.time_calls: a first call and the
warm-up runs untimed, then as many timed runs as the body had, on the feed the body was timed on, mapped through
the chain); `chain_stats` adds them sample by sample (run i of the body + run i of each stage) into the latency
statistics of the whole chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from .benchmark import LatencyStats, summarize_latencies, time_calls
from .split_run import StageRunner, chain_parts, chain_runtime

__all__ = ["time_stages", "chain_stats"]


def _timed(runner: StageRunner, feed: Mapping[str, np.ndarray], runs: int, warmup: int) -> tuple[float, ...]:
    """Milliseconds of each timed run; the first call (TensorFlow's tracing) is untimed here."""
    seconds = time_calls(lambda: runner.infer(feed), warmup, runs)[1]
    return tuple(s * 1e3 for s in seconds)


def time_stages(split: Any, feed: Mapping[str, np.ndarray], *, runs: int, warmup: int = 5
                ) -> dict[str, tuple[float, ...]]:
    """Milliseconds per run of the prefix (on `feed`, the model's inputs) and of the suffix (on what the original
    computes at the cut for `feed`), those the split has: {"prefix": (...), "suffix": (...)}."""
    out: dict[str, tuple[float, ...]] = {}
    values: dict[str, np.ndarray] = {k: np.asarray(v) for k, v in feed.items()}
    if "prefix" in split.stages:
        prefix = StageRunner(split.stages["prefix"])
        values.update(prefix.infer(feed))
        out["prefix"] = _timed(prefix, feed, runs, warmup)
    if "suffix" in split.stages:
        values.update(StageRunner(split.stages["reference"]).infer(feed))  # the body's outputs, as the original
        suffix = StageRunner(split.stages["suffix"])
        suffix_feed = {t.name: values[t.name] for t in split.plan.suffix_inputs}
        out["suffix"] = _timed(suffix, suffix_feed, runs, warmup)
    return out


def chain_stats(body: LatencyStats, stages: Mapping[str, tuple[float, ...]]) -> LatencyStats:
    """The body's statistics with each stage's run added sample by sample (the stages need as many runs as the
    body's `latencies_ms`); `target` and `runtime` say what was timed."""
    samples = np.asarray(body.latencies_ms, dtype=np.float64)
    for name, ms in stages.items():
        if len(ms) != samples.size:
            raise ValueError(f"{name}: {len(ms)} timed runs for the body's {samples.size}")
        samples = samples + np.asarray(ms, dtype=np.float64)
    stats = summarize_latencies((samples / 1e3).tolist(), batch=body.batch)
    parts = chain_parts(prefix="prefix" in stages, suffix="suffix" in stages)
    return replace(body, **stats, target=f"{body.target} ({' + '.join(parts)})",
                   runtime=chain_runtime(parts, body.runtime), latencies_ms=tuple(float(x) for x in samples))
