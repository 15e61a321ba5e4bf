"""Which integer inputs of a model are token ids, masks or type ids, and how large the tables they index are.

BERT-style encoders take int32 `input_word_ids` / `input_mask` / `input_type_ids` (or `input_ids` /
`attention_mask` / `token_type_ids`). Random integers are not valid inputs for them: an id outside the
embedding table it indexes makes TensorFlow raise (`indices[0,0] = 63 is not in [0, 2)`). So the range of
every id input is read from the graph itself:

* each integer input is followed forward through the ops that keep integer values (Identity, Cast to an
  integer, Reshape, slicing, Select, Add — Keras' negative-index fix-up —, function calls and their returns)
  until it becomes the *indices* of a table lookup: `GatherV2`/`Gather`/`ResourceGather` (what
  `tf.gather`, `tf.nn.embedding_lookup` and Keras `Embedding` trace to) or `OneHot` (the one-hot matmul
  embeddings of TF-Models' BERT type ids);
* the table is followed backward (ReadVariableOp, function arguments to the caller's operands, captured
  variables, constants, variable ops) to its shape: ids must lie in [0, rows along the gather axis);
* integer tensors that are cast to float or bool instead of indexing a table are recorded too: that is how
  a padding mask is used.

Roles are then given by name (the hub's and Hugging Face's conventions) and by the graph (the input that
indexes the largest table holds the word ids; small tables hold type ids). Everything here reads a
GraphDef-shaped value (`analyze_graph`, pure) or a concrete function (`analyze_function`).
"""

from __future__ import annotations

import enum
import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .specs import TensorSpec

__all__ = ["TokenRole", "TableUse", "TokenInput", "TokenInputs", "analyze_graph", "analyze_function",
           "assign_roles", "role_by_name", "token_input_names", "analyze_tflite", "INTEGER_DTYPES", "MAX_TYPE_VOCAB"]

INTEGER_DTYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"})
#: A table this small that is not the largest one holds segment (type) ids, not words.
MAX_TYPE_VOCAB = 16

# DataType enum values (tensorflow/core/framework/types.proto): integers, then float/bool for mask evidence.
_INT_ENUMS = frozenset({3, 4, 5, 6, 9, 17, 22, 23})
_FLOAT_OR_BOOL_ENUMS = frozenset({1, 2, 10, 14, 19})  # float, double, bool, bfloat16, half

_WORD = re.compile(r"(^|_)(input_word_ids|word_ids|input_ids|token_ids|tokens?|ids)$", re.IGNORECASE)
_MASK = re.compile(r"mask", re.IGNORECASE)
_TYPE = re.compile(r"type_ids|segment_ids|token_type|input_type|segment", re.IGNORECASE)
_LENGTH = re.compile(r"(^|_)(lengths?|seq_len|sequence_length|num_tokens)$", re.IGNORECASE)

#: op -> input positions whose integer values flow unchanged (in range terms) into the op's outputs.
_PASS: dict[str, tuple[int, ...] | None] = {
    "Identity": (0,), "Snapshot": (0,), "StopGradient": (0,), "EnsureShape": (0,), "Cast": (0,),
    "Reshape": (0,), "ExpandDims": (0,), "Squeeze": (0,), "StridedSlice": (0,), "Slice": (0,),
    "Transpose": (0,), "Tile": (0,), "BroadcastTo": (0,), "Pad": (0,), "PadV2": (0, 2), "MirrorPad": (0,),
    "ReverseV2": (0,), "Pack": None, "ConcatV2": None, "SelectV2": (1, 2), "Select": (1, 2),
    "AddV2": None, "Add": None, "Sub": None, "Mul": None, "Maximum": None, "Minimum": None,
    "ClipByValue": (0,), "FloorMod": (0,), "Split": (1,), "SplitV": (0,), "Unpack": (0,), "Fill": (1,),
    "GatherV2": (0,), "Gather": (0,), "Abs": (0,), "IdentityN": None,
}
#: op -> (indices position, table position, axis position or None). OneHot's "table" is its depth.
_SINKS: dict[str, tuple[int, int, int | None]] = {
    "GatherV2": (1, 0, 2), "Gather": (1, 0, None), "ResourceGather": (1, 0, None), "OneHot": (0, 1, None),
    "SparseSegmentSum": (1, 0, None), "SparseSegmentMean": (1, 0, None), "SparseSegmentSqrtN": (1, 0, None),
}
_CALLS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
_IFS = frozenset({"If", "StatelessIf"})
_COMPARE = frozenset({"Equal", "NotEqual", "Greater", "GreaterEqual"})


