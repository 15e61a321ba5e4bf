"""Sweep: every quantization variant of one model, side by side.

    run_sweep(SweepConfig) -> SweepResult     (writes DIR/report.json, report.md, report.html, models/*.tflite)

The model is resolved and loaded once; each variant is converted once (calibration samples shared by
every recipe that needs them); the original's outputs on the validation inputs are computed once and
every variant is compared against those same outputs (per-mode default tolerances); then the original
TF model and every variant are benchmarked one after the other with the same `BenchConfig` on the
same input sample, each in its own child process (benchmark.py). A variant whose conversion,
validation or benchmark fails stays in the report with its error; it is never dropped.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write_bytes, atomic_write_text, check_output_path
from .accuracy import label_indices, load_labels
from .artifacts import embed_model_metadata, model_name, write_model_card
from .bench_rounds import error_text, time_round_robin
from .benchmark import BenchConfig, LatencyStats, benchmark_source, benchmark_tflite
from .convert import Conversion, ConvertConfig, convert
from .errors import CalibrationError, ConfigError, FlexRuntimeError, Hub2LiteError, OutputError
from .load import EntryPoint, LoadOptions
from .metadata.stage import MetadataResult
from .metadata.support import check_metadata_support
from .model_card import command_line, model_card_path
from .options import CalibrationOptions, DataOptions, ScalingFlags, check_calibration, parse_modes
from .prepare import PrepareOptions, Prepared, calibration_for, prepare, validation_inputs
from .text_encoder import TextOptions
from .quantize.calibration import rescale_synthetic
from .quantize.recipes import recipe_for
from .report.format import versions
from .runners import TFRunner, open_lite_runner
from .specs import QuantMode
from .validate import ValidationReport, compare, default_tolerance, output_kind, stack_outputs

__all__ = ["SweepConfig", "SweepResult", "run_sweep", "parse_modes", "DEFAULT_MODES", "SWEEP_SCHEMA",
           "REPORT_FILES"]

log = logging.getLogger(__name__)

SWEEP_SCHEMA = "hub2lite.sweep/1"
DEFAULT_MODES = (QuantMode.FLOAT32, QuantMode.FLOAT16, QuantMode.DYNAMIC, QuantMode.INT8)
REPORT_FILES = ("report.json", "report.md", "report.html")

#: progress(step description, steps done, steps in total)
SweepProgress = Callable[[str, int, int], None]


def _quiet(_step: str, _done: int, _total: int) -> None:
    pass


@dataclass(frozen=True)
class SweepConfig:
    source: str
    output_dir: str
    modes: tuple[QuantMode, ...] = DEFAULT_MODES
    calibration: str | None = None  # path, or "synthetic" (unverified accuracy); needed by int8/int16x8 modes
    calibration_samples: int = 200
    data: str | None = None  # validation inputs (labels from .npz 'y' / class folders); default: calibration data
    labels: str | None = None  # class names by output index: text (one per line) or JSON, see accuracy.load_labels
    samples: int = 100  # validation samples
    seed: int = 0
    convert: ConvertConfig = field(default_factory=ConvertConfig)  # shapes / signature / ops; quantize per variant
    bench: BenchConfig = field(default_factory=BenchConfig)
    tolerance_overrides: Mapping[str, float] = field(default_factory=dict)  # atol/rtol/min_cosine/min_top1_agreement
    classification: bool | None = None  # None: detect classifier-like outputs
    force: bool = False
    cache_dir: str | None = None
    tags: tuple[str, ...] | None = None
    timeout: float | None = None  # hub fetches: seconds a server may send nothing
    load_options: LoadOptions = field(default_factory=LoadOptions)  # Keras / frozen-graph loading
    input_range: str | None = None  # image input scaling, as for convert (flags > model > default [0,1])
    mean: str | None = None
    std: str | None = None
    normalization_from: str | None = None  # a .tflite whose TFLite metadata gives the image normalization
    metadata: bool = False  # embed TFLite metadata in every variant
    vocab: str | None = None  # text encoders: WordPiece vocab.txt for text files (default: the model's)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "output_dir": self.output_dir, "modes": [m.value for m in self.modes],
                "metadata": self.metadata, "normalization_from": self.normalization_from, "vocab": self.vocab,
                "calibration": self.calibration, "calibration_samples": self.calibration_samples,
                "data": self.data, "labels": self.labels, "samples": self.samples, "seed": self.seed,
                "convert": self.convert.to_dict(), "bench": self.bench.to_dict(),
                "tolerance_overrides": dict(self.tolerance_overrides), "classification": self.classification}


@dataclass(frozen=True)
class SweepResult:
    directory: Path
    files: Mapping[str, Path]
    report: dict[str, Any]

    @property
    def passed(self) -> bool:
        """At least one variant converted, passed validation and was benchmarked."""
        return any(v["status"] == "ok" and v["passed"] for v in self.report["variants"])

    @property
    def not_run(self) -> bool:
        """Some variant could not be validated: a Select-TF-ops model and no Flex runtime."""
        return any(v["status"] == "validation not run" for v in self.report["variants"])


@dataclass(frozen=True)
class _Inputs:
    feeds: list[dict[str, np.ndarray]]
    labels: np.ndarray | None
    info: dict[str, Any]
    classes: tuple[str, ...] | None = None  # class folder names of an image folder (labels index them)


def _prepare_options(cfg: SweepConfig) -> PrepareOptions:
    return PrepareOptions(convert=cfg.convert,
                          scaling=ScalingFlags(cfg.input_range, cfg.mean, cfg.std, cfg.normalization_from),
                          calibration=CalibrationOptions(cfg.calibration, cfg.calibration_samples, cfg.seed),
                          modes=tuple(cfg.modes), cache_dir=cfg.cache_dir, tags=cfg.tags, timeout=cfg.timeout,
                          load_options=cfg.load_options, text=TextOptions(cfg.vocab))


def _validation_inputs(cfg: SweepConfig, prepared: Prepared) -> _Inputs:
    path = cfg.data or (cfg.calibration if cfg.calibration not in (None, "synthetic") else None)
    got = validation_inputs(prepared.specs, DataOptions(path, cfg.samples, cfg.seed), prepared.scaling,
                            text=prepared.text)
    if path is None:
        feeds = got.feeds
        if prepared.scaling is None:  # several inputs: each image input in its own range
            feeds = rescale_synthetic(feeds, dict(prepared.scalings))
        info: dict[str, Any] = {"source": f"synthetic (seed {cfg.seed})", "samples": len(feeds),
                                "note": "no --data or calibration path: outputs compared on random inputs"}
        if "draws" in got.info:
            info["draws"] = got.info["draws"]
        return _Inputs(feeds, None, info)
    info = {"source": got.info["path"], "samples": len(got.feeds), "notes": got.info["notes"]}
    if "text" in got.info:
        info["text"] = got.info["text"]
    if cfg.data is None:
        info["note"] = "no --data: validated on samples of the calibration data (biased towards the calibrated variants)"
    return _Inputs(got.feeds, got.labels, info, got.classes)


def _class_output(reference: list[dict[str, np.ndarray]], classification: bool | None) -> str | None:
    """The output to score top-1 on: the first the one classifier rule (validate.output_kind) calls a classifier,
    the same rule `validate` applies."""
    if classification is False or not reference:
        return None
    task = "classification" if classification else "auto"
    for name, value in stack_outputs(reference).items():
        if output_kind(name, value, task) == "classifier":
            return name
    return None


def _top1(outputs: list[dict[str, np.ndarray]], name: str) -> np.ndarray:
    return np.array([int(np.argmax(np.asarray(o[name]).reshape(-1))) for o in outputs], dtype=np.int64)


def _conversion_summary(c: Conversion) -> dict[str, Any]:
    return {"strategy": c.strategy, "seconds": round(c.seconds, 3), "recipe": dict(c.recipe),
            "converter_settings": dict(c.converter_settings), "tflite_ops": dict(c.tflite_ops),
            "attempts": [a.to_dict() for a in c.attempts], "notes": list(c.notes),
            "inputs": [s.to_dict() for s in c.inputs], "input_names": dict(c.input_names),
            "sha256": hashlib.sha256(c.model).hexdigest()}


def _model_failures() -> tuple[type[BaseException], ...]:
    """What a model's own failure raises (converter, interpreter, TensorFlow, our typed errors). Anything else
    (TypeError, AttributeError, KeyError, ...) is a bug in hub2lite: it propagates (exit 1), never a row."""
    import tensorflow as tf

    return (Hub2LiteError, RuntimeError, ValueError, OSError, MemoryError, tf.errors.OpError)


def _check_outputs(directory: Path, modes: Sequence[QuantMode], force: bool) -> dict[str, Path]:
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"output path {str(directory)!r} is a file", hint="give a folder for -o")
    if not directory.parent.is_dir():
        raise OutputError(f"folder {str(directory.parent)!r} does not exist",
                          hint=f"create it first: mkdir -p {directory.parent}")
    directory.mkdir(exist_ok=True)
    (directory / "models").mkdir(exist_ok=True)
    files = {name: check_output_path(directory / name, force=force) for name in REPORT_FILES}
    for mode in modes:
        check_output_path(directory / "models" / f"{mode.value}.tflite", force=force)
        check_output_path(model_card_path(directory / "models" / f"{mode.value}.tflite"), force=force)
    return files


def _machine() -> dict[str, Any]:
    from .benchmark import default_threads

    return {"platform": platform.platform(), "machine": platform.machine(), "processor": platform.processor() or None,
            "cpu_count": os.cpu_count(), "usable_cpus": default_threads()}


def run_sweep(cfg: SweepConfig, *, progress: SweepProgress = _quiet) -> SweepResult:
    """Convert, validate and benchmark every mode of `cfg.modes`; write the report folder."""
    modes = tuple(cfg.modes)
    notes: list[str] = []
    if cfg.metadata:
        check_metadata_support()
    if QuantMode.FLOAT32 not in modes:
        modes = (QuantMode.FLOAT32,) + modes
        notes.append("float32 was added: it is the baseline of the size ratio and the speed-up")
    if cfg.samples <= 0:
        raise ConfigError("--samples must be positive")
    check_calibration(CalibrationOptions(cfg.calibration), modes)
    directory = Path(cfg.output_dir)
    files = _check_outputs(directory, modes, cfg.force)
    total = 3 + len(modes) + cfg.bench.rounds * (1 + len(modes)) + 1 + int(cfg.convert.split_requested)
    done = 0

    def step(text: str) -> None:
        nonlocal done
        progress(text, done, total)
        done += 1

    step("loading the original model")
    prepared = prepare(cfg.source, replace(_prepare_options(cfg), modes=()))
    resolved, loaded, entry, specs = prepared.resolved, prepared.loaded, prepared.entry, prepared.specs
    notes.extend(prepared.notes)
    step("reading calibration and validation data")
    calibration, calib_info = calibration_for(CalibrationOptions(cfg.calibration, cfg.calibration_samples, cfg.seed),
                                              specs, modes, prepared.scalings, warn_unused=False, text=prepared.text)
    if calibration is not None:
        calibration = prepared.body_feeds(calibration)  # a split model calibrates its body on the prefix's outputs
    if prepared.split is not None:
        notes.append("split model: each variant is the body .tflite, validated end to end (prefix and suffix in "
                     "TensorFlow); its size is the body's, its latency the whole chain's (prefix + body + suffix)")
    inputs = _validation_inputs(cfg, prepared)
    step("running the original on the validation inputs")
    reference = [TFRunner(prepared.reference).infer(f) for f in inputs.feeds]
    cls_output = _class_output(reference, cfg.classification)
    truth = _truth(cfg, inputs, cls_output, len(reference), notes)
    quality_metric = "accuracy" if truth is not None else ("top1_agreement" if cls_output else "cosine")
    original_accuracy = float(np.mean(_top1(reference, cls_output) == truth)) if truth is not None else None

    variants: list[dict[str, Any]] = []
    conversions: dict[QuantMode, Conversion] = {}
    metadata: dict[QuantMode, MetadataResult] = {}

    def finish(mode: QuantMode, conversion: Conversion) -> Conversion:
        """The variant as shipped: with TFLite metadata when asked."""
        if not cfg.metadata:
            return conversion
        model, metadata[mode] = embed_model_metadata(
            conversion.model, name=model_name(resolved, mode.value), resolved=resolved,
            family=conversion.family, scalings=prepared.scalings, labels=cfg.labels, recipe=conversion.recipe,
            signature=entry.info.name)
        return replace(conversion, model=model)

    for mode in modes:
        step(f"converting and validating {mode.value}")
        variants.append(_variant(cfg, mode, loaded, entry, calibration, inputs, reference, cls_output, truth,
                                 directory, conversions, finish, prepared=prepared))
        if mode in metadata:
            variants[-1]["metadata"] = metadata[mode].to_dict()

    original_bench, original_error = _benchmark_all(cfg, prepared, variants, conversions, inputs.feeds[0],
                                                    directory, step)

    step("writing the report")
    from .report.analysis import analyze
    from .report.sweep import render_html, render_markdown

    report = {
        "schema": SWEEP_SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "machine": _machine(),
        "source": resolved.to_dict(),
        "format": prepared.reference_format,
        "signature": prepared.reference.info.to_dict(),
        "split": None if prepared.split is None else prepared.split.to_dict(),
        "inputs": [s.to_dict() for s in specs],
        "config": cfg.to_dict(),
        "calibration": calib_info,
        "validation_data": {**inputs.info, "labeled": truth is not None, "class_output": cls_output,
                            "class_names": None if not cfg.labels else len(load_labels(cfg.labels))},
        "quality_metric": quality_metric,
        "original": {"size_bytes": _tree_size(Path(resolved.path)), "accuracy": original_accuracy,
                     "bench": None if original_bench is None else original_bench.to_dict(), "error": original_error},
        "variants": variants,
        "notes": notes,
    }
    report = analyze(report)
    for v in variants:
        if v["file"] is not None:
            _write_card(cfg, report, v, conversions[QuantMode(v["mode"])], metadata.get(QuantMode(v["mode"])),
                        directory)
    atomic_write_text(files["report.json"], json.dumps(report, indent=2) + "\n")
    atomic_write_text(files["report.md"], render_markdown(report))
    atomic_write_text(files["report.html"], render_html(report))
    progress("done", total, total)
    return SweepResult(directory, files, report)


def _write_card(cfg: SweepConfig, report: Mapping[str, Any], v: dict[str, Any], conversion: Conversion,
                metadata: MetadataResult | None, directory: Path) -> None:
    """models/MODE.md beside the variant: the convert command that rebuilds exactly this variant."""
    path = directory / v["file"]
    argv = ["convert", cfg.source, "-o", str(path)]
    if v["mode"] != QuantMode.FLOAT32.value:
        argv += ["--quantize", v["mode"]]
    for flag, value in (("--calibration", cfg.calibration if recipe_for(QuantMode(v["mode"])).needs_calibration
                         else None), ("--signature", cfg.convert.signature), ("--input-range", cfg.input_range),
                        ("--mean", cfg.mean), ("--std", cfg.std), ("--normalization-from", cfg.normalization_from),
                        ("--labels", cfg.labels if cfg.metadata else None)):
        if value is not None:
            argv += [flag, str(value)]
    if cfg.metadata:
        argv.append("--metadata")
    validation = dict(v["validation"] or {}) or None
    if validation is not None:
        validation.setdefault("mode", v["mode"])
        validation["inputs"] = {"source": report["validation_data"].get("source")}
    if validation is not None and v.get("accuracy") is not None and report["original"].get("accuracy") is not None:
        validation["accuracy"] = {"output": report["validation_data"].get("class_output"),
                                  "samples": report["validation_data"].get("samples"), "k": 1,
                                  "top1_original": report["original"]["accuracy"], "top1_tflite": v["accuracy"],
                                  "top1_drop": report["original"]["accuracy"] - v["accuracy"]}
    card_report = {"source": report["source"], "versions": report["versions"], "conversion": conversion.to_dict(),
                   "validation": validation, "notes": [],
                   "output": {"path": str(path), "size_bytes": v["size_bytes"],
                              "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}}
    write_model_card(card_report, metadata=metadata, command=command_line(argv), latency=v.get("bench"))


def _truth(cfg: SweepConfig, inputs: _Inputs, cls_output: str | None, count: int,
           notes: list[str]) -> np.ndarray | None:
    """Output indices of the validation labels (mapped through --labels), when there is a classifier."""
    if inputs.labels is not None and cls_output is None:
        notes.append("no labeled accuracy: no classifier-like output (rank 2; --task classification forces it)")
        return None
    if inputs.labels is None:
        if cfg.labels:
            notes.append("--labels given but the validation data has no labels (.npz 'y' or class folders)")
        return None
    class_names = load_labels(cfg.labels) if cfg.labels else None
    truth, label_notes = label_indices(inputs.labels, class_names=class_names, folder_classes=inputs.classes)
    notes.extend(label_notes)
    if len(truth) != count:
        raise CalibrationError(f"{len(truth)} labels for {count} validation samples", hint="give one label per sample")
    return truth


def _benchmark_all(cfg: SweepConfig, prepared: Prepared, variants: list[dict[str, Any]],
                   conversions: dict[QuantMode, Conversion], bench_feed: dict[str, np.ndarray], directory: Path,
                   step: Callable[[str], None]) -> tuple[LatencyStats | None, str | None]:
    """The original and every converted variant, round-robin over `cfg.bench.rounds` rounds in alternating order
    (bench_rounds.time_round_robin); fills each variant's bench/status; returns the original's (stats, error). A
    split model's variants are timed as the app runs them: prefix + body + suffix (split_timing)."""
    resolved, specs = prepared.resolved, prepared.specs
    once = replace(cfg.bench, rounds=1)
    body_feed = prepared.body_feeds([bench_feed])[0]  # the .tflite of a split model is its body
    targets: list[tuple[str, Callable[[], LatencyStats]]] = [("original", lambda: benchmark_source(
        str(resolved.path), once, signature=cfg.convert.signature,
        input_shapes={s.name: s.shape for s in specs if s.shape is not None}, batch_size=cfg.convert.batch_size,
        feed=bench_feed, tags=cfg.tags))]
    for v in variants:
        if QuantMode(v["mode"]) in conversions and v["status"] != "validation not run":
            names = conversions[QuantMode(v["mode"])].input_names
            targets.append((v["mode"], lambda path=directory / v["file"], names=names: benchmark_tflite(
                path, once, feed=body_feed, input_names=names)))
    rounds = cfg.bench.rounds

    def started(name: str, r: int) -> None:
        step(f"benchmarking {'the original TF model' if name == 'original' else name}"
             + (f" (round {r + 1}/{rounds})" if rounds > 1 else ""))

    timed = time_round_robin(targets, rounds=rounds, failures=_model_failures(), on_start=started,
                             on_error=lambda name, error: log.warning("benchmarking %s failed: %s", name, error))
    if prepared.split is not None and any(name != "original" for name in timed.stats):
        from .split_timing import chain_stats, time_stages

        runs = len(next(s for n, s in timed.stats.items() if n != "original").latencies_ms)
        step("timing the split's TensorFlow stages")
        stages = time_stages(prepared.split, bench_feed, runs=runs, warmup=cfg.bench.warmup)
        for name in [n for n in timed.stats if n != "original"]:
            timed.stats[name] = chain_stats(timed.stats[name], stages)
    for v in variants:
        if v["mode"] in timed.errors:
            v["status"], v["error"] = "benchmark failed", timed.errors[v["mode"]]
        elif v["mode"] in timed.stats:
            v["bench"] = timed.stats[v["mode"]].to_dict()
    return timed.stats.get("original"), timed.errors.get("original")


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _variant(cfg: SweepConfig, mode: QuantMode, loaded: Any, entry: EntryPoint,
             calibration: list[dict[str, np.ndarray]] | None, inputs: _Inputs,
             reference: list[dict[str, np.ndarray]], cls_output: str | None, truth: np.ndarray | None,
             directory: Path, conversions: dict[QuantMode, Conversion],
             finish: Callable[[QuantMode, Conversion], Conversion], *, prepared: Prepared) -> dict[str, Any]:
    recipe = recipe_for(mode)
    v: dict[str, Any] = {"mode": mode.value, "recipe": recipe.to_dict(), "status": "ok", "error": None,
                         "file": None, "size_bytes": None, "conversion": None, "validation": None, "passed": False,
                         "accuracy": None, "agreement": None, "bench": None}
    config = prepared.convert_config(cfg.convert.for_mode(mode))
    try:
        conversion = convert(loaded, config, calibration=calibration if recipe.needs_calibration else None)
    except _model_failures() as exc:  # a failed variant is reported, not dropped; a hub2lite bug propagates
        v["status"], v["error"] = "conversion failed", error_text(exc)
        log.warning("%s: conversion failed: %s", mode.value, v["error"])
        return v
    conversion = finish(mode, conversion)
    rel = Path("models") / f"{mode.value}.tflite"
    atomic_write_bytes(directory / rel, conversion.model)
    conversions[mode] = conversion
    v.update(file=str(rel), size_bytes=conversion.size_bytes, conversion=_conversion_summary(conversion))
    try:
        lite = open_lite_runner(conversion.model, input_names=conversion.input_names,
                                flex_runtime=cfg.bench.flex_runtime)
    except FlexRuntimeError as exc:  # never a pass: the row says why and how to set the runtime up
        v["status"], v["error"] = "validation not run", str(exc)
        log.warning("%s: validation not run: %s", mode.value, v["error"])
        return v
    try:
        with lite:
            runner: Any = lite
            if prepared.split is not None:  # a split model is judged end to end: prefix -> body -> suffix
                from .split_run import ChainRunner

                runner = ChainRunner(prepared.split, lite)
            got = [runner.infer(f) for f in inputs.feeds]
        tolerance = default_tolerance(mode, **dict(cfg.tolerance_overrides))
        report: ValidationReport = compare(reference, got, tolerance, classification=cfg.classification,
                                           runtimes={"original": "tensorflow", "candidate": runner.runtime})
    except _model_failures() as exc:  # reported, never hidden; a hub2lite bug propagates
        v["status"], v["error"] = "validation failed to run", error_text(exc)
        log.warning("%s: validation failed to run: %s", mode.value, v["error"])
        return v
    v["validation"] = report.to_dict()
    v["passed"] = report.passed
    if cls_output is not None:
        metrics = report.output(cls_output) if any(o.name == cls_output for o in report.outputs) else None
        v["agreement"] = None if metrics is None else metrics.top1_agreement
        if v["agreement"] is None and cls_output in got[0]:
            v["agreement"] = float(np.mean(_top1(reference, cls_output) == _top1(got, cls_output)))
        if truth is not None:
            v["accuracy"] = float(np.mean(_top1(got, cls_output) == truth))
    else:
        cosines = [o.cosine for o in report.outputs if o.cosine is not None]
        v["agreement"] = min(cosines) if cosines else None
    return v
