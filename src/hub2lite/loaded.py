"""What loading a model gives every later stage: `LoadedModel` (the model object and its entry points),
`EntryPoint` (one callable: `entry(feed) -> {output_name: tensor}`), `LoadOptions`, and the helpers the
format loaders (loaders/) share to describe TensorFlow functions as specs. TensorFlow imported lazily."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, LoadError
from .resolve import ResolvedModel
from .specs import ModelFormat, SignatureInfo, TensorSpec

__all__ = ["LoadedModel", "EntryPoint", "LoadOptions", "tensor_spec_from_tf", "outputs_as_dict", "tf_nest",
           "entry_from_function", "CALL"]

CALL = "__call__"


def tensor_spec_from_tf(name: str, spec: Any) -> TensorSpec:
    """TensorSpec from a tf.TensorSpec / tf.Tensor (anything with .dtype and .shape)."""
    dtype_name = spec.dtype.name  # 'float32', 'int32', 'string', 'bool', ...
    shape = None if spec.shape.rank is None else tuple(spec.shape.as_list())
    return TensorSpec(name, dtype_name, shape)


def tf_nest() -> Any:
    from tensorflow.python.util import nest  # flatten_with_joined_string_paths is not in tf.nest

    return nest


def outputs_as_dict(out: Any) -> dict[str, Any]:
    """Normalise what a model returns to {name: tensor}: dicts keep their keys (nested ones joined by '/'),
    a single tensor is 'output_0', a tuple/list is 'output_<i>'."""
    import tensorflow as tf

    if isinstance(out, Mapping):
        flat = tf_nest().flatten_with_joined_string_paths(dict(out))
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


@dataclass(frozen=True)
class LoadOptions:
    """Per-format loading choices (the CLI's --unsafe-keras, --input-names, --output-names)."""

    unsafe_keras: bool = False  # allow Keras files whose config holds Python code (Lambda layers)
    input_names: tuple[str, ...] = ()  # frozen graphs: tensor names to feed ("x" or "x:0")
    output_names: tuple[str, ...] = ()  # frozen graphs: tensor names to fetch
    freeze_inputs: tuple[str, ...] = ()  # TF1 checkpoints: "NAME=VALUE" placeholders frozen to constants

    def to_dict(self) -> dict[str, Any]:
        return {"unsafe_keras": self.unsafe_keras, "input_names": list(self.input_names),
                "output_names": list(self.output_names), "freeze_inputs": list(self.freeze_inputs)}


def entry_from_function(name: str, fn: Any, kind: str) -> EntryPoint:
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
    for path, spec in tf_nest().flatten_with_joined_string_paths(dict(kwargs)):
        if isinstance(spec, tf.TensorSpec):
            n = leaf_name(path, spec, len(inputs))
            names.append(n)
            inputs.append(tensor_spec_from_tf(n, spec))
    outputs = tuple(tensor_spec_from_tf(k, v) for k, v in outputs_as_dict(fn.structured_outputs).items())
    info = SignatureInfo(name, tuple(inputs), outputs, kind=kind)
    return EntryPoint(info, fn, tuple(args), dict(kwargs), tuple(names))
