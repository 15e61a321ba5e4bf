"""Embed TFLite metadata into .tflite bytes with tflite-support's metadata writers; read it back.

`write_metadata(model, meta) -> bytes` returns a new model: the metadata flatbuffer (name, description, version,
author, license; per input: description, image properties and normalization; per output: description and a labels
file) plus associated files packed after the flatbuffer (`labels.txt`, and `hub2lite.json` holding the provenance and
each output's kind). Existing metadata is replaced. `read_metadata(model)` returns what a consumer reads back,
as a `ModelMetadata`, or None when the model has none.

Metadata names inputs/outputs by the model's first signature (else by tensor name) and describes subgraph 0,
the one TFLite metadata covers.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError
from ..specs import TensorSpec
from .spec import (AXIS_LABEL_KINDS, ColorSpace, ImageInput, InputMetadata, ModelMetadata, OutputKind,
                   OutputMetadata)
from .support import load_tflite_support

__all__ = ["write_metadata", "read_metadata", "has_metadata", "tensor_names", "tensor_specs", "HUB2LITE_FILE",
           "METADATA_FORMAT"]

HUB2LITE_FILE = "hub2lite.json"
METADATA_FORMAT = "hub2lite.metadata/1"
_TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool", 7: "int16",
               9: "int8", 10: "float64"}


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def tensor_names(model: bytes) -> tuple[list[tuple[str, int, str]], list[tuple[str, int, str]]]:
    """([(name, tensor index, dtype)] of subgraph 0's inputs, same for outputs), in subgraph order.

    Names are the first signature's names for subgraph 0 where it has one, else the tensor names."""
    schema = load_tflite_support().schema_fb
    fb = schema.Model.GetRootAsModel(model, 0)
    sg = fb.Subgraphs(0)
    by_index: dict[int, str] = {}
    for i in range(fb.SignatureDefsLength()):
        sd = fb.SignatureDefs(i)
        if sd.SubgraphIndex() != 0:
            continue
        for j in range(sd.InputsLength()):
            by_index.setdefault(sd.Inputs(j).TensorIndex(), _text(sd.Inputs(j).Name()))
        for j in range(sd.OutputsLength()):
            by_index.setdefault(sd.Outputs(j).TensorIndex(), _text(sd.Outputs(j).Name()))
        break

    def listing(indices: Sequence[int]) -> list[tuple[str, int, str]]:
        out = []
        for idx in indices:
            t = sg.Tensors(idx)
            out.append((by_index.get(idx, _text(t.Name())), idx, _TYPE_NAMES.get(t.Type(), f"type{t.Type()}")))
        return out

    return (listing([sg.Inputs(i) for i in range(sg.InputsLength())]),
            listing([sg.Outputs(i) for i in range(sg.OutputsLength())]))


def tensor_specs(model: bytes) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """Subgraph 0's inputs and outputs as TensorSpecs named as in `tensor_names` (dynamic dims as None)."""
    schema = load_tflite_support().schema_fb
    sg = schema.Model.GetRootAsModel(model, 0).Subgraphs(0)

    def spec(name: str, index: int, dtype: str) -> TensorSpec:
        t = sg.Tensors(index)
        dims = t.ShapeSignatureAsNumpy() if t.ShapeSignatureLength() else (
            t.ShapeAsNumpy() if t.ShapeLength() else [])
        return TensorSpec(name, dtype, tuple(None if int(d) < 0 else int(d) for d in dims))

    ins, outs = tensor_names(model)
    return tuple(spec(*i) for i in ins), tuple(spec(*o) for o in outs)


def _match(names: list[tuple[str, int, str]], given: Sequence[InputMetadata | OutputMetadata], what: str,
           model_names: list[str]) -> list[Any]:
    """Metadata entries in subgraph order (None where the caller described nothing)."""
    known = {n for n, _, _ in names} | set(model_names)
    unknown = [g.name for g in given if g.name not in known]
    if unknown:
        raise ConfigError(f"metadata names {what}(s) {unknown} the model does not have; its {what}s are "
                          f"{[n for n, _, _ in names]}", hint="name inputs/outputs as the .tflite's signature does")
    found = {g.name: g for g in given}
    return [found.get(n, found.get(tn)) for (n, _, _), tn in zip(names, model_names)]


def _strip(model: bytes, tfs: Any) -> bytes:
    """The flatbuffer alone, without the associated files packed after it (a zip) by an earlier metadata write.

    An existing TFLITE_METADATA entry stays: the populator overwrites its buffer in place."""
    if not _has_zip(model):
        return model
    import flatbuffers

    obj = tfs.schema_fb.ModelT.InitFromObj(tfs.schema_fb.Model.GetRootAsModel(model, 0))
    builder = flatbuffers.Builder(0)
    builder.Finish(obj.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def _has_zip(model: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(model)) as zf:
            return bool(zf.namelist())
    except zipfile.BadZipFile:
        return False


def _label_file_names(outputs: Sequence[OutputMetadata | None]) -> dict[str, str]:
    labeled = [o for o in outputs if o is not None and o.labels is not None]
    if len(labeled) == 1:
        return {labeled[0].name: "labels.txt"}
    safe = {o.name: "".join(c if c.isalnum() or c in "-_" else "_" for c in o.name) for o in labeled}
    return {name: f"labels_{s}.txt" for name, s in safe.items()}


def _input_md(tfs: Any, inp: InputMetadata | None, name: str, dtype: str) -> Any:
    info, md_fb, schema = tfs.info, tfs.metadata_fb, tfs.schema_fb
    if inp is None:
        return info.TensorMd(name=name).create_metadata()
    if inp.image is None:
        return info.TensorMd(name=name, description=inp.description or None).create_metadata()
    image = inp.image
    color = md_fb.ColorSpaceType.GRAYSCALE if image.color is ColorSpace.GRAYSCALE else md_fb.ColorSpaceType.RGB
    tensor_type = schema.TensorType.UINT8 if dtype == "uint8" else (
        schema.TensorType.FLOAT32 if dtype == "float32" else None)
    return info.InputImageTensorMd(name=name, description=inp.description or None, norm_mean=list(image.mean),
                                   norm_std=list(image.std), color_space_type=color,
                                   tensor_type=tensor_type).create_metadata()


def _output_md(tfs: Any, out: OutputMetadata | None, name: str, label_file: str | None) -> Any:
    info, md_fb = tfs.info, tfs.metadata_fb
    if out is None:
        return info.TensorMd(name=name).create_metadata()
    files = []
    if label_file is not None:
        kind = (md_fb.AssociatedFileType.TENSOR_AXIS_LABELS if out.kind in AXIS_LABEL_KINDS
                else md_fb.AssociatedFileType.TENSOR_VALUE_LABELS)
        files.append(info.AssociatedFileMd(label_file, "Labels for categories that the model can recognize.", kind))
    md = info.TensorMd(name=name, description=out.description, associated_files=files or None).create_metadata()
    if out.kind is OutputKind.PROBABILITIES:
        md.stats.min, md.stats.max = [0.0], [1.0]
    return md


def write_metadata(model: bytes, meta: ModelMetadata) -> bytes:
    """A copy of `model` carrying `meta` (replacing any metadata it had). Raises MetadataUnavailableError when
    tflite-support is missing, ConfigError when `meta` names tensors the model does not have."""
    tfs = load_tflite_support()
    base = _strip(bytes(model), tfs)
    ins, outs = tensor_names(base)
    sg = tfs.schema_fb.Model.GetRootAsModel(base, 0).Subgraphs(0)
    in_tensor = [_text(sg.Tensors(i).Name()) for _, i, _ in ins]
    out_tensor = [_text(sg.Tensors(i).Name()) for _, i, _ in outs]
    in_meta = _match(ins, meta.inputs, "input", in_tensor)
    out_meta = _match(outs, meta.outputs, "output", out_tensor)
    for (name, _, dtype), inp in zip(ins, in_meta):
        if inp is not None and inp.image is not None and dtype not in ("float32", "uint8", "int8", "float16"):
            raise ConfigError(f"input {name!r} is {dtype}: image metadata describes float or 8-bit image inputs")
    label_names = _label_file_names(out_meta)
    with tempfile.TemporaryDirectory(prefix="hub2lite-metadata-") as tmp:
        paths = []
        for out in out_meta:
            if out is not None and out.name in label_names:
                path = os.path.join(tmp, label_names[out.name])
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write("\n".join(out.labels or ()) + "\n")
                paths.append(path)
        sidecar = os.path.join(tmp, HUB2LITE_FILE)
        with open(sidecar, "w", encoding="utf-8") as fh:
            json.dump({"format": METADATA_FORMAT, **meta.to_dict()}, fh, indent=1, sort_keys=True)
        paths.append(sidecar)
        general = tfs.info.GeneralMd(name=meta.name, version=meta.version or None,
                                     description=meta.description or None, author=meta.author or None,
                                     licenses=meta.license or None).create_metadata()
        general.associatedFiles = [tfs.info.AssociatedFileMd(
            sidecar, "hub2lite: provenance of this model and the kind of each output (JSON)",
            tfs.metadata_fb.AssociatedFileType.DESCRIPTIONS).create_metadata()]
        inputs = [_input_md(tfs, inp, name, dtype) for (name, _, dtype), inp in zip(ins, in_meta)]
        outputs = [_output_md(tfs, out, name, label_names.get(out.name) if out is not None else None)
                   for (name, _, _), out in zip(outs, out_meta)]
        writer = tfs.writer.create_from_metadata(bytearray(base), general, inputs, outputs, associated_files=paths)
        return bytes(writer.populate())


def has_metadata(model: bytes) -> bool:
    """Whether `model` carries TFLite metadata (reads the flatbuffer with TensorFlow's schema; no tflite-support)."""
    from tensorflow.lite.python import schema_py_generated as schema

    fb = schema.Model.GetRootAsModel(model, 0)
    return any(_text(fb.Metadata(i).Name()) == "TFLITE_METADATA" for i in range(fb.MetadataLength()))


def _float32s(values: Sequence[float]) -> tuple[float, ...]:
    """Metadata stores float32: give back the shortest decimals that round-trip it (123.675, not 123.675003)."""
    import numpy as np

    return tuple(float(str(np.float32(v))) for v in values)


def _image(tensor_md: dict[str, Any], shape: Sequence[int]) -> ImageInput | None:
    content = tensor_md.get("content") or {}
    if content.get("content_properties_type") != "ImageProperties":
        return None
    props = content.get("content_properties") or {}
    color = ColorSpace.GRAYSCALE if props.get("color_space") == "GRAYSCALE" else ColorSpace.RGB
    mean, std = (0.0,), (1.0,)
    for unit in tensor_md.get("process_units") or ():
        if unit.get("options_type") == "NormalizationOptions":
            opts = unit.get("options") or {}
            mean, std = _float32s(opts.get("mean") or (0.0,)), _float32s(opts.get("std") or (1.0,))
    height, width = (int(shape[1]), int(shape[2])) if len(shape) == 4 else (1, 1)
    return ImageInput(color, max(height, 1), max(width, 1), mean, std)


def read_metadata(model: bytes) -> ModelMetadata | None:
    """The metadata a consumer reads from `model` (labels from its packed label files; hub2lite's provenance and
    output kinds from hub2lite.json when present), or None when it has none."""
    tfs = load_tflite_support()
    if tfs.metadata.get_metadata_buffer(model) is None:
        return None
    shown = tfs.metadata.MetadataDisplayer.with_model_buffer(bytes(model))
    data = json.loads(shown.get_metadata_json())
    packed = set(shown.get_packed_associated_file_list())

    def file_text(name: str) -> str | None:
        return shown.get_associated_file_buffer(name).decode("utf-8") if name in packed else None

    extra: dict[str, Any] = {}
    sidecar = file_text(HUB2LITE_FILE)
    if sidecar:
        extra = json.loads(sidecar)
    kinds = {o["name"]: o.get("kind", "values") for o in extra.get("outputs", ())}
    sg_md = (data.get("subgraph_metadata") or [{}])[0]
    fb = tfs.schema_fb.Model.GetRootAsModel(model, 0)
    sg = fb.Subgraphs(0)
    inputs = []
    for k, tmd in enumerate(sg_md.get("input_tensor_metadata") or ()):
        tensor = sg.Tensors(sg.Inputs(k)) if k < sg.InputsLength() else None
        shape = [] if tensor is None else [int(d) for d in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else []
        inputs.append(InputMetadata(tmd.get("name", f"input_{k}"), tmd.get("description", ""), _image(tmd, shape)))
    outputs = []
    for k, tmd in enumerate(sg_md.get("output_tensor_metadata") or ()):
        name = tmd.get("name", f"output_{k}")
        labels = None
        axis = False
        for f in tmd.get("associated_files") or ():
            if f.get("type") in ("TENSOR_AXIS_LABELS", "TENSOR_VALUE_LABELS") and labels is None:
                text = file_text(f["name"])
                if text is not None:
                    labels = tuple(text.splitlines())
                    axis = f.get("type") == "TENSOR_AXIS_LABELS"
        default = OutputKind.PROBABILITIES if axis else OutputKind.VALUES
        outputs.append(OutputMetadata(name, OutputKind(kinds.get(name, default.value)),
                                      tmd.get("description", ""), labels))
    return ModelMetadata(data.get("name", ""), data.get("description", ""), data.get("version", ""),
                         data.get("author", ""), data.get("license", ""), extra.get("provenance") or {},
                         tuple(inputs), tuple(outputs))
