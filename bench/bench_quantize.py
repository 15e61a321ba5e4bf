"""Every quantization mode of one image model, measured side by side in one run: size, CPU latency and accuracy.

The model: Keras' MobileNetV2 (alpha 0.35, 32x32x3, 10 classes, BatchNorm momentum 0.9), trained briefly on scikit-learn's real digit
scans upscaled to 32x32 RGB, exported as a TF2 SavedModel (`model.export`) and cached in
$HUB2LITE_BENCH_CACHE (default ~/.cache/hub2lite/bench). Offline, real data, nothing hard-coded.

Per mode, `hub2lite` converts (calibrating int8 / int8-strict / int16x8 on 200 seeded training digits, fed from
an .npz by input name) and validates; then, in this one process:

* size ratio: .tflite bytes / float32 .tflite bytes;
* latency ratio: median per-inference time / float32's, ai-edge-litert with XNNPACK, the same `--threads`
  for every model, measured interleaved (round r runs every mode once, in a rotated order) over `--rounds`;
* accuracy delta: top-1 on the 360 held-out digits minus the float32 .tflite's, in points.

    python bench/bench_quantize.py [--rounds 5] [--runs 200] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
MODEL_VERSION = "2"
SIZE = 32
MODES = [("float32", None), ("float16", None), ("dynamic", None), ("int8", None), ("int8-strict", "int8"),
         ("int8-strict", "uint8"), ("int16x8", None)]


def cache_dir() -> Path:
    base = Path(os.environ.get("HUB2LITE_BENCH_CACHE", Path.home() / ".cache" / "hub2lite" / "bench"))
    base.mkdir(parents=True, exist_ok=True)
    return base


def to_rgb(x: np.ndarray) -> np.ndarray:
    """Digits [N,8,8,1] in [0,1] -> [N,32,32,3] in [0,1] (4x nearest upscale, gray in RGB)."""
    k = SIZE // 8
    up = np.repeat(np.repeat(x, k, axis=1), k, axis=2)
    return np.repeat(up, 3, axis=3).astype(np.float32)


def build_model(dest: Path, epochs: int = 10) -> Path:
    if (dest / "saved_model.pb").exists():
        return dest
    import keras

    from hub2lite.demo import digits_data

    keras.utils.set_random_seed(0)
    x, y, _, _ = digits_data()
    model = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=0.35, weights=None, classes=10,
                                           classifier_activation="softmax")
    for layer in model.layers:  # Keras' 0.999 needs thousands of steps; this is a brief training run
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(to_rgb(x), y, epochs=epochs, batch_size=32, verbose=0)
    print(f"trained MobileNetV2-0.35 {SIZE}x{SIZE} on {len(x)} digits for {epochs} epochs "
          f"({model.count_params():,} parameters, {time.perf_counter() - t0:.0f} s)", flush=True)
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    model.export(str(tmp), verbose=False)
    tmp.rename(dest)
    return dest


def _interpreter(model: bytes, threads: int):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=model, num_threads=threads, experimental_op_resolver_type=OpResolverType.AUTO)
    it.allocate_tensors()
    return it


def _quantized_input(it, x: np.ndarray) -> np.ndarray:
    d = it.get_input_details()[0]
    if np.issubdtype(d["dtype"], np.integer):
        scale, zp = d["quantization"]
        info = np.iinfo(d["dtype"])
        return np.clip(np.round(x / scale + zp), info.min, info.max).astype(d["dtype"])
    return x.astype(d["dtype"])


def time_interleaved(models: dict[str, bytes], x: np.ndarray, *, threads: int, rounds: int, runs: int) -> dict[str, float]:
    """Median seconds per inference of each model; every round times every model, in a rotated order."""
    its = {k: _interpreter(m, threads) for k, m in models.items()}
    feeds = {k: _quantized_input(it, x) for k, it in its.items()}
    for k, it in its.items():  # warm-up
        it.set_tensor(it.get_input_details()[0]["index"], feeds[k])
        for _ in range(10):
            it.invoke()
    samples: dict[str, list[float]] = {k: [] for k in models}
    keys = list(models)
    for r in range(rounds):
        for k in keys[r % len(keys):] + keys[:r % len(keys)]:
            it = its[k]
            it.set_tensor(it.get_input_details()[0]["index"], feeds[k])
            t0 = time.perf_counter()
            for _ in range(runs):
                it.invoke()
            samples[k].append((time.perf_counter() - t0) / runs)
    return {k: statistics.median(v) for k, v in samples.items()}


def accuracy(model: bytes, x: np.ndarray, y: np.ndarray) -> float:
    from hub2lite.runners import LiteRunner

    lite = LiteRunner(model)
    name = lite.input_specs()[0].name
    hits = sum(int(np.argmax(next(iter(lite.infer({name: x[i:i + 1]}).values()))) == y[i]) for i in range(len(y)))
    return hits / len(y)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=200, help="inferences per model per round")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    from hub2lite.convert import ConvertConfig
    from hub2lite.demo import digits_data
    from hub2lite.pipeline import ConvertJob, ValidateConfig, run_convert
    from hub2lite.specs import QuantMode

    model_dir = build_model(cache_dir() / f"mobilenetv2-035-digits{SIZE}-v{MODEL_VERSION}")
    x_train, y_train, x_test, y_test = digits_data()
    rgb_train, rgb_test = to_rgb(x_train), to_rgb(x_test)
    work = Path(tempfile.mkdtemp(prefix="bench_quantize."))
    calib = work / "calib.npz"
    np.savez(calib, x=rgb_train, y=y_train)
    valid = work / "valid.npz"
    np.savez(valid, x=rgb_test[:64], y=y_test[:64])

    models: dict[str, bytes] = {}
    passed: dict[str, bool] = {}
    convert_s: dict[str, float] = {}
    for mode, io in MODES:
        key = mode + (f"/{io}" if io else "")
        job = ConvertJob(source=str(model_dir), output=str(work / f"{key.replace('/', '-')}.tflite"),
                         convert=ConvertConfig(quantize=QuantMode(mode), io_type=io),
                         validate=ValidateConfig(samples=64, data=str(valid)),
                         calibration=str(calib) if mode in ("int8", "int8-strict", "int16x8") else None)
        t0 = time.perf_counter()
        result = run_convert(job)
        convert_s[key] = time.perf_counter() - t0
        models[key] = result.conversion.model
        passed[key] = result.passed
        print(f"converted {key}: {len(models[key]) / 1024:.0f} KiB in {convert_s[key]:.1f} s, validation "
              f"{'passed' if result.passed else 'FAILED'}", flush=True)

    latency = time_interleaved(models, rgb_test[:1], threads=args.threads, rounds=args.rounds, runs=args.runs)
    acc = {k: accuracy(m, rgb_test, y_test) for k, m in models.items()}

    base = "float32"
    print(f"\nMobileNetV2-0.35 {SIZE}x{SIZE}x3 on digits; ai-edge-litert XNNPACK, {args.threads} threads, "
          f"median of {args.rounds} interleaved rounds x {args.runs} runs; accuracy on {len(y_test)} held-out digits")
    header = ("mode", "size KiB", "size ratio", "latency ms", "latency ratio", "top-1", "delta pts", "validation")
    rows = []
    for k in models:
        rows.append((k, f"{len(models[k]) / 1024:.0f}", f"{len(models[k]) / len(models[base]):.3f}",
                     f"{latency[k] * 1e3:.3f}", f"{latency[k] / latency[base]:.2f}", f"{acc[k]:.2%}",
                     f"{100 * (acc[k] - acc[base]):+.2f}", "passed" if passed[k] else "FAILED"))
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
