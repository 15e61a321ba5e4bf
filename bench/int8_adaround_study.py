"""AdaRound on real classifiers: does learning each int8 weight's rounding close nudity's last points?

`python bench/int8_adaround_study.py nudity [--iterations 500,1000] [--inputs float,wq,int8] [--objective plain]`

AdaRound (Nagel et al. 2020, "Up or Down? Adaptive Rounding for Post-Training Quantization"): per conv / depthwise /
FC layer, in op order, every weight chooses floor or ceil of W/s on the converter's own grid (symmetric per output
channel, s = max|W_c| / 127, integers in [-127, 127]) by minimising the layer's output reconstruction error
||act(W x_f + b) - act(W' x_q + b)||^2 on calibration inputs, with the fused activation (ReLU6, ...) inside the loss:
soft rounding W' = s (floor(W/s) + h(V)), h the rectified sigmoid, plus lambda * sum(1 - |2h - 1|^beta) with beta
annealed 20 -> 2 after a 20% warm-up, Adam (TensorFlow, `tf.function`). x_f is the float model's input of the
layer; x_q is either the same (`--inputs float`), or the layer's input in the int8 model whose earlier layers carry
their learned rounding (`int8`, "asymmetric reconstruction": each layer also compensates upstream error), or in the
float model with the earlier layers' learned weights and biases (`wq`: upstream weight error, no activation
quantization). Rows are `--positions` output positions sampled per calibration input (im2col patches).

The learned integers are written back as float weights exactly on the grid (s * q, each channel's largest |W| kept
bit for bit so the converter's scale is unchanged; channels whose scale the converter raises for their int32 bias,
dead channels of folded batch norms, are left alone), so `flatgraph.finish` reproduces them: the script checks it
(`grid mismatches`: weights of the finished model that differ from the chosen integers). The bias then absorbs the
mean shift the new weights cause, (W' - W) E[x] (`bias fold`), as analytical bias correction (`quantize/bias.py`)
does for nearest rounding; `--objective folded` puts that fold inside the objective (the error of the layer with
its bias already corrected), `plain` applies it afterwards.

Rows: the finished int8 model, top-1 agreement with float32 and mean |dp| on the evaluation split (other photos),
size ratio, seconds spent on the rounding, the 1-minute load average. Same split as bench/int8_bias_study.py and
bench/int8_error_sources.py (100 calibration, 200 evaluation inputs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402
import real_models as rm  # noqa: E402

ZETA, GAMMA = 1.1, -0.1  # the rectified sigmoid's stretch (AdaRound)


@dataclass(frozen=True)
class Layer:
    """One weight op of the calibrated flatbuffer, as the rounding sees it."""

    op: Any  # flatgraph.OpNode
    kind: str  # conv | depthwise | fc
    w: np.ndarray  # conv O H W I, depthwise 1 H W C*M, fc O I (float32, as in the flatbuffer)
    b: np.ndarray | None
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    same: bool = True
    multiplier: int = 1
    act: int = 0  # fused activation (schema ActivationFunctionType)

    @property
    def channel_axis(self) -> int:
        return 3 if self.kind == "depthwise" else 0


def weight_layers(calibrated: bytes) -> list[Layer]:
    from tensorflow.lite.tools import flatbuffer_utils as fu

    from hub2lite.quantize import flatgraph as fg

    graph = fg.CalibratedGraph(calibrated)
    obj = fu.read_model_from_bytearray(bytearray(calibrated))
    layers = []
    for op in graph.ops:
        if op.op not in fg.WEIGHT_OPS:
            continue
        w = graph.constant(op.inputs[1])
        if w is None:
            continue
        b = graph.constant(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        o = obj.subgraphs[0].operators[op.index].builtinOptions
        if op.op == "FULLY_CONNECTED":
            if w.ndim != 2:
                continue
            layers.append(Layer(op, "fc", w, b, act=o.fusedActivationFunction))
            continue
        kind = "conv" if op.op == "CONV_2D" else "depthwise"
        layers.append(Layer(op, kind, w, b, (o.strideH, o.strideW), (o.dilationHFactor, o.dilationWFactor),
                            o.padding == 0, getattr(o, "depthMultiplier", 1) or 1, o.fusedActivationFunction))
    return layers


def converter_scales(calibrated: bytes) -> dict[int, np.ndarray]:
    """{weight tensor of `calibrated`: the per-channel scales the converter gives it} (one `finish`). The converter
    mostly uses max |W_c| / 127, but raises the scale of a channel whose int32 bias would overflow at
    input_scale x weight_scale (dead channels of folded batch norms: weights ~1e-14 next to a real bias)."""
    import tensorflow as tf

    from hub2lite.quantize import flatgraph as fg

    names = fg.CalibratedGraph(calibrated).tensor_names
    it = tf.lite.Interpreter(model_content=fg.finish(calibrated))
    details = {d["name"]: d for d in it.get_tensor_details()}
    out = {}
    for layer in weight_layers(calibrated):
        d = details.get(names[layer.op.inputs[1]])
        if d is not None and d["dtype"] == np.int8:
            out[layer.op.inputs[1]] = np.asarray(d["quantization_parameters"]["scales"], np.float64)
    return out


def off_grid_channels(layer: Layer, scales: dict[int, np.ndarray]) -> np.ndarray:
    """Channels whose converter scale is not max |W_c| / 127 (or that the converter did not quantize): their
    weights are left as they are."""
    mine = grid_scale(layer.w, layer.channel_axis)
    conv = scales.get(layer.op.inputs[1])
    if conv is None or conv.shape != mine.shape:
        return np.ones(mine.shape, bool)
    return (mine == 0) | (np.abs(conv - mine) > 1e-5 * mine)


def grid_scale(w: np.ndarray, axis: int) -> np.ndarray:
    """The converter's per-channel scale along `axis` (max |W_c| / 127), 0 for an all-zero channel."""
    moved = np.moveaxis(w.astype(np.float64), axis, 0).reshape(w.shape[axis], -1)
    return np.abs(moved).max(axis=1) / 127.0


