"""Labeled accuracy of the original and the .tflite on the same samples (pure numpy; no TensorFlow).

Labels come from the data: `y` of an `.npz` (output indices, or class names), or the class folders of an
ImageNet-style image folder (`class_name/*.jpg`: `Samples.labels` index `Samples.info["classes"]`).
A labels file maps output indices to class names:

* text: one class name per line, line i = output index i (ImageNet's 1001-line file starts with "background");
* JSON: a list of names, {"0": "tench", ...} (index -> name) or {"tench": 0, ...} (name -> index, Keras'
  class_indices).

With a labels file, folder classes (and string labels) are looked up by name (case, spaces, '-' and '_'
ignored); without one, class folder i (sorted) is taken as output index i, and the report says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .errors import CalibrationError, ConfigError

if TYPE_CHECKING:
    from .metrics import OutputMetrics
    from .tolerances import Tolerance

__all__ = ["Accuracy", "load_labels", "label_indices", "choose_output", "measure_accuracy", "topk_accuracy",
           "accuracy_from_outputs"]


class Compared(Protocol):
    """What labeled accuracy needs of a finished comparison (validate.ValidationReport has it): the compared
    outputs and the tolerance. A protocol, so accuracy sits below validate (whose report holds an Accuracy)."""

    @property
    def outputs(self) -> Sequence[OutputMetrics]: ...

    @property
    def tolerance(self) -> Tolerance: ...


@dataclass(frozen=True)
class Accuracy:
    output: str  # the original's output whose argmax is the prediction
    samples: int
    classes: int  # width of that output
    k: int  # the "top-5" k (fewer when the output has fewer classes)
    top1_original: float
    top1_tflite: float
    top5_original: float
    top5_tflite: float
    max_drop: float | None  # tolerance on top1_drop; None = not checked
    labels_file: str | None = None
    class_names: tuple[str, ...] | None = None  # output index -> name, when known
    disagreements: tuple[dict[str, Any], ...] = ()  # first samples where the two models predict differently
    disagreement_count: int = 0
    notes: tuple[str, ...] = ()

    @property
    def top1_drop(self) -> float:
        return self.top1_original - self.top1_tflite

    @property
    def top5_drop(self) -> float:
        return self.top5_original - self.top5_tflite

    @property
    def passed(self) -> bool:
        return self.max_drop is None or self.top1_drop <= self.max_drop + 1e-12

    @property
    def failures(self) -> tuple[str, ...]:
        if self.passed:
            return ()
        return (f"accuracy: top-1 dropped {self.top1_drop:.1%} ({self.top1_original:.1%} -> {self.top1_tflite:.1%} "
                f"on {self.samples} labeled samples) > tolerance {self.max_drop:.1%}",)

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.output, "samples": self.samples, "classes": self.classes, "k": self.k,
                "top1_original": self.top1_original, "top1_tflite": self.top1_tflite, "top1_drop": self.top1_drop,
                "top5_original": self.top5_original, "top5_tflite": self.top5_tflite, "top5_drop": self.top5_drop,
                "max_drop": self.max_drop, "passed": self.passed, "labels_file": self.labels_file,
                "disagreement_count": self.disagreement_count, "disagreements": [dict(d) for d in self.disagreements],
                "notes": list(self.notes)}


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", str(name)).strip().lower()


def load_labels(path: str | Path) -> tuple[str, ...]:
    """Class names by output index from a text file (one per line) or JSON (list / index->name / name->index)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"labels file {str(p)!r} does not exist", hint="check the --labels path")
    text = p.read_text(encoding="utf-8-sig")
    if p.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"labels file {str(p)!r} is not valid JSON: {exc.msg} (line {exc.lineno})",
                              hint="give a JSON list of names, or one name per line") from exc
        if isinstance(data, list) and all(isinstance(x, str) for x in data):
            names: list[str] = list(data)
        elif isinstance(data, dict) and data and all(isinstance(v, int) for v in data.values()):
            inverse = {int(v): str(k) for k, v in data.items()}
            names = [inverse.get(i, "") for i in range(max(inverse) + 1)]
        elif isinstance(data, dict) and data and all(str(k).lstrip("-").isdigit() for k in data):
            by_index = {int(k): str(v) for k, v in data.items()}
            names = [by_index.get(i, "") for i in range(max(by_index) + 1)]
        else:
            raise ConfigError(f"labels file {str(p)!r}: expected a list of names, {{index: name}} or {{name: index}}",
                              hint="e.g. [\"cat\", \"dog\"] or {\"0\": \"cat\", \"1\": \"dog\"}")
    else:
        names = [line.strip() for line in text.splitlines()]
        while names and not names[-1]:
            names.pop()
    if not any(names):
        raise ConfigError(f"labels file {str(p)!r} holds no class names", hint="one class name per line")
    return tuple(names)


