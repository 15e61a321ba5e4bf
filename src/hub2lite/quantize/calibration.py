"""Calibration sources: where the representative samples come from, and what range image inputs expect.

    input_scalings(entry, specs, ...)  -> {input name: ImageScaling}   flag > model > documented default
    calibration_feeds(source, ...)      -> (feeds, info)               image folder / .npy / .npz / synthetic

The expected range of a float image input is decided in this order, and the report says which:

1. the user's `--input-range LOW,HIGH` (0,1 | -1,1 | 0,255 ...) or `--mean M[,M,M] --std S[,S,S]`
   (pixel units: input = (pixel - mean) / std, the TFLite metadata convention);
2. the model itself, when its graph starts with constant affine ops on the input (a Keras
   `Rescaling` or `Normalization` layer, TF Hub's `(x - 0.5) * 2`): the candidate range among
   [0,1], [-1,1], [0,255] that those ops map onto [0,1], [-1,1] or a standardized range wins;
3. the documented default, float32 in [0, 1] (TF Hub image models).

uint8 image inputs always take raw pixels. Calibration samples are fed to the converter keyed by
input name (see `_converter.representative_dataset`), so their order can never be mixed up.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..datasets import DEFAULT_SCALING, ImageScaling, Samples, ValueRange, load_samples
from ..errors import ConfigError
from ..options import ScalingFlags, parse_scaling
from ..feeds import synthetic_feeds
from ..specs import FLOAT_DTYPES, TensorSpec, is_image_input
from ..interrupts import reraise_pending

__all__ = ["parse_input_range", "scaling_from_flags", "model_input_scaling", "input_scalings",
           "expected_ranges", "calibration_feeds", "rescale_synthetic", "SYNTHETIC_WARNING", "is_image_input"]

log = logging.getLogger(__name__)

SYNTHETIC_WARNING = "calibrated on random synthetic data: the accuracy of this model is UNVERIFIED"
_MAX_SYNTHETIC = 100

# candidate input ranges a model may expect, and the ranges its leading affine ops would map them to
_CANDIDATES: tuple[tuple[str, float, float], ...] = (("[0,1]", 0.0, 1.0), ("[-1,1]", -1.0, 1.0),
                                                     ("[0,255]", 0.0, 255.0))
# [0,1], [-1,1], and standardized data (mean 0, std 1: uniform to image-like spreads)
_TARGETS: tuple[tuple[float, float], ...] = ((0.0, 1.0), (-1.0, 1.0), (-math.sqrt(3), math.sqrt(3)), (-2.0, 2.0),
                                             (-2.5, 2.5), (-3.0, 3.0))
_MATCH = 0.35  # max mismatch (relative to the target span) to accept a candidate


def parse_input_range(text: str) -> ImageScaling:
    """'0,1' / '-1,1' / '0,255' (any LOW,HIGH) -> the scaling mapping pixels 0..255 onto it."""
    scaling = scaling_from_flags(text)
    assert scaling is not None
    return scaling


def scaling_from_flags(input_range: str | None = None, mean: str | None = None,
                       std: str | None = None) -> ImageScaling | None:
    """The user's explicit scaling, or None (parsed by options.parse_scaling, the one parser of these flags)."""
    parsed = parse_scaling(ScalingFlags(input_range, mean, std))
    if parsed is None:
        return None
    m, s, reason = parsed
    return ImageScaling(m, s, "flag", reason)


# --- what the model says ---------------------------------------------------------------------------

_AFFINE = {"Mul", "RealDiv", "Add", "AddV2", "BiasAdd", "Sub"}
_PASS = {"Identity", "Cast"}


def _is_constant(tensor: Any, limit: int = 200) -> bool:
    """True when nothing upstream of `tensor` is a graph input (so it can be evaluated once)."""
    seen, todo = set(), [tensor.op]
    while todo:
        op = todo.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        if op.type in ("Placeholder", "PlaceholderWithDefault") or len(seen) > limit:
            return False
        todo.extend(t.op for t in op.inputs)  # control inputs carry no values: not followed
    return True