class TokenRole(str, enum.Enum):
    WORD_IDS = "word-ids"  # token ids into the vocabulary
    MASK = "mask"  # 1 for real tokens, 0 for padding
    TYPE_IDS = "type-ids"  # segment ids (0 = first sentence, 1 = second)
    IDS = "ids"  # indexes a table, role unknown: drawn uniformly inside the table
    LENGTH = "length"  # number of real tokens per row
    OTHER = "other"  # an integer input that indexes nothing found: the generic draw


@dataclass(frozen=True)
class TableUse:
    """One lookup an input reaches: the op, the table (variable / node name), its shape, and its rows."""

    op: str
    table: str
    shape: tuple[int | None, ...] | None
    rows: int | None

    def describe(self) -> str:
        dims = "?" if self.shape is None else "×".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.op} of {self.table} [{dims}]"

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "table": self.table, "shape": None if self.shape is None else list(self.shape),
                "rows": self.rows}


@dataclass(frozen=True)
class TokenInput:
    name: str
    dtype: str
    role: TokenRole
    rows: int | None  # values must lie in [0, rows) (the smallest table reached); None: no table found
    tables: tuple[TableUse, ...] = ()
    evidence: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "role": self.role.value, "rows": self.rows,
                "tables": [t.to_dict() for t in self.tables], "evidence": self.evidence}


@dataclass(frozen=True)
class TokenInputs:
    """The integer inputs of one entry point with their roles (inputs that are not integers are left out)."""

    inputs: tuple[TokenInput, ...] = ()
    notes: tuple[str, ...] = ()

    def get(self, name: str) -> TokenInput | None:
        return next((t for t in self.inputs if t.name == name), None)

    def by_role(self, role: TokenRole) -> TokenInput | None:
        return next((t for t in self.inputs if t.role is role), None)

    @property
    def is_text_encoder(self) -> bool:
        """Word ids found (by name or as the largest table indexed)."""
        return self.by_role(TokenRole.WORD_IDS) is not None

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": [t.to_dict() for t in self.inputs], "notes": list(self.notes)}


def role_by_name(name: str) -> TokenRole | None:
    """The role an input's name gives it (hub BERT, Hugging Face and Keras-NLP names), or None."""
    if _MASK.search(name):
        return TokenRole.MASK
    if _TYPE.search(name):
        return TokenRole.TYPE_IDS
    if _WORD.search(name):
        return TokenRole.WORD_IDS
    if _LENGTH.search(name):
        return TokenRole.LENGTH
    return None


def token_input_names(info: Any) -> tuple[str, ...]:
    """Integer inputs named like BERT's (word ids / mask / type ids, or the Hugging Face names), when one of them
    holds word ids: the signature of a text encoder. Empty otherwise."""
    ints = [s for s in info.inputs if s.dtype in INTEGER_DTYPES and s.shape is not None and 1 <= len(s.shape) <= 2]
    roles = {s.name: role_by_name(s.name) for s in ints}
    if TokenRole.WORD_IDS not in roles.values():
        return ()
    wanted = (TokenRole.WORD_IDS, TokenRole.MASK, TokenRole.TYPE_IDS)
    return tuple(name for name, role in roles.items() if role in wanted)


# --- the graph walk ---------------------------------------------------------------------------------------

