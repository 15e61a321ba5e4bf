"""`hub2lite inspect MODEL.tflite`: what a .tflite holds, read from the flatbuffer itself.

Signatures (names, dtypes, shapes with dynamic dims as ?), subgraphs, the op census with Flex/custom ops marked,
quantization (weight and activation dtypes, each input/output's scale and zero point, and the recipe they imply)
and its TFLite metadata (labels, normalization, descriptions, provenance; read with tflite-support when installed).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .tflite_file import FLEX_PREFIX, infer_quant_mode, op_census, read_model_bytes

__all__ = ["TfliteInfo", "inspect_tflite", "tflite_text", "quantization_summary", "metadata_summary"]

_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool", 7: "int16",
          8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64", 13: "resource", 14: "variant",
          15: "uint32", 16: "uint16", 17: "int4"}


@dataclass(frozen=True)
class TfliteInfo:
    path: str
    size_bytes: int
    sha256: str
    subgraphs: int
    signatures: tuple[dict[str, Any], ...]
    ops: Mapping[str, int]
    flex_ops: tuple[str, ...]
    custom_ops: tuple[str, ...]
    quantization: Mapping[str, Any]
    metadata: Mapping[str, Any] | None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "hub2lite.inspect-tflite/1", "path": self.path, "size_bytes": self.size_bytes,
                "sha256": self.sha256, "subgraphs": self.subgraphs, "signatures": [dict(s) for s in self.signatures],
                "ops": dict(self.ops), "flex_ops": list(self.flex_ops), "custom_ops": list(self.custom_ops),
                "quantization": dict(self.quantization),
                "metadata": None if self.metadata is None else dict(self.metadata), "notes": list(self.notes)}


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _tensor(sg: Any, index: int, name: str | None = None) -> dict[str, Any]:
    t = sg.tensors[index]
    sig = t.shapeSignature if t.shapeSignature is not None and len(t.shapeSignature) else t.shape
    shape = [None if int(d) < 0 else int(d) for d in (sig if sig is not None else [])]
    q = t.quantization
    scales = [] if q is None or q.scale is None else [float(s) for s in q.scale]
    zeros = [] if q is None or q.zeroPoint is None else [int(z) for z in q.zeroPoint]
    entry: dict[str, Any] = {"name": name or _text(t.name), "tensor": _text(t.name), "dtype": _TYPES.get(t.type, str(t.type)),
                             "shape": shape}
    if scales:
        entry["quantization"] = {"scale": scales[0] if len(scales) == 1 else scales,
                                 "zero_point": zeros[0] if len(zeros) == 1 else zeros}
    return entry


def _signatures(fb: Any) -> list[dict[str, Any]]:
    out = []
    for sd in fb.signatureDefs or []:
        sg = fb.subgraphs[sd.subgraphIndex]
        out.append({"key": _text(sd.signatureKey), "subgraph": int(sd.subgraphIndex),
                    "inputs": [_tensor(sg, tm.tensorIndex, _text(tm.name)) for tm in sd.inputs or []],
                    "outputs": [_tensor(sg, tm.tensorIndex, _text(tm.name)) for tm in sd.outputs or []]})
    if not out and fb.subgraphs:
        sg = fb.subgraphs[0]
        out.append({"key": None, "subgraph": 0, "inputs": [_tensor(sg, int(i)) for i in sg.inputs],
                    "outputs": [_tensor(sg, int(i)) for i in sg.outputs]})
    return out


def quantization_summary(model: bytes, fb: Any, signatures: list[dict[str, Any]]) -> dict[str, Any]:
    """Weight (constant) and activation tensor dtypes over every subgraph, and the recipe they imply
    (tflite_file.infer_quant_mode, as validate reads it)."""
    weights: Counter[str] = Counter()
    weight_bytes: Counter[str] = Counter()
    activations: Counter[str] = Counter()
    for sg in fb.subgraphs or []:
        for t in sg.tensors or []:
            dtype = _TYPES.get(t.type, str(t.type))
            buf = fb.buffers[t.buffer] if t.buffer < len(fb.buffers or []) else None
            size = 0 if buf is None else (len(buf.data) if buf.data is not None else int(getattr(buf, "size", 0) or 0))
            if size > 0:
                weights[dtype] += 1
                weight_bytes[dtype] += size
            else:
                activations[dtype] += 1
    io = [t for s in signatures for t in s["inputs"] + s["outputs"]]
    io_ints = sorted({t["dtype"] for t in io if t["dtype"] in ("int8", "uint8", "int16")})
    mode, evidence = infer_quant_mode(model)  # the one rule validate uses
    return {"implied_mode": mode, "evidence": evidence, "weights": dict(sorted(weights.items())),
            "weight_bytes": dict(sorted(weight_bytes.items())), "activations": dict(sorted(activations.items())),
            "integer_io": io_ints}


def metadata_summary(model: bytes) -> dict[str, Any] | None:
    """The model's TFLite metadata for inspect (None when it has none): everything read back, labels as a count and
    the first names, and what MediaPipe Tasks cannot use. Without tflite-support: present, unread, and why."""
    from .metadata import MetadataUnavailableError, has_metadata, mediapipe_notes, read_metadata

    if not has_metadata(model):
        return None
    try:
        meta = read_metadata(model)
    except MetadataUnavailableError as exc:
        return {"present": True, "readable": False, "error": str(exc)}
    if meta is None:
        return None
    data = meta.summary()
    data.update(present=True, readable=True, mediapipe_notes=list(mediapipe_notes(meta)))
    return data


def inspect_tflite(path: str | os.PathLike[str]) -> TfliteInfo:
    """Describe the .tflite at `path` (raises LoadError when it is not a valid TFLite file)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = read_model_bytes(path)
    fb = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    sigs = _signatures(fb)
    ops = op_census(model)
    flex = tuple(sorted(op[len(FLEX_PREFIX):] for op in ops if op.startswith(FLEX_PREFIX)))
    custom = tuple(sorted(op for op in ops if not op.isupper() and not op.startswith(FLEX_PREFIX)))
    notes = []
    if len(fb.subgraphs or []) > 1:
        notes.append(f"{len(fb.subgraphs)} subgraphs: TFLite metadata describes subgraph 0 only")
    if flex:
        notes.append("needs the Flex delegate (Select TF ops): runs in TensorFlow <= 2.18's interpreter, "
                     "not in ai-edge-litert")
    return TfliteInfo(str(Path(path)), len(model), hashlib.sha256(model).hexdigest(), len(fb.subgraphs or []),
                      tuple(sigs), ops, flex, custom, quantization_summary(model, fb, sigs), metadata_summary(model),
                      tuple(notes))


