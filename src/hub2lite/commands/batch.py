"""`hub2lite batch MANIFEST -o DIR`: a whole model catalog, each model in its own worker process."""

from __future__ import annotations

import argparse
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
    m = p.add_argument_group("per-model defaults: every option of convert and sweep, as a manifest key without its "
                             "dashes (--int8-ranges: \"int8_ranges\"); a manifest entry's own keys override them")
    m.add_argument("--modes", help=f"comma-separated modes (default float32; {QUANT_CHOICES})")
    from ..batch.model_options import add_default_flags

    add_default_flags(m)
    p.set_defaults(run=run, check=check, needs_tensorflow=False)


def check(args: argparse.Namespace) -> None:
    """Flags wrong whatever the manifest says, refused before any work."""
    _common.check_metadata_flag(args)


def defaults_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The per-model options given on the command line, as manifest keys (a flag not given is left out, so a
    manifest entry's own value and convert's default agree); paths made absolute (they are the caller's)."""
    from pathlib import Path

    from ..batch.model_options import absolute_paths, model_options

    given, table = vars(args), model_options()
    out = {key: absolute_paths(table[key], given[key], Path.cwd()) if table[key].is_path else given[key]
           for key in table if key in given}
    if args.modes is not None:
        out["modes"] = args.modes
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
    from ..errors import EXIT_INTERRUPTED, EXIT_MODEL_FAILED, EXIT_TERMINATED
    from ..interrupts import Terminated

    bench = None if args.no_bench else BenchConfig(runs=args.runs, warmup=args.warmup, threads=args.threads,
                                                   xnnpack=not args.no_xnnpack)
    cfg = BatchConfig(manifest=args.manifest, output_dir=args.output_dir, defaults=defaults_from_args(args),
                      workers=args.workers, ray=args.ray, timeout_per_model=args.timeout_per_model,
                      memory_per_model=args.memory_per_model or None, force=args.force,
                      retry_failed=args.retry_failed, bench=bench)
    try:
        with _display(ui) as progress:
            result = run_batch(cfg, progress=progress)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (interrupts.Terminated)
        terminated = isinstance(exc, Terminated)
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
