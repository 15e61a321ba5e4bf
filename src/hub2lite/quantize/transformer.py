"""The numerically fragile parts of a transformer in a TFLite graph — LayerNorm, Softmax, GELU — as the op
output tensors to keep in float in an int8 model (`ConvertConfig.float_nodes`).

In int8 these are where transformers lose accuracy: LayerNorm's variance and reciprocal square root span a
range no single int8 scale covers (outlier channels), Softmax's exponentials are squeezed into 256 levels, and
GELU's curve near zero is lost at the step of the activations around it. The converter lowers them to:

* Softmax: one SOFTMAX (or LOG_SOFTMAX) op, and the masking right before it — SELECT_V2(mask, scores, -1e9)
  (Keras) or ADD(scores, (1 - mask) * -10000) (BERT), and the scaling of the scores feeding it: int8 gives the
  masked tensor — and the scores, which must share its scale — a range that spans the huge negative constant,
  so every real attention score rounds to the same level (uniform attention). Measured on the BERT-style test
  fixture: TFLite's debugger ranks that scaling MUL as by far the worst int8 layer (severity 3.3, next 0.55);
* GELU: one GELU op (both the tanh and the exact erf form are fused by the converter);
* LayerNorm: MEAN(x) -> SQUARED_DIFFERENCE -> MEAN -> ADD(eps) -> RSQRT -> MUL(gamma) -> MUL(x) / MUL(mean)
  -> SUB or NEG+ADD -> ADD(beta): found from each SQUARED_DIFFERENCE, its MEAN input, and the element-wise ops
  after it up to the ADD that gives back x's shape (the normalised output).

One more part is not a transformer's: `lstm`, the recurrent ops (UNIDIRECTIONAL/BIDIRECTIONAL_SEQUENCE_LSTM/RNN)
and the WHILE loops an unfused Keras LSTM becomes (flatgraph.RECURRENT_OPS). int8 keeps them float by default
(convert.py): TensorFlow's calibrator crashes on the loops and LiteRT's int8 LSTM kernel crashed on textgenrnn.

`fragile_ops(model)` reads a .tflite (float or calibrated) and returns {part: tensor names}.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

__all__ = ["FRAGILE_PARTS", "fragile_ops", "float_nodes_for", "has_attention"]

FRAGILE_PARTS = ("layernorm", "softmax", "gelu", "lstm")
_ELEMENTWISE = frozenset({"MEAN", "ADD", "RSQRT", "MUL", "SUB", "NEG", "SQRT", "DIV", "SQUARED_DIFFERENCE"})
_MAX_REGION = 16
_MASKING = frozenset({"SELECT", "SELECT_V2", "ADD", "SUB"})


def _graph(model: bytes) -> tuple[list[dict[str, Any]], list[str], list[tuple[int, ...]]]:
    """Ops (name, inputs, outputs) and tensor names/shapes of subgraph 0, read lazily (flatgraph.CalibratedGraph)."""
    from .flatgraph import CalibratedGraph

    g = CalibratedGraph(model)
    shapes = [g.shape(i) for i in range(len(g.tensor_names))]
    ops = [{"op": op.op, "inputs": [i for i in op.inputs if i >= 0], "outputs": list(op.outputs)} for op in g.ops]
    return ops, g.tensor_names, shapes


def fragile_ops(model: bytes, parts: Sequence[str] = FRAGILE_PARTS) -> dict[str, tuple[str, ...]]:
    """{part: output tensor names of its ops} for the parts asked (LayerNorm regions, SOFTMAX, GELU, recurrent)."""
    unknown = sorted(set(parts) - set(FRAGILE_PARTS))
    if unknown:
        raise ValueError(f"unknown transformer parts {unknown}; known: {list(FRAGILE_PARTS)}")
    ops, names, shapes = _graph(model)
    producer = {t: i for i, op in enumerate(ops) for t in op["outputs"]}
    consumers: dict[int, list[int]] = {}
    for i, op in enumerate(ops):
        for t in op["inputs"]:
            consumers.setdefault(t, []).append(i)
    found: dict[str, list[int]] = {p: [] for p in parts}
    if "softmax" in found:
        members: set[int] = set()
        for i, op in enumerate(ops):
            if op["op"] not in ("SOFTMAX", "LOG_SOFTMAX"):
                continue
            members.add(i)
            j = producer.get(op["inputs"][0])
            if j is None or ops[j]["op"] not in _MASKING:
                continue
            members.add(j)  # the masking: SELECT(_V2)(mask, scores, -1e9) or ADD(scores, adder)
            scores = ops[j]["inputs"][1] if ops[j]["op"].startswith("SELECT") else ops[j]["inputs"][0]
            for t in ops[j]["inputs"]:
                k = producer.get(t)
                if k is None:
                    continue
                if t == scores and ops[k]["op"] in ("MUL", "DIV", "ADD"):
                    members.add(k)  # the scaled scores: int8 ties their scale to the masked range
                elif t != scores and ops[j]["op"] in ("ADD", "SUB") and ops[k]["op"] in ("MUL", "SUB"):
                    members.add(k)  # the adder (1 - mask) * -10000
        found["softmax"] = sorted(members)
    if "gelu" in found:
        found["gelu"] = [i for i, op in enumerate(ops) if op["op"] == "GELU"]
    if "lstm" in found:  # what int8 keeps float by default: one definition (flatgraph.recurrent_ops)
        from .flatgraph import recurrent_ops

        found["lstm"] = [op.index for op in recurrent_ops(model)]
    if "layernorm" in found:
        region: set[int] = set()
        for i, op in enumerate(ops):
            if op["op"] != "SQUARED_DIFFERENCE":
                continue
            means = [producer[t] for t in op["inputs"] if t in producer and ops[producer[t]]["op"] == "MEAN"]
            xs = [t for t in op["inputs"] if not (t in producer and ops[producer[t]]["op"] == "MEAN")]
            x_shape = shapes[xs[0]] if xs else None
            members = {i, *means}
            queue = deque(c for t in op["outputs"] for c in consumers.get(t, []))
            while queue and len(members) < _MAX_REGION:
                j = queue.popleft()
                if j in members or ops[j]["op"] not in _ELEMENTWISE:
                    continue
                members.add(j)
                out = ops[j]["outputs"][0]
                if ops[j]["op"] == "ADD" and x_shape is not None and shapes[out] == x_shape and any(
                        producer.get(t) in members and ops[producer[t]]["op"] == "MUL" for t in ops[j]["inputs"]):
                    continue  # the normalised output: the region ends here
                queue.extend(consumers.get(out, []))
            region |= members
        found["layernorm"] = sorted(region)
    return {p: tuple(names[ops[i]["outputs"][0]] for i in idx) for p, idx in found.items()}


def float_nodes_for(model: bytes, parts: Sequence[str] = FRAGILE_PARTS) -> tuple[str, ...]:
    """Every tensor name of `fragile_ops`, once, in graph order (what ConvertConfig.float_nodes takes)."""
    seen: dict[str, None] = {}
    for names in fragile_ops(model, parts).values():
        for n in names:
            seen.setdefault(n, None)
    return tuple(seen)


def has_attention(model: bytes) -> bool:
    """Whether a SOFTMAX of `model` takes masked or scaled scores (self-attention), not only a classifier's last
    op: the models for which keeping the softmax path in float is worth a try."""
    ops, _, _ = _graph(model)
    producer = {t: op for op in ops for t in op["outputs"]}
    return any(op["op"] in ("SOFTMAX", "LOG_SOFTMAX") and op["inputs"]
               and producer.get(op["inputs"][0], {}).get("op") in _MASKING | {"MUL", "DIV"} for op in ops)
