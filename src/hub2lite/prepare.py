"""Prepare a model for work: the one path from a source plus the user's input flags to what every stage needs.

    open_model(source, ...)                     -> (ResolvedModel, LoadedModel)
    prepare(source, PrepareOptions)             -> Prepared   (entry point, planned shapes, input scaling,
                                                               calibration feeds)
    validation_inputs(specs, DataOptions, ...)  -> ValidationInputs   (saved inputs, --data or seeded synthetic)
    split_data(data, calibration, specs, ...)   -> DataSplit          (optimize: disjoint calibration/evaluation)

convert, validate, sweep, optimize, per-layer and the benchmark child all start here; none re-implements a
piece of it. The input flags (`--input-range/--mean/--std`, shapes) mean the same in every command.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .convert import ALL_SIGNATURES, ConvertConfig, build_function, family_plan, plan_input_specs
from .datasets import ImageScaling, Samples, load_samples
from .errors import CalibrationError, ConfigError
from .feeds import synthetic_feeds
from .load import EntryPoint, LoadedModel, LoadOptions, load
from .metadata.describe import recorded_scaling
from .options import (CalibrationOptions, DataOptions, ScalingFlags, check_calibration, check_scaling_flags)
from .quantize.calibration import calibration_feeds, input_scalings, rescale_synthetic
from .quantize.recipes import recipe_for
from .resolve import ResolvedModel, resolve
from .specs import QuantMode, TensorSpec, is_image_input
from .tflite_file import read_model_bytes
from .token_inputs import INTEGER_DTYPES
from .text_encoder import TextOptions, TextPlan, is_text_file, plan_text, synthetic_text_feeds, text_data_feeds

__all__ = ["PrepareOptions", "Prepared", "ValidationInputs", "DataSplit", "open_model", "prepare",
           "validation_inputs", "calibration_for", "scalings_for", "split_data", "eval_labels", "text_plan_for",
           "synthetic_inputs"]

log = logging.getLogger(__name__)

Feeds = list[dict[str, np.ndarray]]


@dataclass(frozen=True)
class PrepareOptions:
    convert: ConvertConfig = field(default_factory=ConvertConfig)  # signature and shapes
    scaling: ScalingFlags = field(default_factory=ScalingFlags)
    calibration: CalibrationOptions = field(default_factory=CalibrationOptions)
    modes: tuple[QuantMode, ...] = ()  # the recipes that will run: calibration feeds when one needs them
    modes_flag: str = "--quantize"  # the flag that chose them, for the error naming it
    needs_scaling: bool = True  # False: only check the flags (no data will be loaded or made)
    cache_dir: str | None = None
    tags: tuple[str, ...] | None = None
    timeout: float | None = None
    load_options: LoadOptions | None = None
    text: TextOptions = field(default_factory=TextOptions)  # --vocab (text encoders)


@dataclass(frozen=True)
class Prepared:
    resolved: ResolvedModel
    loaded: LoadedModel
    entry: EntryPoint
    specs: tuple[TensorSpec, ...]  # planned input shapes (empty for `--signature all`)
    notes: tuple[str, ...]
    scalings: Mapping[str, ImageScaling]
    calibration: Feeds | None
    calibration_info: dict[str, Any] | None
    text: TextPlan | None = None  # text encoders: token roles, tables, synthetic draws, vocabulary
    # --split-unsupported / --body-inputs / --body-outputs (docs/split.md): `loaded` and `entry` are then the
    # body (what converts), `original` the whole model, `specs` still the model's inputs (what data is shaped
    # like) and `calibration` already mapped through the prefix; `body_feeds` maps validation data the same way.
    split: Any = None  # split_run.SplitModel
    original: EntryPoint | None = None
    original_model: LoadedModel | None = None

    @property
    def reference_format(self) -> str:
        """The format of the model the user gave (a split body is a SavedModel hub2lite wrote)."""
        return (self.original_model or self.loaded).format.value

    @property
    def reference(self) -> EntryPoint:
        """The whole model's entry point (the original a split model is validated against end to end)."""
        return self.original or self.entry

    def body_feeds(self, feeds: Feeds) -> Feeds:
        """Feeds of the model's inputs -> feeds of what converts (the body's inputs, through the prefix)."""
        if self.split is None:
            return feeds
        from .split_run import body_feeds

        return body_feeds(self.split, feeds)

    def convert_config(self, config: ConvertConfig) -> ConvertConfig:
        """The config that converts `loaded` (the body's own inputs when the model was split)."""
        return config.for_body() if self.split is not None else config

    @property
    def scaling(self) -> ImageScaling | None:
        """The one image scaling of a single-input model (what data loading and synthetic images use)."""
        return next(iter(self.scalings.values()), None) if len(self.specs) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.resolved.to_dict(), "format": self.loaded.format.value,
                "signature": self.entry.info.name, "inputs": [s.to_dict() for s in self.specs],
                "notes": list(self.notes), "input_scaling": {n: s.to_dict() for n, s in self.scalings.items()},
                "calibration": self.calibration_info, "text": None if self.text is None else self.text.to_dict()}


