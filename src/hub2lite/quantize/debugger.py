"""Per-layer quantization error of an int8 model (the report itself: quantize/layers.py; keeping layers in
float: quantize/selective.py, both re-exported here).

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
from dataclasses import replace
from typing import Any

import numpy as np

from .._converter import build_function, has_loops, native_stderr_to_log, representative_dataset
from ..errors import ConfigError, ConversionError
from ..tflite_file import op_graph
from .layers import (CHANNEL_ERROR_THRESHOLD, LAYER_REPORT_SCHEMA, RMSE_SCALE_THRESHOLD, LayerError, LayerReport,
                     layer_report_paths, write_layer_report)
from .selective import resolve_nodes
from ..interrupts import reraise_pending

__all__ = ["LayerError", "LayerReport", "QuantDebugSession", "debug_layers", "resolve_nodes",
           "RMSE_SCALE_THRESHOLD", "CHANNEL_ERROR_THRESHOLD", "LAYER_REPORT_SCHEMA", "layer_report_paths",
           "write_layer_report", "run_per_layer", "check_debuggable"]

log = logging.getLogger(__name__)

_NUMERIC_VERIFY = "NumericVerify"


class QuantDebugSession:
    """One calibration of `loaded`'s entry point for int8, reused for the per-layer report and for every
    selective-quantization candidate (re-quantizing with a denylist does not re-calibrate)."""

    def __init__(self, loaded: Any, config: Any, calibration: Sequence[Mapping[str, Any]],
                 samples: Sequence[Mapping[str, Any]] | None = None) -> None:
        import tensorflow as tf

        from ..convert import plan_input_specs
        from ..specs import QuantMode
        from .recipes import recipe_for

        if not calibration:
            raise ConfigError("the per-layer debugger needs calibration samples", hint="pass --calibration PATH")
        entry = loaded.choose(config.signature)
        specs, _ = plan_input_specs(entry.info, config)
        concrete, self.name_map = build_function(entry, specs)
        if has_loops(concrete):  # refused before the debugger calibrates: that would crash the process
            raise ConfigError("--per-layer cannot measure a model with loops (recurrent layers): the QuantizationDebugger "
                              "quantizes them to int8, and TensorFlow's calibrator crashes on WHILE loops "
                              "(tensorflow/tensorflow#75140) or LiteRT on an int8 LSTM",
                              hint="validate without --per-layer; `convert --quantize int8` keeps recurrent ops float")
        # the restored model as the converter's trackable keeps the SignatureDef the debugger runs through
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], loaded.obj)
        recipe_for(QuantMode.INT8).apply(converter, base_ops=[tf.lite.OpsSet.TFLITE_BUILTINS],
                                         representative_dataset=representative_dataset(calibration, self.name_map))
        self.samples = list(samples if samples is not None else calibration)
        self._tf = tf
        try:
            with native_stderr_to_log():
                self.debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter, debug_dataset=self._dataset,
                    debug_options=tf.lite.experimental.QuantizationDebugOptions())
        except Exception as exc:  # noqa: BLE001 - converter errors, or no quantizable op at all
            reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
            raise ConversionError(f"the int8 quantization debugger failed: {str(exc).splitlines()[0][:300]}",
                                  hint="check that `hub2lite convert --quantize int8` works for this model") from exc
        self.calibrated_model: bytes = self.debugger.calibrated_model
        self._order = self._input_order(self.calibrated_model)
        ops, names = op_graph(self.calibrated_model)
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
        nodes = resolve_nodes(float_nodes, self.nodes)
        opts = self._tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=nodes or None)
        try:
            with native_stderr_to_log():
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
        with native_stderr_to_log():
            self.debugger.options = self._tf.lite.experimental.QuantizationDebugOptions()
            self.debugger.run()
        buf = io.StringIO()
        self.debugger.layer_statistics_dump(buf)
        stats = {int(row["tensor_idx"]): row for row in csv.DictReader(io.StringIO(buf.getvalue()))}
        debug_model = bytes(self.debugger.quant_model)
        ops, names = op_graph(debug_model)
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


def debug_layers(loaded: Any, config: Any, calibration: Sequence[Mapping[str, Any]],
                 samples: Sequence[Mapping[str, Any]] | None = None) -> LayerReport:
    """Per-layer int8 quantization error of `loaded` (calibrated on `calibration`, measured on `samples`)."""
    return QuantDebugSession(loaded, config, calibration, samples).layer_report()


def check_debuggable(model: bytes, where: str) -> None:
    """Refuse Select-TF-ops models: the QuantizationDebugger runs the model in this process's TFLite interpreter,
    which has no Flex delegate (TensorFlow 2.19+), and it cannot be moved into the Flex runtime (it instruments
    the model while the converter quantizes it)."""
    from ..tflite_file import flex_ops

    ops = flex_ops(model)
    if ops:
        raise ConfigError(f"--per-layer cannot measure {where!r}: it has Select TF ops ({', '.join(ops)}) and the "
                          "QuantizationDebugger runs models in this TensorFlow's interpreter, which has no Flex delegate",
                          hint="validate without --per-layer (validation itself runs in the Flex runtime)")


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

    check_debuggable(Path(tflite).read_bytes(), str(tflite))
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
                               prepared.scaling, text=prepared.text)
    feeds = inputs.feeds
    if data:
        notes.append(f"calibrated and measured on {len(feeds)} samples of {data}")
    else:
        notes.append(f"calibrated and measured on {len(feeds)} seeded synthetic samples: pass --data for real ones")
    result = QuantDebugSession(loaded, config, feeds, feeds).layer_report()
    result = replace(result, notes=tuple(notes))
    write_layer_report(result, stem_path, force=force)
    return result, csv_path, json_path
