"""Models and a shared sweep run for the bench / sweep / report tests.

* `big_dense`: a SavedModel whose one weight matrix is 2048x2048 float32 (16 MiB), to show that the
  measured peak memory follows the model's size;
* `sin_mlp`: x[?,4] -> sin(x W1) W2: SIN has no int8 kernel, so `int8-strict` (integer-only ops) fails to
  convert while float32 converts — a sweep with one failing variant;
* `digits_sweep(...)`: `hub2lite sweep` of the digits classifier, run once per test session (in-process CLI)
  and shared by test_sweep.py and test_report_html.py.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MODELS_BENCH_PY = Path(__file__).resolve()
BIG_DENSE_BYTES = 2048 * 2048 * 4


def big_dense(path: Path) -> None:
    import tensorflow as tf

    w = np.random.default_rng(0).normal(size=(2048, 2048)).astype(np.float32) / 45.0

    class Big(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(w)

        @tf.function(input_signature=[tf.TensorSpec([None, 2048], tf.float32, name="x")])
        def serve(self, x):
            return {"y": tf.nn.relu(tf.matmul(x, self.w))}

    m = Big()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def sin_mlp(path: Path) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(0)

    class SinMlp(tf.Module):
        def __init__(self) -> None:
            self.w1 = tf.Variable(rng.normal(size=(4, 16)).astype(np.float32))
            self.w2 = tf.Variable(rng.normal(size=(16, 3)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            return {"y": tf.matmul(tf.math.sin(tf.matmul(x, self.w1)), self.w2)}

    m = SinMlp()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


BUILDERS = {"big_dense": big_dense, "sin_mlp": sin_mlp}


def bench_model(name: str) -> Path:
    from conftest import cached_build

    return cached_build(name, BUILDERS[name], MODELS_BENCH_PY)


@dataclass(frozen=True)
class SweepRun:
    code: int
    out: str
    err: str
    directory: Path
    modes: tuple[str, ...]
    test_samples: int


_RUNS: dict[str, SweepRun] = {}
SWEEP_MODES = ("float32", "float16", "dynamic", "int8")


def digits_sweep(base: Path, digits_model: Path, digits_split: Any) -> SweepRun:
    """`hub2lite sweep DIGITS --calibration calib.npz --data test.npz --labels labels.txt -o DIR`, once per
    session."""
    if "digits" in _RUNS:
        return _RUNS["digits"]
    from hub2lite.cli import main

    x_train, _, x_test, y_test = digits_split
    base.mkdir(parents=True, exist_ok=True)
    np.savez(base / "calibration.npz", x=x_train[:100])
    # labels as class names, mapped to output indices by a labels file (line i = output i)
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    (base / "labels.txt").write_text("\n".join(names) + "\n")
    np.savez(base / "test.npz", x=x_test[:120], y=np.array(names)[y_test[:120]])
    out, err = io.StringIO(), io.StringIO()
    directory = base / "report"
    code = main(["sweep", str(digits_model), "--calibration", str(base / "calibration.npz"),
                 "--calibration-samples", "100", "--data", str(base / "test.npz"), "--labels", str(base / "labels.txt"),
                 "--samples", "120",
                 "--modes", ",".join(SWEEP_MODES), "--runs", "30", "--warmup", "3", "--threads", "1", "--rounds", "2",
                 "-o", str(directory)], out=out, err=err)
    _RUNS["digits"] = SweepRun(code, out.getvalue(), err.getvalue(), directory, SWEEP_MODES, 120)
    return _RUNS["digits"]