@dataclass(frozen=True)
class ValidationInputs:
    feeds: Feeds
    labels: np.ndarray | None
    classes: tuple[str, ...] | None  # class folder names of an image folder (labels index them)
    info: dict[str, Any]


def open_model(source: str, *, cache_dir: str | None = None, tags: tuple[str, ...] | None = None,
               timeout: float | None = None, options: LoadOptions | None = None) -> tuple[ResolvedModel, LoadedModel]:
    resolved = resolve(source, cache_dir=cache_dir, timeout=timeout)
    return resolved, load(resolved, tags=tags, options=options)


def scalings_for(entry: EntryPoint, specs: Sequence[TensorSpec], flags: ScalingFlags,
                 needed: bool = True) -> dict[str, ImageScaling]:
    """Per-input image scaling (flags > a .tflite's metadata (--normalization-from) > model > default), worked out
    only when data will be loaded or made."""
    check_scaling_flags(flags)
    if not needed:
        return {}
    if flags.normalization_from is not None:
        recorded = recorded_scaling(read_model_bytes(flags.normalization_from),
                                    where=str(flags.normalization_from), required=True)
        assert recorded is not None
        images = [s for s in specs if is_image_input(s, float_only=True)]
        if len(images) != 1:
            raise ConfigError(f"--normalization-from applies to one float image input; this model has "
                              f"{[s.name for s in images] or 'none'}", hint="give --input-range or --mean/--std")
        scalings = input_scalings(entry, [s for s in specs if s is not images[0]])
        scalings[images[0].name] = recorded
        return scalings
    return input_scalings(entry, specs, input_range=flags.input_range, mean=flags.mean, std=flags.std)


def text_plan_for(entry: EntryPoint, specs: Sequence[TensorSpec], model_dir: str | None,
                  options: TextOptions = TextOptions()) -> TextPlan | None:
    """The text-encoder plan of an entry point at its planned shapes (None for a model that is not one)."""
    if not specs or not any(s.dtype in INTEGER_DTYPES for s in specs):
        if options.vocab is not None:
            raise ConfigError(f"--vocab {options.vocab!r}: the model has no integer token inputs",
                              hint="--vocab is for text encoders (word ids / mask / type ids); drop it")
        return None
    fn, names = build_function(entry, tuple(specs))
    return plan_text(fn, names, specs, model_dir, options)


def synthetic_inputs(specs: Sequence[TensorSpec], count: int, seed: int, *, text: TextPlan | None = None,
                     scaling: ImageScaling | None = None) -> Feeds:
    """Seeded synthetic feeds: token inputs valid by construction (text encoders), images in their range."""
    if text is not None:
        return synthetic_text_feeds(specs, text, count, seed, lambda s, n, k: synthetic_feeds(s, n, seed=k))
    feeds = synthetic_feeds(specs, count, seed=seed)
    if scaling is not None and len(specs) == 1:  # synthetic images in the range the model expects
        feeds = rescale_synthetic(feeds, {specs[0].name: scaling})
    return feeds


def calibration_for(options: CalibrationOptions, specs: Sequence[TensorSpec], modes: Sequence[QuantMode],
                    scalings: Mapping[str, ImageScaling] | None = None, *,
                    warn_unused: bool = True, text: TextPlan | None = None) -> tuple[Feeds | None, dict[str, Any] | None]:
    """Calibration feeds when one of `modes` needs them (raises when none were given), else None."""
    needing = [m.value for m in modes if recipe_for(m).needs_calibration]
    if not needing:
        if options.source and modes and warn_unused:
            log.warning("--calibration is ignored: %s needs no calibration data", ", ".join(m.value for m in modes))
        return None, None
    check_calibration(options, modes, flag="--quantize" if len(modes) == 1 else "--modes")
    assert options.source is not None
    if text is not None and options.source == "synthetic":
        feeds = synthetic_inputs(specs, min(options.samples, 200), options.seed, text=text)
        from .quantize.calibration import SYNTHETIC_WARNING

        log.warning(SYNTHETIC_WARNING)
        return feeds, {"source": "synthetic", "samples": len(feeds), "seed": options.seed,
                       "warning": SYNTHETIC_WARNING, "draws": text.draws.describe(), "notes": []}
    if text is not None and is_text_file(options.source):
        feeds, info = text_data_feeds(options.source, specs, text, limit=options.samples, seed=options.seed)
        return feeds, {"source": str(options.source), "kind": "text", "samples": len(feeds), "seed": options.seed,
                       "text": info, "notes": []}
    return calibration_feeds(options.source, specs, samples=options.samples, seed=options.seed,
                             scalings=dict(scalings or {}))