def _shape(shape: list[int | None]) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def tflite_text(info: Mapping[str, Any]) -> str:
    """Plain-text rendering of `TfliteInfo.to_dict()`."""
    lines = [f"path: {info['path']}", f"format: tflite ({info['size_bytes']:,} bytes, {info['subgraphs']} subgraph(s))"]
    for s in info["signatures"]:
        lines.append(f"  signature {s['key']!r} (subgraph {s['subgraph']})" if s["key"] is not None
                     else "  subgraph 0 (no signature)")
        for kind in ("inputs", "outputs"):
            for t in s[kind]:
                q = t.get("quantization")
                qtext = f"  scale {q['scale']} zero point {q['zero_point']}" if q else ""
                lines.append(f"    {kind[:-1]:6} {t['name']}: {t['dtype']} {_shape(t['shape'])}{qtext}")
    q = info["quantization"]
    lines.append(f"quantization: {q['implied_mode']} ({q['evidence']}; weights {q['weights'] or '{}'}; activations "
                 f"{q['activations'] or '{}'})")
    if info["ops"]:
        lines.append("ops:")
        width = max(len(o) for o in info["ops"])
        for op, n in info["ops"].items():
            mark = "select" if op.startswith(FLEX_PREFIX) else "custom" if op in info["custom_ops"] else "builtin"
            lines.append(f"    {op:<{width}} x{n:<4} {mark}")
    lines += _metadata_lines(info.get("metadata"))
    lines += [f"note: {n}" for n in info["notes"]]
    return "\n".join(lines)


def _metadata_lines(meta: Mapping[str, Any] | None) -> list[str]:
    if meta is None:
        return ["metadata: none (convert with --metadata to embed labels, normalization and descriptions)"]
    if not meta.get("readable"):
        return [f"metadata: present, not readable here: {meta.get('error')}"]
    lines = [f"metadata: {meta['name']!r}" + (f" version {meta['version']}" if meta.get("version") else "")]
    if meta.get("description"):
        lines.append(f"    description: {meta['description']}")
    for key, value in sorted((meta.get("provenance") or {}).items()):
        lines.append(f"    {key}: {value}")
    for inp in meta["inputs"]:
        im = inp.get("image")
        extra = (f" {im['color']} {im['height']}x{im['width']}, mean {im['mean']} std {im['std']} -> "
                 f"[{im['range'][0]:.4g}, {im['range'][1]:.4g}]") if im else ""
        lines.append(f"    input  {inp['name']}:{extra}  {inp.get('description', '')}".rstrip())
    for out in meta["outputs"]:
        labels = (f", {out['labels_count']} labels ({', '.join(out['first_labels'])}"
                  f"{', ...' if out['labels_count'] > len(out['first_labels']) else ''})") if out["labels_count"] else ""
        lines.append(f"    output {out['name']}: {out['kind']}{labels}  {out.get('description', '')}".rstrip())
    lines += [f"    mediapipe: {n}" for n in meta.get("mediapipe_notes") or ()]
    return lines
