"""float16 that cannot break a model: constants float16 cannot hold stay float32.

The converter's float16 mode stores every float32 constant as float16 and dequantizes it at load time. A value
float16 cannot hold then changes the model: 1e-10 (a log-spectrogram's epsilon) becomes 0, 3e-8 becomes a
subnormal with one significant bit, 1e5 becomes inf. `guard_float16` finds those constants in the float32 model's
buffers and, in the float16 model, gives their DEQUANTIZE op's output the original float32 data (the op and its
float16 input are removed), so float16 keeps its promise of float accuracy at (almost) half the size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["GuardedConstant", "Float16Guard", "unsafe_for_float16", "guard_float16"]

FLOAT16_MAX = 65504.0
FLOAT16_MIN_NORMAL = 2.0 ** -14  # 6.1e-5: below it float16 keeps fewer than 11 significant bits


@dataclass(frozen=True)
class GuardedConstant:
    name: str
    elements: int
    reason: str  # "overflows" | "underflows to 0" | "subnormal"
    example: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "elements": self.elements, "reason": self.reason, "example": self.example}


@dataclass(frozen=True)
class Float16Guard:
    model: bytes
    kept_float32: tuple[GuardedConstant, ...]
    extra_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"kept_float32": [c.to_dict() for c in self.kept_float32], "extra_bytes": self.extra_bytes}


def unsafe_for_float16(values: np.ndarray) -> tuple[str, float] | None:
    """Why float16 cannot hold `values` (and one offending value), or None if it can.

    A value flushed to 0 matters only if it is not already below the float16 rounding error of the tensor's
    largest value (2^-11 of it): an epsilon of 1e-10 alone, or next to other tiny values, does; a 1e-30 among
    conv weights of size 0.1 (seen in musicnn's MTT_vgg: every conv kernel has a few) does not, and keeping
    such a kernel float32 would take float16's size and speed away for nothing. Subnormals likewise matter only
    in a constant with no normal value."""
    v = np.asarray(values, np.float32).reshape(-1)
    finite = v[np.isfinite(v)]
    big = finite[np.abs(finite) > FLOAT16_MAX]
    if big.size:
        return "overflows", float(big[0])
    nz = finite[finite != 0]
    tiny = nz[np.abs(nz) < FLOAT16_MIN_NORMAL]
    if tiny.size:
        zero = tiny[tiny.astype(np.float16) == 0]
        if zero.size and np.abs(zero).max() > np.abs(nz).max() * 2.0 ** -11:
            return "underflows to 0", float(zero[np.argmax(np.abs(zero))])
        # a subnormal keeps an absolute error <= 2^-25, below the rounding error of any normal value next to it:
        # harmless beside normal values (musicnn's kernels are mostly < 6e-5 beside a max of ~0.1, and keeping
        # them float32 made its float16 0.76x of float32), not in a constant that is tiny throughout
        if np.abs(nz).max() < FLOAT16_MIN_NORMAL:
            return "subnormal", float(tiny[0])
    return None


def guard_float16(float32_model: bytes, float16_model: bytes) -> Float16Guard:
    """`float16_model` (the converter's float16 variant of `float32_model`) with the constants float16 cannot hold
    kept in float32. Each float16 constant is matched to its float32 original by content (the float32 values
    cast to float16 are exactly its bytes), never by name: the converter renames tensors between the two."""
    from tensorflow.lite.tools import flatbuffer_utils as fu

    f32 = fu.read_model_from_bytearray(bytearray(float32_model))
    consts: dict[bytes, np.ndarray] = {}  # float16 bytes -> float32 values, for constants float16 cannot hold
    for sg in f32.subgraphs:
        for t in sg.tensors:
            buf = f32.buffers[t.buffer]
            if t.type == 0 and buf.data is not None and len(buf.data):
                values = np.frombuffer(bytes(bytearray(buf.data)), np.float32)
                if unsafe_for_float16(values) is not None:
                    with np.errstate(over="ignore"):  # the same overflow to inf the converter's cast made
                        consts[values.astype(np.float16).tobytes()] = values
    f16 = fu.read_model_from_bytearray(bytearray(float16_model))
    kept: list[GuardedConstant] = []
    extra = 0
    freed: set[int] = set()
    for sg in f16.subgraphs:
        remove = []
        for k, op in enumerate(sg.operators or []):
            if fu.opcode_to_name(f16, op.opcodeIndex) != "DEQUANTIZE":
                continue
            src, dst = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
            if src.type != 1:  # 1 = FLOAT16
                continue
            name = dst.name.decode() if isinstance(dst.name, bytes) else dst.name
            data = f16.buffers[src.buffer].data
            values = consts.get(bytes(bytearray(data))) if data is not None else None
            if values is None:
                continue
            why = unsafe_for_float16(values)
            if why is None:
                continue
            new_buffer = type(f16.buffers[0])()
            new_buffer.data = np.frombuffer(values.astype(np.float32).tobytes(), np.uint8).copy()
            f16.buffers.append(new_buffer)
            dst.buffer = len(f16.buffers) - 1
            freed.add(src.buffer)  # emptied below unless another tensor still reads it (the converter shares buffers)
            remove.append(k)
            extra += values.size * 2
            kept.append(GuardedConstant(name, int(values.size), why[0], why[1]))
        if remove:
            sg.operators = [op for k, op in enumerate(sg.operators) if k not in set(remove)]
    used = {sg.tensors[i].buffer for sg in f16.subgraphs for op in (sg.operators or [])
            for i in [*(op.inputs if op.inputs is not None else []), *(op.outputs if op.outputs is not None else [])]
            if i >= 0}
    for b in freed - used:
        f16.buffers[b].data = None
    model = bytes(fu.convert_object_to_bytearray(f16)) if kept else bytes(float16_model)
    return Float16Guard(model, tuple(kept), extra)
