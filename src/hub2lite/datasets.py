"""Real input samples for calibration and validation: .npy / .npz files and image folders.

A `Samples` holds per-sample feeds ({input name: array with batch 1}) plus optional labels.
`.npz` keys are input names; an `.npz` with `x` (and optional `y` labels) feeds a single-input model.
`.npy` feeds a single-input model. Arrays are split into samples along axis 0.

An image folder (jpg/jpeg/png/bmp, searched recursively) feeds a single-input image model
(NHWC, 1 or 3 channels): each file is decoded with Pillow, converted to RGB (grayscale for a
1-channel input), resized to the input's H x W and scaled by an `ImageScaling`:
`(pixel - mean) / std` per channel, pixel in 0..255. uint8 inputs take the raw pixels.
Files that cannot be decoded are skipped with a warning naming them. When every image sits in a
first-level subfolder (the ImageNet layout `class_name/*.jpg`) the sorted folder names are the
classes: `Samples.labels` holds their indices and `Samples.info["classes"]` their names.
"""

from __future__ import annotations

import logging
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CalibrationError
from .specs import TensorSpec

__all__ = ["Samples", "ImageScaling", "ValueRange", "load_samples", "check_samples", "load_image_folder",
           "IMAGE_SUFFIXES", "DEFAULT_SCALING"]

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


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
_ARRAY_SUFFIXES = (".npy", ".npz")


@dataclass(frozen=True)
class ImageScaling:
    """How 0..255 pixels become model input: `(pixel - mean) / std`, per channel (1 value = all channels).

    `source` says where it came from ("flag", "model", "default", "raw") and `reason` why, for the report.
    """

    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (255.0,)
    source: str = "default"
    reason: str = "TF Hub image models take float32 in [0, 1]"

    @classmethod
    def from_range(cls, lo: float, hi: float, source: str, reason: str) -> ImageScaling:
        """The scaling that maps pixel 0 to `lo` and pixel 255 to `hi`."""
        if not hi > lo:
            raise CalibrationError(f"input range [{lo:g}, {hi:g}] is empty", hint="give LOW,HIGH with LOW < HIGH")
        std = 255.0 / (hi - lo)
        return cls((-lo * std,), (std,), source, reason)

    def value_range(self) -> tuple[float, float]:
        """[min, max] over channels of the values pixels 0..255 map to."""
        m, s = np.asarray(self.mean, np.float64), np.asarray(self.std, np.float64)
        ends = np.concatenate([(0.0 - m) / s, (255.0 - m) / s])
        return float(ends.min()), float(ends.max())

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        m, s = np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32)
        return (pixels.astype(np.float32) - m) / s

    def describe(self) -> str:
        lo, hi = self.value_range()
        if len(self.mean) == 1 and len(self.std) == 1:
            text = f"[{lo:g}, {hi:g}]"
        else:
            text = f"(pixel - {list(self.mean)}) / {list(self.std)}, within [{lo:.3g}, {hi:.3g}]"
        return f"{text} ({self.source}: {self.reason})"

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.value_range()
        return {"mean": list(self.mean), "std": list(self.std), "range": [lo, hi], "source": self.source,
                "reason": self.reason}


#: Documented default for float image inputs: TF Hub image models take float32 in [0, 1].
DEFAULT_SCALING = ImageScaling()


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
        except (ValueError, OSError, EOFError) as exc:  # EOFError: an empty file
            raise CalibrationError(f"cannot read {str(path)!r}: {exc}", hint="save it with numpy.save") from exc
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:  # empty / corrupt archives
        raise CalibrationError(f"cannot read {str(path)!r}: {type(exc).__name__}: {exc}",
                               hint="save it with numpy.savez") from exc
    labels = arrays.pop("y", None)
    if labels is not None and labels.ndim != 1:
        raise CalibrationError(f"{str(path)!r}: labels 'y' have shape {list(labels.shape)}, expected one per sample",
                               hint="store labels as a 1-D array, y[i] for sample i")
    if len(specs) == 1 and names[0] not in arrays and "x" in arrays:
        arrays = {names[0]: arrays.pop("x")}
    missing = [n for n in names if n not in arrays]
    if missing:
        raise CalibrationError(f"{str(path)!r} has arrays {sorted(arrays)} but no {missing}",
                               hint=f"name the arrays after the model inputs {names} (or 'x'/'y' for one input)")
    return {n: arrays[n] for n in names}, labels


