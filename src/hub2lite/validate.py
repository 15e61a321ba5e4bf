"""Compare a .tflite model with its original on the same inputs (pure numpy; no TensorFlow here).

Outputs are paired by name (exact, then normalised), then by shape, then by values; each pair is
checked for shape, then values. Every failing output is collected with the metric, its value and the
limit before anything is reported (optimum's order), and structural problems (missing outputs, shape
mismatches) are collected alongside.

Per output, by kind:

* every floating output: max/mean |error|, RMSE, cosine similarity (worst and mean sample), SNR (dB);
* classifier-like outputs (rank 2 with probabilities, a class-like name, or >= 10 columns; or every rank-2
  output with task="classification"): top-1 agreement, top-5 overlap (tie-aware), KL divergence;
* embeddings (rank 2 with an embedding-like name, or task="embedding"): cosine is the main check;
* integer / string outputs: the fraction of equal elements.

The JSON form (`ValidationReport.to_dict`) is versioned: see docs/report-schema.md, `VALIDATE_SCHEMA`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .specs import QuantMode

if TYPE_CHECKING:
    from .accuracy import Accuracy

__all__ = ["Tolerance", "Check", "OutputMetrics", "ValidationReport", "compare", "validate", "run_both",
           "compare_or_fail", "CandidateRunError",
           "match_outputs", "stack_outputs", "default_tolerance", "DEFAULT_TOLERANCES", "VALIDATE_SCHEMA", "TASKS",
           "SNR_IDENTICAL"]

#: Version of the JSON report; bump the number on any incompatible change (docs/report-schema.md).
VALIDATE_SCHEMA = "hub2lite.validate/1"
#: `task` values (the CLI's --task choices).
TASKS = ("auto", "classification", "embedding", "other")
#: snr_db reported when the two outputs are identical (an infinite SNR does not fit in JSON).
SNR_IDENTICAL = 999.0


@dataclass(frozen=True)
class Tolerance:
    """Pass thresholds. An output passes when every check that applies to it holds:

    * max |tflite - original| <= atol + rtol * max |original|          (floating outputs)
    * cosine similarity of the worst sample >= min_cosine               (floating outputs)
    * SNR = 10 log10(mean(original^2) / mean(error^2)) >= min_snr_db    (floating outputs)
    * top-1 agreement >= min_top1_agreement                             (classifiers; also the
      fraction of equal elements of integer/string outputs)
    * top-5 overlap >= min_top5_overlap, KL(original || tflite) <= max_kl  (classifiers)
    * labeled top-1 accuracy drop (original - tflite) <= max_accuracy_drop  (when labels are given)

    `sample_quantile` q sets which sample the two per-sample checks (max abs error, cosine) judge: 0 is
    the worst sample; 0.05 lets the worst 5% of samples miss (the quantized modes' default: quantization
    noise flips the odd ambiguous sample, which top-1 agreement, KL and SNR still count). The worst sample
    is always reported.

    A limit of None is not checked (±inf from the CLI means the same).
    """

    atol: float = 1e-4
    rtol: float = 1e-3
    min_cosine: float = 0.9999
    min_top1_agreement: float = 1.0
    min_snr_db: float | None = 35.0
    min_top5_overlap: float | None = None
    max_kl: float | None = 1e-3
    max_accuracy_drop: float | None = 0.01
    sample_quantile: float = 0.0

    def to_dict(self) -> dict[str, float | None]:
        return {k: _limit(getattr(self, k)) for k in self.__dataclass_fields__}


def _limit(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


# Documented per-mode defaults (README "validate"). Float32 must match to float rounding. For quantized
# modes min_snr_db follows min_cosine (SNR ~ -10 log10(2 (1 - cos))), and max_kl / max_accuracy_drop were set
# with a margin over what the digits CNN measured on 360 held-out digits (see tests/test_validate.py).
DEFAULT_TOLERANCES: dict[QuantMode, Tolerance] = {
    QuantMode.FLOAT32: Tolerance(atol=1e-4, rtol=1e-3, min_cosine=0.9999, min_top1_agreement=1.0, min_snr_db=35.0,
                                 max_kl=1e-3, max_accuracy_drop=0.01),
    QuantMode.FLOAT16: Tolerance(atol=1e-2, rtol=2e-2, min_cosine=0.999, min_top1_agreement=0.95, min_snr_db=25.0,
                                 max_kl=1e-2, max_accuracy_drop=0.01),
    QuantMode.DYNAMIC: Tolerance(atol=5e-2, rtol=0.1, min_cosine=0.99, min_top1_agreement=0.9, min_snr_db=15.0,
                                 max_kl=0.05, max_accuracy_drop=0.02, sample_quantile=0.05),
    QuantMode.INT8: Tolerance(atol=0.1, rtol=0.25, min_cosine=0.95, min_top1_agreement=0.8, min_snr_db=10.0,
                              max_kl=0.1, max_accuracy_drop=0.05, sample_quantile=0.05),
    QuantMode.INT8_STRICT: Tolerance(atol=0.1, rtol=0.25, min_cosine=0.95, min_top1_agreement=0.8, min_snr_db=10.0,
                                     max_kl=0.1, max_accuracy_drop=0.05, sample_quantile=0.05),
    QuantMode.INT16X8: Tolerance(atol=2e-2, rtol=5e-2, min_cosine=0.995, min_top1_agreement=0.9, min_snr_db=18.0,
                                 max_kl=0.05, max_accuracy_drop=0.02, sample_quantile=0.05),
}


def default_tolerance(mode: QuantMode | str = QuantMode.FLOAT32, **overrides: float | None) -> Tolerance:
    """The documented defaults of `mode`, with every override that is not None applied."""
    base = DEFAULT_TOLERANCES[QuantMode(mode)]
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


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


@dataclass(frozen=True)
class ValidationReport:
    passed: bool
    samples: int
    tolerance: Tolerance
    outputs: tuple[OutputMetrics, ...]
    problems: tuple[str, ...] = ()  # structural: missing outputs, shape mismatches, unusable labels
    runtimes: Mapping[str, str] = field(default_factory=dict)
    accuracy: Accuracy | None = None
    mode: str | None = None  # quantization mode whose default tolerances applied
    task: str = "auto"
    original: Mapping[str, Any] = field(default_factory=dict)  # source, signature
    tflite: Mapping[str, Any] = field(default_factory=dict)  # path, sha256, size_bytes, signature
    inputs: Mapping[str, Any] = field(default_factory=dict)  # where the inputs came from, saved to
    artifacts: Mapping[str, str] = field(default_factory=dict)  # files written (inputs, outputs on failure)
    notes: tuple[str, ...] = ()

    @property
    def failures(self) -> tuple[str, ...]:
        acc = self.accuracy.failures if self.accuracy is not None else ()
        return self.problems + tuple(f for o in self.outputs for f in o.failures) + acc

    def output(self, name: str) -> OutputMetrics:
        """The metrics of the original's output `name` (KeyError if it was not compared)."""
        for o in self.outputs:
            if o.name == name:
                return o
        raise KeyError(f"no compared output {name!r}; compared {[o.name for o in self.outputs]}")

    def with_accuracy(self, accuracy: Accuracy | None) -> ValidationReport:
        passed = self.passed and (accuracy is None or accuracy.passed)
        return replace(self, accuracy=accuracy, passed=passed)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": VALIDATE_SCHEMA, "passed": self.passed, "samples": self.samples, "mode": self.mode,
                "task": self.task, "original": dict(self.original), "tflite": dict(self.tflite),
                "runtimes": dict(self.runtimes), "inputs": dict(self.inputs), "tolerance": self.tolerance.to_dict(),
                "outputs": [o.to_dict() for o in self.outputs], "problems": list(self.problems),
                "failures": list(self.failures),
                "accuracy": None if self.accuracy is None else self.accuracy.to_dict(),
                "artifacts": dict(self.artifacts), "notes": list(self.notes)}


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

