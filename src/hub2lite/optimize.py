"""`optimize`: the smallest (or fastest) .tflite whose accuracy stays within a budget of the original's.

    run_optimize(OptimizeJob) -> OptimizeResult   (writes the winner, its model card and NAME.optimize.json/.md/.html)

1. the original (TensorFlow) model is measured on the evaluation data: the reference (`--metric top1`:
   labeled accuracy; `agreement`: top-1 agreement with the original, 100% by definition; `cosine`: mean
   cosine similarity of the outputs, x100). A candidate's *drop* is reference - its value, in points;
2. float32, then the uniform recipes from cheapest to safest (int8-strict, int8, int16x8, dynamic, float16)
   are converted and measured; int8 recipes calibrate on the calibration samples minus a held-out *ranking*
   subset (`rank_samples`);
3. when uniform int8 misses the budget, int8 is calibrated once (convert.calibrate_int8) and its techniques —
   activation ranges (minmax, MSE) x bias correction (quantize/ranges.py, bias.py) — are measured (stage
   "technique"); only if none is inside the budget, the sensitivity search (quantize/search.py) floats ops of
   the technique with the lowest ranking loss: each op ranked by what reverting it to float does to the outputs
   on the ranking subset, greedily, re-ranked after each step, a step that does not help undone, and past the
   ranking target while the loss keeps falling. Its path (1, 2, ... float ops) is measured on the evaluation
   data, fewest float ops first, until one is inside the budget (stage "mixed"; at most `max_evals`). For a
   model with attention, int8 with the softmax path (then LayerNorm and GELU too) in float is measured before
   the search (`--int8-keep-float`, quantize/transformer.py; also "technique");
4. float32 is the baseline, not a candidate: it is benchmarked for reference, but only an optimized model
   can win. Candidates inside the budget are benchmarked (benchmark.py, a child process per model) and the winner
   is the smallest (`--objective size`) or the fastest p50 (`latency`); ties go to the other criterion. A technique
   or mixed winner is re-made by `convert(int8_ranges=, bias_correction=, float_nodes=)` (the recorded route)
   and re-measured before it is written.

The evaluation data is never used for calibration or ranking: distinct paths must not share a file; one path (or
no `--calibration`) is split with a seed into disjoint calibration and evaluation parts, and the report says so.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write_bytes, atomic_write_text, check_output_path
from .artifacts import embed_model_metadata, model_name, write_model_card
from .convert import Conversion, ConvertConfig, convert
from .errors import ConfigError, ConversionError
from .metadata.stage import MetadataResult
from .metadata.support import check_metadata_support
from .model_card import command_line, model_card_path
from .options import ScalingFlags
from .prepare import DataSplit, PrepareOptions, eval_labels, prepare, split_data
from .report.optimize import render_html, render_markdown
from .specs import QuantMode
from .text_encoder import TextOptions

__all__ = ["OptimizeConfig", "OptimizeJob", "Candidate", "OptimizeResult", "run_optimize", "split_data",
           "ranking_split",
           "UNIFORM_ORDER", "OPTIMIZE_SCHEMA", "METRICS", "OBJECTIVES"]

log = logging.getLogger(__name__)

OPTIMIZE_SCHEMA = "hub2lite.optimize/1"
METRICS = ("top1", "agreement", "cosine")
OBJECTIVES = ("size", "latency")
#: Cheapest to safest.
UNIFORM_ORDER = (QuantMode.INT8_STRICT, QuantMode.INT8, QuantMode.INT16X8, QuantMode.DYNAMIC, QuantMode.FLOAT16)
#: When uniform int8 misses the budget, int8 with these activation ranges, with and without bias correction, is
#: tried next (stage "technique"), before any op is kept in float (docs/quantization.md).
TECHNIQUE_RANGES = ("minmax", "mse")

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class OptimizeConfig:
    max_drop: float = 1.0  # points of the metric (accuracy %, agreement %, cosine x100)
    metric: str = "top1"
    objective: str = "size"
    threads: int | None = None
    max_evals: int = 12  # mixed-precision candidates measured at most
    calibration_samples: int = 200
    eval_samples: int | None = None  # None: every evaluation sample
    rank_samples: int = 64  # calibration samples held out for the int8 search to rank on
    max_float: int = 8  # ops the int8 search keeps in float at most
    max_rank: int = 64  # ops the int8 search ranks by reverting each (in execution order)
    beyond_target: float | None = 0.05  # go on past the ranking target while a step lowers the loss this much
    seed: int = 0
    bench_runs: int = 50
    bench_warmup: int = 5
    flex_runtime: bool = True  # Select-TF-ops candidates: run them in the Flex runtime (False: FlexRuntimeError, exit 10)

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ConfigError(f"unknown --metric {self.metric!r}", hint=f"use one of {list(METRICS)}")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"unknown --objective {self.objective!r}", hint=f"use one of {list(OBJECTIVES)}")
        if not self.max_drop >= 0:
            raise ConfigError(f"--max-drop must be 0 or more, not {self.max_drop}")
        if self.max_evals < 0:
            raise ConfigError(f"--max-evals must be 0 or more, not {self.max_evals}")
        if self.calibration_samples < 1:
            raise ConfigError("--calibration-samples must be positive")

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class OptimizeJob:
    source: str
    output: str
    data: str
    calibration: str | None = None  # None or the same path as `data`: split `data` with the seed
    labels: str | None = None
    optimize: OptimizeConfig = field(default_factory=OptimizeConfig)
    convert: ConvertConfig = field(default_factory=ConvertConfig)
    force: bool = False
    cache_dir: str | None = None
    tags: tuple[str, ...] | None = None
    timeout: float | None = None
    load_options: Any = None  # load.LoadOptions (--unsafe-keras, --input-names, --output-names)
    input_range: str | None = None  # image input scaling, as for convert (flags > model > default [0,1])
    mean: str | None = None
    std: str | None = None
    normalization_from: str | None = None  # a .tflite whose TFLite metadata gives the image normalization
    metadata: bool = False  # embed TFLite metadata in the winner
    command: str | None = None  # the command line its model card shows (default: rebuilt from the job)
    vocab: str | None = None  # text encoders: WordPiece vocab.txt for text files (default: the model's)


@dataclass(frozen=True)
class Candidate:
    name: str
    stage: str  # baseline | uniform | mixed
    recipe: str
    float_nodes: tuple[str, ...] = ()
    size_bytes: int | None = None
    value: float | None = None
    drop: float | None = None
    in_budget: bool = False
    latency_ms: float | None = None
    validation_passed: bool | None = None
    error: str | None = None
    model: bytes | None = field(default=None, repr=False)
    technique: str | None = None  # int8 through the calibrated flatbuffer: "mse+bias", ... (None: the converter's)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "model"}
        d["float_nodes"] = list(self.float_nodes)
        d["float_layers"] = len(self.float_nodes)
        for k in ("value", "drop", "latency_ms"):
            if d[k] is not None:
                d[k] = round(float(d[k]), 4)
        return d


@dataclass(frozen=True)
class OptimizeResult:
    winner: Candidate | None
    closest: Candidate | None
    candidates: tuple[Candidate, ...]
    reference: float
    report: dict[str, Any]
    output: Path | None
    report_paths: tuple[Path, ...]

    @property
    def passed(self) -> bool:
        return self.winner is not None


# --- data ------------------------------------------------------------------------------------------------


def _labels(split: DataSplit, labels_path: str | None) -> np.ndarray | None:
    """Output indices for the evaluation samples' own labels (.npz `y`, class folders), mapped through
    `--labels`, a class-names file: the one meaning of --labels (prepare.eval_labels)."""
    classes = split.info.get("classes")
    return eval_labels(split.labels, None if classes is None else tuple(classes), labels_path)


# --- measuring -------------------------------------------------------------------------------------------


def _stack(outputs: Sequence[Mapping[str, np.ndarray]], name: str) -> np.ndarray:
    return np.concatenate([np.asarray(o[name], dtype=np.float64).reshape(1, -1) for o in outputs])


class _Evaluator:
    """Runs candidates on the evaluation feeds and scores one output against the labels / the original."""

    def __init__(self, reference: list[dict[str, np.ndarray]], output: str, metric: str,
                 labels: np.ndarray | None, flex_runtime: bool = True, *, split: Any = None,
                 model_feeds: Sequence[Mapping[str, np.ndarray]] = ()) -> None:
        self.reference, self.output, self.metric, self.labels = reference, output, metric, labels
        self.flex_runtime = flex_runtime
        # a split model: each candidate body runs as prefix -> body -> suffix on the model's own inputs; the
        # prefix's outputs are the same for every candidate, computed once (`_before_body`)
        self.split, self.model_feeds = split, list(model_feeds)
        self._before_body: list[dict[str, np.ndarray]] | None = None
        self.ref = _stack(reference, output)
        self.runtimes: set[str] = set()  # which interpreters ran the candidates (ai-edge-litert, the Flex runtime)
        self.reference_value = self.score(self.ref)

    def score(self, got: np.ndarray) -> float:
        if self.metric == "top1":
            assert self.labels is not None
            return 100.0 * float(np.mean(np.argmax(got, axis=-1) == self.labels))
        if self.metric == "agreement":
            return 100.0 * float(np.mean(np.argmax(got, axis=-1) == np.argmax(self.ref, axis=-1)))
        num = np.sum(got * self.ref, axis=-1)
        den = np.linalg.norm(got, axis=-1) * np.linalg.norm(self.ref, axis=-1)
        cos = np.where(den == 0, 1.0, num / np.where(den == 0, 1.0, den))
        return 100.0 * float(np.mean(cos))

    def run(self, model: bytes, input_names: Mapping[str, str], feeds: Sequence[Mapping[str, np.ndarray]],
            mode: QuantMode) -> tuple[float, bool]:
        from .runners import open_lite_runner
        from .validate import compare, default_tolerance

        # Select-TF-ops candidates: the Flex runtime
        with open_lite_runner(model, input_names=input_names, flex_runtime=self.flex_runtime) as lite:
            if self.split is not None:  # `feeds` are the body's; the model's final outputs need the whole chain
                from .split_run import ChainRunner

                chain = ChainRunner(self.split, lite)
                if self._before_body is None:
                    self._before_body = [chain.before_body(f) for f in self.model_feeds]
                got = [chain.after_prefix(v) for v in self._before_body]
            else:
                got = [lite.infer(f) for f in feeds]
            self.runtimes.add(lite.runtime)
        passed = compare(self.reference, got, default_tolerance(mode)).passed
        return self.score(_stack(got, self.output)), passed


def _latency(model: bytes, cfg: OptimizeConfig, feed: Mapping[str, np.ndarray], input_names: Mapping[str, str]) -> float:
    from .benchmark import BenchConfig, benchmark_tflite

    with tempfile.TemporaryDirectory(prefix="hub2lite-opt-") as tmp:
        path = Path(tmp) / "candidate.tflite"
        path.write_bytes(model)
        stats = benchmark_tflite(path, BenchConfig(runs=cfg.bench_runs, warmup=cfg.bench_warmup,
                                                   threads=cfg.threads, flex_runtime=cfg.flex_runtime),
                                 feed=feed, input_names=input_names)
    return float(stats.p50_ms)


# --- the run ---------------------------------------------------------------------------------------------


@dataclass
class _Run:
    """What the stages of one optimize run share: the config, the evaluator and the candidates measured so far."""

    cfg: OptimizeConfig
    evaluator: _Evaluator
    evaluation: Sequence[Mapping[str, np.ndarray]]
    candidates: list[Candidate] = field(default_factory=list)
    conversions: dict[str, Conversion] = field(default_factory=dict)  # {mode: its uniform conversion}
    compact: bool = False  # --compact: every candidate is measured (and shipped) compacted, as convert writes it

    def shipped(self, model: bytes) -> bytes:
        """A technique model (from Prepared.quantize) as optimize ships it: compacted with --compact (convert()
        compacts the uniform candidates itself)."""
        if not self.compact:
            return model
        from .compact import compact_model

        return compact_model(model).model

    def size_of(self, model: bytes) -> int:
        """A technique model's size as shipped, so the search's size cap (the float16 candidate, compacted by
        convert) compares like with like."""
        return len(self.shipped(model))

    def measure(self, name: str, stage: str, mode: QuantMode, model: bytes, names: Mapping[str, str],
                float_nodes: tuple[str, ...] = (), technique: str | None = None) -> Candidate:
        if technique is not None:  # from Prepared.quantize
            model = self.shipped(model)
        value, passed = self.evaluator.run(model, names, self.evaluation, mode)
        drop = self.evaluator.reference_value - value
        cand = Candidate(name, stage, mode.value, float_nodes, len(model), value, drop,
                         drop <= self.cfg.max_drop + 1e-9, validation_passed=passed, model=model, technique=technique)
        log.info("%s: %s %.2f (drop %.2f), %d bytes", name, self.cfg.metric, value, drop, len(model))
        self.candidates.append(cand)
        return cand

    def named(self, name: str) -> Candidate | None:
        return next((c for c in self.candidates if c.name == name and c.error is None), None)


def run_optimize(job: OptimizeJob, *, progress: Progress = _quiet) -> OptimizeResult:
    from .runners import TFRunner

    cfg = job.optimize
    out, paths = _check_outputs(job)
    prepared = prepare(job.source, PrepareOptions(
        convert=job.convert, scaling=ScalingFlags(job.input_range, job.mean, job.std, job.normalization_from),
        cache_dir=job.cache_dir,
        tags=job.tags, timeout=job.timeout, load_options=job.load_options,
        text=TextOptions(job.vocab)), progress=progress)
    split, labels, model_feeds = _split(job, prepared)
    progress("measuring the original")
    reference, output = _reference(prepared, model_feeds)
    run = _Run(cfg, _Evaluator(reference, output, cfg.metric, labels, cfg.flex_runtime, split=prepared.split,
                               model_feeds=model_feeds), split.evaluation, compact=job.convert.compact)
    calibration, ranking = ranking_split(split.calibration, cfg.rank_samples)
    body_config = prepared.convert_config(job.convert)
    _uniform(run, prepared.loaded, body_config, calibration, progress)
    # a split model's body has no output the final score reads: the search cannot rank it (the techniques still
    # run, measured end to end on the evaluation data)
    reference_runner = None if prepared.split is not None else TFRunner(prepared.entry)
    search = _int8_search(run, prepared.loaded, body_config, calibration, ranking, reference_runner, progress)
    progress("benchmarking candidates inside the budget")
    input_names = dict(next(iter(run.conversions.values())).input_names) if run.conversions else {}
    winner, closest = _choose(run, split.evaluation[0], input_names)
    notes: list[str] = [split.info.get("note", "")] if split.info.get("note") else []
    final_conversion, metadata = None, None
    if winner is not None:
        winner, final_conversion, metadata = _ship(job, prepared, run, winner, body_config, calibration, out, notes,
                                                   progress)
        closest = winner
    data_info = {**split.info, "ranking_samples": len(ranking),
                 "ranking": "held out of the calibration samples: the int8 search ranks on it, never on the "
                            "evaluation data" if ranking is not calibration else
                            "too few calibration samples to hold some out: the search ranks on the calibration "
                            "samples themselves",
                 "input_scaling": {n: sc.to_dict() for n, sc in prepared.scalings.items()}}
    report = _report(job, prepared.resolved.to_dict(), run.evaluator.reference_value, run.candidates, winner, closest,
                     search, data_info, final_conversion, out if winner else None, notes, output,
                     runtimes=sorted(run.evaluator.runtimes))
    if metadata is not None:
        report["output"]["metadata"] = metadata.to_dict()
    written: list[Path] = []
    if winner is not None:
        written.append(_write_card(job, report, winner, final_conversion, metadata, out))
    atomic_write_text(paths["json"], json.dumps(report, indent=2) + "\n")
    atomic_write_text(paths["md"], render_markdown(report))
    atomic_write_text(paths["html"], render_html(report))
    written = [paths["json"], paths["md"], paths["html"], *written]
    return OptimizeResult(winner, closest, tuple(run.candidates), run.evaluator.reference_value, report,
                          out if winner else None, tuple(written))


def _check_outputs(job: OptimizeJob) -> tuple[Path, dict[str, Path]]:
    """Every path the run may write, checked before anything is measured (exists without --force: one line)."""
    out = check_output_path(job.output, force=job.force)
    stem = out.name[:-len(".tflite")] if out.name.endswith(".tflite") else out.name
    paths = {ext: check_output_path(out.with_name(f"{stem}.optimize.{ext}"), force=job.force)
             for ext in ("json", "md", "html")}
    check_output_path(model_card_path(out), force=job.force)
    if job.metadata:
        check_metadata_support()
    if job.convert.split_requested:
        from .split_run import check_stage_paths

        check_stage_paths(out, force=job.force)
    return out, paths


def _split(job: OptimizeJob, prepared: Any) -> tuple[DataSplit, np.ndarray | None, Any]:
    """Calibration / evaluation feeds (a split model's body feeds), the evaluation labels and the model's own
    evaluation inputs."""
    cfg = job.optimize
    split = split_data(job.data, job.calibration, prepared.specs, calibration_samples=cfg.calibration_samples,
                       eval_samples=cfg.eval_samples, seed=cfg.seed, scaling=prepared.scaling, text=prepared.text)
    model_feeds = split.evaluation  # the model's own inputs (a split model's body takes the prefix's outputs)
    if prepared.split is not None:  # a split model is optimized as its body, on the prefix's outputs
        split = replace(split, calibration=prepared.body_feeds(split.calibration),
                        evaluation=prepared.body_feeds(split.evaluation),
                        info={**split.info, "split": prepared.split.to_dict(),
                              "note": "the model was split (--split-unsupported): each candidate body is scored "
                                      "end to end (prefix -> body -> suffix) on the model's final output"})
    labels = _labels(split, job.labels)
    if cfg.metric == "top1" and labels is None:
        raise ConfigError("--metric top1 needs labels for --data",
                          hint="use an .npz with 'y', a class_name/ image folder, --labels, or --metric agreement")
    if labels is not None and len(labels) != len(split.evaluation):
        raise ConfigError(f"{len(labels)} labels for {len(split.evaluation)} evaluation samples")
    return split, labels, model_feeds


def _reference(prepared: Any, model_feeds: Sequence[Mapping[str, np.ndarray]]
               ) -> tuple[list[dict[str, np.ndarray]], str]:
    """The original's outputs on the evaluation data and the output scored (a split model: the whole model, and
    the final output, one the last stage makes)."""
    from .runners import TFRunner

    original = prepared.reference if prepared.split is not None else prepared.entry  # the whole model, not the body
    reference = [TFRunner(original).infer(f) for f in model_feeds]
    output = original.info.outputs[0].name if original.info.outputs else next(iter(reference[0]))
    if prepared.split is not None:  # the final output: one the last stage makes (a suffix's post-processing)
        stage_of = prepared.split.plan.output_stage
        last = max(stage_of.values(), key=("prefix", "body", "suffix").index)
        output = next((o.name for o in original.info.outputs if stage_of.get(o.name) == last), output)
    return reference, output if output in reference[0] else next(iter(reference[0]))


def ranking_split(calibration: Sequence[Any], rank_samples: int) -> tuple[Sequence[Any], Sequence[Any]]:
    """(calibration, ranking): the last `rank_samples` calibration samples (at most a third of them) are held
    out for the int8 search to rank on; with fewer than 3 samples, both are the calibration samples."""
    n = min(rank_samples, len(calibration) // 3)
    if n < 1:
        return calibration, calibration
    return calibration[:-n], calibration[-n:]


def _uniform(run: _Run, loaded: Any, body_config: ConvertConfig, calibration: Sequence[Any],
             progress: Progress) -> None:
    """float32 (the baseline) and every uniform recipe, converted (`run.conversions`) and measured."""
    for mode in (QuantMode.FLOAT32, *UNIFORM_ORDER):
        progress(f"converting {mode.value}")
        stage = "baseline" if mode is QuantMode.FLOAT32 else "uniform"
        try:
            conv = convert(loaded, replace(body_config, quantize=mode),
                           calibration=calibration if mode in (QuantMode.INT8, QuantMode.INT8_STRICT,
                                                               QuantMode.INT16X8) else None)
        except ConversionError as exc:
            run.candidates.append(Candidate(mode.value, stage, mode.value, error=exc.message))
            continue
        run.conversions[mode.value] = conv
        run.measure(mode.value, stage, mode, conv.model, conv.input_names)


def _int8_search(run: _Run, loaded: Any, body_config: ConvertConfig, calibration: Sequence[Any],
                 ranking: Sequence[Any], reference_runner: Any | None, progress: Progress) -> dict[str, Any]:
    """When uniform int8 misses the budget: int8 techniques, then the sensitivity search (quantize/search.py).

    One calibration (convert.calibrate_int8). The techniques (activation ranges x bias correction) are scored on
    the ranking subset and measured on the evaluation data (stage "technique"). If none is inside the budget, the
    search floats ops of the technique with the lowest ranking loss, ranked by the effect of reverting each on
    the ranking subset (never the evaluation data), past the ranking target while the loss keeps falling; each
    step of its path (1, 2, ... float ops) is then measured on the evaluation data (stage "mixed", at most
    `max_evals`), smallest first, until one is inside the budget. `reference_runner` (the original's runner; None
    for a split model, whose search is skipped) gives the ranking subset's reference outputs."""
    from .convert import calibrate_int8
    from .quantize.flatgraph import CalibratedGraph
    from .quantize.search import score_outputs, score_techniques, sensitivity_search

    cfg = run.cfg
    search: dict[str, Any] = {"ran": False, "method": "sensitivity", "max_evals": cfg.max_evals, "evaluations": 0}
    int8 = run.named(QuantMode.INT8.value)
    if int8 is None or int8.in_budget:
        return search
    progress("calibrating int8 once for the techniques and the search")
    try:
        cal = calibrate_int8(loaded, replace(body_config, quantize=QuantMode.INT8), calibration)
    except ConversionError as exc:
        search["skipped"] = exc.message
        return search
    kind = "dense" if cfg.metric == "cosine" else "classifier"
    output = run.evaluator.output
    # the original's outputs on the ranking samples, only now that int8 missed the budget (None: a split model)
    rank_ref = None if reference_runner is None else _stack([reference_runner.infer(f) for f in ranking], output)
    # the ranking target in the kind's quality (agreement or cosine as a fraction), from the budget
    target = max(0.0, 1.0 - cfg.max_drop / 100.0)

    def evaluate(model: bytes) -> Any:
        from .runners import open_lite_runner

        with open_lite_runner(model, input_names=cal.input_names, flex_runtime=cfg.flex_runtime) as lite:
            got = [lite.infer(f) for f in ranking]
        return score_outputs(kind, rank_ref, _stack(got, output))

    progress("int8 techniques: activation ranges x bias correction")
    measured: dict[str, float | None] = {}

    def on_model(prepared: Any, model: bytes) -> None:  # each technique on the evaluation data
        if prepared.name != "minmax":  # minmax alone is uniform int8, already measured
            measured[prepared.name] = run.measure(_technique_candidate(prepared.name), "technique", QuantMode.INT8,
                                                  model, cal.input_names, cal.keep_float, technique=prepared.name).value

    # a recurrent model's LSTMs (cal.keep_float) stay float throughout
    scored = score_techniques(cal.calibrated, cal.activations, None if rank_ref is None else evaluate,
                              ranges=TECHNIQUE_RANGES, bias=(False, True), keep_float=cal.keep_float,
                              on_model=on_model)
    techniques: dict[str, dict[str, Any]] = {name: {} for name in scored.prepared}
    for row in scored.techniques:
        techniques[row.name]["ranking"] = row.score.to_dict()
    for name, value in measured.items():
        techniques[name]["evaluation"] = value
    search["techniques"] = techniques
    if scored.chosen is None:  # the techniques are measured end to end above; the search ranks on ranking samples
        search["skipped"] = "a split model: the int8 search ranks on the body's outputs, which the score does not read"
        return search
    chosen = scored.chosen.name
    search["technique"] = chosen
    technique = scored.prepared[chosen]
    if not any(c.in_budget for c in run.candidates if c.stage == "technique"):  # transformers: parts in float
        _keep_float_candidates(run, technique, cal, progress)
    if any(c.in_budget for c in run.candidates if c.stage == "technique") or cfg.max_evals == 0:
        return search
    f16 = run.named(QuantMode.FLOAT16.value)
    f32 = run.named(QuantMode.FLOAT32.value)
    max_size = f16.size_bytes if f16 is not None else (f32.size_bytes // 2 if f32 is not None else None)
    candidates = [op.name for op in CalibratedGraph(technique.ranged).compute_ops()]
    progress(f"sensitivity search on int8 {chosen}: reverting each of {min(len(candidates), cfg.max_rank)} ops")
    result = sensitivity_search(technique, evaluate, candidates, target=target, max_float=cfg.max_float,
                                max_rank=cfg.max_rank, max_size=max_size, beyond_target=cfg.beyond_target,
                                base_float=cal.keep_float, size_of=run.size_of, progress=progress)
    search.update(ran=True, ranking=[[n, loss] for n, loss in result.ranking],
                  steps=[step.to_dict() for step in result.steps], float_nodes=list(result.float_nodes),
                  ranking_evaluations=result.evaluations, ranking_target=target)
    passing = None
    base = len(result.base_float)
    for k in range(1, len(result.searched) + 1):  # the path, fewest float ops first
        if search["evaluations"] >= cfg.max_evals:
            break
        search["evaluations"] += 1
        nodes = result.float_nodes[:base + k]
        progress(f"mixed candidate {k}: {k} float op(s) on int8 {chosen}")
        cand = run.measure(f"mixed-{k}", "mixed", QuantMode.INT8, technique.quantize(nodes),
                           cal.input_names, nodes, technique=chosen)
        if cand.in_budget:
            passing = cand
            break
    search["stopped"] = ("budget met" if passing is not None else
                         "evaluation limit reached" if search["evaluations"] >= cfg.max_evals else
                         "the search's path ended")
    return search


def _technique_candidate(technique: str) -> str:
    """Candidate name of an int8 technique: minmax+bias -> int8-minmax-bias, mse -> int8-mse."""
    return "int8-" + technique.replace("+", "-")


def _choose(run: _Run, feed: Mapping[str, np.ndarray], input_names: Mapping[str, str]
            ) -> tuple[Candidate | None, Candidate | None]:
    """Benchmark the baseline and the candidates inside the budget; (winner, closest)."""
    cfg = run.cfg
    for i, c in enumerate(run.candidates):
        if (c.in_budget or c.stage == "baseline") and c.model is not None:
            run.candidates[i] = replace(c, latency_ms=_latency(c.model, cfg, feed, input_names))
    inside = [c for c in run.candidates if c.in_budget and c.error is None and c.stage != "baseline"]
    key = ((lambda c: (c.size_bytes, c.latency_ms)) if cfg.objective == "size"
           else (lambda c: (c.latency_ms, c.size_bytes)))
    winner = min(inside, key=key) if inside else None
    measured = [c for c in run.candidates if c.drop is not None and c.stage != "baseline"]
    closest = winner or (min(measured, key=lambda c: (c.drop, c.size_bytes)) if measured else None)
    return winner, closest


def _ship(job: OptimizeJob, prepared: Any, run: _Run, winner: Candidate, body_config: ConvertConfig, calibration: Sequence[Any], out: Path, notes: list[str],
          progress: Progress) -> tuple[Candidate, Conversion, MetadataResult | None]:
    """Write the winner. A technique or mixed winner is re-made by the public, recorded route
    (convert(..., int8_ranges=, bias_correction=, float_nodes=)) and re-measured on the evaluation data."""
    progress("writing the winner")
    ref_value = run.evaluator.reference_value
    if winner.technique is not None:
        ranges_method, _, bias = winner.technique.partition("+")
        final = convert(prepared.loaded, replace(body_config, quantize=QuantMode.INT8, int8_ranges=ranges_method,
                                                 bias_correction=bias == "bias", float_nodes=winner.float_nodes),
                        calibration=calibration)
        model = final.model
        value, _ = run.evaluator.run(model, final.input_names, run.evaluation, QuantMode.INT8)
        shipped = replace(winner, size_bytes=len(model), value=value, drop=ref_value - value,
                          in_budget=ref_value - value <= run.cfg.max_drop + 1e-9, model=model)
        if shipped.in_budget:  # re-measured: the report describes the file that is written
            run.candidates[run.candidates.index(winner)] = shipped
            winner = shipped
        else:  # cannot happen unless calibration is not deterministic; ship what was measured
            notes.append(f"convert(float_nodes=...) gave {shipped.value:.2f}; shipped the measured candidate")
            model = winner.model  # type: ignore[assignment]
    else:
        final = run.conversions[winner.name]  # a uniform recipe
        model = winner.model  # type: ignore[assignment]
    metadata: MetadataResult | None = None
    if job.metadata:
        progress("writing metadata")
        model, metadata = embed_model_metadata(
            model, name=model_name(prepared.resolved, winner.name), resolved=prepared.resolved, family=final.family,
            scalings=prepared.scalings, labels=job.labels, recipe={"name": winner.name},
            signature=prepared.entry.info.name)
        value, _ = run.evaluator.run(model, final.input_names, run.evaluation, QuantMode(winner.recipe))
        if abs(value - (winner.value or 0.0)) > 1e-9:  # the network must be the one measured
            raise RuntimeError(f"metadata changed the winner's metric ({winner.value} -> {value})")
    if prepared.split is not None:
        from .split_run import write_stages

        stages = write_stages(prepared.split, out, force=job.force)
        notes.append("the model was split: " + ", ".join(f"{k} -> {v['path']}" for k, v in stages.items()))
    atomic_write_bytes(out, model)
    return winner, final, metadata


#: Transformers: int8 with these parts kept in float (quantize/transformer.py), tried in order until one is in
#: the budget, before any op is floated one by one (an op alone changes nothing: the masked scores share a scale).
KEEP_FLOAT_STEPS = (("softmax",), ("softmax", "layernorm", "gelu"))


def _keep_float_candidates(run: _Run, prepared: Any, cal: Any, progress: Progress) -> list[Candidate]:
    """int8 of the chosen technique with the attention softmax path (then LayerNorm and GELU too) in float, for
    models with attention (a softmax of scaled or masked scores); the parts are found by kind in the one calibrated
    flatbuffer (as `convert --int8-keep-float` finds them). Stops at the first candidate inside the budget."""
    from .quantize.transformer import fragile_ops, has_attention

    if not has_attention(cal.calibrated):
        return []
    found = fragile_ops(cal.calibrated)
    measured: list[Candidate] = []
    for parts in dict.fromkeys(tuple(p for p in step if found[p]) for step in KEEP_FLOAT_STEPS):
        name = "int8-float-" + "-".join(parts)
        progress(f"quantizing {name}")
        nodes = tuple(dict.fromkeys(cal.keep_float + tuple(n for p in parts for n in found[p])))
        measured.append(run.measure(name, "technique", QuantMode.INT8, prepared.quantize(nodes), cal.input_names,
                                    nodes, technique=prepared.name))
        if measured[-1].in_budget:
            break
    return measured


def optimize_command(job: OptimizeJob) -> str:
    """The `hub2lite optimize` command that reproduces `job` (for the model card)."""
    c = job.optimize
    argv = ["optimize", job.source, "--data", job.data, "-o", job.output, "--max-drop", f"{c.max_drop:g}",
            "--metric", c.metric, "--objective", c.objective, "--seed", str(c.seed)]
    for flag, value in (("--calibration", job.calibration), ("--labels", job.labels),
                        ("--signature", job.convert.signature), ("--input-range", job.input_range),
                        ("--mean", job.mean), ("--std", job.std), ("--normalization-from", job.normalization_from)):
        if value is not None:
            argv += [flag, str(value)]
    if job.metadata:
        argv.append("--metadata")
    return command_line(argv)


def _write_card(job: OptimizeJob, report: Mapping[str, Any], winner: Candidate, conversion: Conversion | None,
                metadata: MetadataResult | None, out: Path) -> Path:
    """NAME.md beside the winner: its recipe and float layers, the metric against the budget, size and latency."""
    metric = report["metric"]
    notes = [f"chosen by `hub2lite optimize`: {winner.name} ({winner.stage}, {len(winner.float_nodes)} float "
             f"layer(s)); {metric['name']} {winner.value:.2f} vs the original's {metric['reference']:.2f} (budget: "
             f"drop <= {metric['max_drop']:g} points)"] + [f"float layer: {n}" for n in winner.float_nodes[:20]]
    card_report = {"source": report["source"], "versions": report["versions"], "notes": notes,
                   "conversion": {} if conversion is None else conversion.to_dict(), "validation": None,
                   "output": report["output"]}
    latency = None if winner.latency_ms is None else {"p50_ms": winner.latency_ms, "runs": job.optimize.bench_runs,
                                                       "threads": job.optimize.threads or "all",
                                                       "runtime": "ai_edge_litert"}
    return write_model_card(card_report, metadata=metadata, command=job.command or optimize_command(job),
                            latency=latency)


# --- the report ------------------------------------------------------------------------------------------


def _report(job: OptimizeJob, source: dict[str, Any], ref_value: float, candidates: Sequence[Candidate],
            winner: Candidate | None, closest: Candidate | None, search: dict[str, Any], split: dict[str, Any],
            conversion: Conversion | None, out: Path | None, notes: list[str],
            output: str, *, runtimes: Sequence[str] = ()) -> dict[str, Any]:
    from .report.format import versions

    return {
        "schema": OPTIMIZE_SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "source": source,
        "config": {**job.optimize.to_dict(), "data": job.data, "calibration": job.calibration,
                   "labels": job.labels, "convert": job.convert.to_dict()},
        "metric": {"name": job.optimize.metric, "output": output, "reference": round(ref_value, 4),
                   "reference_model": "the original (TensorFlow)", "max_drop": job.optimize.max_drop,
                   "floor": round(ref_value - job.optimize.max_drop, 4)},
        "data": split,
        "candidates": [c.to_dict() for c in candidates],
        "runtimes": {"original": "tensorflow", "candidates": list(runtimes)},
        "search": search,
        "winner": None if winner is None else winner.name,
        "closest": None if closest is None else closest.name,
        "passed": winner is not None,
        "conversion": None if conversion is None else conversion.to_dict(),
        "output": None if out is None else {"path": str(out), "size_bytes": out.stat().st_size,
                                            "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
                                            "model_card": str(model_card_path(out))},
        "notes": notes,
    }
