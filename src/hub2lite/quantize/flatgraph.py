"""The calibrated flatbuffer: calibrate once, observe float activations, finish with the converter's quantizer.

The stock converter splits int8 post-training quantization in two (TF 2.18 and 2.21 alike):

1. `converter._experimental_calibrate_only = True` returns a *calibrated* model: the float TFLite graph whose
   activation tensors carry the observed `quantization.min/max`;
2. `tensorflow.lite.python.convert.mlir_quantize(calibrated, denylisted_nodes=..., ...)` quantizes it.

Everything between the two steps is hub2lite's: the ranges can be rewritten (`ranges.py`), the float biases
corrected (`bias.py`), and ops kept in float by *their names in this very flatbuffer* (`denylisted_nodes` is
matched against the op locations the converter gave the calibrated model, which are its output tensor names
here: no name guessing across conversions). `float_ops` checks afterwards that every requested op really
stayed float (a mismatch is a bug, raised as `QuantizeBug`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConversionError
from ..interrupts import reraise_pending

__all__ = ["Activations", "CalibratedGraph", "OpNode", "QuantizeBug", "calibrate", "calibrate_from_float",
           "collect_activations", "finish", "float_ops", "recurrent_ops", "COMPUTE_OPS", "WEIGHT_OPS", "RECURRENT_OPS"]

log = logging.getLogger(__name__)

#: Ops whose int8 arithmetic can lose accuracy (the candidates for float fallback and the search's groups).
COMPUTE_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "CONV_3D",
                         "BATCH_MATMUL", "ADD", "SUB", "MUL", "MEAN", "SUM", "AVERAGE_POOL_2D", "SOFTMAX",
                         "LOGISTIC", "TANH", "CONCATENATION", "RESIZE_BILINEAR", "UNIDIRECTIONAL_SEQUENCE_LSTM",
                         "LSTM", "SQUARED_DIFFERENCE", "RSQRT", "EXP", "DIV", "LOG", "HARD_SWISH", "GELU",
                         "MAX_POOL_2D", "LEAKY_RELU", "PRELU", "RELU", "RELU6", "REDUCE_MAX"})
#: Recurrent ops and the loops an unfused RNN becomes. They stay float in hub2lite's int8: TensorFlow's int8
#: calibrator segfaults on WHILE loops (tensorflow/tensorflow#75140: it logs a body output the loop freed), and the
#: all-int8 UNIDIRECTIONAL_SEQUENCE_LSTM of the real textgenrnn model aborts LiteRT at run time.
RECURRENT_OPS = frozenset({"UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM", "LSTM",
                           "UNIDIRECTIONAL_SEQUENCE_RNN", "BIDIRECTIONAL_SEQUENCE_RNN", "RNN", "WHILE"})
#: Ops with a constant weight tensor (input 1) and bias (input 2): what bias correction adjusts.
WEIGHT_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"})


class QuantizeBug(RuntimeError):
    """hub2lite asked the quantizer for something it did not do (e.g. an op it named did not stay float)."""


@dataclass(frozen=True)
class OpNode:
    index: int  # execution order in subgraph 0
    op: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    name: str  # the op's location = its first output tensor's name: what denylisted_nodes matches

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "op": self.op, "name": self.name}


class CalibratedGraph:
    """Read-only view of a (calibrated or quantized) TFLite flatbuffer's main subgraph (lazy flatbuffer
    reader: a 17 MB model parses in milliseconds, where the object API copies every buffer)."""

    def __init__(self, model: bytes) -> None:
        from tensorflow.lite.python import schema_py_generated as schema

        self.model = bytes(model)
        self._root = schema.Model.GetRootAs(self.model, 0)
        sg = self._root.Subgraphs(0)
        self._sg = sg
        self.tensor_names = [sg.Tensors(i).Name().decode() for i in range(sg.TensorsLength())]
        self.inputs = tuple(int(i) for i in sg.InputsAsNumpy())
        self.outputs = tuple(int(i) for i in sg.OutputsAsNumpy())
        names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        codes = []
        for i in range(self._root.OperatorCodesLength()):
            oc = self._root.OperatorCodes(i)
            code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
            custom = oc.CustomCode()
            codes.append(custom.decode() if custom else names.get(code, str(code)))
        ops = []
        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            ins = tuple(int(x) for x in op.InputsAsNumpy()) if not op.InputsIsNone() else ()
            outs = tuple(int(x) for x in op.OutputsAsNumpy()) if not op.OutputsIsNone() else ()
            ops.append(OpNode(i, codes[op.OpcodeIndex()], ins, outs, self.tensor_names[outs[0]] if outs else f"op{i}"))
        self.ops = tuple(ops)

    def shape(self, index: int) -> tuple[int, ...]:
        t = self._sg.Tensors(index)
        return () if t.ShapeIsNone() else tuple(int(d) for d in t.ShapeAsNumpy())

    def tensor_type(self, index: int) -> int:
        """The tensor's TensorType code (0 FLOAT32, 1 FLOAT16, 9 INT8, ...)."""
        return int(self._sg.Tensors(index).Type())

    def constant(self, index: int) -> np.ndarray | None:
        """The float32 value of a constant tensor, else None."""
        t = self._sg.Tensors(index)
        if t.Type() != 0:
            return None
        buf = self._root.Buffers(t.Buffer())
        if buf is None or buf.DataIsNone() or buf.DataLength() == 0:
            return None
        return np.frombuffer(buf.DataAsNumpy().tobytes(), np.float32).reshape(tuple(t.ShapeAsNumpy()))

    def activation_range(self, index: int) -> tuple[float, float] | None:
        q = self._sg.Tensors(index).Quantization()
        if q is None or q.MinLength() != 1 or q.MaxLength() != 1:
            return None
        return float(q.Min(0)), float(q.Max(0))

    def calibrated_tensors(self) -> list[int]:
        """Tensors carrying one calibrated min/max (activations and inputs)."""
        return [i for i in range(len(self.tensor_names)) if self.activation_range(i) is not None]

    def compute_ops(self) -> list[OpNode]:
        return [op for op in self.ops if op.op in COMPUTE_OPS and op.outputs]

    def by_name(self) -> dict[str, OpNode]:
        return {op.name: op for op in self.ops}


