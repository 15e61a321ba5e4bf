"""Post-training quantization recipes.

Each recipe is a documented, named piece of data; `apply` turns it into converter settings and
returns those settings so the report can say exactly what the converter was told.

| mode         | weights | activations | I/O            | needs calibration |
|--------------|---------|-------------|----------------|-------------------|
| float32      | float32 | float32     | float32        | no                |
| float16      | float16 | float32     | float32        | no                |
| dynamic      | int8    | float32 (dynamic int8 matmuls) | float32 | no       |
| int8         | int8    | int8, float fallback for ops without int8 kernels | float32 | yes |
| int8-strict  | int8    | int8 only (fails if an op has no int8 kernel) | int8/uint8 | yes |
| int16x8      | int8    | int16       | float32        | yes               |
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import CalibrationError, ConfigError
from ..specs import QuantMode

__all__ = ["Recipe", "RECIPES", "recipe_for"]


@dataclass(frozen=True)
class Recipe:
    mode: QuantMode
    name: str  # ai-edge-quantizer style: weights / activations
    description: str
    needs_calibration: bool
    integer_io: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "name": self.name, "description": self.description,
                "needs_calibration": self.needs_calibration, "integer_io": self.integer_io}

    def apply(self, converter: Any, *, base_ops: list[Any],
              representative_dataset: Callable[[], Iterable[Any]] | None,
              io_type: str | None = None) -> dict[str, Any]:
        """Configure `converter` for this recipe; return the settings made (JSON-safe)."""
        import tensorflow as tf

        settings: dict[str, Any] = {}
        ops = list(base_ops)
        if self.mode is QuantMode.FLOAT32:
            pass
        else:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            settings["optimizations"] = ["DEFAULT"]
        if self.mode is QuantMode.FLOAT16:
            converter.target_spec.supported_types = [tf.float16]
            settings["supported_types"] = ["float16"]
        if self.needs_calibration:
            if representative_dataset is None:
                raise CalibrationError(f"--quantize {self.mode.value} needs calibration data",
                                       hint="pass --calibration PATH (image folder, .npy or .npz), or "
                                            "--calibration synthetic to accept unverified accuracy")
            converter.representative_dataset = representative_dataset
            settings["representative_dataset"] = True
        builtin = tf.lite.OpsSet.TFLITE_BUILTINS
        if self.mode is QuantMode.INT8_STRICT:
            ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if o == builtin else o for o in ops]
            dtype = {"int8": tf.int8, "uint8": tf.uint8}.get(io_type or "int8")
            if dtype is None:
                raise ConfigError(f"--io-type must be int8 or uint8, not {io_type!r}")
            converter.inference_input_type = dtype
            converter.inference_output_type = dtype
            settings["inference_input_type"] = settings["inference_output_type"] = dtype.name
        elif io_type is not None and io_type != "float32":
            raise ConfigError(f"--io-type {io_type} needs --quantize int8-strict")
        if self.mode is QuantMode.INT16X8:
            int16 = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            ops = [int16] + ops  # builtins stay as float fallback for ops with no int16 kernel
        converter.target_spec.supported_ops = ops
        settings["supported_ops"] = [o.name for o in ops]
        return settings


RECIPES: dict[QuantMode, Recipe] = {r.mode: r for r in (
    Recipe(QuantMode.FLOAT32, "float32", "no quantization", False),
    Recipe(QuantMode.FLOAT16, "fp16_weights", "float16 weights, float32 compute", False),
    Recipe(QuantMode.DYNAMIC, "dynamic_wi8_afp32", "int8 weights, float activations (dynamic range)", False),
    Recipe(QuantMode.INT8, "static_wi8_ai8_float_fallback",
           "int8 weights and activations, float fallback for ops without int8 kernels", True),
    Recipe(QuantMode.INT8_STRICT, "static_wi8_ai8_integer_only",
           "integer-only ops with int8/uint8 input and output", True, integer_io=True),
    Recipe(QuantMode.INT16X8, "static_wi8_ai16", "int8 weights, int16 activations", True),
)}


def recipe_for(mode: QuantMode | str) -> Recipe:
    try:
        return RECIPES[QuantMode(mode)]
    except ValueError:
        raise ConfigError(f"unknown quantization mode {mode!r}",
                          hint=f"use one of {[m.value for m in QuantMode]}") from None
