"""Per-output metrics of a .tflite against its original (pure numpy; no TensorFlow): output kinds
(classifier, embedding, other), pairing outputs by name, shape and values, and each pair's errors checked
against a `Tolerance`. validate.py sequences them into a ValidationReport."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .tolerances import Tolerance

__all__ = ["Check", "OutputMetrics", "output_metrics", "output_kind", "match_outputs", "stack_outputs",
           "SNR_IDENTICAL"]

#: snr_db reported when the two outputs are identical (an infinite SNR does not fit in JSON).
SNR_IDENTICAL = 999.0


@dataclass(frozen=True)
class Check:
    """One metric compared with its limit: `value <op> limit` must hold."""

    metric: str
    value: float | None
    limit: float
    op: str  # "<=" or ">="
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "limit": self.limit, "op": self.op, "passed": self.passed}


@dataclass(frozen=True)
class OutputMetrics:
    name: str  # the original's output name
    shape: tuple[int, ...]  # per-sample shape (without the batch dim)
    dtype: str
    tflite_name: str | None = None
    matched_by: str = "name"  # "name" | "normalized name" | "shape" | "values"
    kind: str = "tensor"  # "classifier" | "embedding" | "tensor" | "exact"
    max_abs: float | None = None
    mean_abs: float | None = None
    rmse: float | None = None
    cosine: float | None = None  # worst sample
    cosine_mean: float | None = None
    snr_db: float | None = None
    worst_sample: int | None = None  # index of the sample with the largest |error|
    exact_match: float | None = None  # fraction of equal elements (integer / string outputs)
    top1_agreement: float | None = None
    top5_overlap: float | None = None
    kl_divergence: float | None = None
    # classifiers: how many samples' top-1 changed, and the original's largest probability margin (top-1 minus
    # top-2) among them: near 0, only near-ties flipped; large, the .tflite overturned a confident prediction
    top1_changed: int | None = None
    top1_changed_max_margin: float | None = None
    checks: tuple[Check, ...] = ()
    passed: bool = True
    failures: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["tflite_name"] = self.tflite_name if self.tflite_name is not None else self.name
        d["shape"] = list(self.shape)
        d["checks"] = [c.to_dict() for c in self.checks]
        d["failures"] = list(self.failures)
        return d


# --------------------------------------------------------------------------------------------- helpers

def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def stack_outputs(per_sample: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """[{name: array with batch on axis 0}, ...] -> {name: all samples concatenated on axis 0}."""
    if not per_sample:
        return {}
    out = {}
    for name in per_sample[0]:
        parts = []
        for s in per_sample:
            a = np.asarray(s[name])
            parts.append(a.reshape(1, -1) if a.ndim == 0 else a)
        out[name] = np.concatenate(parts)
    return out


def _normalize_name(name: str) -> str:
    name = re.sub(r":\d+$", "", name)
    return re.sub(r"\W+", "_", name).strip("_").lower()


_CLASS_HINTS = ("logit", "prob", "class", "predict", "softmax", "label")
_EMBED_HINTS = ("embed", "feature", "pool", "vector", "encod", "hidden", "represent")


def _looks_like_probs(x: np.ndarray) -> bool:
    return bool(x.size) and bool(np.all(x >= -1e-6)) and bool(np.allclose(x.sum(axis=-1), 1.0, atol=1e-2))


def output_kind(name: str, ref: np.ndarray, task: str = "auto") -> str:
    """'exact' (integer/string), 'classifier', 'embedding' or 'tensor' for the original's output `ref`."""
    if not np.issubdtype(ref.dtype, np.floating):
        return "exact"
    if ref.ndim != 2 or ref.shape[-1] < 2 or task == "other":
        return "tensor"
    if task == "classification":
        return "classifier"
    if task == "embedding":
        return "embedding"
    low = name.lower()
    if any(h in low for h in _EMBED_HINTS):
        return "embedding"
    if any(h in low for h in _CLASS_HINTS) or _looks_like_probs(ref) or ref.shape[-1] >= 10:
        return "classifier"
    return "tensor"


