"""Convert one mid-size model with hub2lite and with a bare TFLiteConverter, timed side by side in one run,
then compare TFLite float32 latency with the original SavedModel's, then sweep its quantization variants.

The model: Keras' MobileNetV2 (alpha 1.0, 96x96x3, 10 classes, 2.27 M parameters, ~8.7 MiB of float32
weights), trained for a few epochs on scikit-learn's real digit scans upscaled to 96x96, exported as a
TF2 SavedModel (`model.export`), cached in $HUB2LITE_BENCH_CACHE (default ~/.cache/hub2lite/bench).

1. conversion time: `hub2lite` (resolve + load + convert, float32) vs
   `tf.lite.TFLiteConverter.from_saved_model(path).convert()`, interleaved A B / B A over `--rounds`
   rounds; ratio of medians; goal <= 1.05.
2. latency: the float32 .tflite (ai-edge-litert, XNNPACK) vs the SavedModel in eager TensorFlow, same
   threads, same input, each in its own process (hub2lite.benchmark), interleaved; ratio of median p50.
3. `hub2lite sweep` on the same model (round-robin benchmark rounds): the table is printed, the report folder
   written to out/bench_convert/sweep.

    python bench/bench_convert.py [--rounds 3] [--runs 100] [--modes float32,float16,dynamic,int8,int16x8]
"""

from __future__ import annotations

import argparse
import os
import statistics
from dataclasses import replace
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
MODEL_VERSION = "1"


def cache_dir() -> Path:
    base = Path(os.environ.get("HUB2LITE_BENCH_CACHE", Path.home() / ".cache" / "hub2lite" / "bench"))
    base.mkdir(parents=True, exist_ok=True)
    return base


def digits96() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn digits (the demo's split), upscaled 12x (nearest) to 96x96x3 in [0, 1]."""
    from hub2lite.demo import digits_data

    x_train, y_train, x_test, y_test = digits_data()

    def up(x: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(x, 12, axis=1), 12, axis=2).repeat(3, axis=3).astype(np.float32)

    return up(x_train), y_train, up(x_test), y_test


def build_model(folder: Path, epochs: int = 6) -> Path:
    if (folder / "saved_model.pb").exists():
        return folder
    import keras

    keras.utils.set_random_seed(0)
    x_train, y_train, x_test, y_test = digits96()
    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=1.0, weights=None, classes=10)
    for layer in model.layers:  # few steps: let BatchNorm's moving statistics follow the data
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    acc = model.evaluate(x_test, y_test, verbose=0)[1]
    print(f"trained MobileNetV2-96 on digits in {time.perf_counter() - t0:.0f} s: held-out accuracy {acc:.2%}")
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    model.export(str(tmp), verbose=False)
    tmp.rename(folder)
    return folder


