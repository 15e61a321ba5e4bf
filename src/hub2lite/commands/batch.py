"""`hub2lite batch MANIFEST -o DIR`: a whole model catalog, each model in its own worker process."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from . import _common

QUANT_CHOICES = "float32, float16, dynamic, int8, int8-strict, int16x8"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "batch", help="convert and validate every model of a manifest, each isolated; write a catalog",
        description="Convert and validate every model a manifest lists (a text file with one source per line, or a "
                    "JSON list of objects with per-model options), each in its own worker process under a wall-time "
                    "and a memory limit, on this machine (--workers) or on Ray (--ray). Finished models are kept "
                    "in DIR/state.json: a rerun resumes. Writes DIR/models/NAME/MODE.tflite and reports, "
                    "DIR/catalog.json, catalog.md and catalog.html. Every option below that convert or sweep take "
                    "is the default of every manifest entry (the entry's own keys win). Exit 0 when every model "
                    "finished, 9 when any model failed.")
    p.add_argument("manifest", help="text file (one source per line, # comments) or JSON list of entries")
    p.add_argument("-o", "--output-dir", required=True, help="batch folder (created if missing; a rerun resumes it)")
    g = p.add_argument_group("batch")
    g.add_argument("--workers", type=int, help="models at a time on this machine (default: half the cores, "
                                               "at least 1); with --ray local: the CPUs Ray may use")
    g.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS|local",
                   help="run each model as a Ray task: on the cluster at ADDRESS, or a local Ray instance "
                        "(needs pip install 'hub2lite[ray]')")
    g.add_argument("--timeout-per-model", type=float, default=1800.0, metavar="S",
                   help="wall-time limit of one model's conversions and validations (default 1800)")
    g.add_argument("--memory-per-model", type=float, default=4.0, metavar="GiB",
                   help="resident-memory limit of one model's worker (default 4; 0 = no limit); Ray schedules by it")
    g.add_argument("--force", action="store_true", help="rerun every model, even those finished before")
    g.add_argument("--retry-failed", action="store_true", help="rerun the models that failed before")
    g.add_argument("--no-bench", action="store_true", help="do not benchmark the variants")
    g.add_argument("--runs", type=int, default=50, help="benchmark: timed runs per variant (default 50)")
    g.add_argument("--warmup", type=int, default=5, help="benchmark: untimed runs first (default 5)")
    g.add_argument("--threads", type=int, help="benchmark: interpreter threads (default: every usable CPU)")
    g.add_argument("--no-xnnpack", action="store_true", help="benchmark: builtin kernels instead of XNNPACK")
    g.add_argument("--json", action="store_true", help="print catalog.json instead of the summary")
    m = p.add_argument_group("per-model defaults (a manifest entry's own keys override them)")
    m.add_argument("--modes", default="float32", help=f"comma-separated modes (default float32; {QUANT_CHOICES})")
    _common.add_source_options(m)
    _common.add_shape_options(m)
    m.add_argument("--no-flex", action="store_true", help="TFLite builtin ops only; never fall back to Select TF ops")
    m.add_argument("--resource-variables", action="store_true", help="enable resource variables / hash tables")
    m.add_argument("--io-type", choices=["int8", "uint8"], help="integer input/output type for int8-strict")
    m.add_argument("--calibration", metavar="PATH|synthetic", help="calibration data for int8/int8-strict/int16x8")
    m.add_argument("--calibration-samples", type=int, default=200, help="calibration samples (default 200)")
    m.add_argument("--no-validate", action="store_true", help="skip validation (float32 only)")
    _common.add_validation_options(m)
    _common.add_metadata_option(m)
    p.set_defaults(run=run, check=check, needs_tensorflow=False)


def check(args: argparse.Namespace) -> None:
    """Flags wrong whatever the manifest says, refused before any work."""
    _common.check_metadata_flag(args)


#: argparse dest -> manifest key, for the per-model defaults (tolerances keep their names).
_DEFAULT_KEYS = ("modes", "signature", "tags", "cache_dir", "timeout", "unsafe_keras", "input_names", "output_names",
                 "keep_dynamic", "batch_size", "input_range", "mean", "std", "no_flex", "resource_variables", "io_type",
                 "calibration", "calibration_samples", "no_validate", "no_flex_runtime", "metadata",
                 "normalization_from", "data", "labels", "samples", "seed", "task", "seq_len", "vocab",
                 "atol", "rtol", "min_cosine", "sample_quantile", "min_snr", "min_top1_agreement", "min_top5_overlap",
                 "max_kl", "max_accuracy_drop")


def defaults_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The command line's per-model options as manifest keys (flags left at their default are left out, so a
    manifest entry's own value and the library default agree)."""
    from ..errors import ConfigError

    for flag in ("save_inputs", "load_inputs", "outputs_dir"):
        if getattr(args, flag, None):
            raise ConfigError(f"--{flag.replace('_', '-')} saves one model's inputs: batch does not take it",
                              hint="validate that model alone with hub2lite validate")
    out: dict[str, Any] = {}
    for key in _DEFAULT_KEYS:
        value = getattr(args, key, None)
        if value is None or value is False:
            continue
        if isinstance(value, float) and math.isinf(value):
            value = "inf" if value > 0 else "-inf"
        out[key] = value
    if args.input_shape:
        out["input_shape"] = list(args.input_shape)
    return out


