"""Bias correction on real classifiers, beyond the analytical form hub2lite ships (docs/quantization.md).

On one corpus classifier (bench/corpus.py: `nudity`, `fer`), calibrated on the calibration split, measured on the
evaluation split (other photos) against the float model, top-1 agreement and mean |dp|:

* bare int8, analytical bias correction (`quantize/bias.py`: (W_q - W) E[x]);
* *sequential empirical* bias correction (Nagel et al., Data-Free Quantization; AIMET's empirical form): in op order,
  layer k's float bias absorbs the mean per-channel difference between the int8 model's output of layer k
  (dequantized; layers < k already corrected) and the float model's, on the calibration data; re-quantize; next
  layer. One quantize + one calibration run per conv/dense layer. From the bare model and on top of the analytical
  correction;
* with `--search LOSS`: the sensitivity search (`quantize/search.py`) on the analytical technique ranked by LOSS
  (mae | kl | margin) on calibration-side crops held out of calibration (`--ranking`), going past the target while
  the loss falls >= 5% a step, under 0.35x float32's size; every kept step measured on the evaluation split (float
  ops with their original biases, `search.Prepared`).

    python bench/int8_bias_study.py nudity [--search margin] [--ranking 128]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402
import real_models as rm  # noqa: E402


def int8_output_means(model: bytes, cal: np.ndarray, name: str) -> np.ndarray:
    """Per-channel mean of the dequantized int8 tensor `name` of `model` over `cal`."""
    import tensorflow as tf

    it = tf.lite.Interpreter(model_content=model, experimental_preserve_all_tensors=True, num_threads=2)
    it.allocate_tensors()
    detail = next(d for d in it.get_tensor_details() if d["name"] == name)
    inp = it.get_input_details()[0]
    total, rows = 0.0, 0
    for x in cal:
        it.set_tensor(inp["index"], np.asarray(x[None], inp["dtype"]))
        it.invoke()
        v = it.get_tensor(detail["index"]).astype(np.float64)
        scale, zero = detail["quantization"]
        if scale:
            v = (v - zero) * scale
        ch = v.reshape(-1, v.shape[-1])
        total, rows = total + ch.sum(0), rows + ch.shape[0]
    return total / rows


def _add_to_bias(model: bytes, op: Any, delta: np.ndarray) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils as fu

    from hub2lite.quantize import flatgraph as fg

    bias = fg.CalibratedGraph(model).constant(op.inputs[2]).astype(np.float64)
    obj = fu.read_model_from_bytearray(bytearray(model))
    buf = obj.buffers[obj.subgraphs[0].tensors[op.inputs[2]].buffer]
    buf.data = np.frombuffer((bias + delta).astype(np.float32).tobytes(), np.uint8).copy()
    return bytes(fu.convert_object_to_bytearray(obj))


def sequential_empirical(start: bytes, calibrated: bytes, acts: Any, cal: np.ndarray) -> tuple[bytes, int, float]:
    """`start` (a calibrated flatbuffer) with every conv/dense bias corrected in op order for the measured mean
    shift of its int8 output; returns (model, quantize calls, seconds)."""
    from hub2lite.quantize import flatgraph as fg

    graph = fg.CalibratedGraph(calibrated)
    ops = [op for op in graph.ops if op.op in fg.WEIGHT_OPS and len(op.inputs) > 2 and op.inputs[2] >= 0]
    prepared, calls, t0 = start, 0, time.perf_counter()
    for op in ops:
        quantized = fg.finish(prepared)
        calls += 1
        shift = int8_output_means(quantized, cal, op.name) - acts.channel_mean[op.outputs[0]]
        prepared = _add_to_bias(prepared, op, -shift)
    return prepared, calls, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=[n for n, m in corpus.MODELS.items() if m.kind == "classifier"])
    ap.add_argument("--calibration", type=int, default=100)
    ap.add_argument("--evaluation", type=int, default=200)
    ap.add_argument("--ranking", type=int, default=128, help="calibration-side crops the search ranks on")
    ap.add_argument("--search", choices=("mae", "kl", "margin"), help="also run the search ranked by this loss")
    args = ap.parse_args(argv)

    from hub2lite.quantize import flatgraph as fg
    from hub2lite.quantize.bias import correct_bias
    from hub2lite.quantize.search import Prepared, score_outputs, sensitivity_search

    m = corpus.MODELS[args.model]
    both = m.inputs("calibration", args.calibration + args.ranking)
    cal, rank = both[:args.calibration], both[args.calibration:]
    ev = m.inputs("evaluation", args.evaluation)
    make, _ = rm._converter(m)
    calibrated = fg.calibrate(make(), lambda: ([x[None]] for x in cal))
    acts = fg.collect_activations(calibrated, ([x[None]] for x in cal))
    f32_size = len(make().convert())
    ref_ev = rm._run(calibrated, ev)

    def row(label: str, model: bytes, note: str = "") -> None:
        s = score_outputs("classifier", ref_ev, rm._run(model, ev))
        print(f"| {label} | {len(model) / 2**20:.2f} MiB | {len(model) / f32_size:.2f} | {s.quality:.1%} | "
              f"{s.loss:.4f} | {note} |", flush=True)

    print(f"{args.model}: {args.calibration} calibration, {args.ranking} ranking, {args.evaluation} evaluation\n")
    print("| variant | size | x float32 | agreement | mean abs dp | note |\n|---|---|---|---|---|---|")
    row("int8 bare", fg.finish(calibrated))
    analytical = correct_bias(calibrated, acts).model
    row("analytical bias correction", fg.finish(analytical))
    both_corr, calls, secs = sequential_empirical(analytical, calibrated, acts, cal)
    row("analytical + sequential empirical", fg.finish(both_corr), f"{calls} quantize calls, {secs:.0f} s")
    seq, calls, secs = sequential_empirical(calibrated, calibrated, acts, cal)
    row("sequential empirical only", fg.finish(seq), f"{calls} quantize calls, {secs:.0f} s")
    if not args.search:
        return 0
    technique = Prepared.make(calibrated, acts, bias_correction=True)
    ref_rank = rm._run(calibrated, rank)
    t0 = time.perf_counter()
    result = sensitivity_search(
        technique, lambda model: score_outputs("classifier", ref_rank, rm._run(model, rank), loss=args.search),
        [op.name for op in fg.CalibratedGraph(calibrated).compute_ops()], target=0.99, max_float=8,
        max_size=f32_size * 35 // 100, beyond_target=0.05)
    secs = time.perf_counter() - t0
    nodes: list[str] = []
    for step in (s for s in result.steps if s.kept):
        nodes.append(step.node)
        row(f"analytical + search by {args.search}, {len(nodes)} float", technique.quantize(nodes),
            f"+`{step.node.split(';')[0]}`; ranking {step.quality:.1%}")
    print(f"\nsearch: {result.evaluations} ranked/greedy evaluations, {secs:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