def _output_metrics(name: str, tflite_name: str, matched_by: str, ref: np.ndarray, got: np.ndarray,
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
    top1 = top5 = kl = None
    if kind == "classifier" and not nonfinite_mismatch:
        top1 = float(np.mean(np.argmax(r0, -1) == np.argmax(g0, -1)))
        top5 = _top5_overlap(r0, g0)
        p, q = _as_probs(r0, g0)
        kl = max(0.0, float(np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=-1))))
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
                         checks=checks, passed=not failures, failures=failures)


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

def compare(reference: Sequence[Mapping[str, np.ndarray]], candidate: Sequence[Mapping[str, np.ndarray]],
            tolerance: Tolerance = Tolerance(), *, task: str = "auto", classification: bool | None = None,
            runtimes: Mapping[str, str] | None = None) -> ValidationReport:
    """Compare per-sample outputs (lists of {name: array}, batch on axis 0) of the original and the .tflite.

    `classification` is the older spelling of `task`: True = "classification", False = "other"."""
    if classification is not None:
        task = "classification" if classification else "other"
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, not {task!r}")
    if len(reference) != len(candidate):
        raise ValueError("reference and candidate have different sample counts")
    runtimes = dict(runtimes or {})
    if not reference:
        return ValidationReport(False, 0, tolerance, (), ("no samples were compared",), runtimes, task=task)
    ref, got = stack_outputs(reference), stack_outputs(candidate)
    pairs, missing, extra = match_outputs(ref, got)
    problems: list[str] = []
    notes: list[str] = []
    for n in missing:
        problems.append(f"{n}: output missing from the .tflite model (unmatched .tflite outputs: {extra})")
    for t in extra:
        problems.append(f"{t}: unexpected extra output in the .tflite model")
    outputs: list[OutputMetrics] = []
    for name, tname, how in pairs:
        r, g = ref[name], got[tname]
        if how != "name":
            notes.append(f"output {name!r} paired with .tflite output {tname!r} by {how}")
        if r.shape != g.shape:
            problems.append(f"{name}: shape {list(g.shape[1:])} in the .tflite model (output {tname!r}), "
                            f"{list(r.shape[1:])} in the original")
            continue
        outputs.append(_output_metrics(name, tname, how, r, g, tolerance, task))
    passed = not problems and all(o.passed for o in outputs)
    return ValidationReport(passed, len(reference), tolerance, tuple(outputs), tuple(problems), runtimes,
                            task=task, notes=tuple(notes))


