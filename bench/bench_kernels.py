"""How fast int8, float16 and float32 kernels run on this machine, for given .tflite variants of one model.

    python bench/bench_kernels.py FLOAT32.tflite OTHER.tflite ... [--rounds 3] [--runs 30] [--warmup 5]

Times every model with 1 and 2 threads, with LiteRT's default delegate (XNNPACK) and with the builtin kernels
only, by hub2lite's own benchmark (`hub2lite bench`: a child process per measurement, seeded synthetic inputs),
the models alternated round by round (a noisy machine slows all of them alike), and prints each p50 as a ratio to
the first model's.
This is the ceiling of any quantization recipe: `hub2lite optimize` can choose *which* kernels run, not how fast
they are (on an AVX2 CPU without VNNI, int8 MobileNetV1 runs at ~0.9x float32's p50; docs/quantization.md).
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path



def _cpu() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    simd = [f for f in flags if f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")]
    return f"{name} ({', '.join(simd) or 'no AVX2'})"


def measure(paths: list[str], threads: int, xnnpack: bool, rounds: int, runs: int, warmup: int) -> dict[str, float]:
    """p50 (ms) per model: hub2lite's own benchmark (one child process per measurement), models alternated round
    by round (bench_rounds.time_round_robin, as sweep does)."""
    from hub2lite.bench_rounds import time_round_robin
    from hub2lite.benchmark import BenchConfig, benchmark_tflite

    config = BenchConfig(runs=runs, warmup=warmup, threads=threads, xnnpack=xnnpack)
    timed = time_round_robin([(p, lambda p=p: benchmark_tflite(p, config)) for p in paths], rounds=rounds)
    if timed.errors:
        raise SystemExit("; ".join(f"{p}: {e}" for p, e in timed.errors.items()))
    return {p: timed.stats[p].p50_ms for p in paths}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help=".tflite files; the first is the reference (float32)")
    ap.add_argument("--rounds", type=int, default=3, help="fresh processes per model and setting, alternated")
    ap.add_argument("--runs", type=int, default=30, help="timed runs per process")
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"CPU: {_cpu()}; load average {os.getloadavg()[0]:.2f}")
    names = [Path(p).name for p in args.models]
    print("| threads | kernels | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for threads in (1, 2):
        for xnnpack in (True, False):
            p50 = measure(args.models, threads, xnnpack, args.rounds, args.runs, args.warmup)
            base = p50[args.models[0]]
            cells = [f"{p50[p]:.2f} ms ({p50[p] / base:.2f}x)" for p in args.models]
            print(f"| {threads} | {'XNNPACK' if xnnpack else 'builtin'} | " + " | ".join(cells) + " |")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
