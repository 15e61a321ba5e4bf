"""Read facts straight from a .tflite flatbuffer: op census, Flex ops, tensor types."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from .errors import LoadError

__all__ = ["infer_quant_mode", "is_tflite_path", "read_model_bytes", "check_flatbuffer", "is_tflite", "op_census",
           "flex_ops", "float_compute_ops", "add_signature", "signature_keys", "op_graph", "FLEX_PREFIX"]

FLEX_PREFIX = "Flex"


def is_tflite(data: bytes) -> bool:
    """TFLite flatbuffers carry the file identifier 'TFL3' at bytes 4..8."""
    return len(data) >= 8 and data[4:8] == b"TFL3"


def is_tflite_path(path: str | os.PathLike[str]) -> bool:
    """A .tflite file by its suffix or by its 'TFL3' identifier (a folder or a hub handle is not)."""
    p = Path(path)
    if p.suffix.lower() == ".tflite":
        return True
    try:
        with open(p, "rb") as fh:
            return fh.read(8)[4:8] == b"TFL3"
    except OSError:
        return False


def read_model_bytes(path: str | os.PathLike[str]) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise LoadError(f"TFLite model {str(p)!r} does not exist", hint="check the path")
    data = p.read_bytes()
    if not is_tflite(data):
        raise LoadError(f"{str(p)!r} is not a TFLite flatbuffer (no 'TFL3' identifier)",
                        hint="give a .tflite file written by a TFLite converter")
    check_flatbuffer(data, str(p))
    return data


def check_flatbuffer(data: bytes, where: str) -> None:
    """Raise LoadError when `data` fails LiteRT's flatbuffer verifier (a truncated or corrupt .tflite), instead of
    an internal error deep in a parser. Uses ai_edge_litert (C++ verifier, milliseconds), not TensorFlow."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    try:
        Interpreter(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    except ValueError as exc:
        if "not a valid flatbuffer" in str(exc).lower():
            raise LoadError(f"{where!r} is a truncated or corrupt TFLite file: it fails the flatbuffer verifier",
                            hint="convert or download the model again") from exc
        # other construction failures (e.g. ops this runtime lacks) are reported by the runner that needs them


def _op_names(fb: Any) -> list[str]:
    """The name of each operator code of a model object: schema name for builtins, the code for custom ops."""
    from tensorflow.lite.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = []
    for oc in fb.operatorCodes:
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        if code == schema.BuiltinOperator.CUSTOM and oc.customCode:
            custom = oc.customCode.decode() if isinstance(oc.customCode, bytes) else str(oc.customCode)
            codes.append(custom)
        else:
            codes.append(names.get(code, f"BUILTIN_{code}"))
    return codes


def op_census(model: bytes) -> dict[str, int]:
    """{op name: count} over every subgraph; builtin ops by their schema name, custom ops by their code."""
    from tensorflow.lite.tools import flatbuffer_utils

    fb = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    codes = _op_names(fb)
    counts: Counter[str] = Counter()
    for sg in fb.subgraphs or []:
        for op in sg.operators or []:
            counts[codes[op.opcodeIndex]] += 1
    return dict(sorted(counts.items()))


def float_compute_ops(model: bytes) -> tuple[str, ...]:
    """Ops (other than QUANTIZE/DEQUANTIZE) that read or write a floating-point tensor: what an
    'integer-only' model must not contain."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    floating = {schema.TensorType.FLOAT32, schema.TensorType.FLOAT16, schema.TensorType.FLOAT64}
    fb = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    codes = _op_names(fb)
    found: set[str] = set()
    for sg in fb.subgraphs or []:
        for op in sg.operators or []:
            name = codes[op.opcodeIndex]
            if name in ("QUANTIZE", "DEQUANTIZE"):
                continue
            tensors = [int(i) for i in list(op.inputs if op.inputs is not None else []) +
                       list(op.outputs if op.outputs is not None else []) if int(i) >= 0]
            if any(sg.tensors[i].type in floating for i in tensors):
                found.add(name)
    return tuple(sorted(found))


def flex_ops(model: bytes) -> tuple[str, ...]:
    """TF op names run through the Flex delegate (custom codes 'FlexXxx' -> 'Xxx'), sorted, without duplicates.
    Read with ai_edge_litert's schema: no TensorFlow import (the benchmark child measures memory without it)."""
    from ai_edge_litert import schema_py_generated as schema

    fb = schema.Model.GetRootAs(model, 0)
    names = set()
    for i in range(fb.OperatorCodesLength()):
        custom = fb.OperatorCodes(i).CustomCode()
        text = custom.decode("utf-8", "replace") if custom else ""
        if text.startswith(FLEX_PREFIX):
            names.add(text[len(FLEX_PREFIX):])
    return tuple(sorted(names))


def infer_quant_mode(model: bytes) -> tuple[str, str]:
    """The quantization mode a .tflite was made with, read from its tensors: (mode value, evidence).

    int16 activations -> int16x8; int8/uint8 activations -> int8 (int8-strict when the model's inputs are
    integers too); float16 weights with DEQUANTIZE -> float16; int8 weights with float activations -> dynamic;
    else float32."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    t = schema.TensorType
    fb = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    ops = set(_op_names(fb))
    weights: set[int] = set()
    activations: set[int] = set()
    strict = False
    for sg in fb.subgraphs or []:
        for tensor in sg.tensors or []:
            buf = fb.buffers[tensor.buffer] if 0 <= tensor.buffer < len(fb.buffers or []) else None
            constant = buf is not None and buf.data is not None and len(buf.data) > 0
            (weights if constant else activations).add(int(tensor.type))
        inputs = [sg.tensors[int(i)] for i in (sg.inputs if sg.inputs is not None else [])]
        strict = strict or bool(inputs) and all(x.type in (t.INT8, t.UINT8) for x in inputs)
    if t.INT16 in activations and t.INT8 in weights:
        return "int16x8", "int16 activations with int8 weights"
    if activations & {t.INT8, t.UINT8} and t.INT8 in weights:
        if strict:
            return "int8-strict", "int8 activations and integer model inputs"
        return "int8", "int8 activations with float model inputs"
    if t.FLOAT16 in weights and "DEQUANTIZE" in ops:
        return "float16", "float16 weights dequantized at load"
    if t.INT8 in weights and t.FLOAT32 in activations:
        return "dynamic", "int8 weights with float activations"
    return "float32", "float weights and activations"


def signature_keys(model: bytes) -> tuple[str, ...]:
    from tensorflow.lite.tools import flatbuffer_utils

    fb = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    return tuple(_text(sd.signatureKey) for sd in fb.signatureDefs or [])


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def add_signature(model: bytes, key: str, inputs: list[str], outputs: list[str]) -> bytes:
    """Give a single-subgraph model (e.g. one converted from a frozen graph) a SignatureDef, so that
    runtimes' signature runners can address its tensors by name. `inputs`/`outputs` name the
    subgraph's input/output tensors in order."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    fb = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    sg = fb.subgraphs[0]
    if len(sg.inputs) != len(inputs) or len(sg.outputs) != len(outputs):
        raise ValueError(f"subgraph has {len(sg.inputs)} inputs/{len(sg.outputs)} outputs, "
                         f"names given for {len(inputs)}/{len(outputs)}")

    def tensor_map(name: str, index: int) -> object:
        tm = schema.TensorMapT()
        tm.name, tm.tensorIndex = name, int(index)
        return tm

    sd = schema.SignatureDefT()
    sd.signatureKey = key
    sd.subgraphIndex = 0
    sd.inputs = [tensor_map(n, i) for n, i in zip(inputs, sg.inputs)]
    sd.outputs = [tensor_map(n, i) for n, i in zip(outputs, sg.outputs)]
    fb.signatureDefs = [sd]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(fb))


def op_graph(model: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    """[{op, inputs, outputs}] in execution order of subgraph 0 (op: builtin or custom name; inputs and
    outputs: tensor indices), and the tensor names."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    fb = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    sg = fb.subgraphs[0]
    tensor_names = [t.name.decode() if isinstance(t.name, bytes) else str(t.name) for t in sg.tensors]
    ops = []
    for op in sg.operators or []:
        oc = fb.operatorCodes[op.opcodeIndex]
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        name = names.get(code, f"BUILTIN_{code}")
        if code == schema.BuiltinOperator.CUSTOM and oc.customCode:
            name = oc.customCode.decode() if isinstance(oc.customCode, bytes) else str(oc.customCode)
        inputs = [int(i) for i in (op.inputs if op.inputs is not None else []) if int(i) >= 0]
        outputs = [int(i) for i in (op.outputs if op.outputs is not None else [])]
        ops.append({"op": name, "inputs": inputs, "outputs": outputs})
    return ops, tensor_names
