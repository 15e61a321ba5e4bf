"""`hub2lite optimize SOURCE --data PATH --max-drop 1.0 -o model.tflite`"""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import _common


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "optimize", help="the smallest/fastest .tflite within an accuracy budget (mixed int8/float layers)",
        description="Measure float32 and every uniform recipe (int8-strict, int8, int16x8, dynamic, float16); when "
                    "int8 misses the budget, measure int8 with chosen activation ranges and bias correction, then "
                    "keep in float the ops whose reverting helps most (ranked on calibration-side samples, never "
                    "the evaluation data); benchmark what is inside the budget and write the winner plus "
                    "NAME.optimize.json/.md/.html. Exit 0 with a winner, 3 when nothing meets the budget.")
    p.add_argument("source", help="SavedModel folder, .tar.gz, .keras/.h5/.pb file, or hub handle/URL")
    p.add_argument("-o", "--output", required=True, help="output .tflite path (reports are written beside it)")
    p.add_argument("--calibration", metavar="PATH",
                   help="calibration data sharing no file with --data; omitted (or the same path): --data is split "
                        "with --seed into disjoint calibration and evaluation parts")
    p.add_argument("--max-drop", type=float, default=1.0,
                   help="budget: the largest drop of the metric vs the original, in points (default 1.0)")
    p.add_argument("--metric", choices=["top1", "agreement", "cosine"], default="top1",
                   help="top1: labeled accuracy %%; agreement: top-1 agreement with the original %%; cosine: mean "
                        "output cosine x100 (default top1)")
    p.add_argument("--objective", choices=["size", "latency"], default="size",
                   help="pick the smallest or the fastest (p50) model inside the budget (default size)")
    p.add_argument("--threads", type=int, help="benchmark threads (default: every CPU)")
    p.add_argument("--max-evals", type=int, default=12,
                   help="mixed int8/float candidates measured on the evaluation data at most (default 12)")
    p.add_argument("--calibration-samples", type=int, default=200, help="calibration samples (default 200)")
    p.add_argument("--eval-samples", type=int, help="evaluation samples (default: all)")
    p.add_argument("--runs", type=int, default=50, help="timed benchmark runs per candidate (default 50)")
    _common.add_input_options(p, data_required=True,
                              data_help="evaluation data (.npy/.npz/image folder; labels from .npz 'y' or class "
                                        "folders); never used for calibration",
                              seed_help="seed for the split and sampling (default 0)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    _common.add_compact_option(p)
    _common.add_metadata_option(p)
    _common.add_source_options(p)
    _common.add_shape_options(p)
    _common.add_split_options(p)
    _common.add_flex_runtime_option(p)
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.set_defaults(run=run, check=check)


def check(args: argparse.Namespace) -> None:
    """Usage errors found from the flags alone (before TensorFlow is imported): the input flags and the
    config's own checks."""
    _common.check_input_options(args)
    _common.check_split_options(args)
    _config(args)
    _common.check_metadata_flag(args)


def run(args: argparse.Namespace, ui: Any) -> int:
    from ..errors import EXIT_VALIDATION_FAILED
    from ..optimize import OptimizeJob, run_optimize

    cfg = _config(args)
    conv = _common.convert_config(args)
    job = OptimizeJob(source=args.source, output=args.output, data=args.data, calibration=args.calibration,
                      labels=args.labels, optimize=cfg, convert=conv, force=args.force, cache_dir=args.cache_dir,
                      tags=_common.tags(args), timeout=args.timeout, load_options=_common.load_options(args),
                      input_range=args.input_range, mean=args.mean, std=args.std,
                      normalization_from=args.normalization_from, metadata=args.metadata,
                      command=_common.command_of(args), vocab=args.vocab)
    with ui.progress("optimizing") as p:
        result = run_optimize(job, progress=p.step)
    if args.json:
        ui.print(json.dumps(result.report, indent=2))
    else:
        ui.print(_summary(result.report, result.report_paths))
    return 0 if result.passed else EXIT_VALIDATION_FAILED


def _config(args: argparse.Namespace) -> Any:
    from ..optimize import OptimizeConfig

    return OptimizeConfig(max_drop=args.max_drop, metric=args.metric, objective=args.objective, threads=args.threads,
                          max_evals=args.max_evals, calibration_samples=args.calibration_samples,
                          eval_samples=args.eval_samples, seed=args.seed, bench_runs=args.runs,
                          flex_runtime=not args.no_flex_runtime)


def _summary(report: dict[str, Any], paths: Any) -> str:
    m = report["metric"]
    lines = [f"{m['name']} of the original: {m['reference']:.2f}; budget: drop <= {m['max_drop']}"]
    if report["data"].get("note"):
        lines.append(f"note: {report['data']['note']}")
    for c in report["candidates"]:
        mark = "*" if c["name"] == report["winner"] else " "
        if c["error"]:
            lines.append(f"{mark} {c['name']:<18} failed: {c['error']}")
            continue
        size = f"{c['size_bytes'] / 1024:8.1f} KiB"
        lat = "" if c["latency_ms"] is None else f"  p50 {c['latency_ms']:.3f} ms"
        lines.append(f"{mark} {c['name']:<18} {size}  {m['name']} {c['value']:6.2f}  drop {c['drop']:+6.2f}  "
                     f"{'in ' if c['in_budget'] else 'out'}{lat}")
    if report["winner"]:
        lines.append(f"winner: {report['winner']} -> {report['output']['path']}")
    else:
        lines.append(f"no candidate meets the budget; closest: {report['closest']} (no model written)")
    lines.append("reports: " + ", ".join(str(p) for p in paths))
    return "\n".join(lines)
