"""TF1 frozen GraphDefs (.pb): imported with tf.compat.v1.wrap_function and pruned to their inputs and
outputs; training switches frozen to their defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError, LoadError
from ..loaded import EntryPoint, LoadedModel, LoadOptions, tensor_spec_from_tf
from ..resolve import ResolvedModel
from ..specs import ModelFormat, SignatureInfo

__all__ = ["load_frozen_graph"]

_NOT_OUTPUTS = frozenset({"Const", "NoOp", "Assert", "Placeholder", "PlaceholderWithDefault", "SaveV2", "RestoreV2"})


def _tensor_name(name: str) -> str:
    return name if ":" in name else f"{name}:0"


def _graph_io(gdef: Any, options: LoadOptions, notes: list[str]) -> tuple[list[str], list[str]]:
    """The graph's input and output node names: as given, else its Placeholders and the nodes nothing
    consumes (each with a note). Raises when a name is not in the graph or either list is empty."""
    inputs = [n.split(":")[0] for n in options.input_names]
    outputs = [n.split(":")[0] for n in options.output_names]
    if not inputs:
        inputs = [n.name for n in gdef.node if n.op == "Placeholder"]
        notes.append(f"frozen graph: inputs {inputs} are its Placeholders (choose with --input-names)")
    if not outputs:
        consumed = {i.lstrip("^").split(":")[0] for n in gdef.node for i in n.input}
        outputs = [n.name for n in gdef.node if n.name not in consumed and n.op not in _NOT_OUTPUTS]
        notes.append(f"frozen graph: outputs {outputs} are the nodes nothing consumes (choose with --output-names)")
    nodes = {n.name for n in gdef.node}
    unknown = [n for n in inputs + outputs if n not in nodes]
    if unknown:
        raise ConfigError(f"tensors {unknown} are not in the graph",
                          hint="name nodes of the graph in --input-names/--output-names (see Netron or "
                               "[n.name for n in graph_def.node])")
    if not inputs or not outputs:
        raise LoadError("cannot tell the frozen graph's inputs and outputs",
                        hint="pass --input-names and --output-names")
    return inputs, outputs


def _freeze_training_switches(gdef: Any, inputs: list[str], notes: list[str]) -> None:
    """Turn every PlaceholderWithDefault that is not an input into an Identity of its default (in place),
    so v1 control flow on training switches folds away."""
    for node in gdef.node:
        if node.op == "PlaceholderWithDefault" and node.name not in inputs:
            dtype = node.attr["dtype"].type
            node.op = "Identity"  # frozen to its default value
            for key in list(node.attr):
                del node.attr[key]
            node.attr["T"].type = dtype
            notes.append(f"frozen graph: training switch {node.name!r} frozen to its default")


def load_checkpoint(resolved: ResolvedModel, fmt: ModelFormat, tags: tuple[str, ...] | None,
                    options: LoadOptions) -> LoadedModel:
    """A TF1 checkpoint (.meta + .index/.data): restored and frozen by hub2lite.checkpoint, then loaded like a
    frozen graph (its frozen inputs and dropped shape hints noted)."""
    from dataclasses import replace

    from ..checkpoint import freeze_checkpoint, parse_freeze_input

    frozen = freeze_checkpoint(resolved.path, input_names=options.input_names, output_names=options.output_names,
                               freeze_inputs=dict(parse_freeze_input(t) for t in options.freeze_inputs))
    return load_frozen_graph(resolved, fmt, tags, replace(options, input_names=frozen.inputs,
                                                          output_names=frozen.outputs),
                             data=frozen.graph_def, extra_notes=frozen.notes)


def load_frozen_graph(resolved: ResolvedModel, fmt: ModelFormat, tags: tuple[str, ...] | None,
                      options: LoadOptions, *, data: bytes | None = None,
                      extra_notes: tuple[str, ...] = ()) -> LoadedModel:
    """A frozen TF1 GraphDef: imported with tf.compat.v1.wrap_function and pruned to the given inputs/outputs.

    Training switches (placeholder_with_default not listed as inputs) are frozen to their defaults, so v1
    control flow on them folds away. Without names, the Placeholders are the inputs and the nodes nothing
    consumes are the outputs (with a note)."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    gdef = tf.compat.v1.GraphDef()
    try:
        gdef.ParseFromString(Path(resolved.path).read_bytes() if data is None else data)
    except DecodeError as exc:
        raise LoadError(f"{resolved.path!r} is not a TensorFlow GraphDef", hint="give a frozen graph .pb "
                        "(tf.compat.v1.graph_util.convert_variables_to_constants output)") from exc
    if any(n.op in ("VariableV2", "VarHandleOp") for n in gdef.node):
        raise LoadError(f"{Path(resolved.path).name} still holds variables: it is not frozen",
                        hint="freeze it with tf.compat.v1.graph_util.convert_variables_to_constants first")
    notes: list[str] = list(extra_notes)
    inputs, outputs = _graph_io(gdef, options, notes)
    _freeze_training_switches(gdef, inputs, notes)

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
