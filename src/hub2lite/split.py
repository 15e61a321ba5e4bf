"""Cut a model into prefix (TF) -> body (.tflite) -> suffix (TF) around ops nothing in TFLite can run.

Why graph surgery on the frozen GraphDef: the unconvertible op usually sits inside the SavedModel's restored
function (a `StatefulPartitionedCall`), where no Python-level split can reach it. Freezing the entry point
(`convert_variables_to_constants_v2`) inlines every call and folds the variables into constants, which gives one
flat graph whose tensors can be named and cut anywhere. Each stage is then that same graph imported into a
`tf.compat.v1.wrap_function` and `prune`d from its feeds to its fetches, so the three stages run exactly the
original's kernels and weights (the body is not re-traced from Python). Control dependencies are dropped first:
in a frozen inference graph they only order variable reads, and they would otherwise drag the model's inputs
into every stage.

Tensors that cross a cut are plain graph tensors: a ragged or sparse value is already its dense components in
the graph (values, row splits, ...), and each component crosses under its own name, derived from the producing
op and its output argument (`UnicodeDecode_row_splits`, `UnicodeDecode_char_values`). The prefix's outputs carry
exactly the names of the body's inputs, the body's outputs exactly those of the suffix's inputs.

Cut choice (`plan_auto`): each op node that no strategy can convert goes either to the prefix (with everything it
depends on) or to the suffix (with everything that depends on it); the assignment with the fewest ops outside the
body wins (exhaustive up to 10 such nodes, otherwise every cut along the graph's topological order).
"""

from __future__ import annotations

import inspect as _inspect
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import ConfigError, ConversionError
from .interrupts import reraise_pending

__all__ = ["GraphTensor", "FrozenGraph", "CutTensor", "SplitPlan", "Stage", "freeze", "probe_unconvertible",
           "plan_auto", "plan_manual", "build_stages", "save_stage", "list_tensors", "model_input_tensors",
           "describe_plan", "STAGE_SIGNATURE", "PLUMBING"]

log = logging.getLogger(__name__)

#: The signature key of every stage SavedModel (MODEL.pre/, MODEL.post/) and of the body .tflite.
STAGE_SIGNATURE = "serving_default"
#: Graph plumbing: not counted as ops, never a reason to cut (Const is replicated into every stage that needs it).
PLUMBING = frozenset({"Placeholder", "Const", "Identity", "IdentityN", "NoOp", "StopGradient", "Snapshot"})
#: Exhaustive search over prefix/suffix assignments up to this many unconvertible nodes.
_EXHAUSTIVE = 10


@dataclass(frozen=True)
class GraphTensor:
    """One tensor of the frozen graph, as `inspect --tensors` lists it."""

    name: str  # "node:index"
    op: str
    dtype: str
    shape: tuple[int | None, ...] | None
    consumers: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "dtype": self.dtype,
                "shape": None if self.shape is None else list(self.shape), "consumers": self.consumers}


@dataclass(frozen=True)
class FrozenGraph:
    """A frozen entry point: one flat GraphDef plus its named inputs and outputs."""

    graph_def: Any = field(repr=False)  # tf GraphDef, control dependencies stripped, call prefixes shortened
    inputs: Mapping[str, str]  # model input name -> placeholder tensor ("x:0")
    outputs: Mapping[str, str]  # model output name -> tensor
    resources: Mapping[str, Any] = field(default_factory=dict, repr=False)  # placeholder tensor -> resource handle
    trackables: tuple[Any, ...] = field(default=(), repr=False)  # the objects owning `resources` (lookup tables)

    @property
    def nodes(self) -> dict[str, Any]:
        return {n.name: n for n in self.graph_def.node}

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self.graph_def.node:
            if n.op not in PLUMBING:
                counts[n.op] = counts.get(n.op, 0) + 1
        return dict(sorted(counts.items()))


@dataclass(frozen=True)
class CutTensor:
    """A tensor that crosses a cut: its name in both signatures, the graph tensor, dtype and shape."""

    name: str
    tensor: str
    dtype: str
    shape: tuple[int | None, ...] | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "tensor": self.tensor, "dtype": self.dtype,
                "shape": None if self.shape is None else list(self.shape)}


