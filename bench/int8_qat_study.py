"""Quantization-aware fine-tuning against the float network's output: does it close nudity's last int8 points?

`python bench/int8_qat_study.py nudity|fer [--train all|biases] [--steps 300] [--lr 1e-4] [--pool 800]
[--activations on|off] [--bias-correction on|off] [--mixup on|off]`

AdaRound (bench/int8_adaround_study.py) and GPTQ-style rounding fit every layer to its own float output and reach
98.0-98.5% on nudity; the error left is spread over the whole body. This study fits **all layers at once to the
network's output** (distillation, as quantization-aware training does, with no labels): the calibrated flatbuffer's
graph (the converter's own folded weights, fused activations, strides, padding) is rebuilt op for op in TensorFlow
(CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE/MAX_POOL_2D, ADD, MEAN, SOFTMAX: what the corpus classifiers
use); every weight is fake-quantized as the converter will round it (symmetric per output channel, s = max|W_c| /
127, straight-through gradient), every op output and the model input at its calibrated int8 range
(`fake_quant_with_min_max_args`, `--activations on`); Adam fits weights and biases (`--train all`) or the biases
alone (`--train biases`: the int8 weights stay the converter's nearest rounding) so that the student's logits (the
softmax's input) match the float teacher's on a pool of calibration-side inputs (`--pool` crops of the calibration
photos / faces, never the evaluation ones). The fitted weights and biases are written back into the calibrated
flatbuffer and `flatgraph.finish` quantizes it as usual (same ranges), so the file is an ordinary int8 model.

Rows: the finished int8 model every `--every` steps, top-1 agreement with float32 and mean |dp| on the evaluation
split (other photos, as in bench/int8_adaround_study.py: 100 calibration, 200 evaluation inputs), the agreement on
held-out calibration-side inputs (what a tool could select on without the evaluation data), the simulation's
agreement with the finished TFLite model (how faithful the rebuilt graph is), size ratio, seconds, load.
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
from int8_adaround_study import write  # noqa: E402 - constants written back into a flatbuffer
import real_models as rm  # noqa: E402

ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3


@dataclass(frozen=True)
class Op:
    kind: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Any


class Rebuilt:
    """The calibrated flatbuffer's graph as TensorFlow ops, its weights and biases as variables."""

    def __init__(self, calibrated: bytes) -> None:
        import tensorflow as tf
        from tensorflow.lite.tools import flatbuffer_utils as fu

        from hub2lite.quantize import flatgraph as fg

        self.graph = fg.CalibratedGraph(calibrated)
        obj = fu.read_model_from_bytearray(bytearray(calibrated))  # the ops' options (strides, padding, ...)
        sg = obj.subgraphs[0]
        self.ops = [Op(n.op, n.inputs, n.outputs, sg.operators[n.index].builtinOptions) for n in self.graph.ops]
        self.input, self.output = self.graph.inputs[0], self.graph.outputs[0]
        soft = [op for op in self.ops if op.kind == "SOFTMAX" and op.outputs[0] == self.output]
        self.logits = soft[0].inputs[0] if soft else self.output
        self.weights: dict[int, Any] = {}  # tensor index -> tf.Variable
        self.axis: dict[int, int] = {}  # weight tensor -> its output-channel axis
        self.biases: dict[int, Any] = {}
        for op in self.ops:
            if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
                w = self.graph.constant(op.inputs[1])
                self.weights[op.inputs[1]] = tf.Variable(w.astype(np.float32))
                self.axis[op.inputs[1]] = 3 if op.kind == "DEPTHWISE_CONV_2D" else 0
                if len(op.inputs) > 2 and op.inputs[2] >= 0:
                    b = self.graph.constant(op.inputs[2])
                    self.biases[op.inputs[2]] = tf.Variable(b.astype(np.float32))
        self.ranges = {i: self.graph.activation_range(i) for i in range(len(sg.tensors))}
        self.axes = {op.inputs[1]: np.frombuffer(bytes(obj.buffers[sg.tensors[op.inputs[1]].buffer].data), np.int32)
                     for op in self.ops if op.kind == "MEAN"}

    @property
    def variables(self) -> list[Any]:
        return [*self.weights.values(), *self.biases.values()]

    def values(self) -> dict[int, np.ndarray]:
        return {i: v.numpy() for i, v in {**self.weights, **self.biases}.items()}

    def _w(self, index: int, quant: bool) -> Any:
        import tensorflow as tf

        w = self.weights[index]
        if not quant:
            return w
        axis = self.axis[index]
        reduce = [a for a in range(len(w.shape)) if a != axis]
        s = tf.stop_gradient(tf.reduce_max(tf.abs(w), axis=reduce, keepdims=True) / 127.0)
        s = tf.where(s > 0, s, tf.ones_like(s))
        q = tf.clip_by_value(tf.round(w / s), -127.0, 127.0) * s
        return w + tf.stop_gradient(q - w)

    def _a(self, x: Any, index: int, quant: bool) -> Any:
        import tensorflow as tf

        r = self.ranges.get(index)
        if not quant or r is None:
            return x
        lo, hi = min(float(r[0]), 0.0), max(float(r[1]), 0.0)
        if hi - lo <= 0:
            return x
        return tf.quantization.fake_quant_with_min_max_args(x, min=lo, max=hi, num_bits=8)

    @staticmethod
    def _act(x: Any, act: int) -> Any:
        import tensorflow as tf

        if act == ACT_RELU:
            return tf.nn.relu(x)
        if act == ACT_RELU6:
            return tf.nn.relu6(x)
        if act == ACT_RELU_N1_TO_1:
            return tf.clip_by_value(x, -1.0, 1.0)
        if act != ACT_NONE:
            raise NotImplementedError(f"fused activation {act}")
        return x

    def __call__(self, x: Any, *, weights: bool, activations: bool, every: bool = False) -> Any:
        """The logits (the softmax's input) of a batch `x` (`every`: {tensor index: value} of every op output)."""
        import tensorflow as tf

        t: dict[int, Any] = {self.input: self._a(x, self.input, activations)}
        for op in self.ops:
            o = op.options
            a = t.get(op.inputs[0])
            if op.kind == "CONV_2D":
                w = tf.transpose(self._w(op.inputs[1], weights), [1, 2, 3, 0])
                y = tf.nn.conv2d(a, w, [1, o.strideH, o.strideW, 1], "SAME" if o.padding == 0 else "VALID",
                                 dilations=[1, o.dilationHFactor, o.dilationWFactor, 1])
            elif op.kind == "DEPTHWISE_CONV_2D":
                w = self._w(op.inputs[1], weights)
                _, kh, kw, cm = w.shape
                m = o.depthMultiplier or 1
                w = tf.reshape(w, [kh, kw, cm // m, m])
                y = tf.nn.depthwise_conv2d(a, w, [1, o.strideH, o.strideW, 1],
                                           "SAME" if o.padding == 0 else "VALID",
                                           dilations=[o.dilationHFactor, o.dilationWFactor])
            elif op.kind == "FULLY_CONNECTED":
                w = self._w(op.inputs[1], weights)
                y = tf.matmul(tf.reshape(a, [-1, w.shape[1]]), w, transpose_b=True)
            elif op.kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
                pool = tf.nn.avg_pool2d if op.kind == "AVERAGE_POOL_2D" else tf.nn.max_pool2d
                y = pool(a, [o.filterHeight, o.filterWidth], [o.strideH, o.strideW],
                         "SAME" if o.padding == 0 else "VALID")
            elif op.kind == "ADD":
                y = a + t[op.inputs[1]]
            elif op.kind == "MEAN":
                axes = [int(v) for v in self.axes[op.inputs[1]]]
                y = tf.reduce_mean(a, axis=axes, keepdims=bool(o.keepDims))
            elif op.kind == "SOFTMAX":
                t[op.outputs[0]] = tf.nn.softmax(a * o.beta)
                continue
            else:
                raise NotImplementedError(f"{op.kind} is not rebuilt by this study")
            if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and op.inputs[2] in self.biases:
                y = y + self.biases[op.inputs[2]]
            act = getattr(o, "fusedActivationFunction", ACT_NONE) or ACT_NONE
            y = self._act(y, act)
            pooled = op.kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D")  # int8 pools keep their input's scale
            t[op.outputs[0]] = y if pooled else self._a(y, op.outputs[0], activations)
        return t if every else t[self.logits]


def _probs(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def fit(net: Rebuilt, pool: np.ndarray, teacher: np.ndarray, *, steps: int, lr: float, batch: int,
        activations: bool, seed: int, every: int, report: Any, train: str = "all",
        mixup: Rebuilt | None = None) -> float:
    """Adam on the logits' squared error to `teacher` (the float model's logits of `pool`). With `mixup` (the
    float model), every batch is a random convex blend of two pool inputs per row, its target computed by `mixup`
    on the fly: inputs no photo has, against overfitting the few calibration photos."""
    import tensorflow as tf

    variables = list(net.biases.values()) if train == "biases" else net.variables
    rng = np.random.default_rng(seed)
    opt = tf.keras.optimizers.Adam(lr)
    scale = float(np.var(teacher)) or 1.0

    @tf.function
    def step(x: Any, y: Any) -> Any:
        if mixup is not None:
            lam = tf.random.uniform([tf.shape(x)[0] // 2, 1, 1, 1])
            a, b = x[0::2], x[1::2]
            x = lam * a + (1.0 - lam) * b
            y = mixup(x, weights=False, activations=False)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(net(x, weights=True, activations=activations) - y)) / scale
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables))
        return loss

    t0 = time.perf_counter()
    losses: list[float] = []
    for k in range(1, steps + 1):
        take = rng.choice(len(pool), batch, replace=False)
        losses.append(float(step(tf.constant(pool[take]), tf.constant(teacher[take]))))
        if k % every == 0 or k == steps:
            report(k, float(np.mean(losses[-every:])), time.perf_counter() - t0)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=[n for n, m in corpus.MODELS.items() if m.kind == "classifier"])
    ap.add_argument("--calibration", type=int, default=100)
    ap.add_argument("--evaluation", type=int, default=200)
    ap.add_argument("--pool", type=int, default=800, help="extra calibration-side training inputs (other crops)")
    ap.add_argument("--holdout", type=int, default=100, help="calibration-side inputs held out of training")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--every", type=int, default=50, help="finish and measure the int8 model every N steps")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--activations", choices=["on", "off"], default="on",
                    help="fake-quantize activations at their calibrated ranges while fitting")
    ap.add_argument("--bias-correction", choices=["on", "off"], default="off",
                    help="start from analytically bias-corrected biases (quantize/bias.py)")
    ap.add_argument("--train", choices=["all", "biases"], default="all",
                    help="fit weights and biases, or the biases only (the int8 weights stay the converter's)")
    ap.add_argument("--mixup", choices=["on", "off"], default="off",
                    help="train on random blends of two calibration-side inputs (targets from the float model)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from hub2lite.quantize import flatgraph as fg
    from hub2lite.quantize.bias import correct_bias
    from hub2lite.quantize.search import score_outputs

    m = corpus.MODELS[args.model]
    cal = m.inputs("calibration", args.calibration)
    ev = m.inputs("evaluation", args.evaluation)
    extra = _pool(args.model, args.pool + args.holdout)
    train, held = np.concatenate([cal, extra[:args.pool]]).astype(np.float32), extra[args.pool:].astype(np.float32)
    make, _ = rm._converter(m)  # noqa: SLF001 - the corpus benchmark's converter
    f32_size = len(make().convert())
    calibrated = fg.calibrate(make(), lambda: ([x[None]] for x in cal))
    acts = fg.collect_activations(calibrated, ([x[None]] for x in cal))
    start = correct_bias(calibrated, acts).model if args.bias_correction == "on" else calibrated
    ref_ev = rm._run(calibrated, ev)  # noqa: SLF001
    ref_held = rm._run(calibrated, held)  # noqa: SLF001

    net = Rebuilt(start)
    teacher_net = Rebuilt(calibrated)

    def logits(n: Rebuilt, xs: np.ndarray, **kw: bool) -> np.ndarray:
        return np.concatenate([n(xs[i:i + 32], **kw).numpy() for i in range(0, len(xs), 32)])

    sim = _probs(logits(teacher_net, ev, weights=False, activations=False))
    print(f"rebuilt float graph vs TFLite float32 on the evaluation inputs: max |dp| {np.abs(sim - ref_ev).max():.2e}")
    teacher = logits(teacher_net, train, weights=False, activations=False)

    header = ("| step | fit loss | top-1 agreement (evaluation) | mean abs dp | agreement (held-out calibration side) "
              "| simulation = TFLite int8 | x float32 size | seconds | load |\n|---|---|---|---|---|---|---|---|---|")
    rows: list[str] = []

    def row(k: Any, loss: float | None, secs: float | None, model: bytes) -> None:
        q_ev = rm._run(model, ev)  # noqa: SLF001
        s = score_outputs("classifier", ref_ev, q_ev)
        h = score_outputs("classifier", ref_held, rm._run(model, held))  # noqa: SLF001
        same = ""  # the simulation is of the model being fitted: rows 0, 1, ... only
        if isinstance(k, int):
            simq = _probs(logits(net, ev, weights=True, activations=args.activations == "on"))
            same = f"{np.mean(simq.argmax(-1) == q_ev.reshape(simq.shape).argmax(-1)):.1%}"
        line = (f"| {k} | {'' if loss is None else f'{loss:.4g}'} | {s.quality:.1%} | {s.loss:.4f} | {h.quality:.1%} "
                f"| {same} | {len(model) / f32_size:.3f} | {'' if secs is None else f'{secs:.0f}'} "
                f"| {os.getloadavg()[0]:.1f} |")
        rows.append(line)
        print(line, flush=True)

    print(f"{args.model}: {len(train)} training inputs ({args.calibration} calibration + {args.pool} more crops of the "
          f"calibration side), {len(held)} held out, {len(ev)} evaluation; lr {args.lr}, batch {args.batch}, "
          f"activations {args.activations}, train {args.train}, mixup {args.mixup}, start bias correction {args.bias_correction}, seed {args.seed}")
    print(header)
    row("bare int8 (minmax)", None, None, fg.finish(calibrated))
    row("minmax + analytical bias correction (shipped)", None, None, fg.finish(correct_bias(calibrated, acts).model))
    row(0, None, None, fg.finish(start))

    def measured(k: int, loss: float, secs: float) -> None:
        row(k, loss, secs, fg.finish(write(start, net.values())))

    fit(net, train, teacher, steps=args.steps, lr=args.lr, batch=args.batch, activations=args.activations == "on",
        seed=args.seed, every=args.every, report=measured, train=args.train,
        mixup=teacher_net if args.mixup == "on" else None)
    print("\n" + header + "\n" + "\n".join(rows))
    return 0


def _pool(model: str, count: int) -> np.ndarray:
    """`count` calibration-side inputs other than the calibration split's (another seed of the same photos/faces)."""
    if model == "nudity":
        return corpus.photo_crops("calibration", count, 224, seed=7) / 127.5 - 1.0
    if model == "fer":
        return corpus.face_crops("calibration", count, seed=7) / 127.5 - 1.0
    raise SystemExit(f"no calibration-side pool for {model}")


if __name__ == "__main__":
    raise SystemExit(main())
