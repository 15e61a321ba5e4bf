"""Real input samples for calibration and validation: .npy / .npz files (and, where extended, image folders).

A `Samples` holds per-sample feeds ({input name: array with batch 1}) plus optional labels.
`.npz` keys are input names; an `.npz` with `x` (and optional `y` labels) feeds a single-input model.
`.npy` feeds a single-input model. Arrays are split into samples along axis 0.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CalibrationError
from .specs import TensorSpec

__all__ = ["Samples", "load_samples", "check_samples"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Samples:
    feeds: tuple[dict[str, np.ndarray], ...]
    labels: np.ndarray | None = None
    source: str = ""
    notes: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.feeds)


def _files(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes and p.is_file())
    return [path]


def _load_arrays(path: Path, specs: Sequence[TensorSpec]) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    names = [s.name for s in specs]
    if path.suffix.lower() == ".npy":
        if len(specs) != 1:
            raise CalibrationError(f"{str(path)!r} is a .npy (one array) but the model has inputs {names}",
                                   hint="give an .npz with one array per input name")
        try:
            return {names[0]: np.load(path, allow_pickle=False)}, None
        except (ValueError, OSError) as exc:
            raise CalibrationError(f"cannot read {str(path)!r}: {exc}", hint="save it with numpy.save") from exc
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError) as exc:
        raise CalibrationError(f"cannot read {str(path)!r}: {exc}", hint="save it with numpy.savez") from exc
    labels = arrays.pop("y", None)
    if len(specs) == 1 and names[0] not in arrays and "x" in arrays:
        arrays = {names[0]: arrays.pop("x")}
    missing = [n for n in names if n not in arrays]
    if missing:
        raise CalibrationError(f"{str(path)!r} has arrays {sorted(arrays)} but no {missing}",
                               hint=f"name the arrays after the model inputs {names} (or 'x'/'y' for one input)")
    return {n: arrays[n] for n in names}, labels


def check_samples(arrays: dict[str, np.ndarray], specs: Sequence[TensorSpec], where: str) -> None:
    """Raise a one-line CalibrationError naming the input, expected and found shape/dtype/values."""
    for spec in specs:
        a = arrays[spec.name]
        if spec.shape is not None:
            want = spec.shape[1:]
            got = a.shape[1:]
            if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want, got)):
                shown = "[N," + ",".join("?" if d is None else str(d) for d in want) + "]"
                raise CalibrationError(
                    f"{where}: input {spec.name!r} expects samples of shape {shown}, found {list(a.shape)}",
                    hint="stack samples along axis 0 with the model's per-sample shape")
        is_float = spec.dtype.startswith(("float", "bfloat"))
        if spec.dtype == "string":
            if a.dtype.kind not in "SUO":
                raise CalibrationError(f"{where}: input {spec.name!r} expects strings, found {a.dtype}")
        elif is_float and a.dtype.kind not in "fiu":
            raise CalibrationError(f"{where}: input {spec.name!r} expects {spec.dtype}, found {a.dtype}")
        elif not is_float and spec.dtype != "bool" and a.dtype.kind not in "iu":
            raise CalibrationError(f"{where}: input {spec.name!r} expects {spec.dtype}, found {a.dtype}",
                                   hint="integer inputs need integer arrays")
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise CalibrationError(f"{where}: input {spec.name!r} contains NaN or Inf values",
                                   hint="clean the data: every value must be finite")


def load_samples(path: str | Path, specs: Sequence[TensorSpec], *, limit: int | None = None,
                 seed: int = 0) -> Samples:
    """Load .npy/.npz samples for `specs` (the model's inputs). A seeded subset of `limit` is kept."""
    p = Path(path)
    if not p.exists():
        raise CalibrationError(f"data path {str(p)!r} does not exist", hint="check the path")
    files = _files(p, (".npy", ".npz"))
    if not files:
        raise CalibrationError(f"{str(p)!r} holds no .npy/.npz files", hint="point at .npy/.npz files or an image folder")
    per_input: dict[str, list[np.ndarray]] = {s.name: [] for s in specs}
    labels: list[np.ndarray] = []
    for f in files:
        if f.suffix.lower() not in (".npy", ".npz"):
            raise CalibrationError(f"unsupported data file {str(f)!r}", hint="use .npy, .npz or an image folder")
        arrays, y = _load_arrays(f, specs)
        counts = {len(a) if a.ndim else 0 for a in arrays.values()}
        if len(counts) != 1 or 0 in counts:
            raise CalibrationError(f"{str(f)!r}: inputs have different sample counts {sorted(counts)}",
                                   hint="every array needs the same length on axis 0")
        check_samples(arrays, specs, str(f))
        for n, a in arrays.items():
            per_input[n].append(a)
        if y is not None:
            labels.append(y)
    stacked = {n: np.concatenate(v) for n, v in per_input.items()}
    total = len(next(iter(stacked.values())))
    y_all = np.concatenate(labels) if labels and sum(len(y) for y in labels) == total else None
    index = np.arange(total)
    if limit is not None and total > limit:
        index = np.sort(np.random.default_rng(seed).choice(total, size=limit, replace=False))
    feeds = []
    for i in index:
        feed = {}
        for spec in specs:
            a = stacked[spec.name][i:i + 1]
            if spec.dtype not in ("string",):
                a = a.astype(spec.dtype if spec.dtype != "bfloat16" else "float32", copy=False)
            feed[spec.name] = a
        feeds.append(feed)
    notes = (f"used {len(index)} of {total} samples (seed {seed})",) if len(index) < total else ()
    return Samples(tuple(feeds), None if y_all is None else y_all[index], str(p), notes,
                   {"files": [str(f) for f in files], "total": int(total), "used": int(len(index))})