@dataclass(frozen=True)
class SplitPlan:
    """Which nodes run where, and the named tensors that connect the stages.

    Each stage's signature names its tensors: the prefix maps the model's inputs to `prefix_outputs`, the body
    maps `body_inputs` (a subset of the prefix's outputs, or the model's inputs when there is no prefix) to
    `body_outputs`, the suffix maps `suffix_inputs` (taken from the prefix's and body's outputs) to
    `suffix_outputs`. Model outputs keep their names in whichever stage makes them (`output_stage`)."""

    mode: str  # "auto" | "manual"
    cut_ops: tuple[str, ...]  # op types that forced the cut (auto) or () (manual)
    prefix_nodes: tuple[str, ...]
    body_nodes: tuple[str, ...]
    suffix_nodes: tuple[str, ...]
    prefix_outputs: tuple[CutTensor, ...]
    body_inputs: tuple[CutTensor, ...]
    body_outputs: tuple[CutTensor, ...]
    suffix_inputs: tuple[CutTensor, ...]
    suffix_outputs: tuple[CutTensor, ...]
    output_stage: Mapping[str, str]  # model output name -> "prefix" | "body" | "suffix"
    prefix_ops: Mapping[str, int] = field(default_factory=dict)  # op type -> count
    body_ops: Mapping[str, int] = field(default_factory=dict)
    suffix_ops: Mapping[str, int] = field(default_factory=dict)

    @property
    def has_prefix(self) -> bool:
        return bool(self.prefix_nodes)

    @property
    def has_suffix(self) -> bool:
        return bool(self.suffix_nodes)

    @property
    def outside_ops(self) -> int:
        return sum(self.prefix_ops.values()) + sum(self.suffix_ops.values())

    def to_dict(self) -> dict[str, Any]:
        def part(ops: Mapping[str, int], ins: Sequence[CutTensor] | None, outs: Sequence[CutTensor]) -> dict[str, Any]:
            d: dict[str, Any] = {"ops": dict(ops), "op_count": sum(ops.values())}
            if ins is not None:
                d["inputs"] = [t.to_dict() for t in ins]
            d["outputs"] = [t.to_dict() for t in outs]
            return d

        return {"mode": self.mode, "cut_ops": list(self.cut_ops), "ops_outside_body": self.outside_ops,
                "prefix": part(self.prefix_ops, None, self.prefix_outputs) if self.has_prefix else None,
                "body": part(self.body_ops, self.body_inputs, self.body_outputs),
                "suffix": part(self.suffix_ops, self.suffix_inputs, self.suffix_outputs) if self.has_suffix else None,
                "output_stage": dict(self.output_stage)}


# --------------------------------------------------------------------------------------------- freezing

def _short(name: str) -> str:
    """Drop the call wrappers freezing leaves in front of a node name (`StatefulPartitionedCall/...`)."""
    return re.sub(r"^(?:(?:Stateful)?PartitionedCall(?:_\d+)?/)+", "", name)


def _split_input(text: str) -> tuple[str, int]:
    if ":" in text:
        node, idx = text.rsplit(":", 1)
        return node, int(idx)
    return text, 0


def _resource_owners(concrete: Any, placeholders: Sequence[str], owner: Any) -> tuple[dict[str, Any], list[Any]]:
    """{placeholder tensor name: the resource handle it stands for} and the trackables owning those handles
    (lookup tables of `owner`, the loaded model), so a stage can capture the table and save it along."""
    import tensorflow as tf

    external = {internal.name: ext for ext, internal in concrete.graph.captures}
    handles = {f"{p}:0": external.get(f"{p}:0") for p in placeholders}
    missing = [p for p, h in handles.items() if h is None]
    owners: list[Any] = []
    if owner is not None and not missing:
        wanted = {id(h) for h in handles.values()}
        for obj in tf.train.TrackableView(owner).descendants():
            if isinstance(obj, tf.Variable):
                continue
            handle = getattr(obj, "resource_handle", None)
            if handle is not None and id(handle) in wanted:
                owners.append(obj)
                wanted.discard(id(handle))
        missing = sorted(p for p, h in handles.items() if id(h) in wanted)
    if owner is None or missing:
        raise ConversionError(f"cannot split the model: its graph reads resources that cannot be frozen and whose "
                              f"owner was not found ({missing or list(handles)})",
                              hint="export the model with its lookup tables tracked by the saved object, or cut "
                                   "it by hand with --body-inputs/--body-outputs")
    return handles, owners