def run_both(original: Any, candidate: Any, feeds: Sequence[Mapping[str, np.ndarray]]
             ) -> tuple[list[dict[str, np.ndarray]], list[dict[str, np.ndarray]]]:
    """The outputs of both runners (see runners.py) on the same feeds, in feed order.

    A .tflite that converts but cannot run (e.g. a mutable hash table whose contents did not survive)
    is a failed validation, not a crash: its run-time error comes back as `problems` via `compare_or_fail`.
    """
    ref = [original.infer(f) for f in feeds]
    got = []
    for i, feed in enumerate(feeds):
        try:
            got.append(candidate.infer(feed))
        except (RuntimeError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CandidateRunError(f"the .tflite model failed to run on sample {i} ({candidate.runtime}): "
                                    f"{type(exc).__name__}: {first}") from exc
    return ref, got


class CandidateRunError(Exception):
    """The candidate (.tflite) runner raised; `compare_or_fail` turns it into a failed ValidationReport."""


def compare_or_fail(original: Any, candidate: Any, feeds: Sequence[Mapping[str, np.ndarray]],
                    tolerance: Tolerance, **kwargs: Any
                    ) -> tuple[ValidationReport, list[dict[str, np.ndarray]], list[dict[str, np.ndarray]]]:
    """`run_both` + `compare`; a candidate that cannot run gives a failed report with the error as problem."""
    runtimes = {"original": original.runtime, "candidate": candidate.runtime}
    try:
        ref, got = run_both(original, candidate, feeds)
    except CandidateRunError as exc:
        return ValidationReport(False, len(feeds), tolerance, (), (str(exc),), runtimes), [], []
    return compare(ref, got, tolerance, runtimes=runtimes, **kwargs), ref, got


def validate(original: Any, candidate: Any, feeds: Sequence[Mapping[str, np.ndarray]],
             tolerance: Tolerance = Tolerance(), *, task: str = "auto",
             classification: bool | None = None) -> ValidationReport:
    """Run both runners on the same feeds and compare their outputs."""
    return compare_or_fail(original, candidate, feeds, tolerance, task=task, classification=classification)[0]
