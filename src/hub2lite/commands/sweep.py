"""`hub2lite sweep SOURCE --calibration PATH -o DIR`"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from . import _common
from .bench import add_bench_options, bench_config


def add_parser(sub: Any) -> None:
    p = sub.add_parser("sweep", help="convert every quantization variant, validate and benchmark each, report side by side",
                       description="Convert the model once per quantization mode, validate every variant against the "
                                   "original on the same inputs, benchmark the original and every variant with the "
                                   "same settings, and write DIR/report.json, report.md and report.html (chart with "
                                   "the Pareto front). Prints the table and a recommendation. Exit 0 when at least "
                                   "one variant passes validation, 3 when none does.")
    p.add_argument("source", help="SavedModel folder, .tar.gz, .keras/.h5/.pb file, or hub handle/URL")
    p.add_argument("-o", "--output-dir", required=True, help="report folder (created if missing)")
    p.add_argument("--modes", default="float32,float16,dynamic,int8",
                   help="comma-separated quantization modes (default float32,float16,dynamic,int8; also int8-strict, "
                        "int16x8)")
    p.add_argument("--calibration", type=_common.CALIBRATION_PATH, metavar="PATH|synthetic",
                   help="calibration data (.npy/.npz/image folder) for int8/int8-strict/int16x8")
    p.add_argument("--calibration-samples", type=int, default=200, help="calibration samples (default 200)")
    _common.add_input_options(p, data_help="validation inputs (.npy/.npz/image folder; labels from .npz 'y' or "
                                           "class folders); default: samples of --calibration",
                              samples_help="validation samples (default 100)", samples_default=100,
                              seed_help="seed for calibration and validation sampling and synthetic inputs (default 0)")
    p.add_argument("--io-type", choices=["int8", "uint8"], help="integer input/output type for int8-strict")
    _common.add_int8_options(p)
    _common.add_compact_option(p)
    _common.add_source_options(p)
    _common.add_shape_options(p)
    p.add_argument("--no-flex", action="store_true", help="TFLite builtin ops only; never fall back to Select TF ops")
    _common.add_split_options(p)
    add_bench_options(p)
    p.set_defaults(rounds=3, check=check)  # a sweep compares models measured one after the other: pool 3 round-robin rounds
    p.add_argument("--atol", type=float, help="override every mode's absolute tolerance")
    p.add_argument("--rtol", type=float, help="override every mode's relative tolerance")
    p.add_argument("--min-cosine", type=float, help="override every mode's minimum cosine similarity")
    p.add_argument("--min-top1-agreement", type=float, help="override every mode's minimum top-1 agreement")
    p.add_argument("--task", choices=["auto", "classification", "other"], default="auto",
                   help="classification: score top-1 on the rank-2 output even with fewer than 10 classes")
    p.add_argument("--force", action="store_true", help="overwrite an earlier report in DIR")
    _common.add_metadata_option(p)
    p.add_argument("--json", action="store_true", help="print report.json to stdout instead of the table")
    p.set_defaults(run=run)


@contextmanager
def _progress_bar(ui: Any) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on an interactive terminal; nothing at all otherwise (CI, pipes, --quiet)."""
    if not ui.interactive or ui.quiet:
        yield lambda _step, _done, _total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(file=ui.err), transient=True) as bar:
        task = bar.add_task("sweep", total=None)

        def update(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        yield update


def check(args: argparse.Namespace) -> None:
    """Usage errors found from the flags alone (before TensorFlow is imported)."""
    from ..options import CalibrationOptions, check_calibration, parse_modes

    _common.check_input_options(args)
    _common.check_split_options(args)
    check_calibration(CalibrationOptions(args.calibration), parse_modes(args.modes))
    _common.check_metadata_flag(args)
    _common.check_int8_options(args, parse_modes(args.modes))


def run(args: argparse.Namespace, ui: Any) -> int:
    from ..errors import EXIT_FLEX_UNAVAILABLE, EXIT_VALIDATION_FAILED
    from ..report.sweep import markdown_table
    from ..sweep import SweepConfig, parse_modes, run_sweep

    overrides = {k: getattr(args, k) for k in ("atol", "rtol", "min_cosine", "min_top1_agreement")
                 if getattr(args, k) is not None}
    cfg = SweepConfig(
        source=args.source, output_dir=args.output_dir, modes=parse_modes(args.modes), calibration=args.calibration,
        calibration_samples=args.calibration_samples, data=args.data, labels=args.labels, samples=args.samples,
        seed=args.seed,
        convert=_common.convert_config(args),
        bench=bench_config(args), tolerance_overrides=overrides,
        classification={"auto": None, "classification": True, "other": False}[args.task],
        force=args.force, cache_dir=args.cache_dir, tags=_common.tags(args), timeout=args.timeout,
        load_options=_common.load_options(args), input_range=args.input_range, mean=args.mean, std=args.std,
        normalization_from=args.normalization_from, metadata=args.metadata,
        vocab=args.vocab)
    with _progress_bar(ui) as progress:
        result = run_sweep(cfg, progress=progress)
    report = result.report
    if args.json:
        ui.print(json.dumps(report, indent=2))
    else:
        ui.print(markdown_table(report))
        ui.print()
        for line in report["recommendation"]["lines"]:
            ui.print(line)
        ui.print(f"wrote {', '.join(str(p) for p in result.files.values())}")
    if result.passed:
        return 0
    return EXIT_FLEX_UNAVAILABLE if result.not_run else EXIT_VALIDATION_FAILED
