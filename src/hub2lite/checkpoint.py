"""TF1 checkpoints (`.meta` graph + `.index`/`.data-*` weights) -> one frozen GraphDef.

A checkpoint is what TF1 training code leaves behind (musicnn's taggers ship as exactly that): a MetaGraphDef
holding the whole training graph (optimizer and gradient nodes included) and the variables' values. Converting it
means: import the graph, restore the variables, fold them into constants, keep only what the requested outputs
need, and freeze the inputs a user names to constants (`--freeze-input is_training=false`: a plain bool
Placeholder with no default is a training switch the caller must decide, and feeding it as an input would leave
dropout and batch statistics switchable in the converted model).

TensorFlow >= 2.16 refuses some old MetaGraphDefs in `import_meta_graph` (`ValueError` on the gradient nodes'
`_output_shapes`); that attribute is only a shape hint, so it is deleted from every node first.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, LoadError
from .interrupts import reraise_pending

__all__ = ["CheckpointGraph", "find_meta", "freeze_checkpoint", "is_checkpoint", "parse_freeze_input"]

log = logging.getLogger(__name__)

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def find_meta(path: str | os.PathLike[str]) -> Path | None:
    """The `.meta` file of a checkpoint given as the `.meta` file, its prefix, or a folder holding one."""
    p = Path(path)
    if p.is_file() and p.name.endswith(".meta"):
        return p
    if p.is_dir():
        metas = sorted(q for q in p.iterdir() if q.is_file() and q.name.endswith(".meta"))
        return metas[0] if len(metas) == 1 else None
    q = Path(str(p) + ".meta")
    return q if q.is_file() else None


def is_checkpoint(path: str | os.PathLike[str]) -> bool:
    """True for a `.meta` file (or a folder with exactly one) whose weights (`<prefix>.index`) are beside it."""
    meta = find_meta(path)
    return meta is not None and Path(str(meta)[: -len(".meta")] + ".index").is_file()


def parse_freeze_input(text: str) -> tuple[str, str]:
    """`NAME=VALUE` of `--freeze-input` (value parsed later against the input's dtype)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise ConfigError(f"--freeze-input {text!r} is not NAME=VALUE", hint="e.g. --freeze-input is_training=false")
    return name.strip().split(":")[0], value.strip()


def _constant_value(name: str, text: str, dtype: Any) -> Any:
    import numpy as np

    if dtype.is_bool:
        low = text.lower()
        if low in _TRUE | _FALSE:
            return np.asarray(low in _TRUE)
        raise ConfigError(f"--freeze-input {name}={text}: {name} is a bool input", hint="give true or false")
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"--freeze-input {name}={text}: {name} is a {dtype.name} input, {text!r} is not a number",
                          hint="give a number") from None
    if dtype.is_integer and value != int(value):
        raise ConfigError(f"--freeze-input {name}={text}: {name} is an integer input", hint="give an integer")
    return np.asarray(value, dtype=dtype.as_numpy_dtype)


@dataclass(frozen=True)
class CheckpointGraph:
    """A checkpoint frozen into one GraphDef (serialized), with what was done to it."""

    graph_def: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    frozen_inputs: Mapping[str, Any] = field(default_factory=dict)  # input -> constant value (JSON-safe)
    variables: int = 0
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": list(self.inputs), "outputs": list(self.outputs), "frozen_inputs": dict(self.frozen_inputs),
                "variables": self.variables, "notes": list(self.notes), "graph_def_bytes": len(self.graph_def)}


