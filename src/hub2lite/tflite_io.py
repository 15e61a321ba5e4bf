"""Feeding a .tflite signature and reading its outputs, shared by every runner that executes one (in-process
LiteRT/TensorFlow, and the Flex runtime's worker): cast inputs to each tensor's dtype, quantize float values
for integer-I/O models with the input's own scale/zero-point, dequantize integer outputs. Pure numpy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import ConfigError
from .specs import TensorSpec

__all__ = ["SignatureIO", "lite_inputs", "lite_output"]


def _quantize(value: np.ndarray, dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    info = np.iinfo(dtype)
    q = np.round(np.asarray(value, np.float64) / scale + zero_point)
    return np.clip(q, info.min, info.max).astype(dtype)


def lite_inputs(details: Mapping[str, Mapping[str, Any]], names: Mapping[str, str],
                feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Signature-runner kwargs from `feed` ({caller's input name: array}): cast to each input's dtype, and
    float values quantized with the input's own scale/zero-point for integer-I/O models.
    `details` is a signature runner's get_input_details(); `names` maps TFLite names to the caller's."""
    kwargs = {}
    for tname, d in details.items():
        name = names.get(tname, tname)
        if name not in feed:
            raise ConfigError(f"missing input {name!r} for the .tflite model", hint=f"feed {list(names.values())}")
        value = np.asarray(feed[name])
        dtype = np.dtype(d["dtype"])
        scales = d["quantization_parameters"]["scales"]
        if np.issubdtype(dtype, np.integer) and len(scales) and np.issubdtype(value.dtype, np.floating):
            value = _quantize(value, dtype, float(scales[0]), int(d["quantization_parameters"]["zero_points"][0]))
        kwargs[tname] = value.astype(dtype, copy=False) if dtype != np.object_ else value
    return kwargs


def lite_output(value: np.ndarray, detail: Mapping[str, Any], *, dequantize: bool) -> np.ndarray:
    """One output as the caller sees it: a copy, dequantized to float32 when integer with a scale."""
    scales = detail["quantization_parameters"]["scales"]
    if dequantize and np.issubdtype(value.dtype, np.integer) and len(scales):
        zp = detail["quantization_parameters"]["zero_points"][0]
        return (value.astype(np.float32) - np.float32(zp)) * np.float32(scales[0])
    return np.array(value, copy=True)


class SignatureIO:
    """The Runner interface's description half, shared by the runners of a .tflite signature (LiteRunner in-process,
    FlexRunner over the Flex runtime's worker). Subclasses set `_in` / `_out` (tflite name -> the signature
    runner's input/output details; a dtype is a numpy dtype, or the text "object" from the worker) and
    `input_names` (tflite name -> the caller's name)."""

    _in: dict[str, dict[str, Any]]
    _out: dict[str, dict[str, Any]]
    input_names: dict[str, str]

    def input_details(self) -> dict[str, dict[str, Any]]:
        return dict(self._in)

    def output_details(self) -> dict[str, dict[str, Any]]:
        return dict(self._out)

    def input_specs(self) -> tuple[TensorSpec, ...]:
        specs = []
        for tname, d in self._in.items():
            shape = tuple(None if int(x) < 0 else int(x) for x in d.get("shape_signature", d["shape"]))
            dtype = "string" if d["dtype"] in (np.object_, "object") else np.dtype(d["dtype"]).name
            specs.append(TensorSpec(self.input_names.get(tname, tname), dtype, shape))
        return tuple(specs)