@dataclass
class _Scope:
    """The outer graph or one FunctionDef body, indexed for the walk."""

    name: str
    nodes: dict[str, Any]
    args: tuple[str, ...] = ()  # function argument names (empty for the outer graph)
    rets: tuple[str, ...] = ()  # function return refs, in output order
    consumers: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)  # producer -> (node, pos, idx)
    is_function: bool = False

    def parse(self, ref: str) -> tuple[str, int] | None:
        """(producer, output index) of an input reference; None for a control input."""
        if ref.startswith("^"):
            return None
        parts = ref.split(":")
        if self.is_function:
            return (parts[0], int(parts[2]) if len(parts) == 3 else 0)
        return (parts[0], int(parts[1]) if len(parts) == 2 else 0)

    def data_inputs(self, node: Any) -> list[str]:
        return [r for r in node.input if not r.startswith("^")]


def _index(name: str, nodes: Sequence[Any], *, args: Sequence[str] = (), rets: Sequence[str] = (),
           is_function: bool = False) -> _Scope:
    scope = _Scope(name, {n.name: n for n in nodes}, tuple(args), tuple(rets), is_function=is_function)
    for n in nodes:
        for pos, ref in enumerate(scope.data_inputs(n)):
            parsed = scope.parse(ref)
            if parsed is not None:
                scope.consumers.setdefault(parsed[0], []).append((n.name, pos, parsed[1]))
    return scope


@dataclass
class _Hits:
    tables: list[TableUse] = field(default_factory=list)
    casts: set[str] = field(default_factory=set)  # ops that turn the integers into float/bool (mask evidence)
    unfollowed: set[str] = field(default_factory=set)  # control flow the walk does not enter (While, ...)