def calibrate(converter: Any, dataset: Callable[[], Iterable[Any]]) -> bytes:
    """The calibrated (float, min/max-annotated) flatbuffer of `converter` on `dataset` (a representative
    dataset generator function, as TFLiteConverter takes it)."""
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter._experimental_calibrate_only = True  # noqa: SLF001 - the documented-in-code two-step PTQ route
    try:
        return bytes(converter.convert())
    except Exception as exc:  # noqa: BLE001 - converter errors are many types
        reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
        raise ConversionError(f"int8 calibration failed: {str(exc).splitlines()[0][:300]}",
                              hint="check that `hub2lite convert --quantize int8` works for this model") from exc


def finish(calibrated: bytes, *, float_nodes: Sequence[str] = (), per_channel: bool = True,
           integer_only: bool = False, check: bool = True) -> bytes:
    """Quantize a calibrated flatbuffer with the converter's own quantizer; `float_nodes` (op names of
    *this* flatbuffer, see CalibratedGraph.ops) stay float. `integer_only` quantizes inputs/outputs too
    (int8 I/O, the int8-strict contract). With `check`, raises QuantizeBug if a named op did not stay float."""
    import tensorflow as tf
    from tensorflow.lite.python import convert as _tfl_convert

    nodes = list(dict.fromkeys(float_nodes))
    if check and nodes:
        known = {op.name for op in CalibratedGraph(calibrated).ops}
        unknown = [n for n in nodes if n not in known]
        if unknown:
            raise QuantizeBug(f"float node(s) {unknown[:3]} are not ops of the calibrated model")
    kwargs: dict[str, Any] = {"disable_per_channel": not per_channel, "fully_quantize": integer_only,
                              "denylisted_nodes": nodes or None}
    if integer_only:
        kwargs.update(input_data_type=tf.int8, output_data_type=tf.int8)
    model = bytes(_tfl_convert.mlir_quantize(calibrated, **kwargs))
    if check and nodes:
        missed = _not_float(CalibratedGraph(calibrated), CalibratedGraph(model), nodes)
        if missed:
            raise QuantizeBug(f"op(s) {missed[:3]} were asked to stay float but were quantized")
    return model


_QDQ = frozenset({"QUANTIZE", "DEQUANTIZE"})


def _computes_float(g: CalibratedGraph, op: OpNode) -> bool:
    """Whether `op` of a quantized model computes in float: a float output (a WHILE's first output is its int32
    counter, so any float output counts)."""
    return any(g.tensor_type(t) == 0 for t in op.outputs)


def _not_float(calibrated: CalibratedGraph, model: CalibratedGraph, nodes: Sequence[str]) -> list[str]:
    """The ops of `nodes` (names in `calibrated`) that `model` quantized. Matched by position, not by name: the
    quantizer keeps the op order and only inserts QUANTIZE/DEQUANTIZE, but renames some outputs (textgenrnn's
    second LSTM `tfl.unidirectional_sequence_lstm1` comes back as `...lstm11`). Falls back to names when the op
    sequences differ."""
    before = [op for op in calibrated.ops if op.op not in _QDQ]
    after = [op for op in model.ops if op.op not in _QDQ]
    if [op.op for op in before] == [op.op for op in after]:
        at = {op.name: k for k, op in enumerate(before)}
        return [n for n in nodes if n in at and not _computes_float(model, after[at[n]])]
    still = {op.name for op in model.ops if op.outputs and _computes_float(model, op)}
    return [n for n in nodes if n not in still]


