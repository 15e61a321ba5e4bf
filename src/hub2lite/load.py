"""Load a resolved model into callable entry points with known input/output specs.

Every entry point is called the same way: `entry(feed) -> {output_name: tensor}`, whether it is a
SavedModel signature (keyword inputs, dict outputs) or a traced `__call__` on a SavedModel that has
no serving signature (positional inputs, tensor or tuple outputs).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError, LoadError
from .resolve import ResolvedModel
from .specs import ModelFormat, SignatureInfo, TensorSpec

__all__ = ["LoadedModel", "EntryPoint", "LoadOptions", "load", "detect_format", "tensor_spec_from_tf",
           "outputs_as_dict", "keras_file_facts", "UNSAFE_KERAS_LAYERS"]

log = logging.getLogger(__name__)

CALL = "__call__"


def detect_format(path: str | os.PathLike[str]) -> ModelFormat:
    p = Path(path)
    if p.is_dir():
        if (p / "tfhub_module.pb").exists():
            return ModelFormat.TF1_HUB
        if (p / "saved_model.pb").exists() or (p / "saved_model.pbtxt").exists():
            return ModelFormat.SAVED_MODEL
        raise LoadError(
            f"folder {str(p)!r} is not a SavedModel: it has no saved_model.pb",
            hint="point at the folder that contains saved_model.pb (and variables/)",
        )
    suffix = p.suffix.lower()
    if suffix in (".keras", ".h5", ".hdf5"):
        return ModelFormat.KERAS
    if suffix == ".pb":
        return ModelFormat.FROZEN_GRAPH
    if suffix == ".tflite":
        raise LoadError(f"{str(p)!r} is already a TFLite model", hint="use `hub2lite validate` or `hub2lite bench` on it")
    raise LoadError(
        f"cannot tell what kind of model {str(p)!r} is",
        hint="give a SavedModel folder, a .tar.gz of one, a .keras/.h5 file or a frozen .pb graph",
    )


def tensor_spec_from_tf(name: str, spec: Any) -> TensorSpec:
    """TensorSpec from a tf.TensorSpec / tf.Tensor (anything with .dtype and .shape)."""
    dtype_name = spec.dtype.name  # 'float32', 'int32', 'string', 'bool', ...
    shape = None if spec.shape.rank is None else tuple(spec.shape.as_list())
    return TensorSpec(name, dtype_name, shape)


def _nest() -> Any:
    from tensorflow.python.util import nest  # flatten_with_joined_string_paths is not in tf.nest

    return nest


def outputs_as_dict(out: Any) -> dict[str, Any]:
    """Normalise what a model returns to {name: tensor}: dicts keep their keys (nested ones joined by '/'),
    a single tensor is 'output_0', a tuple/list is 'output_<i>'."""
    import tensorflow as tf

    if isinstance(out, Mapping):
        flat = _nest().flatten_with_joined_string_paths(dict(out))
        return {str(k): v for k, v in flat}
    if isinstance(out, (list, tuple)):
        flat = tf.nest.flatten(out)
        return {f"output_{i}": v for i, v in enumerate(flat)}
    return {"output_0": out}


@dataclass(frozen=True)
class EntryPoint:
    """One callable of a model. `feed` maps input names (as in `info.inputs`) to arrays/tensors."""

    info: SignatureInfo
    fn: Any  # tf ConcreteFunction (or any callable following the templates)
    args_template: tuple[Any, ...] = ()
    kwargs_template: Mapping[str, Any] = field(default_factory=dict)
    leaf_names: tuple[str, ...] = ()  # input name for each TensorSpec leaf of (args, kwargs), in nest order

    def __call__(self, feed: Mapping[str, Any]) -> dict[str, Any]:
        import tensorflow as tf

        missing = [n for n in self.leaf_names if n not in feed]
        if missing:
            raise ConfigError(f"missing input(s) {missing} for {self.info.name!r}",
                              hint=f"feed all of {list(self.leaf_names)}")
        values = iter([feed[n] for n in self.leaf_names])
        structure = (self.args_template, dict(self.kwargs_template))
        args, kwargs = tf.nest.map_structure(
            lambda leaf: next(values) if isinstance(leaf, tf.TensorSpec) else leaf, structure)
        return outputs_as_dict(self.fn(*args, **kwargs))


@dataclass(frozen=True)
class LoadedModel:
    resolved: ResolvedModel
    format: ModelFormat
    obj: Any  # the trackable that owns the variables (or the Keras model)
    entries: Mapping[str, EntryPoint]
    tags: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()
    frozen_parameters: int | None = None  # frozen graphs: scalars in their weight constants (they have no variables)

    @property
    def signatures(self) -> tuple[SignatureInfo, ...]:
        return tuple(e.info for e in self.entries.values())

    def choose(self, name: str | None = None) -> EntryPoint:
        """The entry point called `name`; by default 'serving_default', else 'default', else the only one."""
        names = list(self.entries)
        if not names:
            raise LoadError(
                f"model {self.resolved.source!r} has no serving signature and no traced __call__",
                hint="re-export it with tf.saved_model.save(obj, path, signatures=...) or model.export(path)",
            )
        if name is not None:
            if name not in self.entries:
                raise ConfigError(f"unknown signature {name!r}; the model has {names}",
                                  hint=f"pass --signature with one of {names}")
            return self.entries[name]
        for preferred in ("serving_default", "default"):
            if preferred in self.entries:
                return self.entries[preferred]
        if len(names) == 1:
            return self.entries[names[0]]
        raise ConfigError(f"the model has several signatures {names} and none is 'serving_default'",
                          hint=f"choose one with --signature (one of {names})")

    def parameter_count(self) -> int:
        """Number of scalars in the model's variables (frozen graphs: in their float weight constants)."""
        import numpy as np

        if self.frozen_parameters is not None:
            return self.frozen_parameters

        variables = getattr(self.obj, "variables", None)
        if variables is not None:
            try:
                return int(sum(int(np.prod(v.shape)) for v in variables))
            except (TypeError, ValueError):
                pass
        prefix = Path(self.resolved.path) / "variables" / "variables"
        if Path(str(prefix) + ".index").exists():
            import tensorflow as tf

            return int(sum(int(np.prod(shape)) for name, shape in tf.train.list_variables(str(prefix))
                           if not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")))
        return 0


def _entry_from_function(name: str, fn: Any, kind: str) -> EntryPoint:
    import tensorflow as tf

    args, kwargs = fn.structured_input_signature
    names: list[str] = []
    used: set[str] = set()

    def leaf_name(path: str, spec: Any, index: int) -> str:
        base = path or (spec.name if getattr(spec, "name", None) else f"input_{index}")
        candidate, k = base, 1
        while candidate in used:
            candidate, k = f"{base}_{k}", k + 1
        used.add(candidate)
        return candidate

    inputs: list[TensorSpec] = []
    for i, spec in enumerate(tf.nest.flatten(args)):
        if isinstance(spec, tf.TensorSpec):
            n = leaf_name("", spec, len(inputs))
            names.append(n)
            inputs.append(tensor_spec_from_tf(n, spec))
    for path, spec in _nest().flatten_with_joined_string_paths(dict(kwargs)):
        if isinstance(spec, tf.TensorSpec):
            n = leaf_name(path, spec, len(inputs))
            names.append(n)
            inputs.append(tensor_spec_from_tf(n, spec))
    outputs = tuple(tensor_spec_from_tf(k, v) for k, v in outputs_as_dict(fn.structured_outputs).items())
    info = SignatureInfo(name, tuple(inputs), outputs, kind=kind)
    return EntryPoint(info, fn, tuple(args), dict(kwargs), tuple(names))


def _traced_call_entries(obj: Any) -> dict[str, EntryPoint]:
    """Entry points from a restored `__call__` (a SavedModel saved with no signatures)."""
    import tensorflow as tf

    call = getattr(obj, "__call__", None)
    concrete = list(getattr(call, "concrete_functions", None) or [])
    candidates = []
    for fn in concrete:
        args, kwargs = fn.structured_input_signature
        leaves = tf.nest.flatten((args, kwargs))
        if not any(isinstance(x, tf.TensorSpec) for x in leaves):
            continue
        training = [x for p, x in _nest().flatten_with_joined_string_paths(dict(kwargs)) if p == "training"]
        # prefer inference traces (training=False), then the most general (most dynamic dims)
        penalty = 1 if training and training[0] is True else 0
        dyn = -sum(1 for x in leaves if isinstance(x, tf.TensorSpec) and x.shape.rank is not None
                   for d in x.shape.as_list() if d is None)
        candidates.append((penalty, dyn, fn))
    if not candidates:
        return {}
    candidates.sort(key=lambda t: (t[0], t[1]))
    if len(candidates) > 1:
        log.info("__call__ has %d traces; using the inference trace with the most dynamic dims", len(candidates))
    return {CALL: _entry_from_function(CALL, candidates[0][2], kind="call")}


def _load_saved_model(resolved: ResolvedModel, fmt: ModelFormat, tags: tuple[str, ...] | None,
                      options: LoadOptions | None = None) -> LoadedModel:
    import tensorflow as tf

    path = resolved.path
    if fmt is ModelFormat.TF1_HUB and tags is None:
        tags = ()  # the TF1 Hub format stores its inference graph under the empty tag set
    try:
        obj = tf.saved_model.load(path, tags=list(tags) if tags is not None else None)
    except Exception as exc:  # noqa: BLE001 - TF raises many types for a bad SavedModel
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "MetaGraphDef associated with tags" in str(exc):
            raise LoadError(f"{path!r} has no graph for tags {list(tags or ['serve'])}: {first}",
                            hint="pass --tags with one of the model's tag sets (see `saved_model_cli show --dir`)") from exc
        raise LoadError(f"cannot load SavedModel {path!r}: {type(exc).__name__}: {first}",
                        hint="the model files may be truncated or corrupt; fetch or export them again") from exc
    entries: dict[str, EntryPoint] = {}
    for name, fn in dict(getattr(obj, "signatures", {}) or {}).items():
        entries[name] = _entry_from_function(name, fn, kind="signature")
    notes: list[str] = []
    if not entries:
        entries = _traced_call_entries(obj)
        if entries:
            notes.append("no serving signature: using the traced __call__")
    return LoadedModel(resolved, fmt, obj, entries, tags=tags, notes=tuple(notes))


@dataclass(frozen=True)
class LoadOptions:
    """Per-format loading choices (the CLI's --unsafe-keras, --input-names, --output-names)."""

    unsafe_keras: bool = False  # allow Keras files whose config holds Python code (Lambda layers)
    input_names: tuple[str, ...] = ()  # frozen graphs: tensor names to feed ("x" or "x:0")
    output_names: tuple[str, ...] = ()  # frozen graphs: tensor names to fetch

    def to_dict(self) -> dict[str, Any]:
        return {"unsafe_keras": self.unsafe_keras, "input_names": list(self.input_names),
                "output_names": list(self.output_names)}


# --- Keras files ---------------------------------------------------------------------------------------

#: Layers whose saved config carries Python code (marshalled bytecode) instead of a registered class.
UNSAFE_KERAS_LAYERS = frozenset({"Lambda"})


def keras_file_facts(path: str | os.PathLike[str]) -> tuple[str | None, dict[str, Any]]:
    """(keras_version that wrote the file, model config) of a .keras zip or an .h5 file, without loading it."""
    import json
    import zipfile

    p = Path(path)
    try:
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as z:
                names = set(z.namelist())
                meta = json.loads(z.read("metadata.json")) if "metadata.json" in names else {}
                config = json.loads(z.read("config.json")) if "config.json" in names else {}
            return meta.get("keras_version"), config
        import h5py

        with h5py.File(p, "r") as f:
            attrs = dict(f.attrs)
    except (OSError, ValueError, KeyError) as exc:
        raise LoadError(f"{str(p)!r} is not a readable Keras file: {exc}",
                        hint="give a .keras file saved by model.save() or an HDF5 .h5 model") from exc

    def text(v: Any) -> str | None:
        return v.decode() if isinstance(v, bytes) else (None if v is None else str(v))

    raw = text(attrs.get("model_config"))
    if raw is None:
        raise LoadError(f"{str(p)!r} holds weights only (no model_config)",
                        hint="save the whole model (model.save), not model.save_weights")
    return text(attrs.get("keras_version")), json.loads(raw)


def _layer_classes(config: Any) -> list[str]:
    """Every class_name in a (nested) Keras config."""
    found: list[str] = []
    if isinstance(config, Mapping):
        if isinstance(config.get("class_name"), str):
            found.append(config["class_name"])
        for v in config.values():
            found.extend(_layer_classes(v))
    elif isinstance(config, list):
        for v in config:
            found.extend(_layer_classes(v))
    return found


def _uses_keras3(version: str | None, config: Mapping[str, Any]) -> bool:
    if version:
        try:
            return int(version.split(".")[0]) >= 3
        except ValueError:
            pass
    return "module" in config  # Keras 3 configs name each class's module; Keras 2 ones do not


def _load_keras(resolved: ResolvedModel, fmt: ModelFormat, tags: tuple[str, ...] | None,
                options: LoadOptions) -> LoadedModel:
    """A .keras/.h5 file. The file's keras_version picks the library: Keras 3 files load with Keras 3 and
    are exported to a SavedModel (`model.export`); Keras 2 files (incl. hub.KerasLayer) load with tf_keras."""
    path = resolved.path
    version, config = keras_file_facts(path)
    classes = _layer_classes(config)
    unsafe = sorted(set(classes) & UNSAFE_KERAS_LAYERS)
    if unsafe and not options.unsafe_keras:
        raise LoadError(f"{Path(path).name} contains {', '.join(unsafe)} layer(s): loading them runs Python code "
                        "stored in the file", hint="pass --unsafe-keras only if you trust the file's author")
    keras3 = _uses_keras3(version, config)
    notes = [f"Keras file written by Keras {version or '?'}: loaded with "
             f"{'Keras 3 and exported with model.export' if keras3 else 'tf_keras'}"]
    if unsafe:
        notes.append(f"--unsafe-keras: deserialized {', '.join(unsafe)} layer(s) holding Python code")
    try:
        if keras3:
            loaded = _load_keras3(resolved, path, options)
            return replace(loaded, notes=tuple(notes) + loaded.notes)
        model = _load_tf_keras_model(path, options, "KerasLayer" in classes)
    except LoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - Keras raises TypeError/ValueError/... for files it cannot rebuild
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        hint = ("the model uses custom layers: export it as a SavedModel (model.export) where its code is available"
                if "Unknown layer" in first or "Could not locate" in first
                else "check that the file is complete and was saved by Keras (model.save)")
        raise LoadError(f"cannot load Keras file {Path(path).name}: {type(exc).__name__}: {first}", hint=hint) from exc
    if "KerasLayer" in classes:
        notes.append("hub.KerasLayer restored under tf_keras with custom_objects={'KerasLayer': hub.KerasLayer}")
    entry = _keras_entry(model)
    return LoadedModel(resolved, fmt, model, {entry.info.name: entry}, tags=None, notes=tuple(notes))


def _load_keras3(resolved: ResolvedModel, path: str, options: LoadOptions) -> LoadedModel:
    import shutil
    import tempfile
    import weakref

    import keras

    model = keras.saving.load_model(path, compile=False, safe_mode=not options.unsafe_keras)
    export_dir = tempfile.mkdtemp(prefix="hub2lite-keras3-")
    try:
        model.export(export_dir, format="tf_saved_model", verbose=False)
        exported = _load_saved_model(replace(resolved, path=export_dir), ModelFormat.SAVED_MODEL, None, options)
    except BaseException:
        shutil.rmtree(export_dir, ignore_errors=True)
        raise
    weakref.finalize(exported.obj, shutil.rmtree, export_dir, True)  # the SavedModel lives as long as its object
    entries = {k: e for k, e in exported.entries.items() if not (k == "serve" and "serving_default" in exported.entries)}
    return replace(exported, resolved=resolved, format=ModelFormat.KERAS, entries=entries)


def _load_tf_keras_model(path: str, options: LoadOptions, has_hub_layer: bool) -> Any:
    import tf_keras

    custom_objects: dict[str, Any] = {}
    if has_hub_layer:
        import tensorflow_hub as hub

        custom_objects["KerasLayer"] = hub.KerasLayer
    kwargs: dict[str, Any] = {"custom_objects": custom_objects, "compile": False}
    if not path.endswith((".h5", ".hdf5")):
        kwargs["safe_mode"] = not options.unsafe_keras
    return tf_keras.models.load_model(path, **kwargs)


def _keras_entry(model: Any) -> EntryPoint:
    """A 'serving_default' entry calling `model(inputs, training=False)` with named inputs and outputs."""
    import tensorflow as tf

    names = list(model.input_names)
    specs = [tf.TensorSpec(t.shape, t.dtype, name=n) for n, t in zip(names, model.inputs)]
    out_names = list(model.output_names)

    def serve(*args: Any) -> dict[str, Any]:
        out = model(list(args) if len(args) > 1 else args[0], training=False)
        flat = tf.nest.flatten(out)
        return dict(zip(out_names, flat)) if len(flat) == len(out_names) else outputs_as_dict(out)

    import inspect as _inspect

    serve.__signature__ = _inspect.Signature(  # type: ignore[attr-defined]
        [_inspect.Parameter(n, _inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    fn = tf.function(serve, input_signature=specs, autograph=False).get_concrete_function()
    return _entry_from_function("serving_default", fn, kind="keras")


# --- TF1 frozen GraphDef ---------------------------------------------------------------------------------

_NOT_OUTPUTS = frozenset({"Const", "NoOp", "Assert", "Placeholder", "PlaceholderWithDefault", "SaveV2", "RestoreV2"})


def _tensor_name(name: str) -> str:
    return name if ":" in name else f"{name}:0"


def _load_frozen_graph(resolved: ResolvedModel, fmt: ModelFormat, tags: tuple[str, ...] | None,
                       options: LoadOptions) -> LoadedModel:
    """A frozen TF1 GraphDef: imported with tf.compat.v1.wrap_function and pruned to the given inputs/outputs.

    Training switches (placeholder_with_default not listed as inputs) are frozen to their defaults, so v1
    control flow on them folds away. Without names, the Placeholders are the inputs and the nodes nothing
    consumes are the outputs (with a note)."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    gdef = tf.compat.v1.GraphDef()
    try:
        gdef.ParseFromString(Path(resolved.path).read_bytes())
    except DecodeError as exc:
        raise LoadError(f"{resolved.path!r} is not a TensorFlow GraphDef", hint="give a frozen graph .pb "
                        "(tf.compat.v1.graph_util.convert_variables_to_constants output)") from exc
    nodes = {n.name: n for n in gdef.node}
    if any(n.op in ("VariableV2", "VarHandleOp") for n in gdef.node):
        raise LoadError(f"{Path(resolved.path).name} still holds variables: it is not frozen",
                        hint="freeze it with tf.compat.v1.graph_util.convert_variables_to_constants first")
    notes: list[str] = []
    inputs = [n.split(":")[0] for n in options.input_names]
    outputs = [n.split(":")[0] for n in options.output_names]
    if not inputs:
        inputs = [n.name for n in gdef.node if n.op == "Placeholder"]
        notes.append(f"frozen graph: inputs {inputs} are its Placeholders (choose with --input-names)")
    if not outputs:
        consumed = {i.lstrip("^").split(":")[0] for n in gdef.node for i in n.input}
        outputs = [n.name for n in gdef.node if n.name not in consumed and n.op not in _NOT_OUTPUTS]
        notes.append(f"frozen graph: outputs {outputs} are the nodes nothing consumes (choose with --output-names)")
    unknown = [n for n in inputs + outputs if n not in nodes]
    if unknown:
        raise ConfigError(f"tensors {unknown} are not in the graph",
                          hint="name nodes of the graph in --input-names/--output-names (see Netron or "
                               "[n.name for n in graph_def.node])")
    if not inputs or not outputs:
        raise LoadError("cannot tell the frozen graph's inputs and outputs",
                        hint="pass --input-names and --output-names")
    for node in gdef.node:
        if node.op == "PlaceholderWithDefault" and node.name not in inputs:
            dtype = node.attr["dtype"].type
            node.op = "Identity"  # frozen to its default value
            for key in list(node.attr):
                del node.attr[key]
            node.attr["T"].type = dtype
            notes.append(f"frozen graph: training switch {node.name!r} frozen to its default")

    def import_graph() -> None:
        tf.compat.v1.import_graph_def(gdef, name="")

    wrapped = tf.compat.v1.wrap_function(import_graph, [])
    graph = wrapped.graph
    feeds = [graph.as_graph_element(_tensor_name(n)) for n in inputs]
    fetches = {n: graph.as_graph_element(_tensor_name(n)) for n in outputs}
    fn = wrapped.prune(feeds=feeds, fetches=fetches)
    specs = tuple(tf.TensorSpec(t.shape, t.dtype, name=n) for n, t in zip(inputs, feeds))
    info = SignatureInfo("serving_default", tuple(tensor_spec_from_tf(n, t) for n, t in zip(inputs, feeds)),
                         tuple(tensor_spec_from_tf(n, t) for n, t in fetches.items()), kind="frozen_graph")
    entry = EntryPoint(info, fn, specs, {}, tuple(inputs))
    # The converter keeps SignatureDefs only when it can save its functions with a trackable that is not
    # itself a function: hold the (weightless, frozen) graph in a plain tf.Module.
    holder = tf.Module()
    holder.graph_fn = fn
    return LoadedModel(resolved, fmt, holder, {info.name: entry}, tags=None, notes=tuple(notes),
                       frozen_parameters=_weight_constants(gdef))


def _weight_constants(gdef: Any) -> int:
    """Scalars in the floating-point Const nodes with more than one element: a frozen graph's weights."""
    import tensorflow as tf

    total = 0
    for node in gdef.node:
        if node.op != "Const" or not tf.as_dtype(node.attr["dtype"].type).is_floating:
            continue
        size = 1
        for dim in node.attr["value"].tensor.tensor_shape.dim:
            size *= int(dim.size)
        if size > 1:
            total += size
    return total


Loader = Callable[[ResolvedModel, ModelFormat, "tuple[str, ...] | None", LoadOptions], LoadedModel]

_LOADERS: dict[ModelFormat, Loader] = {
    ModelFormat.SAVED_MODEL: _load_saved_model,
    ModelFormat.TF1_HUB: _load_saved_model,
    ModelFormat.KERAS: _load_keras,
    ModelFormat.FROZEN_GRAPH: _load_frozen_graph,
}


def load(resolved: ResolvedModel, *, tags: tuple[str, ...] | None = None,
         options: LoadOptions | None = None) -> LoadedModel:
    """Load `resolved` (see `resolve`). Raises `LoadError` for anything that is not a loadable model."""
    fmt = detect_format(resolved.path)
    return _LOADERS[fmt](resolved, fmt, tags, options or LoadOptions())