class _Walker:
    def __init__(self, graph_def: Any, resource_shapes: Mapping[str, tuple[str, tuple[int | None, ...]]]) -> None:
        self.outer = _index("<graph>", list(graph_def.node))
        self.functions = {f.signature.name: f for f in graph_def.library.function}
        self._scopes: dict[str, _Scope] = {}
        self.resource_shapes = resource_shapes

    def scope(self, fname: str) -> _Scope:
        if fname not in self._scopes:
            f = self.functions[fname]
            args = [a.name for a in f.signature.input_arg]
            rets = [f.ret[o.name] for o in f.signature.output_arg]
            self._scopes[fname] = _index(fname, list(f.node_def), args=args, rets=rets, is_function=True)
        return self._scopes[fname]

    # stack: list of (scope, call node in the caller scope or None, offset of the callee's args in its inputs)
    def walk(self, stack: list[tuple[_Scope, Any, int]], start: list[tuple[str, int | None]], hits: _Hits,
             depth: int = 0) -> set[int]:
        """Follow integer values from `start` ((producer, output index | None = all)) through the scope on top of
        `stack`; record lookups in `hits`. Returns the indices of the scope's returns that carry them."""
        scope = stack[-1][0]
        tainted: set[tuple[str, int | None]] = set()
        queue = deque(start)
        while queue:
            item = queue.popleft()
            if item in tainted:
                continue
            tainted.add(item)
            producer, idx = item
            for consumer, pos, used_idx in scope.consumers.get(producer, ()):
                if idx is not None and used_idx != idx:
                    continue
                node = scope.nodes[consumer]
                for out in self._step(stack, node, pos, hits, depth):
                    queue.append((consumer, out))
        returned = set()
        for i, ref in enumerate(scope.rets):
            parsed = scope.parse(ref)
            if parsed and ((parsed[0], parsed[1]) in tainted or (parsed[0], None) in tainted):
                returned.add(i)
        return returned

    def _step(self, stack: list[tuple[_Scope, Any, int]], node: Any, pos: int, hits: _Hits,
              depth: int) -> list[int | None]:
        """What happens to integers entering `node` at input `pos`: the outputs they reach."""
        op = node.op
        sink = _SINKS.get(op)
        if sink is not None and pos == sink[0]:
            hits.tables.append(self._table(stack, node, sink))
            return []
        callee, offset = self._callee(node)
        if callee is not None:
            if depth > 64:
                hits.unfollowed.add(op)
                return []
            if pos - offset < 0:  # an If's condition
                return []
            outs: set[int] = set()
            for fname in callee:
                if fname not in self.functions:
                    hits.unfollowed.add(op)
                    continue
                inner = self.scope(fname)
                if pos - offset >= len(inner.args):
                    continue
                outs |= self.walk(stack + [(inner, node, offset)], [(inner.args[pos - offset], 0)], hits, depth + 1)
            return sorted(outs)
        if op in ("While", "StatelessWhile", "Case", "StatelessCase"):
            hits.unfollowed.add(op)
            return []
        if op == "Cast":
            dst = node.attr["DstT"].type
            if dst in _INT_ENUMS:
                return [None]
            if dst in _FLOAT_OR_BOOL_ENUMS:
                hits.casts.add(f"Cast to {'bool' if dst == 10 else 'float'}")
            return []
        if op in _COMPARE:
            hits.casts.add(op)
            return []
        if op not in _PASS:
            return []
        allowed = _PASS[op]
        if op == "ConcatV2" and pos == len(node.input) - 1 - sum(r.startswith("^") for r in node.input):
            return []  # the axis
        if allowed is not None and pos not in allowed:
            return []
        if op == "IdentityN":
            return [pos]
        t = node.attr["T"].type if "T" in node.attr else node.attr["Tparams"].type if "Tparams" in node.attr else None
        if t is not None and t not in _INT_ENUMS:
            return []
        return [None]

    def _callee(self, node: Any) -> tuple[tuple[str, ...] | None, int]:
        if node.op in _CALLS:
            return (node.attr["f"].func.name,), 0
        if node.op in _IFS:
            return (node.attr["then_branch"].func.name, node.attr["else_branch"].func.name), 1
        if node.op in self.functions:  # a direct call of a library function
            return (node.op,), 0
        return None, 0

    def _table(self, stack: list[tuple[_Scope, Any, int]], node: Any, sink: tuple[int, int, int | None]) -> TableUse:
        scope = stack[-1][0]
        inputs = scope.data_inputs(node)
        if node.op == "OneHot":
            depth = self._const_int(stack, inputs[sink[1]])
            return TableUse("OneHot", f"depth of {node.name}", None if depth is None else (depth,), depth)
        name, shape = self._resolve(stack, inputs[sink[1]])
        axis = 0
        if sink[2] is not None and sink[2] < len(inputs):
            axis = self._const_int(stack, inputs[sink[2]])
            if axis is None:
                return TableUse(node.op, name, shape, None)
            batch_dims = node.attr["batch_dims"].i if "batch_dims" in node.attr else 0
            if batch_dims:
                return TableUse(node.op, name, shape, None)
        rows = None
        if shape is not None and -len(shape) <= axis < len(shape):
            rows = shape[axis]
        return TableUse(node.op, name, shape, rows)

    def _producer(self, stack: list[tuple[_Scope, Any, int]], ref: str) -> tuple[list[tuple[_Scope, Any, int]], Any]:
        """Follow a ref to the node that produces it, crossing function arguments into the caller.
        Returns (stack of that node's scope, node) or (stack, None) when it cannot be followed."""
        for _ in range(256):
            scope, call, offset = stack[-1]
            parsed = scope.parse(ref)
            if parsed is None:
                return stack, None
            name = parsed[0]
            if scope.is_function and name in scope.args and name not in scope.nodes:
                if call is None or len(stack) < 2:
                    return stack, None
                caller = stack[-2][0]
                ref = caller.data_inputs(call)[scope.args.index(name) + offset]
                stack = stack[:-1]
                continue
            return stack, scope.nodes.get(name)
        return stack, None

    def _resolve(self, stack: list[tuple[_Scope, Any, int]], ref: str) -> tuple[str, tuple[int | None, ...] | None]:
        """(name, shape) of the table behind `ref`: through reads and identities to a variable or constant."""
        for _ in range(256):
            stack, node = self._producer(stack, ref)
            if node is None:
                return ref.split(":")[0], None
            if node.op == "Const":
                dims = node.attr["value"].tensor.tensor_shape.dim
                return node.name, tuple(int(d.size) for d in dims)
            if node.op in ("VarHandleOp", "VariableV2", "Variable"):
                shape_attr = node.attr["shape"].shape
                label = node.attr["shared_name"].s.decode() if "shared_name" in node.attr and node.attr[
                    "shared_name"].s else node.name
                if shape_attr.unknown_rank:
                    return label, None
                return label, tuple(None if d.size < 0 else int(d.size) for d in shape_attr.dim)
            if node.op == "Placeholder" and not stack[-1][0].is_function:
                if node.name in self.resource_shapes:
                    return self.resource_shapes[node.name]
                return node.name, None
            if node.op in ("ReadVariableOp", "Identity", "Snapshot", "Enter", "StopGradient"):
                ref = stack[-1][0].data_inputs(node)[0]
                continue
            return node.name, None
        return ref, None

    def _const_int(self, stack: list[tuple[_Scope, Any, int]], ref: str) -> int | None:
        for _ in range(64):
            stack, node = self._producer(stack, ref)
            if node is None:
                return None
            if node.op == "Const":
                t = node.attr["value"].tensor
                vals = list(t.int_val) or list(t.int64_val)
                if not vals and t.tensor_content:
                    import numpy as np

                    dt = np.int64 if t.dtype == 9 else np.int32
                    vals = np.frombuffer(t.tensor_content, dtype=dt).tolist()
                return int(vals[0]) if len(vals) == 1 else None
            if node.op in ("Identity", "Cast"):
                ref = stack[-1][0].data_inputs(node)[0]
                continue
            return None
        return None