@dataclass(frozen=True)
class ValueRange:
    """The values an input expects. `strict` (the user said so with a flag): data outside fails;
    otherwise (inferred from the model, or the documented default) data far outside only warns."""

    lo: float
    hi: float
    strict: bool = False
    why: str = "default"

    def to_dict(self) -> dict[str, Any]:
        return {"range": [self.lo, self.hi], "strict": self.strict, "why": self.why}


def _fmt_range(lo: float, hi: float) -> str:
    return f"[{lo:.4g}, {hi:.4g}]"


def check_samples(arrays: dict[str, np.ndarray], specs: Sequence[TensorSpec], where: str, *,
                  expected: dict[str, ValueRange] | None = None) -> list[str]:
    """Check every input's samples against its spec: shape, dtype and value range.

    Raises a one-line CalibrationError naming the input, the expected and the found shape/dtype/range.
    Returns warnings (data that looks mis-scaled for a non-strict expected range); they are also logged.
    """
    warnings: list[str] = []
    for spec in specs:
        a = arrays[spec.name]
        if spec.shape is not None:
            want = spec.shape[1:]
            got = a.shape[1:]
            if a.ndim == 0 or len(got) != len(want) or any(w is not None and w != g for w, g in zip(want, got)):
                shown = "[N," + ",".join("?" if d is None else str(d) for d in want) + "]"
                raise CalibrationError(
                    f"{where}: input {spec.name!r} expects samples of shape {shown}, found {list(a.shape)}",
                    hint="stack samples along axis 0 with the model's per-sample shape")
        is_float = spec.dtype.startswith(("float", "bfloat"))
        if spec.dtype == "string":
            if a.dtype.kind not in "SUO":
                raise CalibrationError(f"{where}: input {spec.name!r} expects strings, found {a.dtype}",
                                       hint="string inputs need str/bytes arrays")
            continue
        if is_float and a.dtype.kind not in "fiu":
            raise CalibrationError(f"{where}: input {spec.name!r} expects {spec.dtype}, found {a.dtype}",
                                   hint="numeric inputs need int or float arrays (numpy.save of a float array)")
        if spec.dtype == "bool":
            if a.dtype.kind not in "biu":
                raise CalibrationError(f"{where}: input {spec.name!r} expects bool, found {a.dtype}",
                                       hint="bool inputs need bool or 0/1 integer arrays")
            continue
        if not is_float and a.dtype.kind not in "iu":
            raise CalibrationError(f"{where}: input {spec.name!r} expects {spec.dtype}, found {a.dtype}",
                                   hint="integer inputs need integer arrays")
        if a.size == 0:
            continue
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise CalibrationError(f"{where}: input {spec.name!r} contains NaN or Inf values",
                                   hint="clean the data: every value must be finite")
        lo, hi = float(a.min()), float(a.max())
        if not is_float:
            info = np.iinfo(spec.dtype)
            if lo < info.min or hi > info.max:
                raise CalibrationError(
                    f"{where}: input {spec.name!r} expects {spec.dtype} values in {_fmt_range(info.min, info.max)}, "
                    f"found {_fmt_range(lo, hi)}", hint=f"give values that fit {spec.dtype}")
            continue
        fmax = float(np.finfo("float32" if spec.dtype == "bfloat16" else spec.dtype).max)
        if lo < -fmax or hi > fmax:  # would turn into Inf when cast to the input dtype
            raise CalibrationError(f"{where}: input {spec.name!r} expects {spec.dtype} values, found "
                                   f"{_fmt_range(lo, hi)}, beyond its range +-{fmax:.3g}",
                                   hint=f"give values that fit {spec.dtype}")
        want_range = (expected or {}).get(spec.name)
        if want_range is None:
            continue
        span = want_range.hi - want_range.lo
        margin = 0.05 * span if want_range.strict else 0.25 * span
        outside = lo < want_range.lo - margin or hi > want_range.hi + margin
        too_narrow = not want_range.strict and (hi - lo) < span / 50 and span > 0
        if want_range.strict and outside:
            raise CalibrationError(
                f"{where}: input {spec.name!r} expects values in {_fmt_range(want_range.lo, want_range.hi)} "
                f"({want_range.why}), found {_fmt_range(lo, hi)}",
                hint="rescale the data, or state the range it is in with --input-range / --mean --std")
        if outside or too_narrow:
            msg = (f"{where}: data for input {spec.name!r} is in {_fmt_range(lo, hi)} but the input expects "
                   f"{_fmt_range(want_range.lo, want_range.hi)} ({want_range.why}): it looks mis-scaled; rescale "
                   f"it or state the range with --input-range")
            log.warning(msg)
            warnings.append(msg)
    return warnings