def _channel_vector(value: np.ndarray, channels: int) -> np.ndarray | None:
    v = np.asarray(value, np.float64)
    if v.size == 1:
        return v.reshape(1)
    if v.ndim >= 1 and v.shape[-1] == channels and v.size == channels:
        return v.reshape(channels)
    return None


def _leading_affine(graph: Any, placeholder: str, channels: int) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """(scale, offset, op types) of the constant elementwise ops the input goes through first, or None."""
    import tensorflow as tf

    cur = graph.get_operation_by_name(placeholder).outputs[0]
    scale, offset = np.ones(1), np.zeros(1)
    ops: list[str] = []
    # constants may carry control dependencies on the inputs: feed zeros (their values never matter)
    dummy = {op.outputs[0]: np.zeros([1 if d is None else d for d in op.outputs[0].shape.as_list()],
                                     op.outputs[0].dtype.as_numpy_dtype)
             for op in graph.get_operations() if op.type == "Placeholder" and op.outputs[0].shape.rank is not None}
    with tf.compat.v1.Session(graph=graph) as sess:
        for _ in range(32):
            consumers = [op for op in cur.consumers() if op.type != "NoOp"]
            if len(consumers) != 1:
                break
            op = consumers[0]
            if op.type in _PASS:
                cur = op.outputs[0]
                continue
            if op.type not in _AFFINE or len(op.inputs) != 2:
                break
            first = op.inputs[0].name == cur.name
            other = op.inputs[1] if first else op.inputs[0]
            if not _is_constant(other):
                break
            c = _channel_vector(sess.run(other, feed_dict=dummy), channels)
            if c is None:
                break
            if op.type == "Mul":
                scale, offset = scale * c, offset * c
            elif op.type == "RealDiv" and first and np.all(c != 0):
                scale, offset = scale / c, offset / c
            elif op.type in ("Add", "AddV2", "BiasAdd"):
                offset = offset + c
            elif op.type == "Sub":
                scale, offset = (scale, offset - c) if first else (-scale, c - offset)
            else:
                break
            ops.append(op.type)
            cur = op.outputs[0]
    if not ops:
        return None
    return scale, offset, ops


def _match(scale: np.ndarray, offset: np.ndarray) -> tuple[str, float, float, float, tuple[float, float]]:
    """The candidate range the affine maps best onto a canonical range: (name, lo, hi, mismatch, image)."""
    best = None
    for name, lo, hi in _CANDIDATES:
        a, b = scale * lo + offset, scale * hi + offset
        ylo, yhi = np.minimum(a, b), np.maximum(a, b)
        per_channel = [min((abs(l - tl) + abs(h - th)) / (th - tl) for tl, th in _TARGETS)
                       for l, h in zip(ylo, yhi)]
        score = float(max(per_channel))
        image = (float(ylo.min()), float(yhi.max()))
        if best is None or score < best[3]:
            best = (name, lo, hi, score, image)
    assert best is not None
    return best


def model_input_scaling(entry: Any, specs: Sequence[TensorSpec]) -> dict[str, ImageScaling]:
    """Scalings the model itself implies for its float image inputs (leading Rescaling/Normalization ops)."""
    targets = [s for s in specs if is_image_input(s, float_only=True)]
    if not targets:
        return {}
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from .._converter import build_function, native_stderr_to_log

    try:
        concrete, name_map = build_function(entry, tuple(specs))
        with native_stderr_to_log():  # grappler prints to fd 2 while freezing
            frozen = convert_variables_to_constants_v2(concrete)
        graph = tf.Graph()
        with graph.as_default():
            tf.graph_util.import_graph_def(frozen.graph.as_graph_def(), name="")
    except Exception as exc:  # noqa: BLE001 - an unfreezable graph only means the model does not tell
        reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
        log.info("could not read the model's input preprocessing: %s", exc)
        return {}
    by_original = {orig: param for param, orig in name_map.items()}
    found: dict[str, ImageScaling] = {}
    for spec in targets:
        try:
            affine = _leading_affine(graph, by_original[spec.name], int(spec.shape[-1]))  # type: ignore[index]
        except Exception as exc:  # noqa: BLE001
            reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
            log.info("could not read the preprocessing of %r: %s", spec.name, exc)
            continue
        if affine is None:
            continue
        scale, offset, ops = affine
        name, lo, hi, score, image = _match(scale, offset)
        shown = " ".join(f"{o}" for o in ops)
        if score > _MATCH:
            log.info("input %r: leading ops %s map no usual range onto a usual one; not used", spec.name, shown)
            continue
        found[spec.name] = ImageScaling.from_range(
            lo, hi, "model", f"its leading ops ({shown}) map {name} to [{image[0]:.3g}, {image[1]:.3g}]")
    return found