def nearest(layer: Layer, off: np.ndarray) -> np.ndarray:
    """Round-to-nearest integers (what the converter does), shape of w; channels in `off` keep w / s."""
    s = _bcast(np.where(off, 1.0, grid_scale(layer.w, layer.channel_axis)), layer)
    ratio = layer.w.astype(np.float64) / s
    return np.where(_bcast(off, layer), ratio, np.clip(np.round(ratio), -127, 127))


def _bcast(per_channel: np.ndarray, layer: Layer) -> np.ndarray:
    shape = [1] * layer.w.ndim
    shape[layer.channel_axis] = -1
    return per_channel.reshape(shape)


def _patches(x: np.ndarray, layer: Layer) -> np.ndarray:
    """x: one input tensor 1 x H x W x C -> (oh * ow, K) im2col rows (K ordered kh, kw, C as the weights)."""
    import tensorflow as tf

    if layer.kind == "fc":
        return x.reshape(-1, layer.w.shape[1])
    kh, kw = layer.w.shape[1:3]
    p = tf.image.extract_patches(x, sizes=[1, kh, kw, 1], strides=[1, *layer.stride, 1],
                                 rates=[1, *layer.dilation, 1], padding="SAME" if layer.same else "VALID")
    return p.numpy().reshape(-1, p.shape[-1])


def _dequantized(it: Any, details: dict[str, dict], name: str) -> np.ndarray | None:
    d = details.get(name)
    if d is None:
        return None
    v = it.get_tensor(d["index"])
    scale, zero = d["quantization"]
    return (v.astype(np.float32) - zero) * scale if v.dtype != np.float32 and scale else v.astype(np.float32)


