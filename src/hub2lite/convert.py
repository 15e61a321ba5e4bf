"""Convert one entry point of a loaded model to TFLite with a strategy ladder.

Ladder: TFLite builtin ops first; if (and only if) the converter names ops that need Select TF
ops, retry with SELECT_TF_OPS unless the ops policy forbids it. Every attempt is recorded with the
exact ops that forced the next step. Input shapes are fixed first (batch 1 by default, or as given
by `input_shapes`), unless `keep_dynamic` keeps the unspecified dims dynamic.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ._converter import (build_function, graph_op_counts, make_converter, native_stderr_to_log, output_names,
                         representative_dataset)
from .errors import ConfigError, ConversionError
from .options import parse_input_shape
from .load import EntryPoint, LoadedModel
from .quantize.recipes import recipe_for
from .specs import OpsPolicy, QuantMode, SignatureInfo, TensorSpec, is_image_input
from .tflite_file import add_signature, float_compute_ops, op_census, signature_keys

__all__ = ["ConvertConfig", "Attempt", "Conversion", "SignaturePart", "convert", "plan_input_specs",
           "parse_input_shape", "build_function", "make_converter", "output_names", "DEFAULT_IMAGE_SIZE",
           "ALL_SIGNATURES", "family_plan"]

log = logging.getLogger(__name__)

#: The TF Hub convention for image models with dynamic height/width.
DEFAULT_IMAGE_SIZE = 224
#: `--signature all`: export every signature into one .tflite.
ALL_SIGNATURES = "all"


@dataclass(frozen=True)
class ConvertConfig:
    signature: str | None = None
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    keep_dynamic: bool = False
    batch_size: int = 1
    ops_policy: OpsPolicy = OpsPolicy.AUTO
    quantize: QuantMode = QuantMode.FLOAT32
    io_type: str | None = None  # int8 | uint8, with int8-strict
    resource_variables: bool = False
    float_nodes: tuple[str, ...] = ()  # int8 only: op output tensors kept in float (see quantize/debugger.py)

    def to_dict(self) -> dict[str, Any]:
        return {"signature": self.signature, "input_shapes": {k: list(v) for k, v in self.input_shapes.items()},
                "keep_dynamic": self.keep_dynamic, "batch_size": self.batch_size,
                "ops_policy": self.ops_policy.value, "quantize": self.quantize.value, "io_type": self.io_type,
                "resource_variables": self.resource_variables, "float_nodes": list(self.float_nodes)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ConvertConfig:
        return cls(signature=d.get("signature"),
                   input_shapes={k: tuple(v) for k, v in (d.get("input_shapes") or {}).items()},
                   keep_dynamic=bool(d.get("keep_dynamic", False)), batch_size=int(d.get("batch_size", 1)),
                   ops_policy=OpsPolicy(d.get("ops_policy", "auto")), quantize=QuantMode(d.get("quantize", "float32")),
                   io_type=d.get("io_type"), resource_variables=bool(d.get("resource_variables", False)),
                   float_nodes=tuple(d.get("float_nodes") or ()))


@dataclass(frozen=True)
class Attempt:
    strategy: str  # "builtins" | "builtins+select"
    ok: bool
    seconds: float
    flex_ops: tuple[str, ...] = ()  # ops the converter said need Select TF ops
    custom_ops: tuple[str, ...] = ()  # ops with neither a builtin nor a Select TF kernel
    error: str | None = None
    route: str = "frozen"  # "frozen" (variables folded in-process) | "saved_model" (exported first)

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "ok": self.ok, "seconds": round(self.seconds, 3),
                "flex_ops": list(self.flex_ops), "custom_ops": list(self.custom_ops), "error": self.error,
                "route": self.route}


@dataclass(frozen=True)
class SignaturePart:
    """One signature of a multi-signature .tflite (`--signature all`)."""

    key: str  # the .tflite signature key
    signature: SignatureInfo
    inputs: tuple[TensorSpec, ...]
    input_names: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "signature": self.signature.to_dict(), "inputs": [s.to_dict() for s in self.inputs],
                "input_names": dict(self.input_names)}


@dataclass(frozen=True)
class Conversion:
    model: bytes = field(repr=False)
    signature: SignatureInfo  # the source entry point as the model declares it
    inputs: tuple[TensorSpec, ...]  # inputs as converted (fixed shapes), original names
    input_names: Mapping[str, str]  # TFLite signature input name -> original input name
    strategy: str
    attempts: tuple[Attempt, ...]
    tflite_ops: Mapping[str, int]
    recipe: Mapping[str, Any]
    converter_settings: Mapping[str, Any]
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    family: Mapping[str, Any] = field(default_factory=dict)  # families.FamilyPlan.to_dict()
    parts: tuple[SignaturePart, ...] = ()  # every exported signature (`--signature all`); empty otherwise

    @property
    def size_bytes(self) -> int:
        return len(self.model)

    @property
    def flex_ops(self) -> tuple[str, ...]:
        """The ops that forced Select TF ops (empty for a builtins-only model)."""
        return next((a.flex_ops for a in self.attempts if not a.ok and a.flex_ops), ())

    def to_dict(self) -> dict[str, Any]:
        return {"signature": self.signature.to_dict(), "inputs": [s.to_dict() for s in self.inputs],
                "input_names": dict(self.input_names), "strategy": self.strategy,
                "attempts": [a.to_dict() for a in self.attempts], "forced_select_by": list(self.flex_ops),
                "tflite_ops": dict(self.tflite_ops), "recipe": dict(self.recipe),
                "converter_settings": dict(self.converter_settings), "notes": list(self.notes),
                "size_bytes": self.size_bytes, "seconds": round(self.seconds, 3), "family": dict(self.family),
                "signatures": [p.to_dict() for p in self.parts]}


def plan_input_specs(info: SignatureInfo, config: ConvertConfig, *,
                     keep_dynamic_inputs: Sequence[str] = ()) -> tuple[tuple[TensorSpec, ...], tuple[str, ...]]:
    """The input specs to convert with, and notes on every dimension hub2lite chose itself.

    `keep_dynamic_inputs` (from the model's family, e.g. an audio waveform's length) keep their dynamic dims
    unless `--input-shape` fixes them."""
    names = [s.name for s in info.inputs]
    unknown = sorted(set(config.input_shapes) - set(names))
    if unknown:
        raise ConfigError(f"--input-shape names unknown input(s) {unknown}; {info.name!r} has inputs {names}",
                          hint=f"use one of {names}")
    notes: list[str] = []
    planned = []
    for spec in info.inputs:
        given = config.input_shapes.get(spec.name)
        if given is not None:
            if spec.shape is not None:
                if len(given) != len(spec.shape):
                    raise ConfigError(
                        f"--input-shape for {spec.name!r} has rank {len(given)} but the input has rank "
                        f"{len(spec.shape)} {spec.shape_str}", hint=f"give {len(spec.shape)} dimensions")
                clash = [i for i, (g, d) in enumerate(zip(given, spec.shape)) if d is not None and g != d]
                if clash:
                    raise ConfigError(f"--input-shape {list(given)} for {spec.name!r} contradicts its fixed "
                                      f"dims {spec.shape_str}", hint="change only the dims shown as '?'")
            planned.append(replace(spec, shape=tuple(given)))
            continue
        if spec.shape is None:
            raise ConfigError(f"input {spec.name!r} has unknown rank",
                              hint=f"give its shape: --input-shape {spec.name}=1,...")
        if config.keep_dynamic or not spec.is_dynamic:
            planned.append(spec)
            continue
        if spec.name in keep_dynamic_inputs:
            notes.append(f"input {spec.name!r}: variable length {spec.shape_str} kept dynamic; "
                         f"fix it with --input-shape {spec.name}=...")
            planned.append(spec)
            continue
        dims = list(spec.shape)
        if dims and dims[0] is None:
            dims[0] = config.batch_size
        if is_image_input(spec) and dims[1] is None and dims[2] is None:
            dims[1] = dims[2] = DEFAULT_IMAGE_SIZE
            notes.append(f"input {spec.name!r}: dynamic height/width fixed to {DEFAULT_IMAGE_SIZE}x{DEFAULT_IMAGE_SIZE} "
                         f"(TF Hub convention); pass --input-shape to choose")
        if any(d is None for d in dims):
            shown = ",".join("N" if d is None else str(d) for d in dims)
            raise ConfigError(f"input {spec.name!r} has dynamic dims {spec.shape_str}",
                              hint=f"fix them with --input-shape {spec.name}={shown} (N>0), or pass --keep-dynamic")
        if spec.shape[0] is None:
            notes.append(f"input {spec.name!r}: batch fixed to {config.batch_size}")
        planned.append(replace(spec, shape=tuple(dims)))
    return tuple(planned), tuple(notes)


def _diagnose(exc: BaseException) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(ops needing Select TF ops, ops needing custom implementations, one-line summary) of a converter error."""
    flex: set[str] = set()
    custom: set[str] = set()
    for err in getattr(exc, "errors", None) or []:
        op = getattr(getattr(err, "operator", None), "name", "") or ""
        op = op[3:] if op.startswith("tf.") else op
        code = getattr(err, "error_code", 0)
        if op and code == 1:  # ERROR_NEEDS_FLEX_OPS
            flex.add(op)
        elif op and code == 2:  # ERROR_NEEDS_CUSTOM_OPS
            custom.add(op)
    text = str(exc)
    if not flex and not custom:
        for m in re.finditer(r"^\s*(TF Select ops|Flex ops|Custom ops):\s*(.+)$", text, re.MULTILINE):
            names = {n.strip().removeprefix("Flex") for n in m.group(2).split(",") if n.strip()}
            (custom if m.group(1) == "Custom ops" else flex).update(names)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(("<unknown>", "loc("))]
    summary = next((ln for ln in lines if "error:" in ln), lines[0] if lines else type(exc).__name__)
    summary = re.sub(r"^.*?error:\s*", "", summary)[:300]
    return tuple(sorted(flex)), tuple(sorted(custom)), summary


