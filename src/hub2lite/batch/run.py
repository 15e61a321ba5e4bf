"""`run_batch`: every model of a manifest, each isolated, into one folder with a catalog.

    DIR/state.json                       finished models by job key (resume; see state.py)
    DIR/models/NAME/MODE.tflite          + MODE.report.json per converted mode, worker.log,
                                         traceback.txt when a hub2lite bug stopped the model
    DIR/catalog.json                     schema hub2lite.catalog/1 (catalog.py)
    DIR/models/NAME/MODE.pre/, MODE.post/  a split model's TensorFlow stages beside its body MODE.tflite
    DIR/catalog.md, DIR/catalog.html     the same catalog rendered (hub2lite.report.catalog)

Conversions and validations run in parallel (local pool or Ray); benchmarks run afterwards on this machine one at
a time, so that no two timings disturb each other. Only this process writes DIR.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._files import atomic_write_text
from ..errors import ConfigError, OutputError
from .catalog import build_catalog, model_row, skipped_row
from .local import Task, default_workers, run_local
from .manifest import ModelSpec, parse_manifest
from .state import STATE_FILE, BatchState, job_key
from .supervise import GIB, Limits, Outcome
from .worker import JOB_FILE, LOG_FILE, PARTIAL_FILE, RESULT_FILE, STAGE_FILE, TRACEBACK_FILE

__all__ = ["BatchConfig", "BatchProgress", "BatchResult", "run_batch", "CATALOG_FILE", "CATALOG_FILES",
           "DEFAULT_TIMEOUT_S",
           "DEFAULT_MEMORY_GIB"]

log = logging.getLogger(__name__)

CATALOG_FILE = "catalog.json"
CATALOG_FILES = (CATALOG_FILE, "catalog.md", "catalog.html")
DEFAULT_TIMEOUT_S = 1800.0
DEFAULT_MEMORY_GIB = 4.0
_WORK = ".work"


@dataclass(frozen=True)
class BatchConfig:
    manifest: str
    output_dir: str
    defaults: Mapping[str, Any] = field(default_factory=dict)  # manifest keys every entry inherits (the CLI's flags)
    workers: int | None = None  # local pool size; None: half the cores, at least 1
    ray: str | None = None  # None: local pool; "local": a local Ray instance; else a Ray cluster address
    timeout_per_model: float = DEFAULT_TIMEOUT_S
    memory_per_model: float | None = DEFAULT_MEMORY_GIB  # GiB of resident memory; None: no limit
    force: bool = False  # rerun every model
    retry_failed: bool = False  # rerun the models that failed before
    bench: Any = None  # a benchmark.BenchConfig to time every converted variant; None: no benchmarks

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, not {self.workers}", hint="e.g. --workers 2")
        if not self.timeout_per_model > 0:
            raise ConfigError("--timeout-per-model must be positive", hint="seconds, e.g. --timeout-per-model 1800")
        if self.memory_per_model is not None and not self.memory_per_model > 0:
            raise ConfigError("--memory-per-model must be positive (GiB)", hint="e.g. --memory-per-model 4")

    def to_dict(self) -> dict[str, Any]:
        return {"manifest": self.manifest, "output_dir": self.output_dir, "defaults": dict(self.defaults),
                "workers": self.workers or default_workers(), "ray": self.ray,
                "timeout_per_model": self.timeout_per_model, "memory_per_model": self.memory_per_model,
                "force": self.force, "retry_failed": self.retry_failed,
                "bench": None if self.bench is None else self.bench.to_dict()}


@dataclass(frozen=True)
class BatchProgress:
    """A snapshot for progress displays."""

    total: int  # models in the manifest
    to_run: int  # models this run runs (the rest were finished before)
    done: int  # finished in this run (ok or failed)
    failed: int
    running: int
    elapsed_s: float
    message: str = ""
    phase: str = "run"  # "run" | "bench"

    @property
    def eta_s(self) -> float | None:
        if self.done == 0 or self.to_run <= self.done:
            return None if self.done == 0 else 0.0
        return self.elapsed_s / self.done * (self.to_run - self.done)


@dataclass(frozen=True)
class BatchResult:
    directory: Path
    catalog: dict[str, Any]
    files: Mapping[str, Path]

    @property
    def failed(self) -> list[str]:
        return [m["name"] for m in self.catalog["models"] if m["status"] == "failed"]


def _check_directory(directory: Path, force: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"output path {str(directory)!r} is a file", hint="give a folder for -o")
    if not directory.parent.is_dir():
        raise OutputError(f"folder {str(directory.parent)!r} does not exist",
                          hint=f"create it first: mkdir -p {directory.parent}")
    if directory.is_dir() and any(directory.iterdir()) and not (directory / STATE_FILE).exists() and not force:
        raise OutputError(f"{str(directory)!r} is not empty and holds no batch state ({STATE_FILE})",
                          hint="choose a new or empty folder, or pass --force to write into it anyway")


def _limits(spec: ModelSpec, cfg: BatchConfig) -> Limits:
    memory = spec.memory_per_model if spec.memory_per_model is not None else cfg.memory_per_model
    return Limits(timeout_s=spec.timeout_per_model or cfg.timeout_per_model,
                  memory_bytes=None if memory is None else int(memory * GIB))


class _Driver:
    """Everything the driver writes: files, state rows, progress."""

    def __init__(self, cfg: BatchConfig, specs: Sequence[ModelSpec], directory: Path,
                 progress: Callable[[BatchProgress], None]) -> None:
        self.cfg, self.specs, self.directory, self.progress = cfg, specs, directory, progress
        self.state = BatchState(directory)
        self.keys = {s.name: job_key(s) for s in specs}
        self.rows: dict[str, dict[str, Any]] = {}  # name -> row of this run or the state
        self.resumed: set[str] = set()
        self.to_run: list[ModelSpec] = []
        self.t0 = time.monotonic()
        self.done = self.failed = self.running = 0
        for spec in specs:
            prior = self.state.get(self.keys[spec.name])
            if prior is not None and not cfg.force and (prior.get("status") == "ok" or not cfg.retry_failed):
                self.rows[spec.name] = prior
                self.resumed.add(spec.name)
            else:
                self.to_run.append(spec)

    def report(self, message: str, phase: str = "run") -> None:
        self.progress(BatchProgress(len(self.specs), len(self.to_run), self.done, self.failed, self.running,
                                    time.monotonic() - self.t0, message, phase))

    def started(self, task: Task) -> None:
        self.running += 1
        self.report(f"{task.name}: started")

    def finished(self, spec: ModelSpec, outcome: Outcome, workdir: Path | None) -> None:
        """Move the model's files into DIR/models/NAME and record its row (Ray: files come in the outcome)."""
        dest = self.directory / "models" / spec.name
        staging = self.directory / _WORK / f"{spec.name}.done"
        shutil.rmtree(staging, ignore_errors=True)
        if workdir is not None and workdir.is_dir():
            workdir.rename(staging)
        else:
            staging.mkdir(parents=True)
        for rel, data in outcome.files.items():
            target = (staging / rel).resolve()
            if staging.resolve() not in target.parents:
                raise OutputError(f"{spec.name}: the worker sent a file outside its folder: {rel!r}",
                                  hint="the Ray cluster runs a different hub2lite: install this version there")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        for name in (JOB_FILE, STAGE_FILE, RESULT_FILE, PARTIAL_FILE):
            (staging / name).unlink(missing_ok=True)
        old = self.directory / _WORK / f"{spec.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        dest.parent.mkdir(exist_ok=True)
        if dest.exists():
            dest.rename(old)
        staging.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
        rel_dir = f"models/{spec.name}"
        files = {"dir": rel_dir, "log": f"{rel_dir}/{LOG_FILE}" if (dest / LOG_FILE).exists() else None,
                 "traceback": f"{rel_dir}/{TRACEBACK_FILE}" if (dest / TRACEBACK_FILE).exists() else None}
        result = dict(outcome.result)
        if result.get("bug") and files["traceback"]:
            result["error"] = str(result.get("error", "")).replace(f"traceback: {TRACEBACK_FILE}",
                                                                    f"traceback: {files['traceback']}")
        row = model_row(name=spec.name, source=spec.source, key=self.keys[spec.name], result=result,
                        seconds=outcome.seconds, peak_rss_bytes=outcome.peak_rss_bytes, files=files)
        self.rows[spec.name] = row
        self.state.put(self.keys[spec.name], row)
        self.running = max(0, self.running - 1)
        self.done += 1
        self.failed += row["status"] == "failed"
        what = "ok" if row["status"] == "ok" else f"FAILED at {row['stage']}: {row['error']}"
        self.report(f"{spec.name}: {what} ({outcome.seconds:.1f} s)")

    def catalog(self, *, interrupted: bool = False) -> dict[str, Any]:
        rows = []
        for spec in self.specs:
            row = self.rows.get(spec.name) or skipped_row(name=spec.name, source=spec.source, key=self.keys[spec.name],
                                                          why="not run: the batch was interrupted first")
            rows.append((row, spec.name in self.resumed))
        return build_catalog(rows, config=self.cfg.to_dict(), interrupted=interrupted)


