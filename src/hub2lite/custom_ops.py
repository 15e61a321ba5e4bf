"""Custom operators in a .tflite: what `--allow-custom-ops` leaves for the app to implement.

The converter (with `allow_custom_ops`) writes each op that has neither a TFLite builtin nor a Select TF kernel
as a CUSTOM operator named after the TF op, with the TF op's attributes serialized as a FlexBuffer map in the
operator's custom options (type attributes as TFLite TensorType numbers). This module reads them back from the
flatbuffer: name, input and output tensors (name, dtype, shape) and the decoded attributes. Flex ops
(`FlexXxx`, run by the Select TF ops delegate) are not custom ops in this sense and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .specs import TensorSpec
from .tflite_file import FLEX_PREFIX

__all__ = ["CustomOp", "custom_ops", "custom_op_names", "custom_op_codes", "require_kernels"]

#: schema.fbs: BuiltinOperator.CUSTOM, and the field slots read below (Model.operator_codes; OperatorCode's
#: deprecated_builtin_code, custom_code, builtin_code).
_CUSTOM = 32
_MODEL_OPERATOR_CODES, _OC_DEPRECATED, _OC_CUSTOM_CODE, _OC_BUILTIN = 4 + 2 * 1, 4, 6, 10


@dataclass(frozen=True)
class CustomOp:
    name: str  # the custom code, e.g. "UnicodeScript"
    subgraph: int
    index: int  # operator index in its subgraph
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "subgraph": self.subgraph, "index": self.index,
                "inputs": [s.to_dict() for s in self.inputs], "outputs": [s.to_dict() for s in self.outputs],
                "attributes": dict(self.attributes)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _type_names() -> dict[int, str]:
    from tensorflow.lite.python import schema_py_generated as schema

    return {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}


def _type_attrs(op: str) -> set[str]:
    """Names of the TF op's attributes of type `type` / `list(type)` (their values are TensorType numbers)."""
    try:
        from tensorflow.python.framework import op_def_registry

        op_def = op_def_registry.get(op)
    except Exception:  # noqa: BLE001 - an op unknown to this TensorFlow: values stay numbers
        return set()
    return {a.name for a in op_def.attr if a.type in ("type", "list(type)")} if op_def is not None else set()


def _json_safe(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return value.hex()
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


def _attributes(op: str, options: Any, types: Mapping[int, str]) -> dict[str, Any]:
    if options is None or len(options) == 0:
        return {}
    from flatbuffers import flexbuffers

    try:
        decoded = flexbuffers.Loads(bytes(bytearray(options)))
    except Exception:  # noqa: BLE001 - not a FlexBuffer (a hand-written custom op): report the raw bytes
        return {"_raw_hex": bytes(bytearray(options)).hex()}
    if not isinstance(decoded, Mapping):
        return {"_value": _json_safe(decoded)}
    typed = _type_attrs(op)
    out: dict[str, Any] = {}
    for key, value in decoded.items():
        k = _text(key)
        if k in typed and isinstance(value, int):
            out[k] = types.get(value, value)
        elif k in typed and isinstance(value, list):
            out[k] = [types.get(v, v) for v in value]
        else:
            out[k] = _json_safe(value)
    return dict(sorted(out.items()))


def custom_ops(model: bytes) -> tuple[CustomOp, ...]:
    """Every custom (non-Flex) operator of `model`, in subgraph and execution order."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    fb = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    types = _type_names()
    found: list[CustomOp] = []
    for si, sg in enumerate(fb.subgraphs or []):
        def spec(i: int) -> TensorSpec:
            t = sg.tensors[i]
            sig = t.shapeSignature if t.shapeSignature is not None and len(t.shapeSignature) else t.shape
            shape = tuple(None if int(d) < 0 else int(d) for d in (sig if sig is not None else []))
            return TensorSpec(_text(t.name), types.get(t.type, str(t.type)), shape)

        for oi, op in enumerate(sg.operators or []):
            code = fb.operatorCodes[op.opcodeIndex]
            if max(int(code.builtinCode), int(code.deprecatedBuiltinCode)) != schema.BuiltinOperator.CUSTOM:
                continue
            name = _text(code.customCode or b"")
            if name.startswith(FLEX_PREFIX):
                continue
            ins = tuple(spec(int(i)) for i in (op.inputs if op.inputs is not None else []) if int(i) >= 0)
            outs = tuple(spec(int(i)) for i in (op.outputs if op.outputs is not None else []) if int(i) >= 0)
            found.append(CustomOp(name, si, oi, ins, outs, _attributes(name, op.customOptions, types)))
    return tuple(found)


def custom_op_names(model: bytes) -> tuple[str, ...]:
    """The distinct custom op names of `model` (sorted); () when every op has a kernel in LiteRT or Flex."""
    return tuple(sorted({op.name for op in custom_ops(model)}))


def custom_op_codes(model: bytes) -> tuple[str, ...]:
    """The custom (non-Flex) op codes of `model`, read with the pure-Python flatbuffers runtime: no TensorFlow
    import, so `bench` and the runners can refuse a model with missing kernels before loading any runtime."""
    from flatbuffers import encode, number_types, table

    buf = bytearray(model)
    root = table.Table(buf, encode.Get(number_types.UOffsetTFlags.packer_type, buf, 0))
    o = root.Offset(_MODEL_OPERATOR_CODES)
    if not o:
        return ()
    start, names = root.Vector(o), []
    for i in range(root.VectorLen(o)):
        code = table.Table(buf, root.Indirect(start + 4 * i))
        dep = code.Offset(_OC_DEPRECATED)
        new = code.Offset(_OC_BUILTIN)
        builtin = max(code.Get(number_types.Int8Flags, code.Pos + dep) if dep else 0,
                      code.Get(number_types.Int32Flags, code.Pos + new) if new else 0)
        text = code.Offset(_OC_CUSTOM_CODE)
        if builtin == _CUSTOM and text:
            name = code.String(code.Pos + text).decode()
            if not name.startswith(FLEX_PREFIX):
                names.append(name)
    return tuple(sorted(set(names)))


def require_kernels(model: bytes, where: str = "the .tflite model") -> None:
    """Raise MissingKernelsError when `model` holds custom ops: nothing here can run it (never a crash deep in
    an interpreter)."""
    from .errors import MissingKernelsError

    names = custom_op_codes(model)
    if names:
        raise MissingKernelsError(f"{where} cannot run without kernels for its custom ops {list(names)} "
                                  "(converted with --allow-custom-ops)",
                                  hint="register kernels for them in your app's op resolver; hub2lite can neither "
                                       "validate nor benchmark it (convert with --split-unsupported to get a model "
                                       "that runs)", ops=names)