def _check_integer_only(model: bytes, mode: QuantMode, attempts: list[Attempt]) -> None:
    """int8-strict promises integer-only compute, but the converter keeps an op with no int8 kernel in float
    (wrapped in DEQUANTIZE/QUANTIZE) instead of failing: refuse such a model rather than mislabel it."""
    if mode is not QuantMode.INT8_STRICT:
        return
    floats = float_compute_ops(model)
    if floats:
        raise ConversionError(f"--quantize int8-strict: ops {list(floats)} have no int8 kernel and would run in float",
                              hint="use --quantize int8 (float fallback for those ops), or remove them from the model",
                              attempts=tuple(attempts))


def _ladder(policy: OpsPolicy) -> list[tuple[str, bool]]:
    steps = [("builtins", False)]
    if policy is OpsPolicy.AUTO:
        steps.append(("builtins+select", True))
    return steps


def convert(loaded: LoadedModel, config: ConvertConfig = ConvertConfig(), *,
            calibration: Sequence[Mapping[str, Any]] | None = None) -> Conversion:
    """Convert the chosen entry point of `loaded`. Raises ConversionError when no strategy works.

    `calibration` holds the samples ({original input name: array}) for recipes that need them.
    """
    import tensorflow as tf

    start = time.perf_counter()
    if config.signature == ALL_SIGNATURES:
        return _convert_all(loaded, config, calibration)
    if config.float_nodes and config.quantize is not QuantMode.INT8:
        raise ConfigError(f"float nodes need --quantize int8, not {config.quantize.value}",
                          hint="selective quantization keeps listed layers of an int8 model in float")
    entry = loaded.choose(config.signature)
    plan = family_plan(loaded, entry)
    specs, notes = plan_input_specs(entry.info, config, keep_dynamic_inputs=plan.keep_dynamic_inputs)
    if plan.resource_variables:
        notes += ("the graph holds lookup tables or assigns variables: converted through a SavedModel export "
                  "that keeps them, with resource-variable support (static tables become TFLite HASHTABLE ops)",)
    concrete, name_map = build_function(entry, specs)
    recipe = recipe_for(config.quantize)
    attempts: list[Attempt] = []
    route = "saved_model" if config.resource_variables or plan.resource_variables else "frozen"
    for strategy, select in _ladder(config.ops_policy):
        base_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + ([tf.lite.OpsSet.SELECT_TF_OPS] if select else [])
        while True:
            converter = make_converter(concrete, route, keep=loaded.obj if plan.resource_variables else None)
            dataset = representative_dataset(calibration, name_map, by_position=route == "frozen")
            settings = recipe.apply(converter, base_ops=base_ops, representative_dataset=dataset,
                                    io_type=config.io_type)
            if config.resource_variables:
                converter.experimental_enable_resource_variables = True
                settings["experimental_enable_resource_variables"] = True
            settings["route"] = route
            if config.float_nodes:
                settings["float_nodes"] = list(config.float_nodes)
            t0 = time.perf_counter()
            try:
                with native_stderr_to_log():
                    if config.float_nodes:  # TFLite's documented route: debugger options with denylisted_nodes
                        from .quantize.selective import selective_quantize

                        model = selective_quantize(converter, config.float_nodes)
                    else:
                        model = converter.convert()
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001 - the converter raises ConverterError and friends
                flex, custom, summary = _diagnose(exc)
                attempts.append(Attempt(strategy, False, time.perf_counter() - t0, flex, custom, summary, route))
                log.info("conversion with %s (%s route) failed: %s", strategy, route, summary)
                if not flex and not custom and route == "frozen":
                    route = "saved_model"  # e.g. hash tables: they cannot be frozen into constants
                    log.info("retrying through a SavedModel export")
                    continue
                break
            attempts.append(Attempt(strategy, True, time.perf_counter() - t0, route=route))
            if select:
                log.warning("converted with Select TF ops because of %s", ", ".join(attempts[0].flex_ops))
            if not signature_keys(model):
                model = add_signature(model, "serving_default", list(name_map), output_names(concrete))
            _check_integer_only(model, recipe.mode, attempts)
            return Conversion(model=model, signature=entry.info, inputs=specs, input_names=name_map,
                              strategy=strategy, attempts=tuple(attempts), tflite_ops=op_census(model),
                              recipe=recipe.to_dict(), converter_settings=settings, notes=notes,
                              seconds=time.perf_counter() - start, family=plan.to_dict())
        last = attempts[-1]
        if last.custom_ops or not last.flex_ops:
            break  # Select TF ops cannot help
    raise _failure(attempts, config)


