"""Run a split model: prepare the three parts, write MODEL.pre/ and MODEL.post/, validate end to end.

`prepare_split` turns an entry point into a `SplitModel`: the plan (split.py), the TF stage functions, and the
body written as a temporary SavedModel so that the ordinary convert path (ladder, quantization, calibration)
converts it like any other model. `body_feeds` maps the user's feeds through the prefix (calibration and
validation data for the body); `ChainRunner` runs prefix (TF) -> body (.tflite) -> suffix (TF) behind the
runners' interface, so `validate.compare_or_fail` judges it against the original like any candidate.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, ConversionError, OutputError
from .split import (FrozenGraph, SplitPlan, Stage, build_stages, freeze, plan_auto, plan_manual, probe_unconvertible,
                    save_stage)
from .specs import TensorSpec

__all__ = ["SplitModel", "SplitValidation", "prepare_split", "stage_paths", "write_stages", "body_feeds", "folder_size",
           "check_stage_paths", "chain_parts", "chain_runtime",
           "ChainRunner", "StageRunner", "validate_split", "remove_stages", "SplitConversion", "convert_split",
           "suggest_split", "open_body"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitModel:
    """An entry point cut into prefix/body/suffix. `body_dir` is a temporary SavedModel of the body (delete it
    with `close()`); `stages` holds the TF functions ("prefix", "body", "suffix", "reference")."""

    plan: SplitPlan
    graph: FrozenGraph = field(repr=False)
    stages: Mapping[str, Stage] = field(repr=False)
    body_dir: str
    blocking_ops: tuple[str, ...] = ()  # the op types cut out (auto); () for a manual cut
    notes: tuple[str, ...] = ()

    def close(self) -> None:
        shutil.rmtree(self.body_dir, ignore_errors=True)

    def to_dict(self) -> dict[str, Any]:
        return {**self.plan.to_dict(), "notes": list(self.notes)}


@dataclass(frozen=True)
class SplitValidation:
    """End to end (prefix -> body.tflite -> suffix vs the original) and body alone (body.tflite on the prefix's
    outputs vs the original's tensors at the body's outputs)."""

    end_to_end: Any  # validate.ValidationReport
    body: Any  # validate.ValidationReport

    @property
    def passed(self) -> bool:
        return bool(self.end_to_end.passed and self.body.passed)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "end_to_end": self.end_to_end.to_dict(), "body": self.body.to_dict()}


def prepare_split(concrete: Any, input_names: Mapping[str, str], *, body_inputs: Sequence[str] = (),
                  body_outputs: Sequence[str] = (), allow_select: bool = True, owner: Any = None,
                  workdir: str | os.PathLike[str] | None = None) -> SplitModel:
    """Cut `concrete` (a function built by convert.build_function; `input_names` its parameter -> model input
    map; `owner` the loaded model's object, which owns its lookup tables). With `body_inputs`/`body_outputs` the
    cut is where the user says. Otherwise it is found from the ops the converter cannot convert (with
    `allow_select=False`, Select TF ops count as unconvertible too); when the body would still need Select TF ops
    and cutting those out as well leaves a body that needs none, that wider cut is taken (noted)."""
    graph = freeze(concrete, input_names, owner=owner)
    if body_inputs or body_outputs:
        return _split_from_plan(graph, plan_manual(graph, body_inputs, body_outputs), (), workdir)
    custom, flex = probe_unconvertible(concrete, allow_select=allow_select)
    blocking = custom if allow_select else tuple(sorted(set(custom) | set(flex)))
    if not blocking:
        raise ConfigError("--split-unsupported: every op of this model converts; there is nothing to cut out",
                          hint="convert it without --split-unsupported")
    plan = plan_auto(graph, blocking)
    notes: list[str] = []
    body_flex = _body_select_ops(graph, plan) if allow_select else ()
    if body_flex:
        wider = tuple(sorted(set(blocking) | set(body_flex)))
        try:
            lean = plan_auto(graph, wider)
            left = _body_select_ops(graph, lean)
        except ConversionError as exc:
            lean, left = None, (exc.message,)
        if lean is not None and not left:
            plan, blocking = lean, wider
            notes.append(f"ops {list(body_flex)} (Select TF ops) were cut out of the body too, so it runs in LiteRT "
                         "without the Flex delegate")
        else:
            notes.append(f"the body needs Select TF ops {list(body_flex)}: cutting them out too left no body "
                         "that runs without them")
    return _split_from_plan(graph, plan, blocking, workdir, tuple(notes))


def _body_select_ops(graph: FrozenGraph, plan: SplitPlan) -> tuple[str, ...]:
    """The op types the body of `plan` would still need Select TF ops (or custom ops) for: one builtins-only probe.
    () when the probe fails for another reason (the real conversion will say why)."""
    body = build_stages(graph, plan)["body"]
    try:
        custom, flex = probe_unconvertible(body.fn, allow_select=False, trackables=body.trackables)
    except ConversionError:
        return ()
    return tuple(sorted(set(custom) | set(flex)))


def _split_from_plan(graph: FrozenGraph, plan: SplitPlan, blocking: tuple[str, ...],
                     workdir: str | os.PathLike[str] | None, notes: tuple[str, ...] = ()) -> SplitModel:
    stages = build_stages(graph, plan)
    body_dir = tempfile.mkdtemp(prefix="hub2lite-body-", dir=workdir)
    try:
        save_stage(stages["body"], body_dir)
    except BaseException:
        shutil.rmtree(body_dir, ignore_errors=True)
        raise
    log.info("split: %d op(s) before the body, %d after; body has %d", sum(plan.prefix_ops.values()),
             sum(plan.suffix_ops.values()), sum(plan.body_ops.values()))
    split = SplitModel(plan, graph, stages, body_dir, blocking, notes)
    weakref.finalize(split, shutil.rmtree, body_dir, True)  # a caller that forgets close() leaves no folder behind
    return split


def stage_paths(output: str | os.PathLike[str]) -> tuple[Path, Path]:
    """MODEL.tflite -> (MODEL.pre/, MODEL.post/) beside it."""
    p = Path(output)
    stem = p.with_suffix("") if p.suffix == ".tflite" else p
    return stem.with_name(stem.name + ".pre"), stem.with_name(stem.name + ".post")


def check_stage_paths(output: str | os.PathLike[str], *, force: bool) -> None:
    """Fail before any work when MODEL.pre/ or MODEL.post/ exists and --force was not given."""
    for p in stage_paths(output):
        if p.exists() and not force:
            raise OutputError(f"{str(p)!r} already exists", hint="pass --force to overwrite it, or choose another -o")


def folder_size(path: str | os.PathLike[str]) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def write_stages(split: SplitModel, output: str | os.PathLike[str], *, force: bool = False
                 ) -> dict[str, dict[str, Any]]:
    """Write the prefix and/or suffix SavedModels beside `output`; returns {"prefix"/"suffix": {"path", "size_bytes"}}.
    Each folder appears whole or not at all (written to a temporary sibling, then renamed)."""
    pre, post = stage_paths(output)
    written: dict[str, dict[str, Any]] = {}
    for key, dest in (("prefix", pre), ("suffix", post)):
        if key not in split.stages:
            continue
        if dest.exists() and not force:
            raise OutputError(f"{str(dest)!r} already exists",
                              hint="pass --force to overwrite it, or choose another -o")
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        try:
            save_stage(split.stages[key], str(tmp / "m"))
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(tmp / "m", dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        written[key] = {"path": str(dest), "size_bytes": folder_size(dest)}
    return written


def remove_stages(output: str | os.PathLike[str]) -> None:
    """Remove MODEL.pre/ and MODEL.post/ (a failed run leaves nothing half-written)."""
    for p in stage_paths(output):
        shutil.rmtree(p, ignore_errors=True)


def _numpy(value: Any) -> np.ndarray:
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


class StageRunner:
    """A TF stage (or the original's intermediate tensors, stage "reference") behind the runners' interface."""

    def __init__(self, stage: Stage, runtime: str = "tensorflow") -> None:
        self.stage = stage
        self.name = f"tensorflow:{stage.name}"
        self.runtime = runtime

    def input_specs(self) -> tuple[TensorSpec, ...]:
        return tuple(TensorSpec(t.name, t.dtype, t.shape) for t in self.stage.inputs)

    def infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: _numpy(v) for k, v in self.stage(feed).items()}


def body_feeds(split: SplitModel, feeds: Sequence[Mapping[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """The body's inputs for each feed of the model's inputs (the prefix's outputs; the feeds themselves when
    there is no prefix)."""
    names = [t.name for t in split.plan.body_inputs]
    if "prefix" not in split.stages:
        return [{n: np.asarray(f[n]) for n in names} for f in feeds]
    prefix = StageRunner(split.stages["prefix"])
    out = []
    for f in feeds:
        produced = prefix.infer(f)
        out.append({n: produced[n] for n in names})
    return out


def chain_parts(*, prefix: bool, suffix: bool) -> tuple[str, ...]:
    """The parts a split model runs, in order: ("prefix", "body", "suffix"), those it has."""
    return tuple(part for part, present in (("prefix", prefix), ("body", True), ("suffix", suffix)) if present)


def chain_runtime(parts: Sequence[str], body_runtime: str) -> str:
    """What runs each part: "prefix (TensorFlow) -> body (BODY_RUNTIME) -> suffix (TensorFlow)" (validation reports
    and the chain's latency name it alike)."""
    return " -> ".join(f"{part} ({body_runtime if part == 'body' else 'TensorFlow'})" for part in parts)


class ChainRunner:
    """prefix (TF) -> body (any runner, normally a LiteRunner on the body .tflite) -> suffix (TF)."""

    def __init__(self, split: SplitModel, body: Any) -> None:
        self.split = split
        self.body = body
        self.prefix = StageRunner(split.stages["prefix"]) if "prefix" in split.stages else None
        self.suffix = StageRunner(split.stages["suffix"]) if "suffix" in split.stages else None
        parts = chain_parts(prefix=self.prefix is not None, suffix=self.suffix is not None)
        self.runtime = chain_runtime(parts, body.runtime)
        self.name = "split:" + "+".join(parts)

    def input_specs(self) -> tuple[TensorSpec, ...]:
        return self.prefix.input_specs() if self.prefix else self.body.input_specs()

    def infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.after_prefix(self.before_body(feed))

    def before_body(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The model's inputs and the prefix's outputs for one sample: all the body and suffix read besides the
        body's own outputs (the same for every body: `optimize` computes them once per sample)."""
        values: dict[str, np.ndarray] = {k: np.asarray(v) for k, v in feed.items()}
        if self.prefix is not None:
            values.update(self.prefix.infer(feed))
        return values

    def after_prefix(self, before: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """body -> suffix on `before_body`'s values: the model's final outputs."""
        values = dict(before)
        plan = self.split.plan
        values.update(self.body.infer({t.name: values[t.name] for t in plan.body_inputs}))
        if self.suffix is not None:
            values.update(self.suffix.infer({t.name: values[t.name] for t in plan.suffix_inputs}))
        return {name: values[name] for name in plan.output_stage}


def validate_split(split: SplitModel, original: Any, body: Any, feeds: Sequence[Mapping[str, np.ndarray]],
                   tolerance: Any, *, task: str = "auto") -> SplitValidation:
    """Both checks with validate.compare_or_fail: `original` is a runner of the whole model (runners.TFRunner),
    `body` a runner of the body .tflite (runners.LiteRunner)."""
    from .validate import compare_or_fail

    if not feeds:
        raise ConfigError("no validation samples for the split model", hint="give --samples 1 or more")
    end_to_end = compare_or_fail(original, ChainRunner(split, body), feeds, tolerance, task=task)[0]
    reference = StageRunner(split.stages["reference"], runtime="tensorflow (original, intermediate tensors)")
    inner_feeds = body_feeds(split, feeds)
    # the reference reads the model's inputs; the body its own: pair them sample by sample
    ref = [reference.infer(f) for f in feeds]
    from .validate import CandidateRunError, ValidationReport, compare, run_candidate

    try:
        got = run_candidate(body, inner_feeds, "the body .tflite")
        body_report = compare(ref, got, tolerance, task=task,
                              runtimes={"original": reference.runtime, "candidate": body.runtime})
    except CandidateRunError as exc:
        body_report = ValidationReport(False, len(feeds), tolerance, (), (str(exc),),
                                       {"original": reference.runtime, "candidate": body.runtime})
    return SplitValidation(end_to_end, body_report)


@dataclass(frozen=True)
class SplitConversion:
    """What `convert_split` made: the body's Conversion, the split, and (when validated) both checks."""

    split: SplitModel
    conversion: Any  # convert.Conversion of the body
    validation: SplitValidation | None
    body_runtime: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**self.split.to_dict(), "body_runtime": self.body_runtime,
                "body_validation": None if self.validation is None else self.validation.body.to_dict()}


def convert_split(entry: Any, specs: Sequence[TensorSpec], config: Any, *, owner: Any = None,
                  body_inputs: Sequence[str] = (), body_outputs: Sequence[str] = (),
                  calibration: Sequence[Mapping[str, np.ndarray]] | None = None,
                  validation_feeds: Sequence[Mapping[str, np.ndarray]] | None = None, tolerance: Any = None,
                  task: str = "auto") -> SplitConversion:
    """Split `entry` (its inputs planned as `specs`), convert the body with `config` (a convert.ConvertConfig: ladder,
    ops policy, quantization; calibration samples are the model's inputs, mapped through the prefix here) and,
    with `validation_feeds`, validate end to end and the body alone. The caller writes files and closes
    `result.split` (its temporary body SavedModel)."""
    from dataclasses import replace

    from .convert import build_function
    from .runners import LiteRunner, TFRunner
    from .specs import OpsPolicy

    concrete, names = build_function(entry, tuple(specs))
    split = prepare_split(concrete, names, body_inputs=body_inputs, body_outputs=body_outputs, owner=owner,
                          allow_select=config.ops_policy is not OpsPolicy.BUILTINS)
    body_config = replace(config, signature=None, input_shapes={}, keep_dynamic=True)
    try:
        conversion = _convert_body(split, body_config, calibration)
        validation = None
        runtime = None
        if validation_feeds is not None:
            body = LiteRunner(conversion.model, input_names=conversion.input_names)
            runtime = body.runtime
            validation = validate_split(split, TFRunner(entry, tuple(specs)), body, validation_feeds, tolerance,
                                        task=task)
        return SplitConversion(split, conversion, validation, runtime)
    except BaseException:
        split.close()
        raise


def _convert_body(split: SplitModel, config: Any, calibration: Sequence[Mapping[str, np.ndarray]] | None) -> Any:
    from .convert import convert
    from .load import load
    from .resolve import resolve

    return convert(load(resolve(split.body_dir)), config,
                   calibration=None if calibration is None else body_feeds(split, calibration))


def suggest_split(entry: Any, specs: Sequence[TensorSpec], blocking_ops: Sequence[str], source: str, *,
                  owner: Any = None, extra_args: Sequence[str] = ()) -> dict[str, Any]:
    """What `inspect` says for a model with ops no strategy converts: the cheapest split and the command to run.
    {"command", "plan" (one line), "cut_ops", "prefix_ops", "suffix_ops", "body_ops"}; raises ConversionError when
    no cut leaves a body."""
    import shlex

    from .convert import build_function
    from .split import describe_plan

    concrete, names = build_function(entry, tuple(specs))
    plan = plan_auto(freeze(concrete, names, owner=owner), blocking_ops)
    command = ["hub2lite", "convert", source, "-o", "model.tflite", *extra_args, "--split-unsupported"]
    return {"command": " ".join(shlex.quote(c) for c in command), "plan": describe_plan(plan),
            "cut_ops": list(plan.cut_ops), "prefix_ops": dict(plan.prefix_ops), "suffix_ops": dict(plan.suffix_ops),
            "body_op_count": sum(plan.body_ops.values())}


def open_body(entry: Any, specs: Sequence[TensorSpec], config: Any, *, owner: Any = None) -> tuple[SplitModel, Any]:
    """For `prepare`: split `entry` as `config` asks (convert.ConvertConfig: `split_unsupported`, `body_inputs`,
    `body_outputs`, `ops_policy`) and load the body as a model of its own: (SplitModel, LoadedModel of the body).
    Every command then converts, calibrates and validates the body like any model, on feeds mapped through the
    prefix (`body_feeds`)."""
    from .convert import build_function
    from .load import load
    from .resolve import resolve
    from .specs import OpsPolicy

    concrete, names = build_function(entry, tuple(specs))
    split = prepare_split(concrete, names, body_inputs=tuple(config.body_inputs),
                          body_outputs=tuple(config.body_outputs),
                          allow_select=config.ops_policy is not OpsPolicy.BUILTINS, owner=owner)
    try:
        return split, load(resolve(split.body_dir))
    except BaseException:
        split.close()
        raise