def freeze(concrete: Any, input_names: Mapping[str, str] | None = None, *, owner: Any = None) -> FrozenGraph:
    """Freeze a concrete function (variables -> constants, calls inlined) into a FrozenGraph.

    `input_names` maps the function's parameter names to the model's input names (convert.build_function's map).
    Resources that cannot become constants (lookup tables) stay placeholders, bound to the tables of `owner`
    (the loaded model's object) when each stage is built. Raises ConversionError when the graph cannot be frozen."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    try:
        frozen = convert_variables_to_constants_v2(concrete)
    except Exception as exc:  # noqa: BLE001 - TF raises ValueError/InvalidArgumentError/... for unfreezable graphs
        reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
        raise ConversionError(f"cannot split the model: freezing its graph failed ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200]})",
                              hint="cut it by hand with --body-inputs/--body-outputs") from exc
    gdef = frozen.graph.as_graph_def()
    resource_nodes = [n.name for n in gdef.node if n.op == "Placeholder" and n.attr["dtype"].type == tf.resource]
    handles, owners = _resource_owners(concrete, resource_nodes, owner) if resource_nodes else ({}, [])
    # shorten names (when unique) and drop control dependencies and NoOps
    shorts: dict[str, str] = {}
    taken: set[str] = set()
    originals = {n.name for n in gdef.node}
    for n in gdef.node:
        s = _short(n.name)
        shorts[n.name] = s if s and s not in taken and (s == n.name or s not in originals) else n.name
        taken.add(shorts[n.name])
    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(gdef.versions)
    out.library.CopyFrom(gdef.library)
    for n in gdef.node:
        if n.op == "NoOp":
            continue
        m = out.node.add()
        m.CopyFrom(n)
        m.name = shorts[n.name]
        del m.input[:]
        for inp in n.input:
            if inp.startswith("^"):
                continue
            node, idx = _split_input(inp)
            m.input.append(shorts[node] + (f":{idx}" if idx else ""))
    names = dict(input_names or {})
    inputs = {}
    for t in frozen.inputs:
        if t.dtype == tf.resource:
            continue
        node = shorts[t.op.name]
        inputs[names.get(t.op.name, t.op.name)] = f"{node}:{t.value_index}"
    structured = concrete.structured_outputs  # freezing drops the output names: take them from the original
    if isinstance(structured, Mapping):
        keys = [str(k) for k in sorted(structured)]  # tf.nest flattens dicts in sorted-key order
    else:
        keys = [f"output_{i}" for i in range(len(frozen.outputs))]
    outputs = {key: f"{shorts[t.op.name]}:{t.value_index}" for key, t in zip(keys, frozen.outputs)}
    resources = {f"{shorts[_split_input(name)[0]]}:0": h for name, h in handles.items()}
    return FrozenGraph(out, inputs, outputs, resources, tuple(owners))


def probe_unconvertible(concrete: Any, *, allow_select: bool = True,
                        trackables: Sequence[Any] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Ask the real converter which op types block `concrete`: (ops with no builtin and no Select TF kernel,
    ops that need Select TF ops). One conversion attempt; ((), ()) when it converts. With `allow_select` the
    converter accepts Select TF ops silently, so the second tuple is only filled when `allow_select` is False.
    `trackables` (lookup tables the function reads) are exported along, as a stage's SavedModel does."""
    import tensorflow as tf

    if trackables:
        holder = tf.Module()
        holder.fn = concrete
        holder.resources = list(trackables)
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)
        converter.experimental_enable_resource_variables = True
    else:
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + (
        [tf.lite.OpsSet.SELECT_TF_OPS] if allow_select else [])
    try:
        converter.convert()
    except Exception as exc:  # noqa: BLE001 - ConverterError and friends carry the per-op diagnosis
        reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
        custom: set[str] = set()
        flex: set[str] = set()
        for err in getattr(exc, "errors", None) or []:
            op = getattr(getattr(err, "operator", None), "name", "") or ""
            op = op[3:] if op.startswith("tf.") else op
            code = getattr(err, "error_code", 0)
            if op and code == 2:
                custom.add(op)
            elif op and code == 1:
                flex.add(op)
        if not custom and not flex:
            text = str(exc)
            for m in re.finditer(r"^\s*(TF Select ops|Flex ops|Custom ops):\s*(.+)$", text, re.MULTILINE):
                names = {x.strip().removeprefix("Flex") for x in m.group(2).split(",") if x.strip()}
                (custom if m.group(1) == "Custom ops" else flex).update(names)
        if not custom and not flex:
            last = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else repr(exc)
            raise ConversionError(f"cannot split the model: the converter failed for another reason than "
                                  f"unsupported ops ({last})",
                                  hint="run `hub2lite convert` without the split for the full diagnosis") from exc
        return tuple(sorted(custom)), tuple(sorted(flex))
    return (), ()


