"""Per-layer quantization error of an int8 model, and selective quantization (layers kept in float).

Built on TensorFlow Lite's own `tf.lite.experimental.QuantizationDebugger`:

* the model is calibrated once; the debugger's instrumented model runs every quantized op next to a float
  twin fed the *same* (dequantized) input, so each layer's error is its own, not the sum of everything
  upstream, and NumericVerify ops give the debugger's statistics per quantized tensor: `stddev`,
  `mean_error`, `max_abs_error`, `mean_squared_error`, plus `rmse/scale` (RMSE in quantization steps; a
  layer whose error is pure rounding scores 1/sqrt(12) = 0.29; the TFLite guide looks at layers above 0.7);
* a direct float-vs-dequantized comparison of the same tensor pairs adds `channel_error`: the mean over
  channels (last axis) of min(1, RMS error / RMS value), summed over every debug sample. `rmse/scale`
  cannot see a layer whose few huge channels set a per-tensor step that rounds every other channel to
  nothing (the error is then *small in steps* because the step is huge); `channel_error` sees exactly
  that (a channel rounded to zero scores 1.0);
* `severity` = max(rmse/scale / 0.7, channel_error / 0.3): above 1 a layer is suggested for float;
* keeping a layer in float is `QuantizationDebugOptions(denylisted_nodes=[tensor names])` followed by
  `get_nondebug_quantized_model()` (TFLite's documented selective-quantization route). A tensor stays float
  only if its producer *and* its consumers are float (a quantized consumer re-quantizes it with the same
  crushing step), so a layer flagged for its activation range (`channel_error`) brings its consumers into
  its float block, through scale-preserving ops (pooling, reshape, ...); a layer flagged for its own
  arithmetic (`rmse/scale`) is kept in float alone. `close_gaps` merges float runs separated by a single
  int8 layer, so float islands do not multiply quantize/dequantize pairs.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import ConfigError, ConversionError

__all__ = ["LayerError", "LayerReport", "QuantDebugSession", "debug_layers", "selective_quantize", "resolve_nodes",
           "RMSE_SCALE_THRESHOLD", "CHANNEL_ERROR_THRESHOLD", "LAYER_REPORT_SCHEMA", "layer_report_paths",
           "write_layer_report", "run_per_layer"]

log = logging.getLogger(__name__)

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
_NUMERIC_VERIFY = "NumericVerify"


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

    def layer(self, name: str) -> LayerError:
        return next(layer for layer in self.layers if layer.name == name)

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

    def islands(self, nodes: Iterable[str]) -> int:
        """Number of contiguous runs of float layers (each costs a quantize/dequantize pair)."""
        chosen = set(nodes)
        flags = [layer.name in chosen for layer in sorted(self.layers, key=lambda x: x.position)]
        return sum(1 for i, f in enumerate(flags) if f and (i == 0 or not flags[i - 1]))

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


# --- the debugger --------------------------------------------------------------------------------------


def _tflite_graph(model: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    """[{op, inputs, outputs}] in execution order of subgraph 0, and the tensor names."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    fb = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    sg = fb.subgraphs[0]
    tensor_names = [t.name.decode() if isinstance(t.name, bytes) else str(t.name) for t in sg.tensors]
    ops = []
    for op in sg.operators or []:
        oc = fb.operatorCodes[op.opcodeIndex]
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        name = names.get(code, f"BUILTIN_{code}")
        if code == schema.BuiltinOperator.CUSTOM and oc.customCode:
            name = oc.customCode.decode() if isinstance(oc.customCode, bytes) else str(oc.customCode)
        inputs = [int(i) for i in (op.inputs if op.inputs is not None else []) if int(i) >= 0]
        outputs = [int(i) for i in (op.outputs if op.outputs is not None else [])]
        ops.append({"op": name, "inputs": inputs, "outputs": outputs})
    return ops, tensor_names


