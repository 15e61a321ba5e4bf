"""Bias correction of int8 layers from calibration statistics (Nagel et al., Data-Free Quantization, empirical form).

Rounding a layer's weights to int8 (per output channel, symmetric, [-127, 127]: what the converter does) shifts
the *mean* of each output channel by E[(W_q - W) x] = (W_q - W) E[x], because rounding errors do not average out
over a small kernel (a 3x3 depthwise filter has 9 weights). The shift passes through every later layer. Knowing
E[x] per input channel from the float activations of the calibration set, the float bias is corrected by that
amount before the converter quantizes the model, so the int8 layer's expected output equals the float layer's.

Applies to CONV_2D (weights O x H x W x I), DEPTHWISE_CONV_2D (1 x H x W x C*M) and FULLY_CONNECTED (O x I);
layers with no bias tensor are left alone (and listed). Spatial padding is ignored (borders see zeros).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import Any

import numpy as np

from .flatgraph import Activations, CalibratedGraph, WEIGHT_OPS

__all__ = ["BiasCorrection", "correct_bias", "weight_rounding_error"]


@dataclass(frozen=True)
class BiasCorrection:
    model: bytes
    layers: int  # layers corrected
    skipped: tuple[str, ...]  # layers with no float bias or no input statistics
    max_shift: float  # largest |correction| relative to the layer output's calibrated range

    def to_dict(self) -> dict[str, Any]:
        return {"layers": self.layers, "skipped": list(self.skipped), "max_shift": self.max_shift}


def weight_rounding_error(w: np.ndarray, axis: int) -> np.ndarray:
    """W_q - W for symmetric per-channel int8 quantization along `axis` (narrow range, as the converter)."""
    moved = np.moveaxis(w.astype(np.float64), axis, 0)
    scale = np.abs(moved.reshape(moved.shape[0], -1)).max(axis=1) / 127.0
    scale = np.where(scale > 0, scale, 1.0).reshape((-1,) + (1,) * (moved.ndim - 1))
    err = np.clip(np.round(moved / scale), -127, 127) * scale - moved
    return np.moveaxis(err, 0, axis)


def _shift(op: str, w: np.ndarray, mean_in: np.ndarray, per_channel: bool) -> np.ndarray | None:
    if op == "CONV_2D":  # O H W I
        if mean_in.shape[0] != w.shape[3]:
            return None
        err = weight_rounding_error(w, 0) if per_channel else _per_tensor(w)
        return np.einsum("ohwi,i->o", err, mean_in)
    if op == "DEPTHWISE_CONV_2D":  # 1 H W C*M
        c = mean_in.shape[0]
        if w.shape[3] % c:
            return None
        err = weight_rounding_error(w, 3) if per_channel else _per_tensor(w)
        mult = w.shape[3] // c
        return err.sum(axis=(0, 1, 2)) * np.repeat(mean_in, mult)
    if op == "FULLY_CONNECTED":  # O I
        if w.ndim != 2 or mean_in.shape[0] != w.shape[1]:
            return None
        err = weight_rounding_error(w, 0) if per_channel else _per_tensor(w)
        return err @ mean_in
    return None


def _per_tensor(w: np.ndarray) -> np.ndarray:
    flat = w.reshape(1, -1)
    return weight_rounding_error(flat, 0).reshape(w.shape)


def correct_bias(calibrated: bytes, acts: Activations, *, per_channel: bool = True,
                 skip: Container[str] | None = None) -> BiasCorrection:
    """The calibrated flatbuffer with every conv/FC float bias corrected for its weights' int8 rounding.
    `acts` must hold the channel means of the layers' input tensors; ops named in `skip` are left alone."""
    from tensorflow.lite.tools import flatbuffer_utils as fu

    graph = CalibratedGraph(calibrated)
    obj = fu.read_model_from_bytearray(bytearray(calibrated))
    tensors = obj.subgraphs[0].tensors
    done, skipped, worst = 0, [], 0.0
    for op in graph.ops:
        if op.op not in WEIGHT_OPS or (skip and op.name in skip):
            continue
        if len(op.inputs) < 3 or op.inputs[2] < 0:
            skipped.append(op.name)
            continue
        w = graph.constant(op.inputs[1])
        b = graph.constant(op.inputs[2])
        mean_in = acts.channel_mean.get(op.inputs[0])
        if w is None or b is None or mean_in is None:
            skipped.append(op.name)
            continue
        shift = _shift(op.op, w, np.asarray(mean_in, np.float64), per_channel)
        if shift is None or shift.shape != b.shape:
            skipped.append(op.name)
            continue
        new = (b.astype(np.float64) - shift).astype(np.float32)
        buf = obj.buffers[tensors[op.inputs[2]].buffer]
        buf.data = np.frombuffer(new.tobytes(), np.uint8).copy()
        rng = graph.activation_range(op.outputs[0])
        if rng is not None and rng[1] > rng[0]:
            worst = max(worst, float(np.abs(shift).max() / (rng[1] - rng[0])))
        done += 1
    return BiasCorrection(bytes(fu.convert_object_to_bytearray(obj)), done, tuple(skipped), worst)