def prepare(source: str, options: PrepareOptions = PrepareOptions(), *,
            progress: Callable[[str], None] | None = None) -> Prepared:
    """Resolve, load, choose the entry point, plan shapes, work out input scaling and read calibration data."""
    step = progress or (lambda _: None)
    check_calibration(options.calibration, options.modes, flag=options.modes_flag)
    step("resolving")
    resolved = resolve(source, cache_dir=options.cache_dir, timeout=options.timeout)
    step("loading")
    loaded = load(resolved, tags=options.tags, options=options.load_options)
    every = options.convert.signature == ALL_SIGNATURES  # one .tflite with every signature
    entry = loaded.choose(None if every else options.convert.signature)
    specs: tuple[TensorSpec, ...] = ()
    notes: tuple[str, ...] = ()
    if not every:
        specs, notes = plan_input_specs(entry.info, options.convert,
                                        keep_dynamic_inputs=family_plan(loaded, entry).keep_dynamic_inputs)
    text = text_plan_for(entry, specs, resolved.path, options.text)
    if text is not None:
        notes += (f"text encoder: sequence length {text.seq_len}; vocabulary: {text.vocab_note}",)
    scalings = scalings_for(entry, specs, options.scaling, options.needs_scaling)
    calibration, calib_info = calibration_for(options.calibration, specs, options.modes, scalings, text=text)
    if not options.convert.split_requested:
        return Prepared(resolved, loaded, entry, tuple(specs), tuple(notes), scalings, calibration, calib_info, text)
    if every:
        raise ConfigError("--split-unsupported / --body-inputs / --body-outputs work on one signature, not 'all'",
                          hint="choose one with --signature NAME")
    from .split import describe_plan
    from .split_run import body_feeds, open_body

    step("splitting")
    split, body = open_body(entry, specs, options.convert, owner=loaded.obj)
    notes += (f"split: {describe_plan(split.plan)}",) + split.notes
    if calibration is not None:
        calibration = body_feeds(split, calibration)
    return Prepared(resolved, body, body.choose(), tuple(specs), tuple(notes), scalings, calibration, calib_info,
                    text=text, split=split, original=entry, original_model=loaded)


def validation_inputs(specs: Sequence[TensorSpec], options: DataOptions,
                      scaling: ImageScaling | None = None, *, text: TextPlan | None = None) -> ValidationInputs:
    """The feeds (saved inputs, --data or seeded synthetic), their labels if any, and where they came from."""
    if options.load_inputs:
        from .inputs_io import load_inputs

        saved = load_inputs(options.load_inputs, specs)
        classes = saved.info.get("classes")
        info = {"source": "saved", "path": str(options.load_inputs), "samples": len(saved.feeds),
                "saved_from": saved.info.get("source", {})}
        return ValidationInputs(list(saved.feeds), saved.labels, None if classes is None else tuple(classes), info)
    if options.data and text is not None and is_text_file(options.data):
        feeds, info = text_data_feeds(options.data, specs, text, limit=options.samples, seed=options.seed)
        return ValidationInputs(feeds, None, None, {"source": "data", "path": str(options.data), "kind": "text",
                                                    "seed": options.seed, "samples": len(feeds), "labels": False,
                                                    "text": info, "notes": []})
    if options.data:
        samples: Samples = load_samples(options.data, specs, limit=options.samples, seed=options.seed,
                                        scaling=scaling)
        classes = samples.info.get("classes")
        info = {"source": "data", "path": samples.source, "seed": options.seed, "samples": len(samples.feeds),
                "labels": samples.labels is not None, "notes": list(samples.notes)}
        if samples.info.get("scaling") is not None:  # image folders: how pixels were scaled, and from where
            info["scaling"] = samples.info["scaling"]
        return ValidationInputs(list(samples.feeds), samples.labels, None if classes is None else tuple(classes),
                                info)
    feeds = synthetic_inputs(specs, options.samples, options.seed, text=text, scaling=scaling)
    info: dict[str, Any] = {"source": "synthetic", "seed": options.seed, "samples": len(feeds)}
    if text is not None:
        info["draws"] = text.draws.describe()  # how each token input was drawn
    return ValidationInputs(feeds, None, None, info)


# --- optimize: disjoint calibration and evaluation data ---------------------------------------------------


@dataclass(frozen=True)
class DataSplit:
    calibration: Feeds
    evaluation: Feeds
    labels: np.ndarray | None
    info: dict[str, Any]