def _canonical(name: str) -> frozenset[str]:
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
    `_canonical` form when that names exactly one op. Raises ConfigError naming the unknown ones."""
    known_set = set(known)
    by_key: dict[frozenset[str], list[str]] = {}
    for n in known:
        by_key.setdefault(_canonical(n), []).append(n)
    out, unknown = [], []
    for n in dict.fromkeys(requested):
        if n in known_set:
            out.append(n)
            continue
        match = by_key.get(_canonical(n), [])
        if len(match) == 1:
            out.append(match[0])
        else:
            unknown.append(n)
    if unknown:
        shown = ", ".join(repr(n) for n in known[:4])
        raise ConfigError(f"float node(s) {unknown} are not op outputs of this model",
                          hint=f"use names from the per-layer report (`validate --per-layer`), e.g. {shown}")
    return out


class QuantDebugSession:
    """One calibration of `loaded`'s entry point for int8, reused for the per-layer report and for every
    selective-quantization candidate (re-quantizing with a denylist does not re-calibrate)."""

    def __init__(self, loaded: Any, config: Any, calibration: Sequence[Mapping[str, Any]],
                 samples: Sequence[Mapping[str, Any]] | None = None) -> None:
        import tensorflow as tf

        from ..convert import _native_stderr_to_log, _representative_dataset, build_function, plan_input_specs
        from ..specs import QuantMode
        from .recipes import recipe_for

        if not calibration:
            raise ConfigError("the per-layer debugger needs calibration samples", hint="pass --calibration PATH")
        entry = loaded.choose(config.signature)
        specs, _ = plan_input_specs(entry.info, config)
        concrete, self.name_map = build_function(entry, specs)
        converter = _make_converter(concrete, loaded)
        recipe_for(QuantMode.INT8).apply(converter, base_ops=[tf.lite.OpsSet.TFLITE_BUILTINS],
                                         representative_dataset=_representative_dataset(calibration, self.name_map))
        self.samples = list(samples if samples is not None else calibration)
        self._tf = tf
        try:
            with _native_stderr_to_log():
                self.debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter, debug_dataset=self._dataset,
                    debug_options=tf.lite.experimental.QuantizationDebugOptions())
        except Exception as exc:  # noqa: BLE001 - converter errors, or no quantizable op at all
            raise ConversionError(f"the int8 quantization debugger failed: {str(exc).splitlines()[0][:300]}",
                                  hint="check that `hub2lite convert --quantize int8` works for this model") from exc
        self.calibrated_model: bytes = self.debugger.calibrated_model
        self._order = self._input_order(self.calibrated_model)
        ops, names = _tflite_graph(self.calibrated_model)
        self._ops, self._tensor_names = ops, names
        self.nodes = tuple(names[op["outputs"][0]] for op in ops if op["outputs"])
        self._report: LayerReport | None = None

    def _input_order(self, model: bytes) -> list[str]:
        """Original input names in the interpreter's positional input order (the debugger feeds lists)."""
        interp = self._tf.lite.Interpreter(model_content=model)
        runner_inputs: dict[int, str] = {}
        for key in interp.get_signature_list():
            for param, d in interp.get_signature_runner(key).get_input_details().items():
                runner_inputs[int(d["index"])] = self.name_map.get(param, param)
            break
        order = []
        for i, d in enumerate(interp.get_input_details()):
            name = runner_inputs.get(int(d["index"]))
            if name is None:  # no signature: parameters are in build_function order
                name = list(self.name_map.values())[i]
            order.append(name)
        return order

    def _dataset(self) -> Iterator[list[np.ndarray]]:
        for feed in self.samples:
            yield [np.asarray(feed[name], dtype=np.float32) if np.asarray(feed[name]).dtype.kind == "f"
                   else np.asarray(feed[name]) for name in self._order]


    def quantize(self, float_nodes: Iterable[str] = ()) -> bytes:
        """The int8 model with `float_nodes` (op output tensor names) kept in float."""
        from ..convert import _native_stderr_to_log

        nodes = resolve_nodes(float_nodes, self.nodes)
        opts = self._tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=nodes or None)
        try:
            with _native_stderr_to_log():
                self.debugger.options = opts  # re-quantizes the calibrated model with the denylist
                return bytes(self.debugger.get_nondebug_quantized_model())
        except ValueError as exc:  # raised when no quantized op is left to instrument
            raise ConfigError(f"keeping {len(nodes)} node(s) in float leaves nothing quantized ({exc})",
                              hint="use --quantize float32 / float16 instead") from exc

    def layer_report(self) -> LayerReport:
        if self._report is None:
            self._report = self._measure()
        return self._report

    def _measure(self) -> LayerReport:
        from ..convert import _native_stderr_to_log

        with _native_stderr_to_log():
            self.debugger.options = self._tf.lite.experimental.QuantizationDebugOptions()
            self.debugger.run()
        buf = io.StringIO()
        self.debugger.layer_statistics_dump(buf)
        stats = {int(row["tensor_idx"]): row for row in csv.DictReader(io.StringIO(buf.getvalue()))}
        debug_model = bytes(self.debugger.quant_model)
        ops, names = _tflite_graph(debug_model)
        pairs = [(op["inputs"][0], op["inputs"][1]) for op in ops if op["op"] == _NUMERIC_VERIFY]
        channel = self._channel_errors(debug_model, pairs)
        position = {self._tensor_names[op["outputs"][0]]: i for i, op in enumerate(self._ops) if op["outputs"]}
        op_of = {self._tensor_names[op["outputs"][0]]: op["op"] for op in self._ops if op["outputs"]}
        readers: dict[str, list[str]] = {}
        for op in self._ops:
            if not op["outputs"]:
                continue
            out = self._tensor_names[op["outputs"][0]]
            for i in op["inputs"]:
                readers.setdefault(self._tensor_names[i], []).append(out)
        layers = []
        for q_idx, f_idx in pairs:
            row = stats.get(q_idx)
            if row is None:
                continue
            # the float twin usually keeps the original tensor name; for model outputs the debugger's own
            # CSV name (the quantized name minus its one-digit suffix) is the original one
            name = next((n for n in (names[f_idx], row["tensor_name"]) if n in position), None)
            if name is None:
                log.debug("no calibrated tensor for debug pair %s/%s", names[q_idx], names[f_idx])
                continue
            scale = float(row["scale"])
            mse = float(row["mean_squared_error"])
            rmse = math.sqrt(max(mse, 0.0))
            rmse_scale = rmse / scale if scale > 0 else math.inf
            ch = channel.get((q_idx, f_idx), 0.0)
            severity = max(rmse_scale / RMSE_SCALE_THRESHOLD, ch / CHANNEL_ERROR_THRESHOLD)
            reasons = []
            if rmse_scale > RMSE_SCALE_THRESHOLD:
                reasons.append(f"rmse/scale {rmse_scale:.3g} > {RMSE_SCALE_THRESHOLD}")
            if ch > CHANNEL_ERROR_THRESHOLD:
                reasons.append(f"channel error {ch:.3g} > {CHANNEL_ERROR_THRESHOLD}")
            layers.append(LayerError(
                name=name, op=op_of[name], position=position[name], elements=int(float(row["num_elements"])),
                scale=scale, zero_point=int(float(row["zero_point"])), rmse=rmse, rmse_scale=rmse_scale,
                max_abs_error=float(row["max_abs_error"]), mean_error=float(row["mean_error"]),
                stddev=float(row["stddev"]), channel_error=ch,
                consumers=tuple(readers.get(name, ())),
                severity=severity, suggest_float=severity > 1.0, reason="; ".join(reasons)))
        layers.sort(key=lambda x: x.position)
        quantized = {layer.name for layer in layers}
        layers = [replace(layer, consumers=tuple(c for c in layer.consumers if c in quantized)) for layer in layers]
        return LayerReport(tuple(layers), len(self.samples))

    def _channel_errors(self, debug_model: bytes, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], float]:
        """Mean over channels of min(1, RMS(dequantized - float) / RMS(float)), over every sample."""
        interp = self._tf.lite.Interpreter(model_content=debug_model, experimental_preserve_all_tensors=True)
        interp.allocate_tensors()
        details = {d["index"]: d for d in interp.get_tensor_details()}
        inputs = interp.get_input_details()
        err2: dict[tuple[int, int], np.ndarray] = {}
        sig2: dict[tuple[int, int], np.ndarray] = {}
        for sample in self._dataset():
            for d, value in zip(inputs, sample):
                if d["dtype"] != value.dtype and np.issubdtype(d["dtype"], np.integer):
                    scale, zp = d["quantization"]
                    value = np.clip(np.round(value / scale + zp), -128, 127).astype(d["dtype"])
                interp.set_tensor(d["index"], value.astype(d["dtype"], copy=False))
            interp.invoke()
            for q_idx, f_idx in pairs:
                q = interp.get_tensor(q_idx)
                f = interp.get_tensor(f_idx).astype(np.float64)
                scale, zp = details[q_idx]["quantization"]
                deq = (q.astype(np.float64) - zp) * scale if np.issubdtype(q.dtype, np.integer) and scale else q
                c = f.shape[-1] if f.ndim else 1
                e = ((deq - f) ** 2).reshape(-1, c).sum(axis=0)
                s = (f**2).reshape(-1, c).sum(axis=0)
                key = (q_idx, f_idx)
                err2[key] = err2.get(key, 0) + e
                sig2[key] = sig2.get(key, 0) + s
        out = {}
        for key, e in err2.items():
            s = sig2[key]
            live = s > 1e-12 * max(float(np.max(s)), 1e-30)
            out[key] = float(np.mean(np.minimum(1.0, np.sqrt(e[live] / s[live])))) if live.any() else 0.0
        return out


