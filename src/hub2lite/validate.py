"""Compare a .tflite model with its original on the same inputs (pure numpy; no TensorFlow here).

Outputs are matched by name, then shape, then values (optimum's order); every failing output is
collected with its metric, value and tolerance before anything is reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .specs import QuantMode

__all__ = ["Tolerance", "OutputMetrics", "ValidationReport", "compare", "validate", "default_tolerance",
           "DEFAULT_TOLERANCES"]


@dataclass(frozen=True)
class Tolerance:
    """Pass thresholds. An output passes when every applicable check holds:

    * max |tflite - original| <= atol + rtol * max |original|
    * cosine similarity >= min_cosine (floating outputs)
    * top-1 agreement >= min_top1_agreement (classifier-like outputs only)
    """

    atol: float = 1e-4
    rtol: float = 1e-3
    min_cosine: float = 0.9999
    min_top1_agreement: float = 1.0

    def to_dict(self) -> dict[str, float]:
        return {"atol": self.atol, "rtol": self.rtol, "min_cosine": self.min_cosine,
                "min_top1_agreement": self.min_top1_agreement}


#: Documented per-mode defaults (README "Tolerances"). Quantized modes are judged mostly by cosine and
#: top-1 agreement; their atol is relative to the output's own scale through rtol.
DEFAULT_TOLERANCES: dict[QuantMode, Tolerance] = {
    QuantMode.FLOAT32: Tolerance(atol=1e-4, rtol=1e-3, min_cosine=0.9999, min_top1_agreement=1.0),
    QuantMode.FLOAT16: Tolerance(atol=1e-2, rtol=2e-2, min_cosine=0.999, min_top1_agreement=0.95),
    QuantMode.DYNAMIC: Tolerance(atol=5e-2, rtol=0.1, min_cosine=0.99, min_top1_agreement=0.9),
    QuantMode.INT8: Tolerance(atol=0.1, rtol=0.25, min_cosine=0.95, min_top1_agreement=0.8),
    QuantMode.INT8_STRICT: Tolerance(atol=0.1, rtol=0.25, min_cosine=0.95, min_top1_agreement=0.8),
    QuantMode.INT16X8: Tolerance(atol=2e-2, rtol=5e-2, min_cosine=0.995, min_top1_agreement=0.9),
}


def default_tolerance(mode: QuantMode | str = QuantMode.FLOAT32, **overrides: float | None) -> Tolerance:
    base = DEFAULT_TOLERANCES[QuantMode(mode)]
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class OutputMetrics:
    name: str
    shape: tuple[int, ...]
    dtype: str
    max_abs: float | None = None
    mean_abs: float | None = None
    rmse: float | None = None
    cosine: float | None = None
    snr_db: float | None = None
    exact_match: float | None = None  # fraction of equal elements (non-float outputs)
    top1_agreement: float | None = None
    top5_overlap: float | None = None
    kl_divergence: float | None = None
    passed: bool = True
    failures: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["shape"] = list(self.shape)
        d["failures"] = list(self.failures)
        return d


@dataclass(frozen=True)
class ValidationReport:
    passed: bool
    samples: int
    tolerance: Tolerance
    outputs: tuple[OutputMetrics, ...]
    problems: tuple[str, ...] = ()  # structural: missing outputs, shape mismatches
    runtimes: Mapping[str, str] = field(default_factory=dict)

    @property
    def failures(self) -> tuple[str, ...]:
        return self.problems + tuple(f for o in self.outputs for f in o.failures)

    def output(self, name: str) -> OutputMetrics:
        return next(o for o in self.outputs if o.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "samples": self.samples, "tolerance": self.tolerance.to_dict(),
                "outputs": [o.to_dict() for o in self.outputs], "problems": list(self.problems),
                "failures": list(self.failures), "runtimes": dict(self.runtimes)}


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _is_classifier(ref: np.ndarray) -> bool:
    return ref.ndim == 2 and ref.shape[-1] >= 10 and np.issubdtype(ref.dtype, np.floating)


def _softmax(x: np.ndarray) -> np.ndarray:
    looks_like_probs = np.all(x >= 0) and np.allclose(x.sum(axis=-1), 1.0, atol=1e-3)
    if looks_like_probs:
        return np.clip(x, 1e-12, None)
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _output_metrics(name: str, ref: np.ndarray, got: np.ndarray, tol: Tolerance, classification: bool | None) -> OutputMetrics:
    shape = tuple(int(d) for d in ref.shape[1:]) if ref.ndim else ()
    if not np.issubdtype(ref.dtype, np.number) or not np.issubdtype(np.asarray(got).dtype, np.number):
        exact = float(np.mean(np.asarray(ref) == np.asarray(got))) if ref.size else 1.0
        failures = () if exact == 1.0 else (f"{name}: {1 - exact:.1%} of elements differ",)
        return OutputMetrics(name, shape, str(ref.dtype), exact_match=exact, passed=not failures, failures=failures)
    r = ref.astype(np.float64)
    g = got.astype(np.float64)
    diff = np.abs(g - r)
    max_abs = float(diff.max()) if diff.size else 0.0
    mean_abs = float(diff.mean()) if diff.size else 0.0
    rmse = float(np.sqrt(np.mean(diff**2))) if diff.size else 0.0
    rf, gf = r.reshape(len(r), -1), g.reshape(len(g), -1)
    norms = np.linalg.norm(rf, axis=1) * np.linalg.norm(gf, axis=1)
    dots = np.sum(rf * gf, axis=1)
    both_zero = (np.linalg.norm(rf, axis=1) == 0) & (np.linalg.norm(gf, axis=1) == 0)
    cos = np.where(both_zero, 1.0, dots / np.where(norms == 0, np.inf, norms))
    cosine = float(cos.min()) if cos.size else 1.0
    noise = float(np.mean(diff**2))
    signal = float(np.mean(r**2))
    snr = math.inf if noise == 0 else (10 * math.log10(signal / noise) if signal > 0 else -math.inf)
    top1 = top5 = kl = None
    is_cls = _is_classifier(ref) if classification is None else (classification and ref.ndim == 2)
    if is_cls:
        top1 = float(np.mean(np.argmax(r, -1) == np.argmax(g, -1)))
        k = min(5, r.shape[-1])
        tr = np.argsort(-r, -1)[:, :k]
        tg = np.argsort(-g, -1)[:, :k]
        top5 = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(tr, tg)]))
        p, q = _softmax(r), _softmax(g)
        kl = float(np.mean(np.sum(p * (np.log(p) - np.log(np.clip(q, 1e-12, None))), axis=-1)))
    failures = []
    bound = tol.atol + tol.rtol * float(np.abs(r).max() if r.size else 0.0)
    if not np.all(np.isfinite(g)):
        failures.append(f"{name}: the .tflite output has NaN/Inf")
    if max_abs > bound:
        failures.append(f"{name}: max abs error {max_abs:.3g} > tolerance {bound:.3g}")
    if cosine < tol.min_cosine:
        failures.append(f"{name}: cosine similarity {cosine:.6f} < {tol.min_cosine}")
    if top1 is not None and top1 < tol.min_top1_agreement:
        failures.append(f"{name}: top-1 agreement {top1:.1%} < {tol.min_top1_agreement:.1%}")
    return OutputMetrics(name, shape, str(ref.dtype), max_abs=_finite(max_abs), mean_abs=_finite(mean_abs),
                         rmse=_finite(rmse), cosine=_finite(cosine), snr_db=None if math.isnan(snr) else (
                             999.0 if snr == math.inf else (-999.0 if snr == -math.inf else snr)),
                         top1_agreement=top1, top5_overlap=top5, kl_divergence=kl,
                         passed=not failures, failures=tuple(failures))


def compare(reference: Sequence[Mapping[str, np.ndarray]], candidate: Sequence[Mapping[str, np.ndarray]],
            tolerance: Tolerance = Tolerance(), *, classification: bool | None = None,
            runtimes: Mapping[str, str] | None = None) -> ValidationReport:
    """Compare per-sample outputs (lists of {name: array}, batch on axis 0) of two models."""
    if len(reference) != len(candidate):
        raise ValueError("reference and candidate have different sample counts")
    problems: list[str] = []
    outputs: list[OutputMetrics] = []
    if not reference:
        return ValidationReport(False, 0, tolerance, (), ("no samples were compared",), dict(runtimes or {}))
    ref_names = list(reference[0])
    got_names = set(candidate[0])
    for missing in [n for n in ref_names if n not in got_names]:
        problems.append(f"{missing}: output missing from the .tflite model (it has {sorted(got_names)})")
    for extra in sorted(got_names - set(ref_names)):
        problems.append(f"{extra}: unexpected extra output in the .tflite model")
    for name in ref_names:
        if name not in got_names:
            continue
        ref = np.concatenate([np.asarray(s[name]).reshape(1, -1) if np.asarray(s[name]).ndim == 0 else np.asarray(s[name])
                              for s in reference])
        got = np.concatenate([np.asarray(s[name]).reshape(1, -1) if np.asarray(s[name]).ndim == 0 else np.asarray(s[name])
                              for s in candidate])
        if ref.shape != got.shape:
            problems.append(f"{name}: shape {list(got.shape[1:])} in the .tflite model, {list(ref.shape[1:])} in the original")
            continue
        outputs.append(_output_metrics(name, ref, got, tolerance, classification))
    passed = not problems and all(o.passed for o in outputs)
    return ValidationReport(passed, len(reference), tolerance, tuple(outputs), tuple(problems), dict(runtimes or {}))


def validate(original: Any, candidate: Any, feeds: Sequence[Mapping[str, np.ndarray]],
             tolerance: Tolerance = Tolerance(), *, classification: bool | None = None) -> ValidationReport:
    """Run both runners (see runners.py) on the same feeds and compare their outputs."""
    ref = [original.infer(f) for f in feeds]
    got = [candidate.infer(f) for f in feeds]
    return compare(ref, got, tolerance, classification=classification,
                   runtimes={"original": original.runtime, "candidate": candidate.runtime})
