"""Activation ranges chosen, not just observed.

The converter's calibrator records each activation tensor's min and max over the calibration set. One outlier
value then sets the int8 step of the whole tensor. Here each calibrated tensor's range is chosen from its float
activations (`flatgraph.collect_activations`) by one of:

* `minmax`      the observed range (what the converter does; the reference);
* `percentile`  the `p`-th / (100-p)-th percentiles (p = 99.99 by default), never wider than the observed range;
* `mse`         the clipping range that minimizes the mean squared int8 quantization error (rounding inside the
                range plus clipping outside it) of the tensor's own values, each side shrunk independently.

A range that contains 0 stays containing 0 (int8 must represent 0 exactly); ranges of the model's inputs are
left as observed. `rewrite_ranges` writes the chosen min/max into the calibrated flatbuffer (flatbuffer_utils),
which `flatgraph.finish` then quantizes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError
from .flatgraph import Activations, CalibratedGraph

__all__ = ["RangeMethod", "choose_ranges", "rewrite_ranges", "mse_range", "quant_mse"]


class RangeMethod(str, enum.Enum):
    MINMAX = "minmax"
    PERCENTILE = "percentile"
    MSE = "mse"


def parse_method(text: str) -> RangeMethod:
    try:
        return RangeMethod(text)
    except ValueError:
        raise ConfigError(f"unknown range method {text!r}", hint=f"use one of {[m.value for m in RangeMethod]}") from None


def _nudge(lo: float, hi: float) -> tuple[float, float]:
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-8:
        hi = lo + 1e-8
    return lo, hi


def quant_mse(values: np.ndarray, lo: float, hi: float) -> float:
    """Mean squared error of asymmetric int8 quantization of `values` with range [lo, hi]."""
    lo, hi = _nudge(lo, hi)
    scale = (hi - lo) / 255.0
    zp = np.round(-128 - lo / scale)
    q = np.clip(np.round(values / scale) + zp, -128, 127)
    return float(np.mean(((q - zp) * scale - values) ** 2))


def mse_range(values: np.ndarray, lo: float, hi: float, *, steps: int = 48) -> tuple[float, float]:
    """The range [a*lo, b*hi] (a, b in [0.02, 1], geometric grid) minimizing the int8 quantization MSE of
    `values`, by coordinate descent (the max side, then the min side, twice); a one-sided range (ReLU output)
    keeps its zero side."""
    grid = np.geomspace(1.0, 0.02, steps)
    best_lo, best_hi = lo, hi
    best = quant_mse(values, lo, hi)
    for _ in range(2):
        if hi > 0:
            for b in grid:
                err = quant_mse(values, best_lo, hi * b)
                if err < best:
                    best, best_hi = err, hi * b
        if lo < 0:
            for a in grid:
                err = quant_mse(values, lo * a, best_hi)
                if err < best:
                    best, best_lo = err, lo * a
    return best_lo, best_hi


def choose_ranges(graph: CalibratedGraph, acts: Activations, method: RangeMethod | str, *,
                  percentile: float = 99.99) -> dict[int, tuple[float, float]]:
    """{tensor index: (min, max)} for every calibrated activation tensor (model inputs excluded)."""
    method = RangeMethod(method)
    out: dict[int, tuple[float, float]] = {}
    inputs = set(graph.inputs)
    for i in graph.calibrated_tensors():
        if i in inputs or i not in acts.samples:
            continue
        lo, hi = acts.minimum[i], acts.maximum[i]
        v = acts.samples[i]
        if method is RangeMethod.MINMAX:
            rng = (lo, hi)
        elif method is RangeMethod.PERCENTILE:
            plo = float(np.percentile(v, 100.0 - percentile)) if lo < 0 else lo
            phi = float(np.percentile(v, percentile)) if hi > 0 else hi
            rng = (max(lo, plo), min(hi, phi))
        else:
            rng = mse_range(v, lo, hi)
        out[i] = _nudge(*rng)
    return out


def rewrite_ranges(calibrated: bytes, ranges: Mapping[int, tuple[float, float]]) -> bytes:
    """The calibrated flatbuffer with the given tensors' quantization min/max replaced."""
    from tensorflow.lite.tools import flatbuffer_utils as fu

    obj = fu.read_model_from_bytearray(bytearray(calibrated))
    tensors = obj.subgraphs[0].tensors
    for i, (lo, hi) in ranges.items():
        q = tensors[i].quantization
        if q is None or q.min is None:
            continue
        q.min = [float(lo)]
        q.max = [float(hi)]
    return bytes(fu.convert_object_to_bytearray(obj))


def range_summary(graph: CalibratedGraph, ranges: Mapping[int, tuple[float, float]]) -> dict[str, Any]:
    """How much the chosen ranges narrowed the observed ones (median and smallest width ratio)."""
    ratios = []
    for i, (lo, hi) in ranges.items():
        obs = graph.activation_range(i)
        if obs is not None and obs[1] - obs[0] > 0:
            ratios.append((hi - lo) / (obs[1] - obs[0]))
    if not ratios:
        return {"tensors": 0}
    return {"tensors": len(ratios), "median_width_ratio": float(np.median(ratios)),
            "min_width_ratio": float(np.min(ratios))}