def label_indices(labels: np.ndarray, *, class_names: Sequence[str] | None = None,
                  folder_classes: Sequence[str] | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Turn the data's labels into output indices. Returns (indices, notes).

    `labels` are integers (output indices, or indices into `folder_classes`) or strings (class names).
    """
    notes: list[str] = []
    y = np.asarray(labels).reshape(-1)
    if folder_classes is not None and y.dtype.kind in "iu":
        if class_names is None:
            notes.append("class folders taken as output indices in sorted order (pass --labels to map them by name)")
            return y.astype(np.int64), tuple(notes)
        y = np.asarray(list(folder_classes), dtype=object)[y]
    if y.dtype.kind in "iu":
        return y.astype(np.int64), tuple(notes)
    if y.dtype.kind in "fb":
        if y.dtype.kind == "f" and not np.all(np.equal(np.mod(y, 1), 0)):
            raise CalibrationError("labels must be integer class indices or class names, found fractions",
                                   hint="store y as integers (output indices)")
        return y.astype(np.int64), tuple(notes)
    names = [v.decode() if isinstance(v, bytes) else str(v) for v in y]
    if class_names is None:
        raise ConfigError("the data labels samples by class name, but no labels file maps names to output indices",
                          hint="pass --labels FILE (one class name per line, line i = output index i)")
    index = {}
    for i, n in enumerate(class_names):
        index.setdefault(_norm(n), i)
    unknown = sorted({n for n in names if _norm(n) not in index})
    if unknown:
        raise ConfigError(f"class {unknown[0]!r} of the data is not in the labels file"
                          + (f" (nor {len(unknown) - 1} more)" if len(unknown) > 1 else ""),
                          hint="name the class folders after the labels file's names")
    return np.asarray([index[_norm(n)] for n in names], dtype=np.int64), tuple(notes)


def choose_output(outputs: Mapping[str, np.ndarray], kinds: Mapping[str, str], max_label: int) -> tuple[str, list[str]]:
    """The original's output that scores classes: rank 2 and wide enough for every label; a classifier-like
    one first. Returns (name, notes)."""
    fits = [n for n, a in outputs.items() if a.ndim == 2 and a.shape[-1] > max_label
            and np.issubdtype(a.dtype, np.floating)]
    if not fits:
        raise ConfigError(f"labels go up to {max_label} but no output scores that many classes "
                          f"(outputs: {', '.join(f'{n}{list(a.shape[1:])}' for n, a in outputs.items())})",
                          hint="check the labels (and --labels) belong to this model")
    preferred = [n for n in fits if kinds.get(n) == "classifier"] or fits
    notes = []
    if len(preferred) > 1:
        notes.append(f"accuracy measured on output {preferred[0]!r} (also possible: {preferred[1:]})")
    return preferred[0], notes


def topk_accuracy(scores: np.ndarray, y: np.ndarray, k: int) -> float:
    """Fraction of rows whose label is among the k highest scores (ties broken by index, like argmax)."""
    top = np.argsort(-scores, axis=-1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == y[:, None], axis=-1)))


def measure_accuracy(original: np.ndarray, tflite: np.ndarray, y: np.ndarray, *, output: str,
                     max_drop: float | None, class_names: Sequence[str] | None = None,
                     labels_file: str | None = None, notes: Sequence[str] = (), show: int = 10) -> Accuracy:
    """Top-1/top-5 accuracy of both models' scores ([N, classes]) against labels y ([N] output indices)."""
    if len(original) != len(y) or len(tflite) != len(y):
        raise ConfigError(f"{len(y)} labels for {len(original)} samples", hint="give one label per sample")
    classes = int(original.shape[-1])
    if class_names is not None and len(class_names) != classes:
        raise ConfigError(f"the labels file has {len(class_names)} names but output {output!r} has {classes} classes",
                          hint="use the labels file made for this model (e.g. with or without 'background')")
    k = min(5, classes)
    pred_o, pred_t = np.argmax(original, -1), np.argmax(tflite, -1)

    def name(i: int) -> str | int:
        return class_names[i] if class_names is not None else int(i)

    differ = np.flatnonzero(pred_o != pred_t)
    shown = tuple({"sample": int(i), "label": name(int(y[i])), "original": name(int(pred_o[i])),
                   "tflite": name(int(pred_t[i]))} for i in differ[:show])
    md = None if max_drop is None or not np.isfinite(max_drop) else float(max_drop)
    return Accuracy(output=output, samples=int(len(y)), classes=classes, k=k,
                    top1_original=float(np.mean(pred_o == y)), top1_tflite=float(np.mean(pred_t == y)),
                    top5_original=topk_accuracy(original, y, k), top5_tflite=topk_accuracy(tflite, y, k),
                    max_drop=md, labels_file=labels_file,
                    class_names=None if class_names is None else tuple(class_names), disagreements=shown,
                    disagreement_count=int(len(differ)), notes=tuple(notes))


def accuracy_from_outputs(report: Compared, reference: Mapping[str, np.ndarray],
                          candidate: Mapping[str, np.ndarray], labels: np.ndarray, *,
                          labels_file: str | None = None, folder_classes: Sequence[str] | None = None
                          ) -> tuple[Accuracy | None, tuple[str, ...]]:
    """Labeled accuracy for a finished comparison. `reference` / `candidate` are stacked outputs keyed by the
    original's / the .tflite's names. Labels that fit no output are skipped with a note -- unless a labels
    file was given, which says the user expects a classifier (then it is an error)."""
    class_names = load_labels(labels_file) if labels_file else None
    try:
        y, notes = label_indices(labels, class_names=class_names, folder_classes=folder_classes)
        compared = {o.name: o for o in report.outputs}
        name, more = choose_output({n: reference[n] for n in compared}, {n: o.kind for n, o in compared.items()},
                                   int(y.max()) if y.size else 0)
    except (ConfigError, CalibrationError) as exc:
        if labels_file:
            raise
        return None, (f"labels of the data not used for accuracy: {exc.message}",)
    if y.size and y.min() < 0:
        raise CalibrationError(f"labels must be output indices >= 0, found {int(y.min())}")
    if class_names is None and folder_classes is not None and len(folder_classes) != reference[name].shape[-1]:
        more.append(f"{len(folder_classes)} class folders for {reference[name].shape[-1]} output classes: "
                    "check folder i is output index i, or pass --labels")
    tname = compared[name].tflite_name or name
    acc = measure_accuracy(reference[name], candidate[tname], y, output=name,
                           max_drop=report.tolerance.max_accuracy_drop, class_names=class_names,
                           labels_file=labels_file, notes=(*notes, *more))
    return acc, ()