def layer_rows(layer: Layer, float_model: bytes, cal: np.ndarray, int8_model: bytes | None, positions: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(x_f rows, x_q rows) of `layer` on the calibration inputs: `positions` sampled output positions per input,
    x_q from `int8_model` (an int8 model, dequantized, or a float one; None: x_q = x_f)."""
    import tensorflow as tf

    from hub2lite.quantize import flatgraph as fg

    name = fg.CalibratedGraph(float_model).tensor_names[layer.op.inputs[0]]
    fit = tf.lite.Interpreter(model_content=float_model, experimental_preserve_all_tensors=True, num_threads=2)
    fit.allocate_tensors()
    qit = None
    if int8_model is not None:
        qit = tf.lite.Interpreter(model_content=int8_model, experimental_preserve_all_tensors=True, num_threads=2)
        qit.allocate_tensors()
        qdetails = {d["name"]: d for d in qit.get_tensor_details()}
    xf_rows, xq_rows = [], []
    for x in cal:
        fit.set_tensor(fit.get_input_details()[0]["index"], x[None].astype(np.float32))
        fit.invoke()
        xf = fit.get_tensor(layer.op.inputs[0]).astype(np.float32)
        pf = _patches(xf, layer)
        take = np.arange(len(pf)) if len(pf) <= positions else rng.choice(len(pf), positions, replace=False)
        xf_rows.append(pf[take])
        if qit is not None:
            qit.set_tensor(qit.get_input_details()[0]["index"], x[None].astype(np.float32))
            qit.invoke()
            xq = _dequantized(qit, qdetails, name)
            if xq is None:
                raise KeyError(f"{name} is not a tensor of the int8 model")
            xq_rows.append(_patches(xq.reshape(xf.shape), layer)[take])
    xf_all = np.concatenate(xf_rows)
    return xf_all, (np.concatenate(xq_rows) if xq_rows else xf_all)


def _act_tf(v: Any, act: int) -> Any:
    import tensorflow as tf

    if act == 1:
        return tf.nn.relu(v)
    if act == 2:
        return tf.clip_by_value(v, -1.0, 1.0)
    if act == 3:
        return tf.clip_by_value(v, 0.0, 6.0)
    if act == 4:
        return tf.tanh(v)
    return v


def adaround_layer(layer: Layer, xf: np.ndarray, xq: np.ndarray, off: np.ndarray, *, iterations: int, batch: int,
                   lam: float, lr: float, seed: int, mean_in: np.ndarray | None = None) -> np.ndarray:
    """AdaRound integers (shape of w) for `layer` on rows xf (float inputs, the target) and xq (inputs seen);
    channels in `off` keep w / s (their original weights). With `mean_in` (E[x] per input channel), the objective
    is the layer's error after the bias fold (b - (W' - W) E[x])."""
    import tensorflow as tf

    axis = layer.channel_axis
    s = _bcast(np.where(off, 1.0, grid_scale(layer.w, axis)), layer)
    ratio = layer.w.astype(np.float64) / s
    floor = np.floor(ratio)
    rest = ratio - floor
    # each channel's max |W| is exactly +-127 on the grid: pinned, as are the channels left off the grid
    moved = np.moveaxis(np.abs(ratio), axis, 0)
    pin = np.zeros(moved.shape, bool).reshape(len(moved), -1)
    pin[np.arange(len(pin)), moved.reshape(len(moved), -1).argmax(1)] = True
    pin[off] = True
    fixed = np.moveaxis(pin.reshape(moved.shape), 0, axis)
    near = np.where(_bcast(off, layer), ratio, np.clip(np.round(ratio), -127, 127))
    rest_c = np.clip(rest, 0.01, 0.99)
    v0 = -np.log((ZETA - GAMMA) / (rest_c - GAMMA) - 1.0)
    if layer.kind == "conv":
        to_mat = lambda t: tf.reshape(t, (t.shape[0], -1))  # noqa: E731 - O x K
    elif layer.kind == "fc":
        to_mat = lambda t: t  # noqa: E731
    else:
        to_mat = None
    b = tf.constant(layer.b if layer.b is not None else np.zeros(layer.w.shape[axis], np.float32), tf.float32)
    w_f = tf.constant(layer.w, tf.float32)
    c_in = xf.shape[1] // (layer.w.shape[1] * layer.w.shape[2]) if layer.kind == "depthwise" else 0

    def lin(w: Any, x: Any) -> Any:  # the layer without bias and activation, on rows
        if layer.kind == "depthwise":
            kh, kw, cm = layer.w.shape[1], layer.w.shape[2], layer.w.shape[3]
            p = tf.reshape(x, (-1, kh * kw, c_in))
            if layer.multiplier > 1:
                p = tf.repeat(p, layer.multiplier, axis=2)
            return tf.einsum("rkc,kc->rc", p, tf.reshape(w, (kh * kw, cm)))
        return tf.matmul(x, to_mat(w), transpose_b=True)

    target_t = tf.concat([_act_tf(lin(w_f, tf.constant(xf[i:i + 4096])) + b, layer.act)
                          for i in range(0, len(xf), 4096)], axis=0)
    xq_in, b_pred = xq, b
    if mean_in is not None:  # the objective of the folded layer: act((x - m) W'^T + W m + b)
        m = np.tile(mean_in, xf.shape[1] // len(mean_in)).astype(np.float32)[None]
        xq_in = xq - m
        b_pred = b + lin(w_f, tf.constant(m))[0]
    xq_t = tf.constant(xq_in)

    V = tf.Variable(v0.astype(np.float32))
    floor_t = tf.constant(floor.astype(np.float32))
    s_t = tf.constant(s.astype(np.float32))
    fixed_t = tf.constant(fixed)
    near_t = tf.constant(near.astype(np.float32))
    opt = tf.keras.optimizers.Adam(lr)
    n = xf.shape[0]
    warm = int(0.2 * iterations)

    def h_of(v: Any) -> Any:
        return tf.clip_by_value(tf.sigmoid(v) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)

    @tf.function
    def step(idx: Any, beta: Any, reg: Any) -> Any:
        with tf.GradientTape() as tape:
            h = h_of(V)
            q = tf.where(fixed_t, near_t, tf.clip_by_value(floor_t + h, -127.0, 127.0))
            pred = _act_tf(lin(q * s_t, tf.gather(xq_t, idx)) + b_pred, layer.act)
            target = tf.gather(target_t, idx)
            rec = tf.reduce_mean(tf.reduce_sum(tf.square(pred - target), axis=1))
            free = tf.logical_not(fixed_t)
            round_loss = tf.reduce_sum(tf.where(free, 1.0 - tf.pow(tf.abs(2.0 * h - 1.0), beta), 0.0))
            loss = rec + reg * lam * round_loss
        opt.apply_gradients([(tape.gradient(loss, V), V)])
        return rec

    rng = np.random.default_rng(seed)
    for i in range(iterations):
        idx = rng.integers(0, n, min(batch, n))
        if i < warm:
            beta, reg = 20.0, 0.0
        else:
            frac = (i - warm) / max(1, iterations - warm)
            beta, reg = 2.0 + 0.5 * (20.0 - 2.0) * (1 + np.cos(np.pi * frac)), 1.0  # cosine 20 -> 2
        step(tf.constant(idx), tf.constant(beta, tf.float32), tf.constant(reg, tf.float32))
    hard = (h_of(V).numpy() >= 0.5).astype(np.float64)
    return np.where(fixed, near, np.clip(floor + hard, -127, 127))


def recon_error(layer: Layer, q: np.ndarray, off: np.ndarray, xf: np.ndarray, xq: np.ndarray,
                mean_in: np.ndarray | None = None) -> float:
    """Mean squared output error of integers q on rows (numpy), for the table; with `mean_in`, the bias folded
    ((W' - W) E[x] subtracted)."""
    import tensorflow as tf

    s = _bcast(np.where(off, 1.0, grid_scale(layer.w, layer.channel_axis)), layer)
    fold = 0.0 if mean_in is None else mean_shift(layer, q * s, mean_in)

    def out(w: np.ndarray, x: np.ndarray, delta: Any = 0.0) -> np.ndarray:
        b = (layer.b if layer.b is not None else 0.0) - delta
        if layer.kind == "depthwise":
            kh, kw, cm = w.shape[1:]
            p = x.reshape(-1, kh * kw, x.shape[1] // (kh * kw))
            if layer.multiplier > 1:
                p = np.repeat(p, layer.multiplier, axis=2)
            v = np.einsum("rkc,kc->rc", p, w.reshape(kh * kw, cm)) + b
        else:
            v = x @ w.reshape(w.shape[0], -1).T + b
        return _act_tf(tf.constant(v, tf.float32), layer.act).numpy()

    return float(np.mean(np.sum((out(q * s, xq, fold) - out(layer.w, xf)) ** 2, axis=1)))


def on_grid(layer: Layer, q: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Float weights the converter rounds to exactly q: s * q, each channel's largest |W| (and the channels in
    `off`) kept bit for bit."""
    s = _bcast(np.where(off, 1.0, grid_scale(layer.w, layer.channel_axis)), layer)
    ratio = layer.w.astype(np.float64) / s
    keep = (np.abs(q) > 126.5) & (np.abs(ratio) > 126.5) | _bcast(off, layer)
    return np.where(keep, layer.w, (q * s).astype(np.float32))


def write(model: bytes, updates: dict[int, np.ndarray]) -> bytes:
    """`model` with constant tensors replaced ({tensor index: float32 array})."""
    from tensorflow.lite.tools import flatbuffer_utils as fu

    obj = fu.read_model_from_bytearray(bytearray(model))
    tensors = obj.subgraphs[0].tensors
    for index, value in updates.items():
        obj.buffers[tensors[index].buffer].data = np.frombuffer(
            np.ascontiguousarray(value, np.float32).tobytes(), np.uint8).copy()
    return bytes(fu.convert_object_to_bytearray(obj))


def mean_shift(layer: Layer, new_w: np.ndarray, mean_in: np.ndarray) -> np.ndarray:
    """(W' - W) E[x] per output channel (as bias.py's analytical correction)."""
    d = new_w.astype(np.float64) - layer.w.astype(np.float64)
    if layer.kind == "conv":
        return np.einsum("ohwi,i->o", d, mean_in)
    if layer.kind == "depthwise":
        return d.sum(axis=(0, 1, 2)) * np.repeat(mean_in, layer.multiplier)
    return d @ mean_in


@dataclass
class Rounded:
    """What `adaround_model` learned: on-grid weights and folded biases per tensor, the integers per weight tensor
    (with the channels left off the grid), and statistics."""

    weights: dict[int, np.ndarray]
    biases: dict[int, np.ndarray]
    integers: dict[int, tuple[np.ndarray, np.ndarray]]
    seconds: float
    recon: dict[str, float]


def adaround_model(calibrated: bytes, acts: Any, cal: np.ndarray, *, inputs: str, iterations: int, batch: int,
                   positions: int, lam: float, lr: float, folded: bool = False, seed: int = 0,
                   log: Any = print) -> Rounded:
    """AdaRound every conv / depthwise / FC layer of `calibrated` in op order (see the module docstring)."""
    from hub2lite.quantize import flatgraph as fg

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    scales = converter_scales(calibrated)
    layers = weight_layers(calibrated)
    weights: dict[int, np.ndarray] = {}
    biases: dict[int, np.ndarray] = {}
    integers: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    recon = {"nearest": 0.0, "nearest+fold": 0.0, "adaround": 0.0, "adaround+fold": 0.0}
    for k, layer in enumerate(layers):
        tl = time.perf_counter()
        off = off_grid_channels(layer, scales)
        seen = None  # the model whose input of the layer is x_q
        if k and inputs == "int8":
            seen = fg.finish(write(calibrated, {**weights, **biases}))
        elif k and inputs == "wq":
            seen = write(calibrated, {**weights, **biases})
        xf, xq = layer_rows(layer, calibrated, cal, seen, positions, rng)
        mean_in = acts.channel_mean.get(layer.op.inputs[0])
        mean_in = None if mean_in is None else np.asarray(mean_in, np.float64)
        q = adaround_layer(layer, xf, xq, off, iterations=iterations, batch=batch, lam=lam, lr=lr, seed=seed + k,
                           mean_in=mean_in if folded and layer.b is not None else None)
        near = nearest(layer, off)
        errs = {"nearest": recon_error(layer, near, off, xf, xq), "adaround": recon_error(layer, q, off, xf, xq)}
        if mean_in is not None:
            errs["nearest+fold"] = recon_error(layer, near, off, xf, xq, mean_in)
            errs["adaround+fold"] = recon_error(layer, q, off, xf, xq, mean_in)
        for key, v in errs.items():
            recon[key] += v
        new_w = on_grid(layer, q, off)
        weights[layer.op.inputs[1]] = new_w
        integers[layer.op.inputs[1]] = (q, off)
        if layer.b is not None and mean_in is not None:
            biases[layer.op.inputs[2]] = (layer.b.astype(np.float64)
                                          - mean_shift(layer, new_w, mean_in)).astype(np.float32)
        flips = float(np.mean(q != near))
        log(f"  {k:2d} {layer.kind:9s} {str(layer.w.shape):20s} rows {len(xf):6d} flipped {flips:6.1%} "
            f"recon " + ", ".join(f"{key} {v:.4g}" for key, v in errs.items())
            + f" ({time.perf_counter() - tl:.0f} s)", flush=True)
    return Rounded(weights, biases, integers, time.perf_counter() - t0, recon)


def grid_mismatches(int8_model: bytes, calibrated: bytes, integers: dict[int, tuple[np.ndarray, np.ndarray]]) -> int:
    """Weights (on-grid channels) of the finished int8 model whose integers differ from the chosen ones."""
    import tensorflow as tf

    from hub2lite.quantize import flatgraph as fg

    names = fg.CalibratedGraph(calibrated).tensor_names
    it = tf.lite.Interpreter(model_content=int8_model)
    details = {d["name"]: d for d in it.get_tensor_details()}
    bad = 0
    for index, (q, off) in integers.items():
        d = details.get(names[index])
        if d is None or d["dtype"] != np.int8:
            bad += q.size
            continue
        got = it.get_tensor(d["index"]).astype(np.float64)
        axis = d["quantization_parameters"]["quantized_dimension"]
        on = ~_bcast_axis(off, q.ndim, axis) & np.ones(q.shape, bool)
        bad += int(np.sum((got != q) & on))
    return bad


def _bcast_axis(v: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = -1
    return v.reshape(shape)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=[n for n, m in corpus.MODELS.items() if m.kind == "classifier"])
    ap.add_argument("--calibration", type=int, default=100)
    ap.add_argument("--evaluation", type=int, default=200)
    ap.add_argument("--iterations", default="1000", help="comma-separated iteration counts per layer")
    ap.add_argument("--inputs", default="float,int8", help="comma-separated: float | int8 | wq")
    ap.add_argument("--objective", default="plain",
                    help="comma-separated: plain (the layer's output error, bias folded afterwards) | folded (the "
                         "error of the layer with its bias already folded)")
    ap.add_argument("--batch", type=int, default=256, help="rows per Adam step")
    ap.add_argument("--positions", type=int, default=64, help="output positions sampled per calibration input")
    ap.add_argument("--lam", type=float, default=0.01, help="rounding regulariser weight")
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--seed", type=int, default=0, help="seeds the sampled positions and the Adam batches")
    args = ap.parse_args(argv)

    from hub2lite.quantize import flatgraph as fg
    from hub2lite.quantize.bias import correct_bias
    from hub2lite.quantize.search import score_outputs

    m = corpus.MODELS[args.model]
    cal = m.inputs("calibration", args.calibration)
    ev = m.inputs("evaluation", args.evaluation)
    make, _ = rm._converter(m)  # noqa: SLF001 - the corpus benchmark's converter
    f32_size = len(make().convert())
    calibrated = fg.calibrate(make(), lambda: ([x[None]] for x in cal))
    acts = fg.collect_activations(calibrated, ([x[None]] for x in cal))
    ref_ev = rm._run(calibrated, ev)  # noqa: SLF001

    rows: list[str] = []

    def row(label: str, model: bytes, secs: float | None = None, note: str = "") -> None:
        s = score_outputs("classifier", ref_ev, rm._run(model, ev))  # noqa: SLF001
        line = (f"| {label} | {s.quality:.1%} | {s.loss:.4f} | {len(model) / f32_size:.3f} | "
                f"{'' if secs is None else f'{secs:.0f}'} | {os.getloadavg()[0]:.1f} | {note} |")
        rows.append(line)
        print(line, flush=True)

    print(f"{args.model}: {args.calibration} calibration, {args.evaluation} evaluation inputs; "
          f"batch {args.batch}, {args.positions} positions per input, lambda {args.lam}, lr {args.lr}, "
          f"seed {args.seed}")
    header = "| variant | top-1 agreement | mean abs dp | x float32 size | seconds | load | note |\n|---|---|---|---|---|---|---|"
    print(header)
    row("int8 minmax (bare)", fg.finish(calibrated))
    row("int8 minmax + analytical bias correction (shipped)", fg.finish(correct_bias(calibrated, acts).model))
    for mode in args.inputs.split(","):
        for objective in args.objective.split(","):
            for iters in (int(i) for i in args.iterations.split(",")):
                r = adaround_model(calibrated, acts, cal, inputs=mode, iterations=iters, batch=args.batch,
                                   positions=args.positions, lam=args.lam, lr=args.lr, folded=objective == "folded",
                                   seed=args.seed)
                note = "sum of layer recon. errors: " + ", ".join(f"{k} {v:.4g}" for k, v in r.recon.items())
                label = f"adaround, {mode} inputs, {objective} objective, {iters} it."
                if objective == "plain":
                    plain = fg.finish(write(calibrated, r.weights))
                    row(f"{label}, no bias fold", plain, r.seconds,
                        f"{note}; grid mismatches {grid_mismatches(plain, calibrated, r.integers)}")
                    note = ""
                folded = fg.finish(write(calibrated, {**r.weights, **r.biases}))
                row(f"{label}, bias fold", folded, r.seconds,
                    note or f"grid mismatches {grid_mismatches(folded, calibrated, r.integers)}")
    print("\n" + header + "\n" + "\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
