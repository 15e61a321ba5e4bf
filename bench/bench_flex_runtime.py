"""The Flex runtime's costs, measured in one run: set-up time, worker start, and per-call overhead.

Select-TF-ops models run in a TensorFlow 2.18.1 venv driven as a subprocess (hub2lite.flexruntime). This prints:
1. set-up: the runtime's one-time build time (from its marker; built now if missing, which is timed);
2. start: FlexRunner construction (spawn the worker, import TensorFlow 2.18.1, load the model), median of 3;
3. per call, for a tiny Flex model (MatrixDeterminant + Erf on 3x3) and a mid-size one (conv stack + a Flex op,
   1x64x64x3): round-trip `FlexRunner.infer` (pack inputs, pipe, invoke, pipe back, unpack) vs the same invoke
   timed inside the worker; overhead = median difference, and the ratio;
4. agreement of the Flex runtime's outputs with the original SavedModel (converted by the installed TensorFlow),
   absolute and relative to the output's largest magnitude.

    python bench/bench_flex_runtime.py [--calls 200]
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


def tiny(tf, path: Path) -> None:
    class Flex(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(np.eye(3, dtype=np.float32) * 2.0)

        @tf.function(input_signature=[tf.TensorSpec([1, 3, 3], tf.float32, name="m")])
        def serve(self, m):
            a = tf.matmul(m, self.w) + tf.eye(3)
            return {"det": tf.linalg.det(a), "erf": tf.math.erf(tf.reduce_mean(a, axis=-1))}

    m = Flex()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def midsize(tf, path: Path) -> None:
    rng = np.random.default_rng(0)

    class Conv(tf.Module):
        def __init__(self) -> None:
            self.k = [tf.Variable(rng.normal(0, 0.2, (3, 3, c, 32)).astype(np.float32)) for c in (3, 32, 32, 32)]

        @tf.function(input_signature=[tf.TensorSpec([1, 64, 64, 3], tf.float32, name="images")])
        def serve(self, images):
            x = images
            for k in self.k:
                x = tf.nn.relu(tf.nn.conv2d(x, k, strides=1, padding="SAME"))
            g = tf.reduce_mean(x, axis=[1, 2])  # [1, 32]
            gram = tf.matmul(tf.reshape(g[:, :16], [1, 4, 4]), tf.reshape(g[:, 16:], [1, 4, 4]))
            return {"features": g, "det": tf.linalg.det(gram + tf.eye(4))}  # MatrixDeterminant: Flex

    m = Conv()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def convert_select(tf, folder: Path) -> bytes:
    converter = tf.lite.TFLiteConverter.from_saved_model(str(folder))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    return converter.convert()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args(argv)

    from hub2lite import flexruntime
    from hub2lite.flexruntime import FlexRunner
    from hub2lite.tflite_file import flex_ops

    status = flexruntime.runtime_status()
    if not status.ready:
        t0 = time.perf_counter()
        status = flexruntime.ensure_runtime(notify=print)
        print(f"set-up: built now in {time.perf_counter() - t0:.0f} s")
    print(f"set-up: Flex runtime TensorFlow {status.tensorflow}, Python {status.python_version}, "
          f"built {status.built_at} in {status.build_seconds} s ({status.path})")

    import tensorflow as tf

    print(f"converter: TensorFlow {tf.__version__}")
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for name, builder, shape, key in (("tiny", tiny, (1, 3, 3), "m"), ("midsize", midsize, (1, 64, 64, 3), "images")):
            folder = Path(tmp) / name
            builder(tf, folder)
            model = convert_select(tf, folder)
            feed = {key: rng.uniform(0, 1, shape).astype(np.float32)}
            starts = []
            for _ in range(3):
                t0 = time.perf_counter()
                FlexRunner(model).close()
                starts.append(time.perf_counter() - t0)
            with FlexRunner(model, threads=1) as lite:
                for _ in range(5):
                    lite.infer(feed)
                trips = []
                for _ in range(args.calls):
                    t0 = time.perf_counter()
                    out = lite.infer(feed)
                    trips.append(time.perf_counter() - t0)
                inside = lite.bench(feed, runs=args.calls, warmup=5)["times_s"]
            original = tf.saved_model.load(str(folder)).signatures["serving_default"](**{k: tf.constant(v) for k, v in feed.items()})
            diff = max(float(np.max(np.abs(out[k] - original[k].numpy()))) for k in out)
            rel = max(float(np.max(np.abs(out[k] - original[k].numpy())) / max(np.max(np.abs(original[k].numpy())), 1e-30))
                      for k in out)
            rt, inv = statistics.median(trips) * 1e3, statistics.median(inside) * 1e3
            print(f"{name}: {len(model)} B, ops need Flex: {flex_ops(model)}")
            print(f"  start (spawn + import TF 2.18.1 + load), median of 3: {statistics.median(starts):.2f} s")
            print(f"  per call, median of {args.calls}: round trip {rt:.3f} ms, invoke inside the worker {inv:.3f} ms, "
                  f"overhead {rt - inv:.3f} ms (round trip / invoke = {rt / inv:.2f}x)")
            print(f"  max |Flex runtime - original SavedModel| = {diff:.2e} (relative to max |original|: {rel:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