def analyze_graph(graph_def: Any, inputs: Mapping[str, TensorSpec], *,
                  resource_shapes: Mapping[str, tuple[str, tuple[int | None, ...]]] | None = None) -> TokenInputs:
    """Roles and ranges of the integer inputs of a GraphDef (with its function library).

    `inputs` maps each input Placeholder's node name to the input's spec (its name as the user knows it);
    `resource_shapes` maps Placeholders that carry captured variables to (variable name, shape).
    """
    walker = _Walker(graph_def, resource_shapes or {})
    found: dict[str, _Hits] = {}
    for placeholder, spec in inputs.items():
        if spec.dtype not in INTEGER_DTYPES:
            continue
        hits = _Hits()
        if placeholder in walker.outer.nodes:
            walker.walk([(walker.outer, None, 0)], [(placeholder, None)], hits)
        found[spec.name] = hits
    specs = {spec.name: spec for spec in inputs.values()}
    return assign_roles({n: specs[n] for n in found}, found)


def assign_roles(specs: Mapping[str, TensorSpec], hits: Mapping[str, Any]) -> TokenInputs:
    """Give every integer input a role from its name and what the graph walk found (`hits[name]` has `tables`,
    `casts`, `unfollowed`)."""
    results: dict[str, TokenInput] = {}
    notes: list[str] = []
    for name, spec in specs.items():
        h = hits[name]
        tables = tuple(h.tables)
        known = [t.rows for t in tables if t.rows is not None]
        rows = min(known) if known else None
        found = ("indexes " + "; ".join(t.describe() for t in tables)) if tables else "indexes no table"
        if h.casts:
            found += f"; {', '.join(sorted(h.casts))}"
        if h.unfollowed:
            notes.append(f"input {name!r}: not followed into {sorted(h.unfollowed)}")
        by_name = role_by_name(name)
        if by_name is TokenRole.LENGTH and spec.shape is not None and len(spec.shape) > 2:
            by_name = None
        if by_name is not None:
            role, why = by_name, {TokenRole.MASK: "named like a mask", TokenRole.TYPE_IDS: "named like type ids",
                                  TokenRole.WORD_IDS: "named like token ids",
                                  TokenRole.LENGTH: "named like a length"}[by_name]
        elif tables:
            role, why = TokenRole.IDS, "indexes a table"
        else:
            role, why = TokenRole.OTHER, "not recognised"
        results[name] = TokenInput(name, spec.dtype, role, rows, tables, f"{why}; {found}")
    # by the graph: the largest table holds the words, small tables beside it the segment types
    words = [t for t in results.values() if t.role is TokenRole.WORD_IDS]
    if not words:
        ids = sorted((t for t in results.values() if t.role is TokenRole.IDS and t.rows),
                     key=lambda t: -(t.rows or 0))
        if ids and (len(ids) == 1 or (ids[0].rows or 0) > (ids[1].rows or 0)):
            results[ids[0].name] = _with(ids[0], TokenRole.WORD_IDS, "indexes the largest table")
            words = [results[ids[0].name]]
    if words:
        word = words[0]
        for t in list(results.values()):
            if t.role is TokenRole.IDS and t.rows is not None and t.rows <= MAX_TYPE_VOCAB:
                results[t.name] = _with(t, TokenRole.TYPE_IDS, f"indexes a table of {t.rows} rows beside the words")
            elif (t.role is TokenRole.OTHER and not t.tables and hits[t.name].casts
                  and specs[t.name].shape == specs[word.name].shape):
                results[t.name] = _with(t, TokenRole.MASK, "shaped like the word ids and cast to float/bool")
    return TokenInputs(tuple(results[n] for n in specs), tuple(dict.fromkeys(notes)))


