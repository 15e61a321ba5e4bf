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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .metrics import SNR_IDENTICAL, Check, OutputMetrics, match_outputs, output_kind, output_metrics, stack_outputs
from .tolerances import DEFAULT_TOLERANCES, TASKS, Tolerance, default_tolerance
from .interrupts import reraise_pending

if TYPE_CHECKING:
    from .accuracy import Accuracy

__all__ = ["Tolerance", "Check", "OutputMetrics", "ValidationReport", "compare", "validate", "run_both", "run_candidate",
           "compare_or_fail", "CandidateRunError",
           "match_outputs", "stack_outputs", "output_kind", "default_tolerance", "DEFAULT_TOLERANCES",
           "VALIDATE_SCHEMA", "TASKS", "SNR_IDENTICAL"]

#: Version of the JSON report; bump the number on any incompatible change (docs/report-schema.md).
VALIDATE_SCHEMA = "hub2lite.validate/1"


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
    not_run: str = ""  # why the .tflite could not be run at all (the Flex runtime unavailable); then passed=False

    @property
    def status(self) -> str:
        return "not run" if self.not_run else "passed" if self.passed else "failed"

    @property
    def failures(self) -> tuple[str, ...]:
        acc = self.accuracy.failures if self.accuracy is not None else ()
        head = (f"validation not run: {self.not_run}",) if self.not_run else ()
        return head + self.problems + tuple(f for o in self.outputs for f in o.failures) + acc

    @classmethod
    def not_run_because(cls, reason: str, tolerance: Tolerance, *, mode: str | None = None,
                        runtimes: Mapping[str, str] | None = None, original: Mapping[str, Any] | None = None,
                        tflite: Mapping[str, Any] | None = None) -> ValidationReport:
        """A validation that could not run (never a pass): `reason` says why and how to fix it."""
        return cls(False, 0, tolerance, (), runtimes=dict(runtimes or {}), mode=mode, original=dict(original or {}),
                   tflite=dict(tflite or {}), not_run=reason)

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
        return {"schema": VALIDATE_SCHEMA, "passed": self.passed, "status": self.status, "not_run": self.not_run,
                "samples": self.samples, "mode": self.mode,
                "task": self.task, "original": dict(self.original), "tflite": dict(self.tflite),
                "runtimes": dict(self.runtimes), "inputs": dict(self.inputs), "tolerance": self.tolerance.to_dict(),
                "outputs": [o.to_dict() for o in self.outputs], "problems": list(self.problems),
                "failures": list(self.failures),
                "accuracy": None if self.accuracy is None else self.accuracy.to_dict(),
                "artifacts": dict(self.artifacts), "notes": list(self.notes)}


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
        outputs.append(output_metrics(name, tname, how, r, g, tolerance, task))
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
    return ref, run_candidate(candidate, feeds)


def run_candidate(candidate: Any, feeds: Sequence[Mapping[str, np.ndarray]], what: str = "the .tflite model"
                  ) -> list[dict[str, np.ndarray]]:
    """`candidate`'s outputs on `feeds`; a run-time error becomes a CandidateRunError naming `what` and the
    sample."""
    got = []
    for i, feed in enumerate(feeds):
        try:
            got.append(candidate.infer(feed))
        except (RuntimeError, ValueError) as exc:
            reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CandidateRunError(f"{what} failed to run on sample {i} ({candidate.runtime}): "
                                    f"{type(exc).__name__}: {first}") from exc
    return got


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
