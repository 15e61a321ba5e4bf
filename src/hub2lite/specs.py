"""Enums and small value types shared by every stage."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["QuantMode", "OpsPolicy", "OpSupport", "ModelFormat", "TensorSpec", "SignatureInfo", "is_image_input",
           "FLOAT_DTYPES"]


class QuantMode(str, enum.Enum):
    """Quantization recipes; values equal the CLI choices of `--quantize`."""

    FLOAT32 = "float32"
    FLOAT16 = "float16"
    DYNAMIC = "dynamic"
    INT8 = "int8"
    INT8_STRICT = "int8-strict"
    INT16X8 = "int16x8"


class OpsPolicy(str, enum.Enum):
    """Which op sets the converter may use."""

    AUTO = "auto"  # TFLite builtins, then Select TF ops when (and only when) needed
    BUILTINS = "builtins"  # TFLite builtins only (--no-flex)


class OpSupport(str, enum.Enum):
    BUILTIN = "builtin"  # lowers to TFLite builtin ops (or is folded away)
    SELECT = "select"  # needs Select TF ops (Flex)
    UNSUPPORTED = "unsupported"  # neither: needs a custom op
    UNKNOWN = "unknown"  # the probe could not tell (conversion failed for another reason)


class ModelFormat(str, enum.Enum):
    SAVED_MODEL = "saved_model"  # TF2 SavedModel
    TF1_HUB = "tf1_hub"  # TF1 Hub format (tfhub_module.pb + saved_model.pb)
    KERAS = "keras"  # .keras / .h5 file
    FROZEN_GRAPH = "frozen_graph"  # TF1 GraphDef .pb
    TF1_CHECKPOINT = "tf1_checkpoint"  # TF1 checkpoint: .meta graph + .index/.data-* weights


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: name, numpy dtype name ('float32', 'string', ...) and shape.

    `shape` is None for unknown rank; a None dimension is dynamic.
    """

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None

    @property
    def is_dynamic(self) -> bool:
        return self.shape is None or any(d is None for d in self.shape)

    @property
    def shape_str(self) -> str:
        if self.shape is None:
            return "<unknown rank>"
        return "[" + ",".join("?" if d is None else str(d) for d in self.shape) + "]"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": None if self.shape is None else list(self.shape)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TensorSpec:
        shape = d.get("shape")
        return cls(d["name"], d["dtype"], None if shape is None else tuple(shape))


@dataclass(frozen=True)
class SignatureInfo:
    """A callable entry point of a model: a SavedModel signature or a traced `__call__`."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    kind: str = "signature"  # "signature" | "call" (traced __call__, no serving signature)

    def input(self, name: str) -> TensorSpec:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "inputs": [s.to_dict() for s in self.inputs],
            "outputs": [s.to_dict() for s in self.outputs],
        }


#: dtypes of float tensors (inputs that take a value range / scaling).
FLOAT_DTYPES = ("float16", "float32", "float64", "bfloat16")
_IMAGE_DTYPES = ("float16", "float32", "uint8")


def is_image_input(spec: TensorSpec, *, float_only: bool = False) -> bool:
    """The one "is this an image input" rule: a [batch, H, W, C] tensor with 1, 3 or 4 channels, float16/float32
    or uint8 pixels (any float dtype with `float_only`). `float_only` narrows it to the float images that take a value range (input scaling)."""
    if spec.shape is None or len(spec.shape) != 4 or spec.shape[-1] not in (1, 3, 4):
        return False
    return spec.dtype in (FLOAT_DTYPES if float_only else _IMAGE_DTYPES)