def time_conversions(path: Path, rounds: int) -> tuple[list[float], list[float], bytes, bytes]:
    import tensorflow as tf

    from hub2lite.convert import ConvertConfig, convert
    from hub2lite.load import load
    from hub2lite.resolve import resolve

    def with_hub2lite() -> bytes:
        return convert(load(resolve(str(path))), ConvertConfig()).model

    def bare() -> bytes:
        return tf.lite.TFLiteConverter.from_saved_model(str(path)).convert()

    bare()  # warm both paths once (first-use costs of the converter itself), untimed
    with_hub2lite()
    hub_s: list[float] = []
    bare_s: list[float] = []
    hub_model = bare_model = b""
    for i in range(rounds):
        order = [("hub", with_hub2lite), ("bare", bare)]
        if i % 2:
            order.reverse()
        for name, fn in order:
            t0 = time.perf_counter()
            model = fn()
            dt = time.perf_counter() - t0
            if name == "hub":
                hub_s.append(dt)
                hub_model = model
            else:
                bare_s.append(dt)
                bare_model = model
    return hub_s, bare_s, hub_model, bare_model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved rounds: conversions per converter, latency processes per model (also the sweep's)")
    ap.add_argument("--runs", type=int, default=100, help="timed inferences per latency benchmark")
    ap.add_argument("--threads", type=int, default=None, help="threads for both runtimes (default: all usable)")
    ap.add_argument("--modes", default="float32,float16,dynamic,int8,int16x8", help="modes of the sweep")
    args = ap.parse_args(argv)

    from hub2lite.benchmark import BenchConfig, benchmark_source, benchmark_tflite
    from hub2lite.report.sweep import markdown_table
    from hub2lite.runners import LiteRunner
    from hub2lite.sweep import SweepConfig, parse_modes, run_sweep

    model = build_model(cache_dir() / f"mobilenetv2-96-digits-v{MODEL_VERSION}")
    import tensorflow as tf

    params = sum(int(np.prod(v.shape)) for v in tf.saved_model.load(str(model)).variables)
    print(f"model: {model} ({params / 1e6:.2f} M parameters)")

    # 1. conversion time, interleaved
    hub_s, bare_s, hub_model, bare_model = time_conversions(model, args.rounds)
    ratio = statistics.median(hub_s) / statistics.median(bare_s)
    x = digits96()[2][:8]
    lite_hub, lite_bare = LiteRunner(hub_model), LiteRunner(bare_model)
    (hname,), (bname,) = lite_hub.input_details(), lite_bare.input_details()
    diff = max(float(np.max(np.abs(next(iter(lite_hub.infer({hname: x[i:i + 1]}).values()))
                                   - next(iter(lite_bare.infer({bname: x[i:i + 1]}).values()))))) for i in range(len(x)))
    print("\n## conversion time (float32), interleaved in one run")
    print(f"hub2lite (resolve+load+convert): {', '.join(f'{s:.2f}' for s in hub_s)} s  median {statistics.median(hub_s):.2f} s"
          f"  -> {len(hub_model) / 2**20:.2f} MiB")
    print(f"bare TFLiteConverter.from_saved_model: {', '.join(f'{s:.2f}' for s in bare_s)} s  median "
          f"{statistics.median(bare_s):.2f} s  -> {len(bare_model) / 2**20:.2f} MiB")
    print(f"ratio hub2lite / bare = {ratio:.3f}  (goal <= 1.05: {'met' if ratio <= 1.05 else 'NOT met'}); "
          f"outputs of the two .tflite files differ by at most {diff:.2e} on 8 digits")

    # 2. latency: TFLite float32 vs the original SavedModel, same threads, same input, interleaved
    cfg = BenchConfig(runs=args.runs, warmup=10, threads=args.threads)
    from hub2lite.load import load
    from hub2lite.resolve import resolve

    tf_input = load(resolve(str(model))).choose().info.inputs[0].name
    with tempfile.TemporaryDirectory() as tmp:
        tfl = Path(tmp) / "float32.tflite"
        tfl.write_bytes(hub_model)
        lite_runs, tf_runs = [], []
        for i in range(args.rounds):
            pair = [("lite", lambda: benchmark_tflite(tfl, cfg, feed={hname: x[:1]})),
                    ("tf", lambda: benchmark_source(str(model), cfg, feed={tf_input: x[:1]}))]
            for name, fn in (pair if i % 2 == 0 else pair[::-1]):
                (lite_runs if name == "lite" else tf_runs).append(fn())
    lite_p50 = statistics.median(s.p50_ms for s in lite_runs)
    tf_p50 = statistics.median(s.p50_ms for s in tf_runs)
    print(f"\n## latency per inference, batch 1, {cfg.effective_threads} threads, {cfg.runs} runs x {args.rounds} interleaved rounds")
    for s in lite_runs + tf_runs:
        print(f"{s.kind:10} {s.runtime:32} p50 {s.p50_ms:8.3f} ms  p90 {s.p90_ms:8.3f}  p99 {s.p99_ms:8.3f}  "
              f"init {s.init_ms:8.1f} ms  first {s.first_inference_ms:8.2f} ms  peak RSS {s.peak_rss_bytes / 2**20:6.1f} MiB")
    print(f"ratio TFLite float32 p50 / TF SavedModel p50 = {lite_p50 / tf_p50:.3f}  "
          f"({tf_p50 / lite_p50:.2f}x faster as .tflite)")

    # 3. sweep
    x_train, y_train, x_test, y_test = digits96()
    out = ROOT / "out" / "bench_convert"
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "calibration.npz", x=x_train[:200])
    np.savez(out / "test.npz", x=x_test, y=y_test)
    t0 = time.perf_counter()
    result = run_sweep(SweepConfig(source=str(model), output_dir=str(out / "sweep"), modes=parse_modes(args.modes),
                                   calibration=str(out / "calibration.npz"), data=str(out / "test.npz"), samples=200,
                                   bench=replace(cfg, rounds=args.rounds), force=True))
    print(f"\n## hub2lite sweep ({time.perf_counter() - t0:.0f} s; report in {out / 'sweep'})\n")
    print(markdown_table(result.report))
    print()
    for line in result.report["recommendation"]["lines"]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