def _with(t: TokenInput, role: TokenRole, why: str) -> TokenInput:
    return TokenInput(t.name, t.dtype, role, t.rows, t.tables, f"{why}; {t.evidence}")


def analyze_function(concrete_fn: Any, input_names: Mapping[str, str] | None = None,
                     specs: Sequence[TensorSpec] | None = None) -> TokenInputs:
    """Roles and ranges of the integer inputs of a tf ConcreteFunction.

    `input_names` maps Placeholder node names to input names (as `convert.build_function` returns them:
    parameter -> original name); by default the Placeholders' own names. `specs` gives the inputs' dtypes and
    shapes by input name (default: the Placeholders').
    """
    import tensorflow as tf

    graph = concrete_fn.graph
    n_inputs = len(tf.nest.flatten(concrete_fn.structured_input_signature))
    placeholders = [t.op.name for t in graph.inputs[:n_inputs]]
    names = dict(input_names) if input_names is not None else {p: p for p in placeholders}
    by_name = {s.name: s for s in specs or ()}
    inputs: dict[str, TensorSpec] = {}
    for t in graph.inputs[:n_inputs]:
        user = names.get(t.op.name, t.op.name)
        shape = None if t.shape.rank is None else tuple(t.shape.as_list())
        inputs[t.op.name] = by_name.get(user) or TensorSpec(user, t.dtype.name, shape)
    variables = {id(v.handle): v for v in concrete_fn.variables}
    resource_shapes: dict[str, tuple[str, tuple[int | None, ...]]] = {}
    for external, internal in graph.captures:
        var = variables.get(id(external))
        if var is not None:
            resource_shapes[internal.op.name] = (var.name.removesuffix(":0"), tuple(var.shape.as_list()))
    return analyze_graph(graph.as_graph_def(), inputs, resource_shapes=resource_shapes)


# --- the same analysis on a .tflite (when there is no original model: `hub2lite bench MODEL.tflite`) -------

#: TFLite ops whose integer values flow into their output (position None = any input).
_LITE_PASS: dict[str, tuple[int, ...] | None] = {
    "CAST": (0,), "RESHAPE": (0,), "SQUEEZE": (0,), "EXPAND_DIMS": (0,), "STRIDED_SLICE": (0,), "SLICE": (0,),
    "TRANSPOSE": (0,), "TILE": (0,), "BROADCAST_TO": (0,), "PAD": (0,), "PADV2": (0,), "REVERSE_V2": (0,),
    "PACK": None, "CONCATENATION": None, "SELECT": (1, 2), "SELECT_V2": (1, 2), "ADD": None, "SUB": None,
    "MUL": None, "MAXIMUM": None, "MINIMUM": None, "FLOOR_MOD": (0,), "GATHER": (0,), "ABS": (0,),
    "SPLIT": (1,), "SPLIT_V": (0,), "UNPACK": (0,),
}
#: TFLite op -> (indices position, table position)
_LITE_SINKS = {"GATHER": (1, 0), "EMBEDDING_LOOKUP": (0, 1), "ONE_HOT": (0, 1)}
_LITE_INT_TYPES = frozenset({2, 4, 3, 6, 7, 9, 12, 15, 16})  # INT32, INT64, UINT8, INT16, INT8, UINT64, UINT32, UINT16