def calibrate_from_float(float_model: bytes, feeds: Iterable[Any]) -> bytes:
    """hub2lite's own calibration, for graphs the converter's calibrator crashes on (WHILE loops,
    tensorflow/tensorflow#75140): run the float model on `feeds`, keeping every tensor, and annotate each float
    activation of the main subgraph with its observed min/max (0 included, as the converter's calibrator does) —
    the calibrated flatbuffer `finish` quantizes. Loop bodies get no ranges: their ops must stay float
    (`finish(float_nodes=...)` with the loops)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils as fu

    graph = CalibratedGraph(float_model)
    produced = {t for op in graph.ops for t in op.outputs}
    wanted = [i for i in range(len(graph.tensor_names)) if graph.tensor_type(i) == 0 and graph.constant(i) is None
              and (i in produced or i in graph.inputs)]
    acts = collect_activations(float_model, feeds, tensors=wanted, per_sample=1)
    obj = fu.read_model_from_bytearray(bytearray(float_model))
    tensors = obj.subgraphs[0].tensors
    for i, lo in acts.minimum.items():
        hi = acts.maximum[i]
        if not (np.isfinite(lo) and np.isfinite(hi)):
            continue  # a tensor the interpreter did not keep (freed scratch): no range, the quantizer leaves it
        q = tensors[i].quantization or schema.QuantizationParametersT()
        q.min, q.max = [float(min(lo, 0.0))], [float(max(hi, 0.0))]
        tensors[i].quantization = q
    return bytes(fu.convert_object_to_bytearray(obj))


def recurrent_ops(model: bytes) -> list[OpNode]:
    """The recurrent ops and loops of a (float or calibrated) model's main subgraph (RECURRENT_OPS) that have an
    output (an op is named, and kept float, by its first output)."""
    return [op for op in CalibratedGraph(model).ops if op.op in RECURRENT_OPS and op.outputs]


def float_ops(model: bytes) -> list[str]:
    """Names of the compute ops of a quantized model that compute in float (float32 output)."""
    g = CalibratedGraph(model)
    return [op.name for op in g.ops
            if op.op in COMPUTE_OPS and g.tensor_type(op.outputs[0]) == 0]


@dataclass
class Activations:
    """Float activations of a calibrated model on the calibration set: per tensor, exact min/max, a seeded
    value subsample (for percentile / MSE range choice) and per-channel (last axis) means (bias correction)."""

    minimum: dict[int, float]
    maximum: dict[int, float]
    samples: dict[int, np.ndarray]
    channel_mean: dict[int, np.ndarray]
    count: int


def _positional(feed: Any) -> list[np.ndarray]:
    if isinstance(feed, dict):
        return [np.asarray(v) for v in feed.values()]
    if isinstance(feed, (list, tuple)):
        return [np.asarray(v) for v in feed]
    return [np.asarray(feed)]


def collect_activations(calibrated: bytes, feeds: Iterable[Any], *, tensors: Sequence[int] | None = None,
                        per_sample: int = 4096, seed: int = 0, threads: int = 2) -> Activations:
    """Run the calibrated (float) model on `feeds` (each a list of arrays in the model's input order, or one
    array) keeping every tensor, and summarize the float activations of `tensors` (default: all calibrated)."""
    import tensorflow as tf

    graph = CalibratedGraph(calibrated)
    wanted = list(tensors) if tensors is not None else graph.calibrated_tensors()
    interp = tf.lite.Interpreter(model_content=calibrated, experimental_preserve_all_tensors=True,
                                 num_threads=threads)
    interp.allocate_tensors()
    in_details = interp.get_input_details()
    rng = np.random.default_rng(seed)
    mins: dict[int, float] = {}
    maxs: dict[int, float] = {}
    chunks: dict[int, list[np.ndarray]] = {i: [] for i in wanted}
    sums: dict[int, np.ndarray] = {}
    rows: dict[int, int] = {}
    n = 0
    for feed in feeds:
        arrays = _positional(feed)
        for d, a in zip(in_details, arrays):
            interp.set_tensor(d["index"], np.asarray(a, dtype=d["dtype"]).reshape(d["shape"]))
        interp.invoke()
        n += 1
        for i in wanted:
            try:
                v = interp.get_tensor(i)
            except ValueError:
                continue
            if v.dtype.kind != "f" or v.size == 0:
                continue
            flat = v.reshape(-1)
            mins[i] = min(mins.get(i, np.inf), float(flat.min()))
            maxs[i] = max(maxs.get(i, -np.inf), float(flat.max()))
            take = flat if flat.size <= per_sample else flat[rng.integers(0, flat.size, per_sample)]
            chunks[i].append(take.astype(np.float32, copy=True))
            ch = v.reshape(-1, v.shape[-1]) if v.ndim >= 1 else v.reshape(1, 1)
            sums[i] = sums.get(i, 0) + ch.sum(axis=0, dtype=np.float64)
            rows[i] = rows.get(i, 0) + ch.shape[0]
    samples = {i: np.concatenate(c) for i, c in chunks.items() if c}
    means = {i: (sums[i] / max(rows[i], 1)).astype(np.float64) for i in sums}
    return Activations(mins, maxs, samples, means, n)


def feeds_for(dataset: Callable[[], Iterator[Any]]) -> list[list[np.ndarray]]:
    return [_positional(f) for f in dataset()]
