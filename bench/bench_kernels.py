"""How fast int8, float16 and float32 kernels run on this machine, for given .tflite variants of one model.

    python bench/bench_kernels.py FLOAT32.tflite OTHER.tflite ... [--rounds 30] [--warmup 5]

Times every model with 1 and 2 threads, with LiteRT's default delegate (XNNPACK) and with the builtin kernels
only, all models interleaved round by round (a noisy machine slows all of them alike), and prints each p50 as a
ratio to the first model's. Inputs are random in the input's range: kernel speed does not depend on the values.
This is the ceiling of any quantization recipe: `hub2lite optimize` can choose *which* kernels run, not how fast
they are (on an AVX2 CPU without VNNI, int8 MobileNetV1 runs at ~0.9x float32's p50; docs/quantization.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np


def _cpu() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    simd = [f for f in flags if f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")]
    return f"{name} ({', '.join(simd) or 'no AVX2'})"


def _interpreter(path: str, threads: int, xnnpack: bool):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_path=path, num_threads=threads, experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    rng = np.random.default_rng(0)
    for d in it.get_input_details():
        if np.issubdtype(d["dtype"], np.floating):
            x = rng.uniform(-1, 1, d["shape"]).astype(d["dtype"])
        else:
            info = np.iinfo(d["dtype"])
            x = rng.integers(info.min, info.max, d["shape"], endpoint=True).astype(d["dtype"])
        it.set_tensor(d["index"], x)
    return it


def measure(paths: list[str], threads: int, xnnpack: bool, rounds: int, warmup: int) -> dict[str, float]:
    its = {p: _interpreter(p, threads, xnnpack) for p in paths}
    for it in its.values():
        for _ in range(warmup):
            it.invoke()
    times: dict[str, list[float]] = {p: [] for p in paths}
    for _ in range(rounds):
        for p, it in its.items():
            t0 = time.perf_counter()
            it.invoke()
            times[p].append(time.perf_counter() - t0)
    return {p: float(np.median(v)) for p, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help=".tflite files; the first is the reference (float32)")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"CPU: {_cpu()}; load average {os.getloadavg()[0]:.2f}")
    names = [Path(p).name for p in args.models]
    print("| threads | kernels | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for threads in (1, 2):
        for xnnpack in (True, False):
            p50 = measure(args.models, threads, xnnpack, args.rounds, args.warmup)
            base = p50[args.models[0]]
            cells = [f"{p50[p] * 1e3:.2f} ms ({p50[p] / base:.2f}x)" for p in args.models]
            print(f"| {threads} | {'XNNPACK' if xnnpack else 'builtin'} | " + " | ".join(cells) + " |")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
