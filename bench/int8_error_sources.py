"""Where a real model's int8 error comes from: weights or activations (`python bench/int8_error_sources.py nudity`).

For one corpus model (bench/corpus.py; classifiers) on its calibration / evaluation split, measured side by side:

- int8 (minmax, and minmax + bias correction): the converter's quantization as hub2lite makes it;
- *weights-only int8*: the float model with every conv / depthwise / FC weight replaced by its int8-rounded value
  (per output channel, symmetric, as the converter rounds) and float activations — what int8 weights alone cost;
  with and without bias correction;
- the bare converter's int16x8 (16-bit activations, int8 weights): nearly exact activations;
- per op, the relative error (‖int8 − float‖ / ‖float‖, mean over the evaluation inputs) of the int8 model.

If weights-only int8 loses as much as int8, no activation-range technique can close the gap: only weight
precision (float fallback of the layers that matter, better rounding) can.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402
import real_models as rm  # noqa: E402


def _fake_quant_weights(calibrated: bytes, corrected: bytes | None = None) -> bytes:
    """The calibrated float model with int8-rounded weights (biases from `corrected` when given)."""
    from tensorflow.lite.tools import flatbuffer_utils as fu

    from hub2lite.quantize import flatgraph as fg
    from hub2lite.quantize.bias import weight_rounding_error

    graph = fg.CalibratedGraph(calibrated)
    obj = fu.read_model_from_bytearray(bytearray(corrected if corrected is not None else calibrated))
    tensors = obj.subgraphs[0].tensors
    for op in graph.compute_ops():
        if op.op not in fg.WEIGHT_OPS:
            continue
        w = graph.constant(op.inputs[1])
        if w is None:
            continue
        q = (w + weight_rounding_error(w, 3 if op.op == "DEPTHWISE_CONV_2D" else 0)).astype(np.float32)
        obj.buffers[tensors[op.inputs[1]].buffer].data = np.frombuffer(q.tobytes(), np.uint8).copy()
    return bytes(fu.convert_object_to_bytearray(obj))


def _op_outputs(model: bytes, x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=model, experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x[None].astype(np.float32))
    it.invoke()
    details = it.get_tensor_details()
    out = []
    for op in it._get_ops_details():  # noqa: SLF001 - the interpreter's only per-op listing
        if op["op_name"] in ("QUANTIZE", "DEQUANTIZE"):
            continue
        d = details[op["outputs"][0]]
        v = it.get_tensor(d["index"]).astype(np.float32)
        scale, zero = d["quantization"]
        if d["dtype"] != np.float32 and scale:
            v = (v - zero) * scale
        out.append((d["name"].split(";")[0], v))
    return out


def error_profile(float_model: bytes, int8_model: bytes, xs: np.ndarray) -> list[tuple[str, float]]:
    """Per op (in execution order, QUANTIZE/DEQUANTIZE left out), the mean relative error of int8 vs float."""
    errs: list[list[float]] = []
    names: list[str] = []
    for x in xs:
        a, b = _op_outputs(float_model, x), _op_outputs(int8_model, x)
        names = [n for n, _ in a]
        errs.append([float(np.linalg.norm(vb - va) / (np.linalg.norm(va) + 1e-12)) for (_, va), (_, vb) in zip(a, b)])
    return list(zip(names, np.mean(errs, axis=0).tolist()))


def measure(name: str, n_cal: int, n_eval: int, n_profile: int) -> dict[str, Any]:
    import tensorflow as tf

    from hub2lite.quantize import flatgraph as fg
    from hub2lite.quantize.bias import correct_bias

    m = corpus.MODELS[name]
    if m.kind != "classifier":
        raise SystemExit(f"{name} is a {m.kind}; this benchmark reads top-1 agreement (classifiers)")
    cal, ev = m.inputs("calibration", n_cal), m.inputs("evaluation", n_eval)
    make, _ = rm._converter(m)  # noqa: SLF001 - the corpus benchmark's converter
    f32 = bytes(make().convert())
    ref = rm._run(f32, ev)  # noqa: SLF001
    calibrated = fg.calibrate(make(), lambda: ([x[None]] for x in cal))
    acts = fg.collect_activations(calibrated, ([x[None]] for x in cal))
    corrected = correct_bias(calibrated, acts).model
    c = make()
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = lambda: ([x[None]] for x in cal)
    c.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    variants = {
        "int8 (minmax)": fg.finish(calibrated),
        "int8 (minmax + bias correction)": fg.finish(corrected),
        "weights-only int8, float activations": _fake_quant_weights(calibrated),
        "weights-only int8 + bias correction, float activations": _fake_quant_weights(calibrated, corrected),
        "int16x8 (bare converter)": bytes(c.convert()),
    }
    rows = []
    for label, model in variants.items():
        out = rm._run(model, ev)  # noqa: SLF001
        rows.append({"variant": label, "agreement": float(np.mean(out.argmax(1) == ref.argmax(1))),
                     "mean_abs_dp": float(np.abs(out - ref).mean())})
    profile = error_profile(f32, variants["int8 (minmax + bias correction)"], ev[:n_profile])
    return {"model": name, "calibration": n_cal, "evaluation": n_eval, "rows": rows, "profile": profile}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", default="nudity", help="a classifier of bench/corpus.py (default nudity)")
    ap.add_argument("--calibration", type=int, default=100)
    ap.add_argument("--eval", type=int, default=200)
    ap.add_argument("--profile", type=int, default=50, help="evaluation inputs for the per-op error profile")
    args = ap.parse_args(argv)
    r = measure(args.model, args.calibration, args.eval, args.profile)
    print(f"{r['model']}: {r['calibration']} calibration / {r['evaluation']} evaluation inputs")
    print("| variant | top-1 agreement | mean abs dp |\n|---|---|---|")
    for row in r["rows"]:
        print(f"| {row['variant']} | {row['agreement']:.1%} | {row['mean_abs_dp']:.4f} |")
    print("\nper-op relative error of int8 (minmax + bias correction):")
    for i, (op, err) in enumerate(r["profile"]):
        print(f"  {i:3d} {err:7.3f}  {op[-70:]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