def _make_converter(concrete: Any, loaded: Any) -> Any:
    """The converter `convert` would use (its `make_converter` when present), for the builtins strategy."""
    from .. import convert as _convert

    make = getattr(_convert, "make_converter", None)
    if make is not None:
        return make(concrete)
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], loaded.obj)


def debug_layers(loaded: Any, config: Any, calibration: Sequence[Mapping[str, Any]],
                 samples: Sequence[Mapping[str, Any]] | None = None) -> LayerReport:
    """Per-layer int8 quantization error of `loaded` (calibrated on `calibration`, measured on `samples`)."""
    return QuantDebugSession(loaded, config, calibration, samples).layer_report()


def selective_quantize(converter: Any, float_nodes: Sequence[str]) -> bytes:
    """Quantize with `converter` (already set up for int8 with a representative dataset), keeping the ops
    producing `float_nodes` in float: QuantizationDebugOptions(denylisted_nodes) +
    get_nondebug_quantized_model(), the route TFLite documents for selective quantization."""
    import tensorflow as tf

    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_options=tf.lite.experimental.QuantizationDebugOptions())
    ops, names = _tflite_graph(debugger.calibrated_model)
    nodes = resolve_nodes(float_nodes, [names[op["outputs"][0]] for op in ops if op["outputs"]])
    if list(nodes) != list(float_nodes):
        log.info("float nodes matched by canonical name: %s", nodes)
    try:
        debugger.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=nodes)
    except ValueError as exc:
        raise ConfigError(f"keeping {len(float_nodes)} node(s) in float leaves nothing quantized ({exc})",
                          hint="use --quantize float32 / float16 instead") from exc
    return bytes(debugger.get_nondebug_quantized_model())