def _image_spec(specs: Sequence[TensorSpec], path: Path) -> TensorSpec:
    names = [s.name for s in specs]
    if len(specs) != 1:
        raise CalibrationError(f"{str(path)!r} holds images but the model has inputs {names}",
                               hint="image folders feed single-input image models; give an .npz keyed by input name")
    spec = specs[0]
    shape = spec.shape
    ok = (shape is not None and len(shape) == 4 and shape[3] in (1, 3)
          and spec.dtype in ("float16", "float32", "float64", "bfloat16", "uint8", "int8"))
    if not ok:
        raise CalibrationError(f"{str(path)!r} holds images but input {spec.name!r} is {spec.dtype}{spec.shape_str}, "
                               f"not an image batch [N,H,W,1|3]", hint="give .npy/.npz arrays for this input")
    if shape[1] is None or shape[2] is None:
        raise CalibrationError(f"input {spec.name!r} has dynamic height/width {spec.shape_str}: cannot size the images",
                               hint=f"fix them with --input-shape {spec.name}=1,H,W,{shape[3]}")
    return spec


def _decode_image(path: Path, channels: int, size: tuple[int, int]) -> np.ndarray:
    """Pixels uint8 [H, W, channels] of `path` resized to size=(H, W). Raises OSError/ValueError if unreadable."""
    from PIL import Image

    with Image.open(path) as img:
        img.load()  # decode now: truncated / corrupt files fail here, not later
        img = img.convert("L" if channels == 1 else "RGB")
        h, w = size
        if img.size != (w, h):
            img = img.resize((w, h), Image.Resampling.BILINEAR)
        pixels = np.asarray(img, dtype=np.uint8)
    return pixels[..., None] if channels == 1 else pixels


def _class_layout(root: Path, files: Sequence[Path]) -> list[str] | None:
    """Sorted class names when every image sits under a first-level subfolder of `root` (ImageNet layout)."""
    if not root.is_dir():
        return None
    parts = [f.relative_to(root).parts for f in files]
    if not parts or any(len(p) < 2 for p in parts):
        return None
    return sorted({p[0] for p in parts})


def load_image_folder(path: str | Path, specs: Sequence[TensorSpec], *, limit: int | None = None, seed: int = 0,
                      scaling: ImageScaling | None = None) -> Samples:
    """Decode a seeded selection of up to `limit` images under `path` for the single image input in `specs`.

    Unreadable files are skipped with a warning naming each; fails when no file is usable.
    """
    root = Path(path)
    files = _files(root, IMAGE_SUFFIXES)
    if not files:
        raise CalibrationError(f"{str(root)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})",
                               hint="point at an image folder or at .npy/.npz files")
    spec = _image_spec(specs, root)
    _, h, w, channels = spec.shape  # type: ignore[misc]
    raw = spec.dtype == "uint8"
    if raw:
        scaling = ImageScaling((0.0,), (1.0,), "raw", "uint8 input takes raw pixels 0..255")
    scaling = scaling or DEFAULT_SCALING
    classes = _class_layout(root, files)
    order = np.random.default_rng(seed).permutation(len(files))
    want = len(files) if limit is None else min(limit, len(files))
    chosen: list[tuple[int, np.ndarray]] = []
    skipped: list[str] = []
    for i in order:
        if len(chosen) >= want:
            break
        try:
            pixels = _decode_image(files[i], int(channels), (int(h), int(w)))
        except (OSError, ValueError, SyntaxError) as exc:  # PIL raises these for corrupt/unsupported files
            skipped.append(str(files[i]))
            log.warning("skipped %s: not a readable image (%s)", files[i], " ".join(str(exc).split())[:120])
            continue
        chosen.append((int(i), pixels))
    if not chosen:
        raise CalibrationError(f"{str(root)!r}: none of its {len(files)} image file(s) could be decoded",
                               hint="check the files open in an image viewer (jpg/png/bmp)")
    chosen.sort(key=lambda t: t[0])
    feeds = []
    for _, pixels in chosen:
        value = pixels[None] if raw else scaling.apply(pixels[None]).astype(
            spec.dtype if spec.dtype in ("float16", "float32", "float64") else "float32")
        feeds.append({spec.name: value})
    notes = [f"images for input {spec.name!r}: {len(chosen)} of {len(files)} file(s) (seed {seed}), resized to "
             f"{h}x{w}, {'grayscale' if channels == 1 else 'RGB'}, scaled to {scaling.describe()}"]
    if skipped:
        notes.append(f"skipped {len(skipped)} unreadable file(s): {', '.join(skipped)}")
    labels = None
    info: dict[str, Any] = {"kind": "images", "image_files": len(files), "total": len(files), "used": len(chosen),
                            "skipped": skipped, "scaling": scaling.to_dict(), "input": spec.name}
    if classes is not None:
        index = {c: k for k, c in enumerate(classes)}
        labels = np.array([index[files[i].relative_to(root).parts[0]] for i, _ in chosen], dtype=np.int64)
        info["classes"] = classes
    info["selected"] = [str(files[i]) for i, _ in chosen]
    return Samples(tuple(feeds), labels, str(root), tuple(notes), info)