# --------------------------------------------------------------------------------------------- graph facts

@dataclass
class _Graph:
    nodes: dict[str, Any]
    inputs: dict[str, list[tuple[str, int]]]  # node -> data inputs (node, index)
    consumers: dict[str, list[str]]
    order: list[str]  # topological
    dependent: set[str]  # nodes with a model-input placeholder among their ancestors (placeholders included)
    placeholders: set[str]


def _analyse(fg: FrozenGraph) -> _Graph:
    nodes = fg.nodes
    inputs = {name: [_split_input(i) for i in n.input] for name, n in nodes.items()}
    consumers: dict[str, list[str]] = {name: [] for name in nodes}
    for name, ins in inputs.items():
        for src, _ in ins:
            consumers[src].append(name)
    indeg = {name: len({s for s, _ in ins}) for name, ins in inputs.items()}
    ready = [name for name in nodes if indeg[name] == 0]
    order: list[str] = []
    while ready:
        name = ready.pop()
        order.append(name)
        for c in dict.fromkeys(consumers[name]):
            indeg[c] -= 1
            if indeg[c] == 0:
                ready.append(c)
    if len(order) != len(nodes):
        raise ConversionError("cannot split the model: its frozen graph has a cycle",
                              hint="models with TF1 control flow cannot be split")
    placeholders = {_split_input(t)[0] for t in fg.inputs.values()}
    dependent = set(placeholders)
    for name in order:
        if any(s in dependent for s, _ in inputs[name]):
            dependent.add(name)
    return _Graph(nodes, inputs, consumers, order, dependent, placeholders)


def _ancestors(g: _Graph, starts: Sequence[str], stop: set[str] = frozenset()) -> set[str]:  # type: ignore[assignment]
    seen: set[str] = set()
    todo = [s for s in starts if s not in stop]
    while todo:
        name = todo.pop()
        if name in seen or name not in g.dependent or name in g.placeholders:
            continue
        seen.add(name)
        todo.extend(s for s, _ in g.inputs[name] if s not in stop)
    return seen


