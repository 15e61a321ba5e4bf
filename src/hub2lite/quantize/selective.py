"""Selective quantization: an int8 model with some layers kept in float, by TFLite's documented route
(QuantizationDebugOptions(denylisted_nodes) + get_nondebug_quantized_model()), and the matching of layer
names from a per-layer report onto a model's op outputs. Used by convert (`float_nodes`) and the debugger."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import ConfigError
from ..tflite_file import op_graph

__all__ = ["selective_quantize", "resolve_nodes", "canonical_name"]

log = logging.getLogger(__name__)


def canonical_name(name: str) -> frozenset[str]:
    """A tensor name without what changes between two traces of the same function: the call-site prefixes
    (`StatefulPartitionedCall/...`) and the uniquifying digits the converter appends (`;1`, `convolution1`)."""
    parts = set()
    for part in name.split(";"):
        part = part.rsplit("StatefulPartitionedCall/", 1)[-1].rstrip("0123456789")
        if part and not part.endswith("/"):
            parts.add(part)
    return frozenset(parts)


def resolve_nodes(requested: Iterable[str], known: Sequence[str]) -> list[str]:
    """Map node names (e.g. from a per-layer report) onto this model's op output names: exactly, else by
    `canonical_name` form when that names exactly one op. Raises ConfigError naming the unknown ones."""
    known_set = set(known)
    by_key: dict[frozenset[str], list[str]] = {}
    for n in known:
        by_key.setdefault(canonical_name(n), []).append(n)
    out, unknown = [], []
    for n in dict.fromkeys(requested):
        if n in known_set:
            out.append(n)
            continue
        match = by_key.get(canonical_name(n), [])
        if len(match) == 1:
            out.append(match[0])
        else:
            unknown.append(n)
    if unknown:
        shown = ", ".join(repr(n) for n in known[:4])
        raise ConfigError(f"float node(s) {unknown} are not op outputs of this model",
                          hint=f"use names from the per-layer report (`validate --per-layer`), e.g. {shown}")
    return out


def selective_quantize(converter: Any, float_nodes: Sequence[str]) -> bytes:
    """Quantize with `converter` (already set up for int8 with a representative dataset), keeping the ops
    producing `float_nodes` in float: QuantizationDebugOptions(denylisted_nodes) +
    get_nondebug_quantized_model(), the route TFLite documents for selective quantization."""
    import tensorflow as tf

    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_options=tf.lite.experimental.QuantizationDebugOptions())
    ops, names = op_graph(debugger.calibrated_model)
    nodes = resolve_nodes(float_nodes, [names[op["outputs"][0]] for op in ops if op["outputs"]])
    if list(nodes) != list(float_nodes):
        log.info("float nodes matched by canonical name: %s", nodes)
    try:
        debugger.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=nodes)
    except ValueError as exc:
        raise ConfigError(f"keeping {len(float_nodes)} node(s) in float leaves nothing quantized ({exc})",
                          hint="use --quantize float32 / float16 instead") from exc
    return bytes(debugger.get_nondebug_quantized_model())