def _tasks(driver: _Driver, worker_runner: str | None) -> list[Task]:
    tasks = []
    for spec in driver.to_run:
        job = {"spec": spec.to_dict(), "key": driver.keys[spec.name]}
        if worker_runner:
            job["runner"] = worker_runner
        tasks.append(Task(spec.name, driver.keys[spec.name], job, _limits(spec, driver.cfg)))
    return tasks


#: variant statuses batch does not time, and why (the catalog shows it)
_NOT_TIMED = {"custom-ops": "custom ops: no kernels for them here",
              "split": "split: time the chain with hub2lite sweep --split-unsupported"}


def _benchmark(driver: _Driver) -> None:
    """Time every converted variant that has no benchmark with these settings yet, one model at a time, its
    variants round-robin (bench_rounds.time_round_robin, as sweep does). A failed benchmark is the variant's note,
    never hidden. Not timed: custom-ops variants (no kernels here) and split ones (their body reads what the
    prefix computes, which synthetic inputs cannot stand for, and the chain needs TensorFlow, which this process
    does not load: `hub2lite sweep --split-unsupported` times the whole chain); their `bench` says why."""
    from ..bench_rounds import time_round_robin
    from ..benchmark import benchmark_tflite

    bench = driver.cfg.bench
    settings = bench.to_dict()
    once = replace(bench, rounds=1)
    for spec in driver.specs:
        row = driver.rows.get(spec.name)
        if row is None or row["status"] != "ok":
            continue
        todo = {v["mode"]: v for v in row["variants"]
                if v.get("status") != "failed" and v.get("file") and (v.get("bench") or {}).get("config") != settings}
        skipped = [todo.pop(m) for m in [m for m, v in todo.items() if v["status"] in _NOT_TIMED]]
        for v in skipped:
            v["bench"] = {"config": settings, "error": None, "not_run": _NOT_TIMED[v["status"]]}
        if not todo:
            if skipped:
                driver.state.put(driver.keys[spec.name], row)
            continue
        folder = driver.directory / row["files"]["dir"]
        timed = time_round_robin(
            [(mode, lambda path=folder / v["file"]: benchmark_tflite(path, once)) for mode, v in todo.items()],
            rounds=bench.rounds, failures=(Exception,),
            on_start=lambda mode, _r, name=spec.name: driver.report(f"{name}: benchmarking {mode}", phase="bench"),
            on_error=lambda mode, error, name=spec.name: log.warning("%s %s: benchmark failed: %s", name, mode,
                                                                     error))
        for mode, v in todo.items():
            stats = timed.stats.get(mode)
            v["bench"] = {"config": settings, "error": timed.errors.get(mode)} if stats is None else {
                "config": settings, "p50_ms": stats.p50_ms, "p90_ms": stats.p90_ms, "mean_ms": stats.mean_ms,
                "runs": stats.runs, "threads": stats.threads, "runtime": stats.runtime,
                "peak_rss_bytes": stats.peak_rss_bytes, "error": None}
        driver.state.put(driver.keys[spec.name], row)