def _files_under(path: Path) -> set[Path]:
    if path.is_file():
        return {path.resolve()}
    return {p.resolve() for p in path.rglob("*") if p.is_file()}


def _samples(path: str | Path, specs: Sequence[TensorSpec], *, limit: int | None, seed: int,
             scaling: ImageScaling | None, text: TextPlan | None) -> Samples:
    """load_samples, or a text file tokenized for a text encoder."""
    if text is not None and is_text_file(path):
        feeds, info = text_data_feeds(path, specs, text, limit=limit, seed=seed)
        return Samples(tuple(feeds), None, str(path), (), {"kind": "text", "text": info})
    return load_samples(path, specs, limit=limit, seed=seed, scaling=scaling)


def split_data(data: str, calibration: str | None, specs: Sequence[TensorSpec], *, calibration_samples: int,
               eval_samples: int | None, seed: int, scaling: ImageScaling | None = None,
               text: TextPlan | None = None) -> DataSplit:
    """Calibration and evaluation feeds that share no sample: distinct paths must share no file; one
    path is split with a seeded permutation (calibration first, the rest evaluates)."""
    dpath = Path(data)
    if not dpath.exists():
        raise CalibrationError(f"--data {data!r} does not exist", hint="check the path")
    same = calibration is None or (Path(calibration).exists() and Path(calibration).resolve() == dpath.resolve())
    if same:
        samples = _samples(dpath, specs, limit=None, seed=seed, scaling=scaling, text=text)
        n = len(samples)
        if n < 4:
            raise CalibrationError(f"--data {data!r} holds {n} samples: too few to split into calibration and "
                                   "evaluation", hint="give more samples, or a separate --calibration PATH")
        order = np.random.default_rng(seed).permutation(n)
        n_cal = min(calibration_samples, n // 2)
        cal_idx, eval_idx = order[:n_cal], np.sort(order[n_cal:])
        if eval_samples is not None:
            eval_idx = eval_idx[:eval_samples]
        note = (f"--data {data!r} was split with seed {seed}: {n_cal} samples calibrate, the other "
                f"{len(eval_idx)} evaluate (disjoint)")
        log.warning(note)
        labels = None if samples.labels is None else np.asarray(samples.labels)[eval_idx]
        return DataSplit([samples.feeds[i] for i in cal_idx], [samples.feeds[i] for i in eval_idx], labels,
                         {"mode": "split", "seed": seed, "source": str(dpath), "calibration_samples": int(n_cal),
                          "evaluation_samples": int(len(eval_idx)), "note": note,
                          "classes": samples.info.get("classes")})
    cpath = Path(calibration)  # type: ignore[arg-type]
    if not cpath.exists():
        raise CalibrationError(f"--calibration {calibration!r} does not exist", hint="check the path")
    shared = _files_under(cpath) & _files_under(dpath)
    if shared:
        example = sorted(shared)[0]
        raise CalibrationError(
            f"--calibration and --data share {len(shared)} file(s) (e.g. {str(example)!r}): the accuracy would be "
            "measured on data the model was calibrated on",
            hint="give disjoint files, or pass only --data (or the same path twice) to split it with --seed")
    cal = _samples(cpath, specs, limit=calibration_samples, seed=seed, scaling=scaling, text=text)
    ev = _samples(dpath, specs, limit=eval_samples, seed=seed, scaling=scaling, text=text)
    return DataSplit(list(cal.feeds), list(ev.feeds), None if ev.labels is None else np.asarray(ev.labels),
                     {"mode": "separate", "calibration": str(cpath), "data": str(dpath),
                      "calibration_samples": len(cal), "evaluation_samples": len(ev),
                      "classes": ev.info.get("classes")})


def eval_labels(labels: np.ndarray | None, classes: Sequence[str] | None,
                labels_file: str | None) -> np.ndarray | None:
    """Output indices for per-sample labels that travel with the data (.npz `y`, class folders), mapped through
    `--labels`, a class-names file (accuracy.load_labels formats) — the one meaning of --labels."""
    from .accuracy import label_indices, load_labels

    if labels_file is not None and Path(labels_file).suffix.lower() == ".npy":
        raise ConfigError(f"--labels {labels_file!r} is a .npy: --labels names classes (one per line, or JSON)",
                          hint="put per-sample labels in the data: an .npz with x and y, or class_name/ folders")
    if labels is None:
        if labels_file is not None:
            raise ConfigError("--labels names classes, but --data has no labels",
                              hint="use an .npz with 'y' or a class_name/ image folder")
        return None
    class_names = load_labels(labels_file) if labels_file is not None else None
    indices, notes = label_indices(labels, class_names=class_names,
                                   folder_classes=None if classes is None else list(classes))
    for note in notes:
        log.warning(note)
    return indices