def input_scalings(entry: Any, specs: Sequence[TensorSpec], *, input_range: str | None = None,
                   mean: str | None = None, std: str | None = None) -> dict[str, ImageScaling]:
    """{input name: scaling} for every float input: the flags', else the model's (image inputs), else the default.

    The flags apply to every float input; model inference and the default only to image inputs.
    """
    explicit = scaling_from_flags(input_range, mean, std)
    floats = [s for s in specs if s.dtype in FLOAT_DTYPES]
    if explicit is not None:
        return {s.name: explicit for s in floats}
    scalings = model_input_scaling(entry, specs) if entry is not None else {}
    for s in floats:
        if is_image_input(s, float_only=True) and s.name not in scalings:
            scalings[s.name] = DEFAULT_SCALING
    return scalings


def expected_ranges(scalings: dict[str, ImageScaling]) -> dict[str, ValueRange]:
    """Value ranges array data is checked against: strict for the user's own flags, advisory otherwise."""
    out = {}
    for name, sc in scalings.items():
        lo, hi = sc.value_range()
        out[name] = ValueRange(lo, hi, strict=sc.source == "flag", why=sc.reason if sc.source != "default"
                               else "default for image inputs: " + sc.reason)
    return out


def rescale_synthetic(feeds: list[dict[str, np.ndarray]], scalings: dict[str, ImageScaling]) -> list[dict[str, np.ndarray]]:
    """Synthetic float inputs drawn in [0, 1], moved into each input's expected range (as if they were pixels)."""
    out = []
    for feed in feeds:
        feed = dict(feed)
        for name, sc in scalings.items():
            if name in feed and feed[name].dtype.kind == "f":
                feed[name] = sc.apply(feed[name] * 255.0).astype(feed[name].dtype)
        out.append(feed)
    return out


def _synthetic(specs: Sequence[TensorSpec], count: int, seed: int,
               scalings: dict[str, ImageScaling]) -> list[dict[str, np.ndarray]]:
    return rescale_synthetic(synthetic_feeds(specs, count, seed=seed, float_range=(0.0, 1.0)), scalings)


def calibration_feeds(source: str, specs: Sequence[TensorSpec], *, samples: int = 200, seed: int = 0,
                      scalings: dict[str, ImageScaling] | None = None) -> tuple[list[dict[str, np.ndarray]], dict[str, Any]]:
    """Calibration samples ({input name: array with batch 1}) and a JSON-safe description for the report."""
    if samples <= 0:
        raise ConfigError("--calibration-samples must be positive")
    scalings = scalings or {}
    ranges = {n: s.to_dict() for n, s in scalings.items()}
    if source == "synthetic":
        feeds = _synthetic(specs, min(samples, _MAX_SYNTHETIC), seed, scalings)
        log.warning(SYNTHETIC_WARNING)
        return feeds, {"source": "synthetic", "samples": len(feeds), "seed": seed, "warning": SYNTHETIC_WARNING,
                       "input_scaling": ranges, "notes": []}
    image_scaling = next(iter(scalings.values()), None) if len(specs) == 1 else None
    loaded: Samples = load_samples(source, specs, limit=samples, seed=seed, scaling=image_scaling,
                                   expected=expected_ranges(scalings))
    if len(loaded) < 10:
        log.warning("only %d calibration sample(s): activation ranges may be poorly estimated", len(loaded))
    info = {"source": loaded.source, "samples": len(loaded), "seed": seed, **loaded.info,
            "notes": list(loaded.notes)}
    if loaded.info.get("kind") != "images":
        info["input_scaling"] = ranges
    return list(loaded.feeds), info
