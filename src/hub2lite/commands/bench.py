"""`hub2lite bench MODEL.tflite` / `hub2lite bench SOURCE` (the original TF model)"""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import _common


def add_bench_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, help="CPU threads for every runtime (default: all usable CPUs)")
    p.add_argument("--runs", type=int, default=50, help="timed inferences (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed inferences after the first one (default 5)")
    p.add_argument("--no-xnnpack", action="store_true", help=".tflite: builtin kernels only, no XNNPACK delegate")
    p.add_argument("--rounds", type=int, default=1,
                   help="repeat the measurement in this many fresh processes and pool their runs (default %(default)s)")
    _common.add_flex_runtime_option(p)


def bench_config(args: argparse.Namespace) -> Any:
    from ..benchmark import BenchConfig

    return BenchConfig(runs=args.runs, warmup=args.warmup, threads=args.threads, xnnpack=not args.no_xnnpack,
                       seed=getattr(args, "seed", 0), rounds=args.rounds, flex_runtime=not args.no_flex_runtime)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("bench", help="measure latency, start-up, throughput and peak memory of a model",
                       description="Benchmark a .tflite model (ai-edge-litert, XNNPACK unless --no-xnnpack; Select-TF-ops "
                                   "models in the Flex runtime, TensorFlow 2.18.1) or the "
                                   "original model (SavedModel folder, archive or hub handle, in TensorFlow) in a "
                                   "dedicated process: latency min/p50/p90/p99/mean/std, first-inference and init "
                                   "time, throughput, file size and peak resident memory.")
    p.add_argument("model", help="a .tflite file, or the original: SavedModel folder, archive, model file, hub handle")
    add_bench_options(p)
    p.add_argument("--signature", help="signature to run (default: serving_default, else the only one)")
    p.add_argument("--tags", help="comma-separated SavedModel tags (original models)")
    p.add_argument("--cache-dir", help="hub download cache (original models)")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="hub downloads (original models): give up on a server that sends nothing for this long")
    _common.add_shape_options(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic input (default 0)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON (with every latency sample)")
    p.set_defaults(run=run, needs_tensorflow=False)  # the measuring child imports what it needs


def bench_text(d: dict[str, Any]) -> str:
    from ..report.format import human_size

    def ms(x: float) -> str:
        return f"{x:.3f} ms" if x < 10 else f"{x:.1f} ms"

    return "\n".join([
        f"{d['target']} [{d['kind']}] on {d['runtime']}, {d['threads']} threads, input {d['input_source']}",
        "inputs: " + ", ".join(f"{i['name']}:{i['dtype']}{i['shape']}" for i in d["inputs"]),
        f"latency over {d['runs']} runs (after 1 first + {d['warmup']} warm-up"
        + (f", pooled from {d['rounds']} processes" if d.get("rounds", 1) > 1 else "") + f"): min {ms(d['min_ms'])}  "
        f"p50 {ms(d['p50_ms'])}  p90 {ms(d['p90_ms'])}  p99 {ms(d['p99_ms'])}  "
        f"mean {ms(d['mean_ms'])} ± {ms(d['std_ms'])}",
        f"first inference {ms(d['first_inference_ms'])}, init {ms(d['init_ms'])}, "
        f"throughput {d['throughput_per_s']:.1f} samples/s (batch {d['batch']})",
        f"size {human_size(d['size_bytes'])} ({d['size_bytes']:,} bytes)",
        f"peak RSS {human_size(d['peak_rss_bytes'])} (runtime alone {human_size(d['baseline_rss_bytes'])}, "
        f"model added {human_size(d['model_rss_bytes'])})",
    ])


def run(args: argparse.Namespace, ui: Any) -> int:
    from ..benchmark import benchmark_source, benchmark_tflite
    from ..tflite_file import is_tflite_path

    cfg = bench_config(args)
    with ui.progress(f"benchmarking ({cfg.runs} runs)"):
        if is_tflite_path(args.model):
            if args.input_shape or args.keep_dynamic or args.batch_size != 1 or args.seq_len is not None:
                ui.warn("--input-shape/--batch-size/--seq-len apply to original models; a .tflite runs with its own "
                        "shapes")
            stats = benchmark_tflite(args.model, cfg, signature=args.signature)
        else:
            stats = benchmark_source(args.model, cfg, signature=args.signature, input_shapes=_common.input_shapes(args),
                                     batch_size=args.batch_size, cache_dir=args.cache_dir, tags=_common.tags(args),
                                     timeout=args.timeout, seq_len=args.seq_len)
    data = stats.to_dict(with_samples=args.json)
    ui.print(json.dumps(data, indent=2) if args.json else bench_text(data))
    return 0