def _failure(attempts: list[Attempt], config: ConvertConfig) -> ConversionError:
    last = attempts[-1]
    custom = sorted({op for a in attempts for op in a.custom_ops})
    flex = sorted({op for a in attempts for op in a.flex_ops})
    if custom:
        msg = f"ops {custom} have neither a TFLite builtin nor a Select TF kernel"
        hint = ("move the preprocessing that uses them out of the model (run it in your app) and convert the rest, "
                "or implement them as TFLite custom ops")
    elif flex and config.ops_policy is OpsPolicy.BUILTINS:
        msg = f"ops {flex} are not TFLite builtins and --no-flex forbids Select TF ops"
        hint = "drop --no-flex to run them through the Flex delegate (bigger runtime), or remove these ops"
    elif "control flow v1" in (last.error or "").lower() or "functionalize" in (last.error or "").lower():
        msg = f"the graph uses TF1 control flow (Switch/Merge): {last.error}"
        hint = "freeze training switches to their defaults (placeholder_with_default) before converting"
    else:
        msg = f"conversion failed: {last.error}"
        hint = "fix dynamic shapes with --input-shape, try --resource-variables, or --debug for the converter log"
    return ConversionError(msg, hint=hint, attempts=tuple(attempts))


def _entry_op_counts(entry: EntryPoint) -> dict[str, int]:
    """Op census of an entry point's own graph (and the functions it calls); {} when it has no graph."""

    if getattr(entry.fn, "graph", None) is None:
        return {}
    try:
        return dict(graph_op_counts(entry.fn))
    except (AttributeError, TypeError, ValueError):  # not a traced function: no census, family from specs only
        return {}


