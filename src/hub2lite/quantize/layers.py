"""The per-layer int8 error report: each quantized layer's error (from quantize/debugger.py), its severity,
which layers to keep in float and how they group into float blocks; written as NAME.layers.csv / .json
(schema `hub2lite.layers/1`). Pure: numpy only, no TensorFlow."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LayerError", "LayerReport", "RMSE_SCALE_THRESHOLD", "CHANNEL_ERROR_THRESHOLD", "LAYER_REPORT_SCHEMA",
           "SCALE_PRESERVING_OPS", "layer_report_paths", "write_layer_report"]

LAYER_REPORT_SCHEMA = "hub2lite.layers/1"
#: TFLite's QuantizationDebugger guide flags layers whose RMSE exceeds 0.7 quantization steps.
RMSE_SCALE_THRESHOLD = 0.7
#: A channel whose RMS error is 30% of its RMS value has lost most of its resolution (-10 dB).
CHANNEL_ERROR_THRESHOLD = 0.3
#: Ops whose int8 output shares its input's scale: a crushing step flows through them unchanged.
SCALE_PRESERVING_OPS = frozenset({"MAX_POOL_2D", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "SLICE",
                                  "STRIDED_SLICE", "PAD", "PADV2", "GATHER", "SPLIT", "SPLIT_V", "UNPACK",
                                  "CONCATENATION", "PACK", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "BATCH_TO_SPACE_ND",
                                  "SPACE_TO_BATCH_ND", "RESIZE_NEAREST_NEIGHBOR", "TILE", "BROADCAST_TO"})

@dataclass(frozen=True)
class LayerError:
    """Quantization error of one quantized tensor (the output of one op), float twin vs int8 op."""

    name: str  # tensor name: the node name `denylisted_nodes` / ConvertConfig.float_nodes take
    op: str
    position: int  # index of its op in execution order
    elements: int
    scale: float
    zero_point: int
    rmse: float
    rmse_scale: float
    max_abs_error: float
    mean_error: float
    stddev: float
    channel_error: float
    consumers: tuple[str, ...] = ()  # quantized layers that read this tensor
    severity: float = 0.0
    suggest_float: bool = False
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["consumers"] = list(self.consumers)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}

    @property
    def activation_problem(self) -> bool:
        """True when the error comes from the tensor's range (its step), not from the op's arithmetic."""
        return self.channel_error / CHANNEL_ERROR_THRESHOLD >= self.rmse_scale / RMSE_SCALE_THRESHOLD


_CSV_FIELDS = ("rank", "name", "op", "position", "severity", "suggest_float", "reason", "rmse_scale", "channel_error",
               "rmse", "max_abs_error", "mean_error", "stddev", "scale", "zero_point", "elements", "consumers")


@dataclass(frozen=True)
class LayerReport:
    """Every quantized layer in execution order, with the worst ranked and the float suggestion."""

    layers: tuple[LayerError, ...]
    samples: int
    notes: tuple[str, ...] = ()
    thresholds: Mapping[str, float] = field(default_factory=lambda: {
        "rmse_scale": RMSE_SCALE_THRESHOLD, "channel_error": CHANNEL_ERROR_THRESHOLD})

    def ranked(self) -> list[LayerError]:
        return sorted(self.layers, key=lambda layer: (-layer.severity, layer.position))

    @property
    def worst(self) -> LayerError | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def block(self, name: str) -> tuple[str, ...]:
        """The layers that must be float together for `name`'s error to go away (see the module doc)."""
        by_name = {layer.name: layer for layer in self.layers}
        start = by_name[name]
        nodes = [start.name]
        if start.activation_problem:
            todo = list(start.consumers)
            while todo:
                consumer = by_name.get(todo.pop(0))
                if consumer is None or consumer.name in nodes:
                    continue
                nodes.append(consumer.name)
                if consumer.op in SCALE_PRESERVING_OPS:
                    todo.extend(consumer.consumers)
        return tuple(sorted(nodes, key=lambda n: by_name[n].position))

    def close_gaps(self, nodes: Iterable[str], max_gap: int = 1) -> tuple[str, ...]:
        """`nodes` plus every run of at most `max_gap` quantized layers lying between two float layers."""
        order = [layer.name for layer in sorted(self.layers, key=lambda x: x.position)]
        chosen = set(nodes)
        flags = [n in chosen for n in order]
        idx = [i for i, f in enumerate(flags) if f]
        for a, b in zip(idx, idx[1:]):
            if 1 < b - a <= max_gap + 1:
                for i in range(a + 1, b):
                    flags[i] = True
        return tuple(n for n, f in zip(order, flags) if f)

    @property
    def suggested_float(self) -> tuple[str, ...]:
        """The suggestion: the blocks of every layer above a threshold, gaps closed."""
        nodes: set[str] = set()
        for layer in self.layers:
            if layer.suggest_float:
                nodes.update(self.block(layer.name))
        return self.close_gaps(nodes) if nodes else ()

    def to_dict(self) -> dict[str, Any]:
        worst = self.worst
        return {"schema": LAYER_REPORT_SCHEMA, "samples": self.samples, "thresholds": dict(self.thresholds),
                "worst": None if worst is None else worst.name,
                "ranked": [layer.name for layer in self.ranked()],
                "suggested_float": list(self.suggested_float),
                "layers": [layer.to_dict() for layer in self.layers], "notes": list(self.notes)}

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, _CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for rank, layer in enumerate(self.ranked(), 1):
            d = layer.to_dict()
            d["consumers"] = ";".join(layer.consumers)
            writer.writerow({"rank": rank, **{k: d[k] for k in _CSV_FIELDS if k != "rank"}})
        return buf.getvalue()

    def text(self, top: int = 5) -> list[str]:
        lines = [f"per-layer int8 error ({len(self.layers)} quantized layers, {self.samples} samples), worst first:"]
        for layer in self.ranked()[:top]:
            mark = "FLOAT?" if layer.suggest_float else "ok    "
            lines.append(f"  {mark} {layer.op:<16} rmse/scale={layer.rmse_scale:7.3f} "
                         f"channel_error={layer.channel_error:.3f} severity={layer.severity:6.2f}  {layer.name}")
        suggested = self.suggested_float
        lines.append("suggest keeping in float: " + (", ".join(suggested) if suggested else "nothing"))
        return lines


def layer_report_paths(stem_path: Any) -> tuple[Any, Any]:
    """(CSV path, JSON path) next to `stem_path` (a .tflite or report path): NAME.layers.csv / .json."""
    from pathlib import Path

    p = Path(stem_path)
    stem = p.name.split(".")[0] or p.stem
    return p.with_name(stem + ".layers.csv"), p.with_name(stem + ".layers.json")


def write_layer_report(report: LayerReport, stem_path: Any, *, force: bool = False) -> tuple[Any, Any]:
    import json

    from .._files import atomic_write_text, check_output_path

    csv_path, json_path = layer_report_paths(stem_path)
    check_output_path(csv_path, force=force)
    check_output_path(json_path, force=force)
    atomic_write_text(csv_path, report.to_csv())
    atomic_write_text(json_path, json.dumps(report.to_dict(), indent=2) + "\n")
    return csv_path, json_path
