"""`hub2lite optimize` on the outlier digits CNN: uniform int8 / optimize's pick / float16 / float32, side by side.

The model is tests/models_optimize.py's: a CNN trained on scikit-learn's real digit scans whose conv1 has four
outlier channels (300x, function-preserving), so uniform int8 breaks. Calibration: 200 training digits;
accuracy: the 360 held-out digits (never calibrated on). Latency: hub2lite.benchmark (a child process per
model, ai-edge-litert + XNNPACK, same threads), the four models interleaved over `--rounds` rounds, median p50.

    python bench/bench_optimize.py [--rounds 3] [--runs 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    from conftest import cached_build  # the tests' on-disk fixture cache (.fixtures/)
    from models_optimize import outlier_digits

    from hub2lite.benchmark import BenchConfig, benchmark_tflite
    from hub2lite.demo import digits_data
    from hub2lite.optimize import OptimizeConfig, OptimizeJob, run_optimize
    from hub2lite.runners import LiteRunner

    model_dir = cached_build("outlier_digits", outlier_digits, ROOT / "tests" / "models_optimize.py")
    x_train, y_train, x_test, y_test = digits_data()
    with tempfile.TemporaryDirectory(prefix="bench-optimize-") as tmp:
        t = Path(tmp)
        np.savez(t / "calib.npz", x=x_train[:200], y=y_train[:200])
        np.savez(t / "test.npz", x=x_test, y=y_test)
        result = run_optimize(OptimizeJob(str(model_dir), str(t / "best.tflite"), str(t / "test.npz"),
                                          calibration=str(t / "calib.npz"),
                                          optimize=OptimizeConfig(max_drop=1.0, threads=args.threads, bench_runs=20)))
        by = {c.name: c for c in result.candidates}
        if result.winner is None:
            print(f"optimize found no model inside the budget; closest {result.closest.name if result.closest else '-'}")
            return 1
        rows = {"uniform int8": by["int8"], f"optimize ({result.winner.name})": result.winner,
                "float16": by["float16"], "float32": by["float32"]}
        paths = {}
        for name, c in rows.items():
            paths[name] = t / (name.split()[0] + ".tflite")
            paths[name].write_bytes(Path(result.output).read_bytes() if c is result.winner else c.model)
        feed = {"image": x_test[:1]}
        lat: dict[str, list[float]] = {n: [] for n in rows}
        for _ in range(args.rounds):
            for name in rows:
                stats = benchmark_tflite(paths[name], BenchConfig(runs=args.runs, warmup=10, threads=args.threads),
                                         feed=feed)
                lat[name].append(stats.p50_ms)
        print(f"outlier digits CNN; budget: top-1 drop <= 1.0 point vs the original "
              f"({result.reference:.2f}% on {len(x_test)} held-out digits); {args.threads} thread(s), "
              f"median p50 of {args.rounds} rounds x {args.runs} runs")
        print(f"{'model':<28} {'size KiB':>9} {'p50 ms':>8} {'top-1 %':>8} {'drop':>7}  float layers")
        for name, c in rows.items():
            lite = LiteRunner(str(paths[name]))
            acc = 100 * np.mean([np.argmax(next(iter(lite.infer({"image": x_test[i:i + 1]}).values()))) == y_test[i]
                                 for i in range(len(x_test))])
            floats = ", ".join(n.split(";")[0] for n in c.float_nodes) or "-"
            print(f"{name:<28} {paths[name].stat().st_size / 1024:9.1f} {statistics.median(lat[name]):8.4f} "
                  f"{acc:8.2f} {result.reference - acc:+7.2f}  {floats}")
        s = result.report["search"]
        print(f"search: {s['evaluations']} mixed candidate(s) of at most {s['max_evals']} ({s.get('stopped')}); "
              f"{len(result.candidates)} candidates in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