def family_plan(loaded: LoadedModel, entry: EntryPoint | None = None, signature: str | None = None) -> Any:
    """The families.FamilyPlan of `entry` (or of the whole model for `signature='all'` / several signatures)."""
    from .families import recognise, recognise_model

    if entry is not None:
        return recognise(entry.info, _entry_op_counts(entry))
    return recognise_model(loaded, signature, _entry_op_counts)


def _convert_all(loaded: LoadedModel, config: ConvertConfig,
                 calibration: Sequence[Mapping[str, Any]] | None) -> Conversion:
    """`--signature all`: every signature of `loaded` in one .tflite, one TFLite signature (runner) each."""
    import tensorflow as tf

    from .families import distinct_signatures
    from .tflite_file import signature_keys

    start = time.perf_counter()
    names = distinct_signatures(loaded.entries)
    if not names:
        loaded.choose(None)  # raises the no-signature LoadError
    recipe = recipe_for(config.quantize)
    if recipe.needs_calibration:
        raise ConfigError(f"--signature all cannot be combined with --quantize {config.quantize.value}",
                          hint="calibrate one signature at a time with --signature NAME")
    known = {s.name for n in names for s in loaded.entries[n].info.inputs}
    unknown = sorted(set(config.input_shapes) - known)
    if unknown:
        raise ConfigError(f"--input-shape names unknown input(s) {unknown}; the signatures have inputs {sorted(known)}",
                          hint=f"use one of {sorted(known)}")
    plan = family_plan(loaded, signature=ALL_SIGNATURES)
    parts: list[SignaturePart] = []
    concretes: list[Any] = []
    notes: list[str] = []
    for name, member in zip(names, plan.members):
        entry = loaded.entries[name]
        own = {s.name for s in entry.info.inputs}
        sub = replace(config, signature=name, input_shapes={k: v for k, v in config.input_shapes.items() if k in own})
        specs, planned = plan_input_specs(entry.info, sub, keep_dynamic_inputs=member.keep_dynamic_inputs)
        concrete, name_map = build_function(entry, specs)
        notes += [f"{name}: {n}" for n in planned]
        concretes.append(concrete)
        parts.append(SignaturePart(concrete.graph.name, entry.info, specs, name_map))
    holder = tf.Module()  # the functions and exactly their variables: keeps every SignatureDef
    holder.fns = concretes
    holder.captured_variables = [v for c in concretes for v in c.variables]
    attempts: list[Attempt] = []
    for strategy, select in _ladder(config.ops_policy):
        converter = tf.lite.TFLiteConverter.from_concrete_functions(concretes, holder)
        base_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + ([tf.lite.OpsSet.SELECT_TF_OPS] if select else [])
        settings = recipe.apply(converter, base_ops=base_ops, representative_dataset=None, io_type=config.io_type)
        converter.experimental_enable_resource_variables = True
        settings.update(experimental_enable_resource_variables=True, route="saved_model",
                        signatures=[p.key for p in parts])
        t0 = time.perf_counter()
        try:
            with native_stderr_to_log():
                model = converter.convert()
        except Exception as exc:  # noqa: BLE001 - the converter raises ConverterError and friends
            flex, custom, summary = _diagnose(exc)
            attempts.append(Attempt(strategy, False, time.perf_counter() - t0, flex, custom, summary, "saved_model"))
            if custom or not flex:
                break
            continue
        attempts.append(Attempt(strategy, True, time.perf_counter() - t0, route="saved_model"))
        keys = signature_keys(model)
        if sorted(keys) != sorted(p.key for p in parts):
            raise ConversionError(f"the .tflite has signatures {sorted(keys)}, expected {[p.key for p in parts]}",
                                  hint="convert the signatures one at a time with --signature NAME",
                                  attempts=tuple(attempts))
        first = parts[0]
        return Conversion(model=model, signature=first.signature, inputs=first.inputs, input_names=first.input_names,
                          strategy=strategy, attempts=tuple(attempts), tflite_ops=op_census(model),
                          recipe=recipe.to_dict(), converter_settings=settings, notes=tuple(notes),
                          seconds=time.perf_counter() - start, family=plan.to_dict(), parts=tuple(parts))
    raise _failure(attempts, config)