def run_per_layer(source: str, tflite: str, *, data: str | None, signature: str | None = None,
                  samples: int | None = None, seed: int = 0, cache_dir: str | None = None,
                  tags: tuple[str, ...] | None = None, timeout: float | None = None, report: str | None = None,
                  force: bool = False, load_options: Any = None,
                  scaling: Any = None) -> tuple[LayerReport, Any, Any]:
    """`validate --per-layer`: the per-layer int8 error of `source`, written as NAME.layers.csv/.json in the
    report folder (beside `report` when given, else beside `tflite`).

    TFLite's debugger instruments a model while quantizing it, not an existing .tflite: the original is
    re-quantized with the int8 recipe, calibrated on the same `data` samples it is measured on (seeded
    synthetic inputs when there is no data, with a note).
    """
    from pathlib import Path

    from .._files import check_output_path
    from ..convert import ConvertConfig
    from ..options import DataOptions, ScalingFlags
    from ..prepare import PrepareOptions, prepare, validation_inputs
    from ..specs import QuantMode

    stem_path = Path(report).with_name(Path(tflite).name) if report else Path(tflite)
    csv_path, json_path = layer_report_paths(stem_path)
    check_output_path(csv_path, force=force)
    check_output_path(json_path, force=force)
    config = ConvertConfig(signature=signature, quantize=QuantMode.INT8)
    prepared = prepare(source, PrepareOptions(convert=config, scaling=scaling or ScalingFlags(),
                                              needs_scaling=bool(data), cache_dir=cache_dir, tags=tags,
                                              timeout=timeout, load_options=load_options))
    loaded = prepared.loaded
    notes = ["per-layer statistics from re-quantizing the original with the int8 recipe (TFLite's debugger "
             "instruments a model while quantizing it, not an existing .tflite)"]
    inputs = validation_inputs(prepared.specs, DataOptions(data, samples or (200 if data else 32), seed),
                               prepared.scaling)
    feeds = inputs.feeds
    if data:
        notes.append(f"calibrated and measured on {len(feeds)} samples of {data}")
    else:
        notes.append(f"calibrated and measured on {len(feeds)} seeded synthetic samples: pass --data for real ones")
    result = QuantDebugSession(loaded, config, feeds, feeds).layer_report()
    result = replace(result, notes=tuple(notes))
    write_layer_report(result, stem_path, force=force)
    return result, csv_path, json_path