def freeze_checkpoint(path: str | os.PathLike[str], *, input_names: Sequence[str] = (),
                      output_names: Sequence[str] = (), freeze_inputs: Mapping[str, str] | None = None) -> CheckpointGraph:
    """Restore the checkpoint at `path` and freeze it into a GraphDef that computes `output_names` from
    `input_names`. Placeholders named in `freeze_inputs` become constants; every other Placeholder the outputs
    need must be listed as an input (else `ConfigError`: the graph would be incomplete)."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    meta = find_meta(path)
    if meta is None:
        raise LoadError(f"{os.fspath(path)!r} holds no single TF1 checkpoint .meta file",
                        hint="give the .meta file of the checkpoint (its .index/.data-* files beside it)")
    prefix = str(meta)[: -len(".meta")]
    if not Path(prefix + ".index").is_file():
        raise LoadError(f"checkpoint {meta.name} has no weights beside it ({Path(prefix).name}.index is missing)",
                        hint="keep the .index and .data-* files next to the .meta file")
    if not output_names:
        raise ConfigError("a TF1 checkpoint holds its whole training graph: name the outputs to convert",
                          hint="pass --output-names (e.g. model/Sigmoid)")
    mg = tf.compat.v1.MetaGraphDef()
    try:
        mg.ParseFromString(meta.read_bytes())
    except DecodeError as exc:
        raise LoadError(f"{meta} is not a MetaGraphDef", hint="give the checkpoint's .meta file") from exc
    stripped = 0
    for node in mg.graph_def.node:
        if "_output_shapes" in node.attr:
            del node.attr["_output_shapes"]
            stripped += 1
    for fn in mg.graph_def.library.function:
        for node in fn.node_def:
            if "_output_shapes" in node.attr:
                del node.attr["_output_shapes"]
    notes = [f"checkpoint: {stripped} node(s)' _output_shapes hints dropped before import"] if stripped else []
    inputs = [n.split(":")[0] for n in input_names]
    outputs = [n.split(":")[0] for n in output_names]
    frozen_requests = {k.split(":")[0]: v for k, v in (freeze_inputs or {}).items()}
    nodes = {n.name: n for n in mg.graph_def.node}
    unknown = [n for n in [*inputs, *outputs, *frozen_requests] if n not in nodes]
    if unknown:
        raise ConfigError(f"tensors {unknown} are not in the checkpoint's graph",
                          hint="name nodes of the graph (see [n.name for n in meta_graph_def.graph_def.node])")
    both = sorted(set(inputs) & set(frozen_requests))
    if both:
        raise ConfigError(f"{both} given both as inputs and as frozen inputs", hint="drop one of the two flags")

    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        try:
            saver = tf.compat.v1.train.import_meta_graph(mg, clear_devices=True)
        except (ValueError, KeyError, TypeError) as exc:
            raise LoadError(f"cannot import checkpoint graph {meta.name}: {str(exc).splitlines()[0][:200]}",
                            hint="the graph may need ops of another TensorFlow version") from exc
        if saver is None:
            raise LoadError(f"checkpoint {meta.name} holds no variables", hint="give a frozen .pb instead")
        try:
            saver.restore(sess, prefix)
        except (tf.errors.OpError, ValueError) as exc:
            reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
            raise LoadError(f"cannot restore checkpoint weights {Path(prefix).name}.*: "
                            f"{str(exc).splitlines()[0][:200]}", hint="check that .index/.data-* match the .meta") from exc
        variables = len(tf.compat.v1.global_variables())
        frozen = tf.compat.v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), outputs)
    frozen_values: dict[str, Any] = {}
    by_name = {n.name: n for n in frozen.node}
    for name, text in frozen_requests.items():
        node = by_name.get(name)
        if node is None:
            notes.append(f"checkpoint: frozen input {name!r} is not needed by the outputs")
            continue
        if node.op not in ("Placeholder", "PlaceholderWithDefault"):
            raise ConfigError(f"--freeze-input {name}: {name} is a {node.op}, not an input placeholder",
                              hint="freeze Placeholder nodes only")
        dtype = tf.as_dtype(node.attr["dtype"].type)
        value = _constant_value(name, text, dtype)
        node.op = "Const"
        for key in list(node.attr):
            del node.attr[key]
        del node.input[:]
        node.attr["dtype"].type = dtype.as_datatype_enum
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, dtype=dtype))
        frozen_values[name] = value.item()
        notes.append(f"checkpoint: input {name!r} frozen to {value.item()!r}")
    needed = [n.name for n in frozen.node if n.op == "Placeholder" and n.name not in inputs]
    if needed:
        raise ConfigError(f"the outputs need placeholder(s) {needed} that are neither inputs nor frozen",
                          hint="add them to --input-names, or freeze them with --freeze-input NAME=VALUE")
    missing = [n for n in inputs if n not in by_name]
    if missing:
        raise ConfigError(f"input(s) {missing} do not feed the outputs {outputs}", hint="check --input-names")
    log.info("checkpoint %s: %d variables frozen, %d nodes kept", meta, variables, len(frozen.node))
    return CheckpointGraph(frozen.SerializeToString(), tuple(inputs), tuple(outputs), frozen_values, variables,
                           tuple(notes))