def write_catalog(directory: Path, catalog: Mapping[str, Any]) -> dict[str, Path]:
    """catalog.json, catalog.md and the self-contained catalog.html, each written atomically."""
    from ..report.catalog import render_html, render_markdown

    files = {name: directory / name for name in CATALOG_FILES}
    atomic_write_text(files[CATALOG_FILE], json.dumps(catalog, indent=1) + "\n")
    atomic_write_text(files["catalog.md"], render_markdown(catalog))
    atomic_write_text(files["catalog.html"], render_html(catalog))
    return files


def run_batch(cfg: BatchConfig, *, progress: Callable[[BatchProgress], None] = lambda _p: None,
              worker_runner: str | None = None) -> BatchResult:
    """Run every model of `cfg.manifest`; see the module docstring. Raises `ConfigError` for a bad manifest
    before any work. Ctrl-C stops the workers, writes the catalog of what finished and re-raises.

    `worker_runner` ('module:function' or '/path/file.py:function') replaces the per-model function the workers
    call; it exists for hub2lite's own tests (a crash, a bug) and is not reachable from the command line."""
    specs = parse_manifest(cfg.manifest, cfg.defaults)
    directory = Path(cfg.output_dir)
    _check_directory(directory, cfg.force)
    directory.mkdir(exist_ok=True)
    (directory / _WORK).mkdir(exist_ok=True)
    driver = _Driver(cfg, specs, directory, progress)
    by_name = {s.name: s for s in specs}
    tasks = _tasks(driver, worker_runner)
    driver.report(f"{len(tasks)} of {len(specs)} models to run"
                  + (f" ({len(driver.resumed)} finished before)" if driver.resumed else ""))
    interrupted = False
    try:
        if tasks and cfg.ray:
            from .ray_exec import run_ray

            run_ray(tasks, cfg.ray, num_cpus=cfg.workers, on_start=driver.started,
                    on_done=lambda t, o: driver.finished(by_name[t.name], o, None))
        elif tasks:
            run_local(tasks, directory / _WORK, workers=cfg.workers or default_workers(), on_start=driver.started,
                      on_done=lambda t, o, w: driver.finished(by_name[t.name], o, w))
        if cfg.bench is not None:
            _benchmark(driver)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        catalog = driver.catalog(interrupted=interrupted)
        files = write_catalog(directory, catalog)
        shutil.rmtree(directory / _WORK, ignore_errors=True)
    return BatchResult(directory, catalog, files)

