"""Load a resolved model into callable entry points with known input/output specs.

Every entry point is called the same way: `entry(feed) -> {output_name: tensor}`, whether it is a
SavedModel signature (keyword inputs, dict outputs) or a traced `__call__` on a SavedModel that has
no serving signature (positional inputs, tensor or tuple outputs).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, LoadError
from .resolve import ResolvedModel
from .specs import ModelFormat, SignatureInfo, TensorSpec

__all__ = ["LoadedModel", "EntryPoint", "load", "detect_format", "tensor_spec_from_tf", "outputs_as_dict"]

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
        """Number of scalars in the model's variables (0 when it has none)."""
        import numpy as np

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


def _load_saved_model(resolved: ResolvedModel, fmt: ModelFormat, tags: tuple[str, ...] | None) -> LoadedModel:
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


_LOADERS: dict[ModelFormat, Callable[[ResolvedModel, ModelFormat, tuple[str, ...] | None], LoadedModel]] = {
    ModelFormat.SAVED_MODEL: _load_saved_model,
    ModelFormat.TF1_HUB: _load_saved_model,
}


def load(resolved: ResolvedModel, *, tags: tuple[str, ...] | None = None) -> LoadedModel:
    """Load `resolved` (see `resolve`). Raises `LoadError` for anything that is not a loadable model."""
    fmt = detect_format(resolved.path)
    loader = _LOADERS.get(fmt)
    if loader is None:
        raise LoadError(f"loading {fmt.value} models is not supported by this hub2lite build",
                        hint="export the model as a TF2 SavedModel")
    return loader(resolved, fmt, tags)