def _as_probs(r: np.ndarray, g: np.ndarray, eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Both outputs as distributions, read the same way: as probabilities if the original's rows are
    probabilities (clipped at 0, smoothed by eps, renormalised: quantized softmax rows sum to ~0.996),
    else as logits (softmax)."""
    if _looks_like_probs(r):
        p = np.clip(r, 0, None) + eps
        q = np.clip(g, 0, None) + eps
        return p / p.sum(-1, keepdims=True), q / q.sum(-1, keepdims=True)

    def softmax(x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    return softmax(r), softmax(g)


def _top5_overlap(r: np.ndarray, g: np.ndarray) -> float:
    """Mean fraction of the original's top-k classes (k = min(5, classes)) that are also in the .tflite's
    top-k, where a class tied with the .tflite's k-th score counts as in (quantized outputs tie a lot)."""
    k = min(5, r.shape[-1])
    top_r = np.argsort(-r, axis=-1, kind="stable")[:, :k]
    kth = -np.sort(-g, axis=-1)[:, k - 1:k]
    inside = np.take_along_axis(g, top_r, axis=-1) >= kth
    return float(inside.mean())


def _cosines(r: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Cosine similarity per sample (over the whole output when a sample has one element)."""
    rf, gf = r.reshape(len(r), -1), g.reshape(len(g), -1)
    if rf.shape[1] == 1:
        rf, gf = rf.reshape(1, -1), gf.reshape(1, -1)
    nr, ng = np.linalg.norm(rf, axis=1), np.linalg.norm(gf, axis=1)
    dots = np.sum(rf * gf, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = dots / (nr * ng)
    cos = np.where((nr == 0) & (ng == 0), 1.0, np.where((nr == 0) | (ng == 0), 0.0, cos))
    return np.clip(cos, -1.0, 1.0)


def _check(metric: str, value: float | None, limit: float | None, op: str) -> Check | None:
    if limit is None or not math.isfinite(limit) or value is None:
        return None
    ok = value <= limit if op == "<=" else value >= limit
    return Check(metric, float(value), float(limit), op, bool(ok))


_LABELS = {"max_abs": "max abs error", "cosine": "cosine similarity", "snr_db": "SNR dB",
           "top1_agreement": "top-1 agreement", "top5_overlap": "top-5 overlap", "kl_divergence": "KL divergence",
           "exact_match": "equal elements", "finite": "finite values"}


def _failure_text(name: str, c: Check, worst: int | None, quantile: float = 0.0) -> str:
    if c.metric == "finite":
        return f"{name}: the .tflite output has NaN/Inf where the original has finite values"
    pct = c.metric in ("top1_agreement", "top5_overlap", "exact_match")
    v, lim = (f"{c.value:.1%}", f"{c.limit:.1%}") if pct else (f"{c.value:.6g}", f"{c.limit:.6g}")
    bad = ">" if c.op == "<=" else "<"
    where = ""
    if c.metric in ("max_abs", "cosine"):
        where = f" ({1 - quantile:.0%} of samples)" if quantile > 0 else " (worst sample)"
    if c.metric == "max_abs" and worst is not None:
        where += f" (worst is sample {worst})"
    return f"{name}: {_LABELS[c.metric]} {v} {bad} tolerance {lim}{where}"


# --------------------------------------------------------------------------------------------- metrics

def output_metrics(name: str, tflite_name: str, matched_by: str, ref: np.ndarray, got: np.ndarray,
                    tol: Tolerance, task: str) -> OutputMetrics:
    shape = tuple(int(d) for d in ref.shape[1:])
    kind = output_kind(name, ref, task)
    base = {"name": name, "shape": shape, "dtype": str(ref.dtype), "tflite_name": tflite_name,
            "matched_by": matched_by, "kind": kind}
    if kind == "exact" or not np.issubdtype(np.asarray(got).dtype, np.number):
        exact = float(np.mean(np.asarray(ref) == np.asarray(got))) if ref.size else 1.0
        limit = tol.min_top1_agreement if np.issubdtype(ref.dtype, np.number) else 1.0
        checks = (Check("exact_match", exact, float(limit), ">=", exact >= limit),)
        failures = tuple(_failure_text(name, c, None) for c in checks if not c.passed)
        return OutputMetrics(**{**base, "kind": "exact"}, exact_match=exact, checks=checks, passed=not failures,
                             failures=failures)
    r = ref.astype(np.float64)
    g = got.astype(np.float64)
    finite_r, finite_g = np.isfinite(r), np.isfinite(g)
    nonfinite_mismatch = bool(np.any(finite_r != finite_g))
    both = finite_r & finite_g
    r0, g0 = np.where(both, r, 0.0), np.where(both, g, 0.0)
    diff = np.abs(g0 - r0)
    n = len(r)
    per_sample_max = diff.reshape(n, -1).max(axis=1) if diff.size else np.zeros(n)
    max_abs = float(per_sample_max.max()) if diff.size else 0.0
    worst = int(np.argmax(per_sample_max)) if diff.size else None
    mean_abs = float(diff.mean()) if diff.size else 0.0
    noise = float(np.mean(diff**2)) if diff.size else 0.0
    rmse = math.sqrt(noise)
    cos = _cosines(r0, g0) if diff.size else np.ones(1)
    signal = float(np.mean(r0**2)) if diff.size else 0.0
    if noise == 0:
        snr: float | None = SNR_IDENTICAL
    elif signal == 0:
        snr = None  # undefined: an all-zero original output
    else:
        snr = min(SNR_IDENTICAL, 10 * math.log10(signal / noise))
    top1 = top5 = kl = changed_margin = None
    changed: int | None = None
    if kind == "classifier" and not nonfinite_mismatch:
        flipped = np.argmax(r0, -1) != np.argmax(g0, -1)
        top1 = float(np.mean(~flipped))
        top5 = _top5_overlap(r0, g0)
        p, q = _as_probs(r0, g0)
        kl = max(0.0, float(np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=-1))))
        changed = int(flipped.sum())
        if changed:
            top2 = np.sort(p[flipped], axis=-1)[:, -2:]
            changed_margin = float((top2[:, 1] - top2[:, 0]).max())
    scale = float(np.abs(r0).max()) if r0.size else 0.0
    q = tol.sample_quantile
    judged_max = float(np.quantile(per_sample_max, 1 - q, method="higher")) if q > 0 and diff.size else max_abs
    judged_cos = float(np.quantile(cos, q, method="lower")) if q > 0 else float(cos.min())
    candidates = [
        Check("finite", 0.0 if nonfinite_mismatch else 1.0, 1.0, ">=", not nonfinite_mismatch),
        _check("max_abs", judged_max, tol.atol + tol.rtol * scale, "<="),
        _check("cosine", judged_cos, tol.min_cosine, ">="),
        _check("snr_db", snr, tol.min_snr_db, ">="),
        _check("top1_agreement", top1, tol.min_top1_agreement, ">="),
        _check("top5_overlap", top5, tol.min_top5_overlap, ">="),
        _check("kl_divergence", kl, tol.max_kl, "<="),
    ]
    checks = tuple(c for c in candidates if c is not None)
    failures = tuple(_failure_text(name, c, worst, q) for c in checks if not c.passed)
    return OutputMetrics(**base, max_abs=_finite(max_abs), mean_abs=_finite(mean_abs), rmse=_finite(rmse),
                         cosine=_finite(float(cos.min())), cosine_mean=_finite(float(cos.mean())), snr_db=snr,
                         worst_sample=worst, top1_agreement=top1, top5_overlap=top5, kl_divergence=kl,
                         top1_changed=changed, top1_changed_max_margin=changed_margin, checks=checks,
                         passed=not failures, failures=failures)


# --------------------------------------------------------------------------------------------- matching

def _sample_shape(a: np.ndarray) -> tuple[tuple[int, ...], str]:
    return tuple(a.shape[1:]), "f" if np.issubdtype(a.dtype, np.floating) else a.dtype.kind


def _value_cost(r: np.ndarray, g: np.ndarray) -> float:
    """Relative RMSE of g against r (what 'matched by values' minimises)."""
    r64, g64 = np.nan_to_num(r.astype(np.float64)), np.nan_to_num(g.astype(np.float64))
    scale = math.sqrt(float(np.mean(r64**2))) or 1.0
    return math.sqrt(float(np.mean((g64 - r64) ** 2))) / scale


def match_outputs(ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray]
                  ) -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
    """Pair the original's outputs with the .tflite's: by exact name, then normalised name ('Identity:0' ~
    'identity'), then by a per-sample shape + dtype that only one output on each side has, then -- among
    outputs sharing a shape -- by values (the assignment with the least relative RMSE, scipy's
    linear_sum_assignment). Returns ([(original name, tflite name, how)], unmatched original, unmatched tflite)."""
    pairs: list[tuple[str, str, str]] = []
    left = [n for n in ref]
    right = [n for n in got]
    for n in list(left):
        if n in right:
            pairs.append((n, n, "name"))
            left.remove(n)
            right.remove(n)
    norm_right: dict[str, list[str]] = {}
    for t in right:
        norm_right.setdefault(_normalize_name(t), []).append(t)
    for n in list(left):
        cands = [t for t in norm_right.get(_normalize_name(n), []) if t in right]
        if len(cands) == 1:
            pairs.append((n, cands[0], "normalized name"))
            left.remove(n)
            right.remove(cands[0])
    groups: dict[tuple[Any, ...], tuple[list[str], list[str]]] = {}
    for n in left:
        groups.setdefault(_sample_shape(ref[n]), ([], []))[0].append(n)
    for t in right:
        groups.setdefault(_sample_shape(got[t]), ([], []))[1].append(t)
    for ns, ts in groups.values():
        if not ns or not ts:
            continue
        if len(ns) == 1 and len(ts) == 1:
            how = "shape"
            chosen = [(ns[0], ts[0])]
        else:
            from scipy.optimize import linear_sum_assignment

            same_len = [[_value_cost(ref[n], got[t]) if len(ref[n]) == len(got[t]) else math.inf for t in ts]
                        for n in ns]
            cost = np.nan_to_num(np.array(same_len, dtype=np.float64), nan=1e300, posinf=1e300)
            rows, cols = linear_sum_assignment(cost)
            how = "values"
            chosen = [(ns[i], ts[j]) for i, j in zip(rows, cols)]
        for n, t in chosen:
            pairs.append((n, t, how))
            left.remove(n)
            right.remove(t)
    order = {n: i for i, n in enumerate(ref)}
    pairs.sort(key=lambda p: order[p[0]])
    return pairs, left, right


# --------------------------------------------------------------------------------------------- compare