def _descendants(g: _Graph, starts: Sequence[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(g.consumers[name])
    return seen


def _count(g: _Graph, names: set[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in names:
        op = g.nodes[name].op
        if op not in PLUMBING:
            counts[op] = counts.get(op, 0) + 1
    return dict(sorted(counts.items()))


def list_tensors(fg: FrozenGraph) -> tuple[GraphTensor, ...]:
    """Every tensor an op of the frozen graph produces (plumbing and constants left out), in graph order."""
    g = _analyse(fg)
    shapes = _tensor_facts(fg)
    used: dict[str, int] = {}
    for ins in g.inputs.values():
        for src, idx in ins:
            used[f"{src}:{idx}"] = used.get(f"{src}:{idx}", 0) + 1
    found = []
    for name in (n.name for n in fg.graph_def.node):  # the graph's own order (producers before consumers)
        node = g.nodes[name]
        if node.op in PLUMBING - {"Placeholder"} or name not in g.dependent:
            continue
        for tname, (dtype, shape) in shapes.get(name, {}).items():
            found.append(GraphTensor(tname, node.op, dtype, shape, used.get(tname, 0)))
    return tuple(found)


def _tensor_facts(fg: FrozenGraph) -> dict[str, dict[str, tuple[str, tuple[int | None, ...] | None]]]:
    """{node: {tensor name: (dtype, shape)}} from importing the graph once."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(fg.graph_def, name="")
    facts: dict[str, dict[str, tuple[str, tuple[int | None, ...] | None]]] = {}
    for op in graph.get_operations():
        facts[op.name] = {t.name: (t.dtype.name, None if t.shape.rank is None else tuple(t.shape.as_list()))
                          for t in op.outputs}
    return facts


def _output_arg_names(op_type: str, count: int) -> list[str] | None:
    """The op's output argument names when each argument is one tensor (e.g. UnicodeDecode -> row_splits,
    char_values): how the components of a ragged value get readable names."""
    try:
        from tensorflow.python.framework import op_def_registry

        op_def = op_def_registry.get(op_type)
    except Exception:  # noqa: BLE001 - an unregistered op simply has no argument names
        return None
    if op_def is None:
        return None
    args = list(op_def.output_arg)
    if len(args) != count or any(a.number_attr or a.type_list_attr for a in args):
        return None
    return [a.name for a in args]


def _identifier(text: str) -> str:
    ident = re.sub(r"\W+", "_", text).strip("_") or "t"
    return "_" + ident if ident[0].isdigit() else ident


class _Namer:
    """Readable, unique, identifier-safe names for the tensors crossing a cut."""

    def __init__(self, fg: FrozenGraph, facts: Mapping[str, Mapping[str, Any]], ops: Mapping[str, str]) -> None:
        self.ops = ops
        self.by_tensor: dict[str, str] = {}
        self.used: set[str] = set()
        self.facts = facts
        for name, tensor in list(fg.inputs.items()) + list(fg.outputs.items()):
            self.by_tensor.setdefault(tensor, name)
            self.used.add(name)

    def __call__(self, tensor: str) -> str:
        if tensor in self.by_tensor:
            return self.by_tensor[tensor]
        node, idx = _split_input(tensor)
        outs = self.facts.get(node, {})
        base = node.rsplit("/", 1)[-1] if "/" in node and re.fullmatch(r"[A-Za-z][\w]*", node.rsplit("/", 1)[-1]) \
            else node
        arg_names = _output_arg_names(self.ops.get(node, ""), len(outs)) if len(outs) > 1 else None
        if arg_names:
            base = f"{base}_{arg_names[idx]}"
        elif len(outs) > 1:
            base = f"{base}_{idx}"
        ident = _identifier(base)
        if ident in self.used:  # fall back to the full node path
            ident = _identifier(f"{node}_{idx}" if len(outs) > 1 else node)
        k, cand = 1, ident
        while cand in self.used:
            cand, k = f"{ident}_{k}", k + 1
        self.used.add(cand)
        self.by_tensor[tensor] = cand
        return cand


# --------------------------------------------------------------------------------------------- planning

def _assign(g: _Graph, blocking: Sequence[str], to_prefix: set[str]) -> tuple[set[str], set[str]] | None:
    prefix = _ancestors(g, [b for b in blocking if b in to_prefix])
    prefix |= {b for b in blocking if b in to_prefix}
    suffix = _descendants(g, [b for b in blocking if b not in to_prefix])
    if prefix & suffix:
        return None
    return prefix, suffix


def _cost(g: _Graph, nodes: set[str]) -> int:
    return sum(1 for n in nodes if g.nodes[n].op not in PLUMBING)


def plan_auto(fg: FrozenGraph, blocking_ops: Sequence[str]) -> SplitPlan:
    """The cut that leaves every node of an op type in `blocking_ops` outside the body, with the fewest ops
    outside. Raises ConversionError when no cut leaves a body (e.g. the blocking op sits in the middle of
    the only path from input to output, with convertible work on both sides that depends on both)."""
    g = _analyse(fg)
    wanted = set(blocking_ops)
    blocking = [n for n in g.order if g.nodes[n].op in wanted]
    if not blocking:
        raise ConversionError(f"none of the ops {sorted(wanted)} occurs in the frozen graph",
                              hint="convert without --split-unsupported")
    candidates: list[set[str]] = []
    if len(blocking) <= _EXHAUSTIVE:
        for mask in range(2 ** len(blocking)):
            candidates.append({b for i, b in enumerate(blocking) if mask >> i & 1})
    else:
        for t in range(len(blocking) + 1):
            candidates.append(set(blocking[:t]))
    best: tuple[int, int, set[str], set[str]] | None = None
    for to_prefix in candidates:
        assigned = _assign(g, blocking, to_prefix)
        if assigned is None:
            continue
        prefix, suffix = assigned
        body = g.dependent - prefix - suffix - g.placeholders
        if _cost(g, body) == 0:
            continue
        key = (_cost(g, prefix) + _cost(g, suffix), _cost(g, suffix))  # ties: prefer a prefix (preprocessing)
        if best is None or key < best[:2]:
            best = (key[0], key[1], prefix, suffix)
    if best is None:
        raise ConversionError(f"no cut leaves a convertible body around {sorted(wanted)}: they depend on "
                              f"convertible work on both sides", hint="choose the body by hand with "
                              "--body-inputs/--body-outputs (see `hub2lite inspect --tensors`)")
    _, _, prefix, suffix = best
    return _finish(fg, g, "auto", tuple(sorted(wanted)), prefix, suffix)


def _resolve_tensor(fg: FrozenGraph, g: _Graph, text: str, flag: str) -> str:
    name = text.strip()
    if name in fg.inputs:
        return fg.inputs[name]
    if name in fg.outputs:
        return fg.outputs[name]
    node, idx = _split_input(name)
    for cand in (node, _short(node)):
        if cand in g.nodes:
            return f"{cand}:{idx}"
    raise ConfigError(f"{flag} names unknown tensor {name!r}",
                      hint="list the graph's tensors with `hub2lite inspect MODEL --tensors`")


def plan_manual(fg: FrozenGraph, body_inputs: Sequence[str] = (), body_outputs: Sequence[str] = ()) -> SplitPlan:
    """The cut at tensors the user chose: the body computes `body_outputs` (default: the model's outputs) from
    `body_inputs` (default: the model's inputs). Everything the body inputs need runs in the prefix; whatever
    reads the body's outputs (or other tensors) to make the model's outputs runs in the suffix."""
    g = _analyse(fg)
    ins = [_resolve_tensor(fg, g, t, "--body-inputs") for t in body_inputs] or list(fg.inputs.values())
    outs = [_resolve_tensor(fg, g, t, "--body-outputs") for t in body_outputs] or list(fg.outputs.values())
    in_nodes = {_split_input(t)[0] for t in ins}
    prefix = _ancestors(g, sorted(in_nodes))
    body = _ancestors(g, sorted({_split_input(t)[0] for t in outs}), stop=in_nodes | prefix)
    # a body node reading a prefix tensor that is not a declared body input cannot be fed (model inputs the
    # body reads directly are fed as they are)
    declared = set(ins)
    missing = sorted({f"{s}:{i}" for n in body for s, i in g.inputs[n] if s in prefix and f"{s}:{i}" not in declared})
    if missing:
        raise ConfigError(f"the body also needs tensor(s) {missing[:5]} computed before the cut",
                          hint="add them to --body-inputs")
    suffix = g.dependent - prefix - body - g.placeholders
    return _finish(fg, g, "manual", (), prefix, suffix, body=body, forced_outputs=outs)


def _finish(fg: FrozenGraph, g: _Graph, mode: str, cut_ops: tuple[str, ...], prefix: set[str], suffix: set[str],
            *, body: set[str] | None = None, forced_outputs: Sequence[str] = ()) -> SplitPlan:
    if body is None:
        body = g.dependent - prefix - suffix - g.placeholders
    if _cost(g, body) == 0:
        raise ConversionError("the cut leaves no ops in the body", hint="choose other --body-inputs/--body-outputs")
    facts = _tensor_facts(fg)
    namer = _Namer(fg, facts, {name: n.op for name, n in g.nodes.items()})
    stage = {n: "prefix" for n in prefix} | {n: "body" for n in body} | {n: "suffix" for n in suffix}
    stage |= {p: "input" for p in g.placeholders}
    rank = {"input": 0, "prefix": 1, "body": 2, "suffix": 3}

    # every tensor read across a stage boundary, by the stage that reads it
    read_by: dict[str, dict[str, None]] = {"prefix": {}, "body": {}, "suffix": {}}
    for n in g.order:
        dst = stage.get(n)
        if dst not in read_by:
            continue
        for src, idx in g.inputs[n]:
            s = stage.get(src)
            if s is None or s == dst:
                continue  # constants are copied into every stage that needs them
            if rank[s] > rank[dst]:
                raise ConversionError("the chosen cut is not a prefix -> body -> suffix chain (a later part feeds "
                                      "an earlier one)", hint="choose other --body-inputs/--body-outputs")
            read_by[dst][f"{src}:{idx}"] = None
    output_stage: dict[str, str] = {}
    made_by: dict[str, list[str]] = {"input": [], "prefix": [], "body": [], "suffix": []}
    for name, tensor in fg.outputs.items():
        s = stage.get(_split_input(tensor)[0], "const")
        if s in ("input", "const"):
            s = "prefix" if prefix else "body"  # a pass-through or constant output leaves through the first stage
        output_stage[name] = s
        made_by[s].append(tensor)
    for t in forced_outputs:  # manual cut: the declared body outputs leave the body even when nothing reads them
        if stage.get(_split_input(t)[0]) == "body" and t not in made_by["body"]:
            made_by["body"].append(t)

    def cut(tensors: Sequence[str]) -> tuple[CutTensor, ...]:
        result = []
        for tensor in dict.fromkeys(tensors):
            node, idx = _split_input(tensor)
            dtype, shape = facts[node][f"{node}:{idx}"]
            result.append(CutTensor(namer(f"{node}:{idx}"), f"{node}:{idx}", dtype, shape))
        return tuple(result)

    body_inputs = cut(list(read_by["body"]))
    from_body = [t for t in read_by["suffix"] if stage[_split_input(t)[0]] == "body"]
    body_outputs = cut(from_body + made_by["body"])
    suffix_inputs = cut(list(read_by["suffix"]))
    early_to_suffix = [t for t in read_by["suffix"] if stage[_split_input(t)[0]] in ("input", "prefix")]
    prefix_outputs = cut(list(read_by["body"]) + early_to_suffix + made_by["prefix"]) if prefix else ()
    return SplitPlan(mode=mode, cut_ops=cut_ops, prefix_nodes=tuple(n for n in g.order if n in prefix),
                     body_nodes=tuple(n for n in g.order if n in body),
                     suffix_nodes=tuple(n for n in g.order if n in suffix),
                     prefix_outputs=prefix_outputs, body_inputs=body_inputs, body_outputs=body_outputs,
                     suffix_inputs=suffix_inputs, suffix_outputs=cut(made_by["suffix"]), output_stage=output_stage,
                     prefix_ops=_count(g, prefix), body_ops=_count(g, body), suffix_ops=_count(g, suffix))


# --------------------------------------------------------------------------------------------- stages

@dataclass(frozen=True)
class Stage:
    """One part of the split model as a TensorFlow function with named inputs and a dict of named outputs."""

    name: str  # "prefix" | "body" | "suffix"
    inputs: tuple[CutTensor, ...]
    outputs: tuple[CutTensor, ...]
    fn: Any = field(repr=False)  # tf ConcreteFunction(**{input name: tensor}) -> {output name: tensor}
    trackables: tuple[Any, ...] = field(default=(), repr=False)  # resources (lookup tables) saved along

    def __call__(self, feed: Mapping[str, Any]) -> dict[str, Any]:
        import tensorflow as tf

        args = {t.name: tf.convert_to_tensor(feed[t.name], dtype=tf.as_dtype(t.dtype)) for t in self.inputs}
        return {k: v for k, v in self.fn(**args).items()}


def _stage(wrapped: Any, name: str, inputs: tuple[CutTensor, ...], outputs: tuple[CutTensor, ...]) -> Stage:
    import tensorflow as tf

    graph = wrapped.graph
    fed = {t.tensor for t in inputs}
    computed = [t for t in outputs if t.tensor not in fed]
    pruned = None
    if computed:
        pruned = wrapped.prune(feeds=[graph.get_tensor_by_name(t.tensor) for t in inputs],
                               fetches=[graph.get_tensor_by_name(t.tensor) for t in computed])

    def call(*args: Any) -> dict[str, Any]:
        results = dict(zip([t.tensor for t in computed], pruned(*args))) if pruned is not None else {}
        values = dict(zip([t.tensor for t in inputs], args))
        return {t.name: tf.identity(results[t.tensor] if t.tensor in results else values[t.tensor])
                for t in outputs}

    call.__signature__ = _inspect.Signature(  # type: ignore[attr-defined]
        [_inspect.Parameter(t.name, _inspect.Parameter.POSITIONAL_OR_KEYWORD) for t in inputs])
    call.__name__ = name
    specs = [tf.TensorSpec(t.shape, tf.as_dtype(t.dtype), name=t.name) for t in inputs]
    fn = tf.function(call, input_signature=specs, autograph=False).get_concrete_function()
    return Stage(name, inputs, outputs, fn)


def model_input_tensors(fg: FrozenGraph) -> tuple[CutTensor, ...]:
    """The model's inputs as CutTensors (the prefix's inputs; the body's when there is no prefix)."""
    facts = _tensor_facts(fg)
    result = []
    for name, tensor in fg.inputs.items():
        node, idx = _split_input(tensor)
        dtype, shape = facts[node][f"{node}:{idx}"]
        result.append(CutTensor(name, f"{node}:{idx}", dtype, shape))
    return tuple(result)


def build_stages(fg: FrozenGraph, plan: SplitPlan) -> dict[str, Stage]:
    """{"prefix"?, "body", "suffix"?, "reference"}: TF functions for each part of `plan`, all cut from one import
    of the frozen graph. "reference" is the whole original computing the body's outputs from the model's
    inputs (the original's intermediate tensors, to validate the body alone against)."""
    import tensorflow as tf

    gdef = fg.graph_def

    def imported() -> None:  # lookup tables: the placeholders standing for them read the real tables
        graph = tf.compat.v1.get_default_graph()
        tables = {name: graph.capture(handle) for name, handle in fg.resources.items()}
        tf.graph_util.import_graph_def(gdef, input_map=tables, name="")

    wrapped = tf.compat.v1.wrap_function(imported, [])
    model_inputs = model_input_tensors(fg)
    stages: dict[str, Stage] = {}
    if plan.has_prefix:
        stages["prefix"] = _stage(wrapped, "prefix", model_inputs, plan.prefix_outputs)
    stages["body"] = _stage(wrapped, "body", plan.body_inputs, plan.body_outputs)
    if plan.has_suffix:
        stages["suffix"] = _stage(wrapped, "suffix", plan.suffix_inputs, plan.suffix_outputs)
    stages["reference"] = _stage(wrapped, "reference", model_inputs, plan.body_outputs)
    return {k: replace(v, trackables=fg.trackables) for k, v in stages.items()}


def save_stage(stage: Stage, path: str) -> None:
    """Write `stage` as a SavedModel whose `serving_default` signature takes and returns its named tensors."""
    import tensorflow as tf

    holder = tf.Module()
    holder.serve = stage.fn
    holder.resources = list(stage.trackables)
    tf.saved_model.save(holder, path, signatures={STAGE_SIGNATURE: stage.fn})


def describe_plan(plan: SplitPlan) -> str:
    """One line: what runs where, e.g. 'prefix (TF): 3 ops incl. UnicodeScript -> body (.tflite): 39 ops'."""
    def side(label: str, ops: Mapping[str, int]) -> str:
        cut = [op for op in plan.cut_ops if op in ops]
        extra = f" incl. {', '.join(cut)}" if cut else ""
        return f"{label} (TensorFlow): {sum(ops.values())} op(s){extra}"

    parts = [side("prefix", plan.prefix_ops)] if plan.has_prefix else []
    parts.append(f"body (.tflite): {sum(plan.body_ops.values())} op(s)")
    if plan.has_suffix:
        parts.append(side("suffix", plan.suffix_ops))
    return " -> ".join(parts)
