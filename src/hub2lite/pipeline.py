"""The only place that sequences stages and writes files.

    run_inspect(source)              -> ModelInfo
    run_convert(ConvertJob)          -> ConvertResult   (writes model.tflite + model.report.json)
    run_validate(ValidateJob)        -> ValidationReport
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ._files import atomic_write_bytes, atomic_write_text, check_output_path
from .artifacts import embed_model_metadata, model_name, write_model_card
from .convert import Conversion, ConvertConfig, convert
from .custom_ops import require_kernels
from .errors import ConfigError, FlexRuntimeError
from .split_run import check_stage_paths, remove_stages, write_stages
from .inspect import ModelInfo, inspect_model
from .load import EntryPoint, LoadedModel, LoadOptions
from .metadata.describe import recorded_scaling
from .metadata.support import check_metadata_support
from .model_card import command_line, model_card_path
from .options import (CalibrationOptions, DataOptions, ScalingFlags, check_data_options,
                      check_quantized_validation, check_scaling_flags)
from .prepare import PrepareOptions, open_model, prepare, scalings_for, text_plan_for, validation_inputs
from .text_encoder import TextOptions, TextPlan
from .quantize.recipes import recipe_for
from .report import convert_report
from .runners import FlexRunner, LiteRunner, TFRunner, open_lite_runner
from .specs import FLOAT_DTYPES, QuantMode, TensorSpec
from .tflite_file import read_model_bytes
from .validate import Tolerance, ValidationReport, compare_or_fail, default_tolerance, stack_outputs

__all__ = ["ValidateConfig", "ConvertJob", "ConvertResult", "ValidateJob", "run_inspect", "run_convert",
           "run_validate", "report_path_for", "load_source", "validation_document"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class ValidateConfig:
    enabled: bool = True
    samples: int = 8
    seed: int = 0
    data: str | None = None  # .npy / .npz / image folder; synthetic seeded inputs when None
    tolerance: Tolerance | None = None  # default: per quantization mode
    task: str = "auto"  # auto | classification | embedding | other (validate.TASKS)
    labels: str | None = None  # labels file: output index -> class name (accuracy.load_labels)
    load_inputs: str | None = None  # folder written by save_inputs: replaces data / synthetic inputs
    save_inputs: str | None = None  # folder: save the exact inputs (and, on failure, both models' outputs)
    outputs_dir: str | None = None  # folder: on failure, save both models' outputs and the inputs
    flex_runtime: bool = True  # run Select-TF-ops models in the Flex runtime (False: their validation is "not run")

    def to_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "samples": self.samples, "seed": self.seed, "data": self.data,
                "flex_runtime": self.flex_runtime,
                "tolerance": None if self.tolerance is None else self.tolerance.to_dict(), "task": self.task,
                "labels": self.labels, "load_inputs": self.load_inputs, "save_inputs": self.save_inputs,
                "outputs_dir": self.outputs_dir}


@dataclass(frozen=True)
class ConvertJob:
    source: str
    output: str
    convert: ConvertConfig = field(default_factory=ConvertConfig)
    validate: ValidateConfig = field(default_factory=ValidateConfig)
    calibration: str | None = None  # path, or "synthetic"
    calibration_samples: int = 200
    force: bool = False
    cache_dir: str | None = None
    timeout: float | None = None  # seconds a hub fetch may wait for the server (None: resolve.DEFAULT_TIMEOUT)
    tags: tuple[str, ...] | None = None
    load_options: LoadOptions = field(default_factory=LoadOptions)  # --unsafe-keras, --input-names/--output-names
    input_range: str | None = None  # "0,1" | "-1,1" | "0,255" | "LOW,HIGH" for float image inputs
    mean: str | None = None  # "127.5" or "123.7,116.3,103.5": input = (pixel - mean) / std
    std: str | None = None
    calibration_seed: int = 0  # seeded selection of the calibration samples
    metadata: bool = False  # embed TFLite metadata (labels from validate.labels or the hub assets)
    normalization_from: str | None = None  # a .tflite whose metadata gives the input normalization
    command: str | None = None  # the command line the model card shows (default: rebuilt from the job)
    vocab: str | None = None  # text encoders: WordPiece vocab.txt for text --data/--calibration (default: the model's)


@dataclass(frozen=True)
class ConvertResult:
    output: Path
    report_path: Path
    conversion: Conversion
    validation: ValidationReport | None
    report: dict[str, Any]

    @property
    def passed(self) -> bool:
        return self.validation is None or self.validation.passed


def report_path_for(output: str | Path) -> Path:
    p = Path(output)
    return p.with_name((p.stem if p.suffix == ".tflite" else p.name) + ".report.json")


def load_source(source: str, *, cache_dir: str | None = None, tags: tuple[str, ...] | None = None,
                timeout: float | None = None, options: LoadOptions | None = None) -> LoadedModel:
    return open_model(source, cache_dir=cache_dir, tags=tags, timeout=timeout, options=options)[1]


def run_inspect(source: str, *, signature: str | None = None, cache_dir: str | None = None,
                tags: tuple[str, ...] | None = None, probe: bool = True,
                config: ConvertConfig | None = None, timeout: float | None = None,
                load_options: LoadOptions | None = None, tensors: bool = False,
                vocab: str | None = None) -> ModelInfo:
    return inspect_model(load_source(source, cache_dir=cache_dir, tags=tags, timeout=timeout, options=load_options),
                         signature, probe=probe, config=config, tensors=tensors, vocab=vocab)


def prepare_options(job: ConvertJob) -> PrepareOptions:
    """What `prepare` needs from a convert job: shapes, scaling flags, calibration for its one recipe."""
    mode = job.convert.quantize
    needs = bool(recipe_for(mode).needs_calibration and job.calibration) or bool(job.validate.data) or job.metadata
    return PrepareOptions(convert=job.convert, scaling=_scaling_flags(job),
                          calibration=CalibrationOptions(job.calibration, job.calibration_samples,
                                                         job.calibration_seed),
                          modes=(mode,), needs_scaling=needs, cache_dir=job.cache_dir, tags=job.tags,
                          timeout=job.timeout, load_options=job.load_options, text=TextOptions(job.vocab))


def _scaling_flags(job: ConvertJob) -> ScalingFlags:
    return ScalingFlags(job.input_range, job.mean, job.std, job.normalization_from)


def convert_command(job: ConvertJob) -> str:
    """The `hub2lite convert` command that reproduces `job` (for the model card)."""
    c, v = job.convert, job.validate
    argv = [job.source, "-o", job.output]
    if c.signature:
        argv += ["--signature", c.signature]
    for name, dims in c.input_shapes.items():
        argv += ["--input-shape", f"{name}={','.join(map(str, dims))}"]
    flags = [("--quantize", c.quantize.value if c.quantize is not QuantMode.FLOAT32 else None),
             ("--io-type", c.io_type), ("--calibration", job.calibration),
             ("--input-range", job.input_range), ("--mean", job.mean), ("--std", job.std),
             ("--normalization-from", job.normalization_from), ("--data", v.data if v.enabled else None),
             ("--labels", v.labels)]
    for flag, value in flags:
        if value is not None:
            argv += [flag, str(value)]
    if job.calibration and job.calibration_samples != 200:
        argv += ["--calibration-samples", str(job.calibration_samples)]
    if c.ops_policy.value == "builtins":
        argv.append("--no-flex")
    if not v.enabled:
        argv.append("--no-validate")
    if job.metadata:
        argv.append("--metadata")
    return command_line(["convert", *argv])


def run_convert(job: ConvertJob, *, progress: Progress = _quiet) -> ConvertResult:
    mode = job.convert.quantize
    check_quantized_validation(mode, job.validate.enabled)
    check_scaling_flags(_scaling_flags(job))
    if job.metadata:
        check_metadata_support()
    out = check_output_path(job.output, force=job.force)
    report_path = check_output_path(report_path_for(out), force=job.force)
    card_path = check_output_path(model_card_path(out), force=job.force)
    if job.validate.enabled:
        _check_validation_outputs(job.validate, force=job.force)
    if job.convert.split_requested:
        check_stage_paths(out, force=job.force)
    prepared = prepare(job.source, prepare_options(job), progress=progress)
    try:
        return _convert_prepared(job, prepared, out, report_path, card_path, progress)
    finally:
        if prepared.split is not None:
            prepared.split.close()


def _convert_prepared(job: ConvertJob, prepared: Any, out: Path, report_path: Path, card_path: Path,
                      progress: Progress) -> ConvertResult:
    mode = job.convert.quantize
    resolved, loaded, entry, scalings = prepared.resolved, prepared.loaded, prepared.entry, dict(prepared.scalings)
    calibration, calib_info = prepared.calibration, prepared.calibration_info
    progress("converting")
    log.info("converting %r (%s)", entry.info.name, mode.value)
    conversion = convert(loaded, prepared.convert_config(job.convert), calibration=calibration)
    metadata = None
    if job.metadata:
        progress("writing metadata")
        model, metadata = embed_model_metadata(conversion.model, name=model_name(resolved, mode.value),
                                               resolved=resolved,
                                               family=conversion.family, scalings=scalings, labels=job.validate.labels,
                                               recipe=conversion.recipe, signature=entry.info.name)
        conversion = replace(conversion, model=model)
    validation = None
    split_info: dict[str, Any] | None = None
    notes = list((prepared.original_model or loaded).notes) + (list(prepared.notes) if prepared.split else [])
    if conversion.custom_ops:
        names = sorted({op.name for op in conversion.custom_ops})
        notes.append(f"not validated: the model needs kernels for its custom ops {names}, which no runtime here has")
    elif job.validate.enabled:
        progress("validating")
        vcfg = job.validate
        if job.metadata and not (vcfg.data or vcfg.load_inputs):
            vcfg = replace(vcfg, labels=None)  # the labels are for the metadata; synthetic inputs have none
        if prepared.split is not None:
            validation, split_info = _validate_split(prepared, conversion, vcfg, mode, source=job.source,
                                                     output=str(out))
        else:
            validation = _validate(entry, conversion, vcfg, mode, scalings, force=job.force, source=job.source,
                                   output=str(out), loaded=loaded, text=prepared.text)
    progress("writing")
    if job.force:  # never leave the new model next to the old report (a crash between the two writes)
        report_path.unlink(missing_ok=True)
        card_path.unlink(missing_ok=True)
    stages: dict[str, Any] = {}
    try:
        if prepared.split is not None:
            stages = write_stages(prepared.split, out, force=job.force)
        atomic_write_bytes(out, conversion.model)
        output = {"path": str(out), "report": str(report_path), "model_card": str(card_path),
                  "size_bytes": conversion.size_bytes, "sha256": hashlib.sha256(conversion.model).hexdigest(),
                  "metadata": None if metadata is None else metadata.to_dict()}
        report = convert_report(resolved=resolved.to_dict(), model_format=prepared.reference_format,
                                config={"convert": job.convert.to_dict(), "validate": job.validate.to_dict(),
                                        "calibration": job.calibration,
                                        "calibration_samples": job.calibration_samples,
                                        "input_scaling": {n: sc.to_dict() for n, sc in scalings.items()}},
                                conversion=conversion.to_dict(),
                                validation=None if validation is None else validation.to_dict(),
                                output=output, calibration=calib_info, notes=notes)
        if prepared.split is not None:
            report["split"] = {**prepared.split.to_dict(), **(split_info or {"body_validation": None}),
                               "files": stages}
        write_model_card(report, metadata=metadata, command=job.command or convert_command(job))
        atomic_write_text(report_path, json.dumps(report, indent=2, sort_keys=False) + "\n")
    except BaseException:
        if stages:
            remove_stages(out)  # nothing half-written: the stages go with a model or report that failed
        raise
    return ConvertResult(out, report_path, conversion, validation, report)


def _validate_split(prepared: Any, conversion: Conversion, cfg: ValidateConfig, mode: QuantMode, *,
                    source: str, output: str) -> tuple[ValidationReport, dict[str, Any]]:
    """A split model: prefix (TF) -> body (.tflite) -> suffix (TF) against the original on the same inputs (the
    report's `validation`), and the body alone against the original's tensors at the cut (`split.body_validation`)."""
    from .split_run import validate_split

    inputs = validation_inputs(prepared.specs, DataOptions(cfg.data, cfg.samples, cfg.seed, cfg.load_inputs),
                               prepared.scaling, text=prepared.text)
    original = {"source": source, "signature": prepared.reference.info.name}
    tflite = {"path": output, "size_bytes": conversion.size_bytes,
              "sha256": hashlib.sha256(conversion.model).hexdigest()}
    try:
        with open_lite_runner(conversion.model, input_names=conversion.input_names,
                              flex_runtime=cfg.flex_runtime) as body:  # a body that kept Select TF ops: Flex runtime
            result = validate_split(prepared.split, TFRunner(prepared.reference, prepared.specs), body, inputs.feeds,
                                    cfg.tolerance or default_tolerance(mode), task=cfg.task)
            tflite["signature"] = body.signature_key
            runtime = body.runtime
    except FlexRuntimeError as exc:
        return not_run_report(exc, cfg, mode, original=original, tflite=tflite), {"body_validation": None}
    end_to_end = replace(result.end_to_end, mode=mode.value, inputs=inputs.info, tflite=tflite, original=original)
    body_report = replace(result.body, mode=mode.value, inputs=inputs.info, tflite=tflite, original=original)
    return end_to_end, {"body_validation": body_report.to_dict(), "body_runtime": runtime}


def _validate(entry: EntryPoint, conversion: Conversion, cfg: ValidateConfig, mode: QuantMode,
              scalings: dict[str, Any] | None = None, *, force: bool = False, source: str | None = None,
              output: str | None = None, loaded: LoadedModel | None = None,
              text: TextPlan | None = None) -> ValidationReport:
    tflite = {"path": output, "size_bytes": conversion.size_bytes,
              "sha256": hashlib.sha256(conversion.model).hexdigest()}
    try:
        if conversion.parts or _dynamic_audio(conversion):
            return _validate_family(loaded, entry, conversion, cfg, mode, force=force, source=source, output=output)
        scaling = next(iter(scalings.values())) if scalings and len(conversion.inputs) == 1 else None
        with open_lite_runner(conversion.model, input_names=conversion.input_names,
                              flex_runtime=cfg.flex_runtime) as lite:
            return _compare_models(TFRunner(entry), lite, conversion.inputs, cfg, mode, scaling=scaling, force=force,
                                   text=text, original={"source": source, "signature": entry.info.name},
                                   tflite={**tflite, "signature": lite.signature_key})
    except FlexRuntimeError as exc:
        return not_run_report(exc, cfg, mode, original={"source": source, "signature": entry.info.name},
                              tflite=tflite)


def not_run_report(exc: FlexRuntimeError, cfg: ValidateConfig, mode: QuantMode, *,
                   original: dict[str, Any] | None = None, tflite: dict[str, Any] | None = None) -> ValidationReport:
    """The report of a validation that could not run: a Select-TF-ops model and no Flex runtime. Never a pass."""
    log.warning("validation not run: %s", exc)
    return ValidationReport.not_run_because(str(exc), cfg.tolerance or default_tolerance(mode), mode=mode.value,
                                            runtimes={"original": "tensorflow", "candidate": "none (needs the Flex "
                                                      "runtime)"}, original=original, tflite=tflite)


def _dynamic_audio(conversion: Conversion) -> bool:
    return (conversion.family.get("family") == "audio"
            and any(s.is_dynamic for s in conversion.inputs if s.name in conversion.family.get("keep_dynamic_inputs", ())))


def _validate_family(loaded: LoadedModel | None, entry: EntryPoint, conversion: Conversion, cfg: ValidateConfig,
                     mode: QuantMode, *, force: bool, source: str | None, output: str | None) -> ValidationReport:
    """Validation the model's family needs beyond one run: every signature of a `--signature all` .tflite through
    its own signature runner (outputs named 'signature/output'), and a variable-length audio input at several
    lengths (outputs named 'output@length'). One merged report; it passes only if every run passes."""
    from dataclasses import replace

    from .families import AUDIO_VALIDATION_LENGTHS

    tflite = {"path": output, "size_bytes": conversion.size_bytes,
              "sha256": hashlib.sha256(conversion.model).hexdigest()}
    runs: list[tuple[str, ValidationReport]] = []
    if conversion.parts:
        if loaded is None:
            raise ConfigError("validating several signatures needs the loaded model")
        for part in conversion.parts:
            with open_lite_runner(conversion.model, signature_key=part.key, input_names=part.input_names,
                                  flex_runtime=cfg.flex_runtime) as lite:
                runs.append((part.key, _compare_models(
                    TFRunner(loaded.entries[part.signature.name]), lite, part.inputs, cfg, mode, force=force,
                    original={"source": source, "signature": part.signature.name},
                    tflite={**tflite, "signature": part.key})))
    else:
        with open_lite_runner(conversion.model, input_names=conversion.input_names,
                              flex_runtime=cfg.flex_runtime) as lite:
            for length in AUDIO_VALIDATION_LENGTHS:
                specs = tuple(s if s.shape is None else replace(s, shape=tuple(
                    (length if i == len(s.shape) - 1 else 1) if d is None else d for i, d in enumerate(s.shape)))
                    for s in conversion.inputs)
                runs.append((str(length), _compare_models(
                    TFRunner(entry), lite, specs, cfg, mode, force=force,
                    original={"source": source, "signature": entry.info.name},
                    tflite={**tflite, "signature": lite.signature_key})))
    outputs = []
    for label, r in runs:
        outputs += [replace(o, name=f"{label}/{o.name}" if conversion.parts else f"{o.name}@{label}") for o in r.outputs]
    first = runs[0][1]
    what = (f"signatures {', '.join(k for k, _ in runs)}" if conversion.parts
            else f"waveform lengths {', '.join(k for k, _ in runs)}")
    return replace(first, passed=all(r.passed for _, r in runs), samples=sum(r.samples for _, r in runs),
                   outputs=tuple(outputs), problems=tuple(f"{k}: {p}" for k, r in runs for p in r.problems),
                   accuracy=None, notes=tuple(dict.fromkeys(n for _, r in runs for n in r.notes))
                   + (f"validated {what} separately",))


def _check_validation_outputs(cfg: ValidateConfig, *, force: bool) -> None:
    """Fail before any work when a folder for saved inputs / outputs cannot take the files."""
    from .inputs_io import prepare_folder

    check_data_options(DataOptions(cfg.data, cfg.samples, cfg.seed, cfg.load_inputs))
    if cfg.save_inputs:
        prepare_folder(cfg.save_inputs, ["inputs.npz", "inputs.json", "outputs-original.npz", "outputs-tflite.npz"],
                       force=force)
    if cfg.outputs_dir:
        prepare_folder(cfg.outputs_dir, ["outputs-original.npz", "outputs-tflite.npz"]
                       + ([] if cfg.save_inputs else ["inputs.npz", "inputs.json"]), force=force)


def _compare_models(runner: TFRunner, lite: LiteRunner | FlexRunner, specs: Sequence[TensorSpec], cfg: ValidateConfig,
                    mode: QuantMode, *, scaling: Any = None, force: bool = False, text: TextPlan | None = None,
                    original: dict[str, Any] | None = None, tflite: dict[str, Any] | None = None) -> ValidationReport:
    """Run both models on the same inputs, compare every output, measure labeled accuracy when the inputs have
    labels, and save the inputs (--save-inputs) and, on failure, both models' outputs."""
    from dataclasses import replace

    from .accuracy import accuracy_from_outputs
    from .inputs_io import save_inputs, save_outputs

    inputs = validation_inputs(specs, DataOptions(cfg.data, cfg.samples, cfg.seed, cfg.load_inputs), scaling,
                               text=text)
    feeds, labels, input_info = inputs.feeds, inputs.labels, dict(inputs.info)
    classes = None if inputs.classes is None else list(inputs.classes)
    artifacts: dict[str, str] = {}
    if cfg.save_inputs:
        artifacts.update(save_inputs(cfg.save_inputs, feeds, labels=labels, source=input_info, classes=classes,
                                     force=force))
        input_info["saved_to"] = str(cfg.save_inputs)
    report, ref, got = compare_or_fail(runner, lite, feeds, cfg.tolerance or default_tolerance(mode), task=cfg.task)
    notes = list(report.notes)
    if not got:  # the .tflite could not run: nothing more to measure
        return replace(report, mode=mode.value, original=original or {}, tflite=tflite or {}, inputs=input_info,
                       artifacts=artifacts, notes=tuple(notes))
    ref_stacked, got_stacked = stack_outputs(ref), stack_outputs(got)
    if labels is not None or cfg.labels:
        if labels is None:
            raise ConfigError("--labels needs labeled inputs",
                              hint="give --data as an image folder (class_name/*.jpg) or an .npz with x and y")
        accuracy, skipped = accuracy_from_outputs(report, ref_stacked, got_stacked, labels, labels_file=cfg.labels,
                                                  folder_classes=classes)
        report = report.with_accuracy(accuracy)
        notes.extend(skipped)
    if not report.passed and (cfg.outputs_dir or cfg.save_inputs):
        folder = cfg.outputs_dir or cfg.save_inputs
        if not cfg.save_inputs:
            artifacts.update(save_inputs(folder, feeds, labels=labels, source=input_info, classes=classes, force=force))
        by_original = {o.tflite_name or o.name: o.name for o in report.outputs}
        artifacts.update(save_outputs(folder, ref_stacked, {by_original.get(k, k): v for k, v in got_stacked.items()},
                                      force=force))
    return replace(report, mode=mode.value, original=original or {}, tflite=tflite or {}, inputs=input_info,
                   artifacts=artifacts, notes=tuple(notes))


@dataclass(frozen=True)
class ValidateJob:
    source: str
    tflite: str
    signature: str | None = None
    tflite_signature: str | None = None
    validate: ValidateConfig = field(default_factory=ValidateConfig)
    mode: QuantMode | None = None  # None: read from the .tflite (tflite_file.infer_quant_mode)
    tolerance_overrides: Mapping[str, float | None] = field(default_factory=dict)  # with an inferred mode
    cache_dir: str | None = None
    timeout: float | None = None  # seconds a hub fetch may wait for the server
    tags: tuple[str, ...] | None = None
    load_options: LoadOptions = field(default_factory=LoadOptions)
    report: str | None = None  # write the JSON report (schema hub2lite.validate/1) here
    force: bool = False  # overwrite the report / saved inputs and outputs
    input_range: str | None = None  # image input scaling, as for convert (flags > model > default [0,1])
    mean: str | None = None
    std: str | None = None
    normalization_from: str | None = None  # default: the checked .tflite's metadata, when it records one
    vocab: str | None = None  # text encoders: WordPiece vocab.txt for a text --data (default: the model's)


def _match_names(lite: LiteRunner | FlexRunner, entry: EntryPoint) -> dict[str, str]:
    """Map the .tflite's input names to the original's: exact, then identifier-sanitised, then single input."""
    import re

    originals = [s.name for s in entry.info.inputs]
    tnames = list(lite.input_details())
    sanitized = {re.sub(r"\W", "_", n): n for n in originals}
    mapping = {}
    for t in tnames:
        if t in originals:
            mapping[t] = t
        elif t in sanitized:
            mapping[t] = sanitized[t]
    if len(mapping) < len(tnames) and len(tnames) == len(originals) == 1:
        mapping = {tnames[0]: originals[0]}
    if len(mapping) < len(tnames) or set(mapping.values()) != set(originals):
        raise ConfigError(f"cannot match the .tflite inputs {tnames} to the original's inputs {originals}",
                          hint="choose the matching signatures with --signature / --tflite-signature")
    return mapping


def check_inputs_fit(lite_specs: Sequence[TensorSpec], entry: EntryPoint) -> None:
    """Names are matched; now dtypes and shapes: a .tflite of another model must fail here, not in TF's C++."""
    for s in lite_specs:
        o = entry.info.input(s.name)
        what = f"the .tflite input {s.name!r} is {s.dtype}{s.shape_str} but the original's is {o.dtype}{o.shape_str}"
        quantized_io = o.dtype in FLOAT_DTYPES and s.dtype in ("int8", "uint8", "int16")
        if s.dtype != o.dtype and not quantized_io and not (o.dtype in FLOAT_DTYPES and s.dtype in FLOAT_DTYPES):
            raise ConfigError(what, hint="check that the .tflite was converted from this model (and --signature)")
        if o.shape is None or s.shape is None:
            continue
        if len(o.shape) != len(s.shape) or any(a is not None and b is not None and a != b
                                               for a, b in zip(o.shape, s.shape)):
            raise ConfigError(what, hint="check that the .tflite was converted from this model (and --signature)")


def resolve_mode(job: ValidateJob, model: bytes) -> tuple[QuantMode, str]:
    """--mode when given, else the mode read from the .tflite itself; with the reason."""
    if job.mode is not None:
        return job.mode, "--mode"
    from .tflite_file import infer_quant_mode

    value, evidence = infer_quant_mode(model)
    return QuantMode(value), f"inferred from the .tflite: {evidence}"


def run_validate(job: ValidateJob, *, progress: Progress = _quiet) -> ValidationReport:
    model = read_model_bytes(job.tflite)
    require_kernels(model, repr(str(job.tflite)))  # custom ops (--allow-custom-ops): one line, before any work
    report_path = check_output_path(job.report, force=job.force) if job.report else None
    _check_validation_outputs(job.validate, force=job.force)
    flags = ScalingFlags(job.input_range, job.mean, job.std, job.normalization_from)
    check_scaling_flags(flags)
    mode, why = resolve_mode(job, model)
    progress("loading")
    loaded = load_source(job.source, cache_dir=job.cache_dir, tags=job.tags, timeout=job.timeout,
                         options=job.load_options)
    entry = loaded.choose(job.signature)
    original = {"source": job.source, "signature": entry.info.name}
    tflite = {"path": str(job.tflite), "size_bytes": len(model), "sha256": hashlib.sha256(model).hexdigest()}
    try:
        lite = open_lite_runner(model, signature_key=job.tflite_signature, flex_runtime=job.validate.flex_runtime)
    except FlexRuntimeError as exc:
        report = not_run_report(exc, job.validate, mode, original=original, tflite=tflite)
        if report_path is not None:
            atomic_write_text(report_path, json.dumps(validation_document(report), indent=2) + "\n")
        return report
    with lite:
        return _run_validate(job, model, mode, why, entry, lite, flags, report_path, original, tflite, progress,
                             model_dir=loaded.resolved.path)


def _run_validate(job: ValidateJob, model: bytes, mode: QuantMode, why: str, entry: EntryPoint,
                  lite: LiteRunner | FlexRunner, flags: ScalingFlags, report_path: Path | None,
                  original: dict[str, Any], tflite: dict[str, Any], progress: Progress, *,
                  model_dir: str | None = None) -> ValidationReport:
    lite.input_names = _match_names(lite, entry)
    check_inputs_fit(lite.input_specs(), entry)
    progress("validating")
    # the .tflite's shapes, the original's dtypes: an integer-I/O model is fed float data it quantizes itself
    specs = tuple(replace(s, dtype=entry.info.input(s.name).dtype) for s in lite.input_specs())
    needs = bool(job.validate.data) and len(specs) == 1
    if needs and flags == ScalingFlags() and recorded_scaling(model, where=str(job.tflite)) is not None:
        flags = replace(flags, normalization_from=str(job.tflite))  # no flag given: what the .tflite records
    scalings = scalings_for(entry, specs, flags, needs)
    scaling = scalings.get(specs[0].name) if needs else None
    text = text_plan_for(entry, specs, model_dir, TextOptions(job.vocab))
    cfg = job.validate if job.validate.tolerance is not None else replace(
        job.validate, tolerance=default_tolerance(mode, **dict(job.tolerance_overrides)))
    report = _compare_models(TFRunner(entry), lite, specs, cfg, mode, scaling=scaling, force=job.force, text=text,
                             original=original, tflite={**tflite, "signature": lite.signature_key})
    report = replace(report, notes=report.notes + (f"mode {mode.value} ({why})",))
    if report_path is not None:
        atomic_write_text(report_path, json.dumps(validation_document(report), indent=2) + "\n")
    return report


def validation_document(report: ValidationReport) -> dict[str, Any]:
    """The standalone JSON report of `hub2lite validate` (docs/report-schema.md): the validation plus when and
    with which versions it ran."""
    from .report.format import versions

    data = report.to_dict()
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return {"schema": data.pop("schema"), "created": created, "versions": versions(), **data}