@contextmanager
def _display(ui: Any) -> Iterator[Callable[[Any], None]]:
    """A rich progress bar (done / failed / running, ETA) on a terminal; one plain line per event otherwise."""
    if ui.quiet:
        yield lambda _p: None
        return
    if not ui.interactive:
        def line(p: Any) -> None:
            if p.message:
                print(f"hub2lite: batch [{p.done}/{p.to_run}] {p.message}", file=ui.err, flush=True)

        yield line
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]batch"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=Console(file=ui.err), transient=True) as bar:
        task = bar.add_task("", total=None)

        def update(p: Any) -> None:
            eta = "" if p.eta_s is None else f" · ETA {p.eta_s / 60:.0f} min" if p.eta_s >= 90 else f" · ETA {p.eta_s:.0f} s"
            state = f"{p.failed} failed · {p.running} running{eta}" if p.phase == "run" else p.message
            bar.update(task, completed=p.done, total=max(p.to_run, 1), description=state)
            if p.message and p.phase == "run" and (": ok" in p.message or "FAILED" in p.message):
                bar.console.print(f"  {p.message}", highlight=False)

        yield update


def run(args: argparse.Namespace, ui: Any) -> int:
    from ..batch import BatchConfig, run_batch
    from ..batch.run import CATALOG_FILE
    from ..benchmark import BenchConfig
    from ..errors import EXIT_INTERRUPTED, EXIT_MODEL_FAILED

    bench = None if args.no_bench else BenchConfig(runs=args.runs, warmup=args.warmup, threads=args.threads,
                                                   xnnpack=not args.no_xnnpack)
    cfg = BatchConfig(manifest=args.manifest, output_dir=args.output_dir, defaults=defaults_from_args(args),
                      workers=args.workers, ray=args.ray, timeout_per_model=args.timeout_per_model,
                      memory_per_model=args.memory_per_model or None, force=args.force,
                      retry_failed=args.retry_failed, bench=bench)
    try:
        with _display(ui) as progress:
            result = run_batch(cfg, progress=progress)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (the CLI raises a KeyboardInterrupt subclass for it)
        import signal

        terminated = type(exc) is not KeyboardInterrupt
        EXIT_TERMINATED = 128 + signal.SIGTERM  # noqa: N806 - 143, as the CLI exits for every command
        print(f"hub2lite: batch {'terminated' if terminated else 'interrupted'}; the models that finished are kept "
              f"in {args.output_dir} (catalog and state.json) (fix: run the same command again to resume)",
              file=ui.err, flush=True)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    catalog = result.catalog
    if args.json:
        import json

        ui.print(json.dumps(catalog, indent=1))
    else:
        from ..report.catalog import summary_text

        ui.print(summary_text(catalog))
        ui.print(f"wrote {', '.join(str(p) for p in result.files.values())}"
                 if len(result.files) > 1 else f"wrote {result.directory / CATALOG_FILE}")
    return EXIT_MODEL_FAILED if result.failed else 0