def analyze_tflite(model: bytes, signature_key: str | None = None) -> TokenInputs:
    """Roles and ranges of the integer inputs of a .tflite signature (GATHER / EMBEDDING_LOOKUP / ONE_HOT
    tables), named as the signature names them."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    fb = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    codes = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    sigs = list(fb.signatureDefs or [])
    sig = next((s for s in sigs if signature_key is None or _text(s.signatureKey) == signature_key), None)
    sg = fb.subgraphs[sig.subgraphIndex if sig is not None else 0]
    if sig is not None:
        inputs = {_text(t.name): int(t.tensorIndex) for t in sig.inputs}
    else:
        inputs = {_text(sg.tensors[i].name): int(i) for i in sg.inputs}
    ops = []
    for op in sg.operators or []:
        oc = fb.operatorCodes[op.opcodeIndex]
        ops.append((codes.get(max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode)), "?"),
                    [int(i) for i in (op.inputs if op.inputs is not None else [])],
                    [int(i) for i in (op.outputs if op.outputs is not None else [])], op.builtinOptions))
    consumers: dict[int, list[tuple[int, int]]] = {}
    for k, (_, ins, _, _) in enumerate(ops):
        for pos, t in enumerate(ins):
            consumers.setdefault(t, []).append((k, pos))

    def shape(t: int) -> tuple[int | None, ...]:
        return tuple(int(d) for d in (sg.tensors[t].shape if sg.tensors[t].shape is not None else []))

    specs: dict[str, TensorSpec] = {}
    found: dict[str, _Hits] = {}
    for name, tensor in inputs.items():
        dtype = _LITE_DTYPES.get(int(sg.tensors[tensor].type))
        if dtype is None:
            continue
        specs[name] = TensorSpec(name, dtype, shape(tensor))
        hits = found[name] = _Hits()
        seen, queue = {tensor}, deque([tensor])
        while queue:
            t = queue.popleft()
            for k, pos in consumers.get(t, ()):
                op, ins, outs, options = ops[k]
                sink = _LITE_SINKS.get(op)
                if sink is not None and pos == sink[0]:
                    table = ins[sink[1]]
                    if op == "ONE_HOT":
                        depth = _lite_const(fb, sg, table)
                        hits.tables.append(TableUse(op, "depth", None if depth is None else (depth,), depth))
                        continue
                    axis = int(getattr(options, "axis", 0) or 0) if op == "GATHER" else 0
                    dims = shape(table)
                    rows = dims[axis] if -len(dims) <= axis < len(dims) else None
                    hits.tables.append(TableUse(op, _text(sg.tensors[table].name), dims, rows))
                    continue
                if op == "CAST" and int(sg.tensors[outs[0]].type) not in _LITE_INT_TYPES:
                    hits.casts.add("Cast to float/bool")
                    continue
                allowed = _LITE_PASS.get(op, ())
                if allowed is not None and pos not in allowed:
                    continue
                for o in outs:
                    if o not in seen and int(sg.tensors[o].type) in _LITE_INT_TYPES:
                        seen.add(o)
                        queue.append(o)
    return assign_roles(specs, found)


_LITE_DTYPES = {2: "int32", 4: "int64", 3: "uint8", 7: "int16", 9: "int8"}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _lite_const(fb: Any, sg: Any, tensor: int) -> int | None:
    import numpy as np

    buf = fb.buffers[sg.tensors[tensor].buffer]
    data = getattr(buf, "data", None)
    if data is None or len(data) not in (4, 8):
        return None
    return int(np.frombuffer(bytes(bytearray(data)), dtype=np.int32 if len(data) == 4 else np.int64)[0])