def _kind(path: Path) -> str:
    """'arrays' or 'images' for a file or folder."""
    if path.is_dir():
        has_arrays = any(p.suffix.lower() in _ARRAY_SUFFIXES for p in path.rglob("*") if p.is_file())
        has_images = any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.rglob("*") if p.is_file())
        if has_arrays and has_images:
            raise CalibrationError(f"{str(path)!r} mixes .npy/.npz arrays and images",
                                   hint="keep arrays and images in separate folders")
        if not has_arrays and not has_images:
            raise CalibrationError(f"{str(path)!r} holds no .npy/.npz files and no images",
                                   hint="point at .npy/.npz files or an image folder (jpg/png/bmp)")
        return "images" if has_images else "arrays"
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "images"
    if suffix in _ARRAY_SUFFIXES:
        return "arrays"
    raise CalibrationError(f"unsupported data file {str(path)!r}", hint="use .npy, .npz or an image folder")


def load_samples(path: str | Path, specs: Sequence[TensorSpec], *, limit: int | None = None,
                 seed: int = 0, scaling: ImageScaling | None = None,
                 expected: dict[str, ValueRange] | None = None) -> Samples:
    """Load samples for `specs` (the model's inputs) from .npy/.npz files or an image folder.

    A seeded subset of `limit` samples is kept. `scaling` turns image pixels into float inputs
    (default: `DEFAULT_SCALING`, [0, 1]); `expected` gives float inputs' value ranges to check arrays
    against (strict ones fail, others warn when the data looks mis-scaled).
    """
    p = Path(path)
    if not p.exists():
        raise CalibrationError(f"data path {str(p)!r} does not exist", hint="check the path")
    if _kind(p) == "images":
        return load_image_folder(p, specs, limit=limit, seed=seed, scaling=scaling)
    files = _files(p, _ARRAY_SUFFIXES)
    per_input: dict[str, list[np.ndarray]] = {s.name: [] for s in specs}
    labels: list[np.ndarray] = []
    warnings: list[str] = []
    for f in files:
        arrays, y = _load_arrays(f, specs)
        counts = {len(a) if a.ndim else 0 for a in arrays.values()}
        if len(counts) != 1 or 0 in counts:
            raise CalibrationError(f"{str(f)!r}: inputs have different sample counts {sorted(counts)}",
                                   hint="every array needs the same length on axis 0")
        warnings += check_samples(arrays, specs, str(f), expected=expected)
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
    notes = [f"used {len(index)} of {total} samples (seed {seed})"] if len(index) < total else []
    notes += warnings
    info: dict[str, Any] = {"kind": "arrays", "files": [str(f) for f in files], "total": int(total),
                            "used": int(len(index))}
    if expected:
        info["expected_ranges"] = {k: v.to_dict() for k, v in expected.items()}
    if warnings:
        info["warnings"] = warnings
    return Samples(tuple(feeds), None if y_all is None else y_all[index], str(p), tuple(notes), info)
