"""Convert one entry point of a loaded model to TFLite with a strategy ladder.

Ladder: TFLite builtin ops first; if (and only if) the converter names ops that need Select TF
ops, retry with SELECT_TF_OPS unless the ops policy forbids it. Every attempt is recorded with the
exact ops that forced the next step. Input shapes are fixed first (batch 1 by default, or as given
by `input_shapes`), unless `keep_dynamic` keeps the unspecified dims dynamic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ._converter import (build_function, graph_op_counts, has_loops, make_converter, native_stderr_to_log,
                         output_names, representative_dataset)
from .conversion import (ALL_SIGNATURES, Attempt, Conversion, ConvertConfig, SignaturePart, check_integer_only,
                         diagnose, failure, ladder, next_step)
from .custom_ops import custom_ops
from .errors import ConfigError, ConversionError
from .load import EntryPoint, LoadedModel
from .options import parse_input_shape
from .quantize.recipes import recipe_for
from .specs import QuantMode, SignatureInfo, TensorSpec, is_image_input
from .tflite_file import add_signature, op_census, signature_keys
from .interrupts import reraise_pending

__all__ = ["ConvertConfig", "Attempt", "Conversion", "SignaturePart", "convert", "plan_input_specs",
           "parse_input_shape", "build_function", "make_converter", "output_names", "DEFAULT_IMAGE_SIZE",
           "ALL_SIGNATURES", "family_plan", "CalibratedInt8", "calibrate_int8"]

log = logging.getLogger(__name__)

#: The TF Hub convention for image models with dynamic height/width.
DEFAULT_IMAGE_SIZE = 224


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
    text_shapes: dict[str, tuple[int, ...]] = {}
    if not config.keep_dynamic or config.seq_len is not None:
        from .text_encoder import text_input_shapes

        text_shapes = text_input_shapes(info, config.seq_len, config.input_shapes, config.batch_size)
        for name, dims in text_shapes.items():
            notes.append(f"input {name!r}: token sequence fixed to {dims[-1]} "
                         f"({'--seq-len' if config.seq_len is not None else 'text encoder default'}; "
                         "--seq-len N to choose)")
    for spec in info.inputs:
        given = config.input_shapes.get(spec.name, text_shapes.get(spec.name))
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


def _configure(converter: Any, recipe: Any, config: ConvertConfig, base_ops: list[Any], dataset: Any,
               route: str) -> dict[str, Any]:
    """Apply the recipe and the config's converter switches; return every setting, as recorded."""
    settings = recipe.apply(converter, base_ops=base_ops, representative_dataset=dataset, io_type=config.io_type)
    if config.resource_variables:
        converter.experimental_enable_resource_variables = True
        settings["experimental_enable_resource_variables"] = True
    settings["route"] = route
    if config.float_nodes:
        settings["float_nodes"] = list(config.float_nodes)
    return settings


def guard_float16(float32_model: bytes, float16_model: bytes) -> Any:
    from .quantize.fp16 import guard_float16 as _guard

    return _guard(float32_model, float16_model)


def uses_int8_techniques(config: ConvertConfig, loops: bool = False) -> bool:
    """int8 through the calibrated flatbuffer (quantize/flatgraph.py): chosen ranges, bias correction, ops kept
    in float by the calibrated model's own op names, or a graph with loops (calibrated by hub2lite itself)."""
    return config.quantize in (QuantMode.INT8, QuantMode.INT8_STRICT) and (
        config.int8_ranges != "minmax" or config.bias_correction or bool(config.int8_keep_float)
        or bool(config.float_nodes) or loops)


def _technique_recipe(config: ConvertConfig, settings: Mapping[str, Any], loops: bool = False) -> dict[str, Any]:
    """What the report's recipe records of the int8 techniques (nothing for the converter's plain int8); the parts
    kept float include `lstm` when int8 kept a model's recurrent ops float by default."""
    if not uses_int8_techniques(config, loops):
        return {}
    recipe: dict[str, Any] = {"int8_ranges": config.int8_ranges, "bias_correction": config.bias_correction}
    parts = list(config.int8_keep_float) + list(settings.get("int8_keep_float_default", ()))
    if parts:
        recipe["int8_keep_float"] = parts
    return recipe


def _kept_float_parts(calibrated: bytes, parts: Sequence[str]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The op names of the transformer parts asked, found by kind in the calibrated flatbuffer itself (the names
    the quantizer's denylist matches); a part with no op in this model is a usage error."""
    from .quantize.transformer import fragile_ops

    found = fragile_ops(calibrated, parts)
    missing = [p for p in parts if not found[p]]
    if missing:
        raise ConfigError(f"--int8-keep-float {','.join(missing)}: this model has no such ops",
                          hint="keep float only parts the model has (softmax: attention; layernorm; gelu; lstm: "
                               "recurrent layers), see `hub2lite inspect`")
    nodes = tuple(dict.fromkeys(n for p in parts for n in found[p]))
    return nodes, {"int8_keep_float": {p: len(found[p]) for p in parts}, "int8_keep_float_nodes": list(nodes)}


def _calibrated(converter: Any, dataset: Any, loops: bool) -> tuple[bytes, dict[str, Any]]:
    """The calibrated flatbuffer of a configured int8 converter. A graph with loops is calibrated by hub2lite
    (flatgraph.calibrate_from_float on the float conversion): the converter's calibrator segfaults on WHILE
    (tensorflow/tensorflow#75140; measured on textgenrnn and the tf_keras LSTM test model, TF 2.21)."""
    from .quantize import flatgraph

    if not loops:
        return flatgraph.calibrate(converter, dataset), {}
    converter.optimizations = []
    converter.representative_dataset = None
    try:
        float_model = bytes(converter.convert())
    except Exception as exc:  # noqa: BLE001 - converter errors are many types
        reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
        raise ConversionError(f"int8 calibration failed: {str(exc).splitlines()[0][:300]}",
                              hint="check that `hub2lite convert` (float32) works for this model") from exc
    calibrated = flatgraph.calibrate_from_float(float_model, flatgraph.feeds_for(dataset))
    return calibrated, {"calibration": "hub2lite (the model has loops: TensorFlow's calibrator crashes on WHILE, "
                                       "tensorflow/tensorflow#75140)"}


def _recurrent_kept(calibrated: bytes, parts: Sequence[str]) -> tuple[str, ...]:
    """`("lstm",)` when the model has recurrent ops and `parts` does not already keep them float: int8 keeps them
    float by default (TensorFlow cannot calibrate the loops; LiteRT's int8 LSTM crashed on textgenrnn)."""
    from .quantize.flatgraph import recurrent_ops

    return ("lstm",) if "lstm" not in parts and recurrent_ops(calibrated) else ()


def _int8_techniques(converter: Any, dataset: Any, config: ConvertConfig,
                     loops: bool = False) -> tuple[bytes, dict[str, Any]]:
    """int8 through the converter's calibrated flatbuffer: chosen activation ranges and/or bias correction
    between calibration and quantization (quantize/flatgraph.py, ranges.py, bias.py); recurrent ops float."""
    from .quantize import flatgraph, ranges
    from .quantize.search import Prepared

    if config.quantize is QuantMode.INT8_STRICT and (config.io_type or "int8") != "int8":
        raise ConfigError(f"--io-type {config.io_type} cannot be combined with --int8-ranges/--bias-correction",
                          hint="use --io-type int8, or drop the int8 technique flags")
    method = ranges.parse_method(config.int8_ranges)
    calibrated, info = _calibrated(converter, dataset, loops)
    needs_acts = method is not ranges.RangeMethod.MINMAX or config.bias_correction
    acts = flatgraph.collect_activations(calibrated, flatgraph.feeds_for(dataset)) if needs_acts else None
    prepared = calibrated
    info.update({"int8_ranges": method.value, "bias_correction": config.bias_correction,
                 "route_int8": ("calibrate_from_float" if loops else "calibrate_only") + "+mlir_quantize"})
    float_nodes = tuple(config.float_nodes)
    default = _recurrent_kept(calibrated, config.int8_keep_float) if config.quantize is QuantMode.INT8 else ()
    parts = tuple(config.int8_keep_float) + default
    if default:
        info["int8_keep_float_default"] = list(default)
    if parts:
        kept, kept_info = _kept_float_parts(calibrated, parts)
        float_nodes = tuple(dict.fromkeys(float_nodes + kept))
        info.update(kept_info)
    if method is not ranges.RangeMethod.MINMAX:
        chosen = ranges.choose_ranges(flatgraph.CalibratedGraph(calibrated), acts, method)
        prepared = ranges.rewrite_ranges(prepared, chosen)
        info["ranges"] = ranges.range_summary(flatgraph.CalibratedGraph(calibrated), chosen)
    if float_nodes:  # the calibrated model's own op names (a per-layer report's match exactly or canonically)
        from .quantize.selective import resolve_nodes

        resolved = resolve_nodes(float_nodes, [op.name for op in flatgraph.CalibratedGraph(prepared).ops])
        if resolved != list(float_nodes):
            log.info("float nodes matched by canonical name: %s", resolved)
        float_nodes = tuple(resolved)
    # as optimize and the search build every int8 variant: float ops keep their own biases (no rounding to correct)
    technique = Prepared(method.value, config.bias_correction, prepared, acts)
    model, built = technique.build(float_nodes, integer_only=config.quantize is QuantMode.INT8_STRICT)
    info.update(built)
    return model, info


def _refuse_loops(config: ConvertConfig) -> None:
    """A calibrated mode other than int8 on a graph with loops: refused before calibrating, in one line (int8-strict
    cannot keep the loops float; int16x8 calibrates with TensorFlow's calibrator, which crashes on them)."""
    if config.quantize is not QuantMode.INT8:
        why = ", which integer-only int8 cannot keep float," if config.quantize is QuantMode.INT8_STRICT else ""
        raise ConversionError(f"--quantize {config.quantize.value}: this model has recurrent loops (WHILE){why} and "
                              "TensorFlow's calibrator crashes on them (tensorflow/tensorflow#75140)",
                              hint="use --quantize int8 (its recurrent ops stay float), dynamic or float16")


@dataclass(frozen=True)
class CalibratedInt8:
    """One int8 calibration of a loaded model's entry point, before quantization: the calibrated flatbuffer
    (float ops with observed activation ranges), the float activations on the calibration samples, and the
    TFLite input names. Every int8 variant quantized from it (`quantize.flatgraph.finish`) equals what
    `convert(..., ConvertConfig(quantize=INT8, int8_ranges=..., bias_correction=..., float_nodes=...))` writes
    from the same samples."""

    calibrated: bytes
    activations: Any  # quantize.flatgraph.Activations
    input_names: dict[str, str]  # TFLite input name -> original input name
    keep_float: tuple[str, ...] = ()  # ops every variant keeps float (the recurrent ops: `--int8-keep-float lstm`)


def calibrate_int8(loaded: LoadedModel, config: ConvertConfig, calibration: Sequence[Mapping[str, Any]]
                   ) -> CalibratedInt8:
    """Calibrate `loaded` for int8 once, by the route `convert` takes for builtins-only int8 (raises
    ConversionError when the converter cannot)."""
    import tensorflow as tf

    from .quantize import flatgraph

    entry = loaded.choose(config.signature)
    plan = family_plan(loaded, entry)
    specs, _ = plan_input_specs(entry.info, config, keep_dynamic_inputs=plan.keep_dynamic_inputs)
    concrete, name_map = build_function(entry, specs)
    loops = has_loops(concrete)
    routes = ["saved_model"] if config.resource_variables or plan.resource_variables else ["frozen", "saved_model"]
    error: ConversionError | None = None
    for route in routes:
        converter = make_converter(concrete, route, keep=loaded.obj if plan.resource_variables else None)
        dataset = representative_dataset(calibration, name_map, by_position=route == "frozen")
        _configure(converter, recipe_for(QuantMode.INT8), replace(config, quantize=QuantMode.INT8, float_nodes=()),
                   [tf.lite.OpsSet.TFLITE_BUILTINS], dataset, route)
        try:
            with native_stderr_to_log():
                calibrated, _ = _calibrated(converter, dataset, loops)
        except ConversionError as exc:
            error = exc
            continue
        acts = flatgraph.collect_activations(calibrated, flatgraph.feeds_for(dataset))
        if not signature_keys(calibrated):  # the frozen route's model has none; runners look inputs up by it
            calibrated = add_signature(calibrated, "serving_default", list(name_map), output_names(concrete))
        keep = tuple(op.name for op in flatgraph.recurrent_ops(calibrated))
        return CalibratedInt8(calibrated, acts, dict(name_map), keep)
    assert error is not None
    raise error


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
    if config.int8_keep_float:
        from .quantize.transformer import FRAGILE_PARTS

        unknown = [p for p in config.int8_keep_float if p not in FRAGILE_PARTS]
        if unknown:
            raise ConfigError(f"--int8-keep-float: unknown part {unknown[0]!r}",
                              hint=f"use one or more of {','.join(FRAGILE_PARTS)}")
        if config.quantize is not QuantMode.INT8:
            raise ConfigError(f"--int8-keep-float needs --quantize int8, not {config.quantize.value}",
                              hint="int8 keeps the named transformer parts in float; other modes have no int8 ops")
    entry = loaded.choose(config.signature)
    plan = family_plan(loaded, entry)
    specs, notes = plan_input_specs(entry.info, config, keep_dynamic_inputs=plan.keep_dynamic_inputs)
    if plan.resource_variables:
        notes += ("the graph holds lookup tables or assigns variables: converted through a SavedModel export "
                  "that keeps them, with resource-variable support (static tables become TFLite HASHTABLE ops)",)
    concrete, name_map = build_function(entry, specs)
    recipe = recipe_for(config.quantize)
    loops = recipe.needs_calibration and has_loops(concrete)
    if loops:
        _refuse_loops(config)
    attempts: list[Attempt] = []
    route = "saved_model" if config.resource_variables or plan.resource_variables else "frozen"
    steps = ladder(config.ops_policy, config.allow_custom_ops)
    index: int | None = 0
    while index is not None:
        strategy, select, custom_step = steps[index]
        if select and recipe.needs_calibration:
            raise _no_flex_calibration(attempts, config)
        base_ops = [tf.lite.OpsSet.TFLITE_BUILTINS] + ([tf.lite.OpsSet.SELECT_TF_OPS] if select else [])
        while True:
            converter = make_converter(concrete, route, keep=loaded.obj if plan.resource_variables else None)
            dataset = representative_dataset(calibration, name_map, by_position=route == "frozen")
            settings = _configure(converter, recipe, config, base_ops, dataset, route)
            if custom_step:
                converter.allow_custom_ops = True
                settings["allow_custom_ops"] = True
            t0 = time.perf_counter()
            try:
                with native_stderr_to_log():
                    if uses_int8_techniques(config, loops):
                        model, technique = _int8_techniques(converter, dataset, config, loops)
                        settings.update(technique)
                        if technique.get("int8_keep_float_default"):
                            n_kept = technique["int8_keep_float"]["lstm"]
                            notes += (f"int8: {n_kept} recurrent op(s) kept float (as --int8-keep-float lstm): "
                                      "TensorFlow's calibrator crashes on loops and LiteRT's int8 LSTM kernel "
                                      "crashed on a real char model",)
                    else:
                        model = converter.convert()
                        if recipe.mode is QuantMode.FLOAT16 and config.float16_guard:
                            float32 = make_converter(concrete, route, keep=loaded.obj if plan.resource_variables
                                                     else None)
                            _configure(float32, recipe_for(QuantMode.FLOAT32), config, base_ops, None, route)
                            float32.allow_custom_ops = custom_step  # the twin must convert what the model did
                            guard = guard_float16(bytes(float32.convert()), bytes(model))
                            model = guard.model
                            settings["float16_kept_float32"] = [c.to_dict() for c in guard.kept_float32]
                            if guard.kept_float32:
                                notes += (f"float16: {len(guard.kept_float32)} constant(s) float16 cannot hold kept "
                                          f"float32 ({', '.join(c.name for c in guard.kept_float32[:3])})",)
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001 - the converter raises ConverterError and friends
                reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
                flex, custom, summary = diagnose(exc)
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
            check_integer_only(model, recipe.mode, attempts)
            model, notes = _compacted(model, config, settings, notes)
            kept = custom_ops(model) if custom_step else ()
            if kept:
                notes += (f"ops {sorted({op.name for op in kept})} kept as TFLite custom ops (--allow-custom-ops): "
                          "the model runs only where kernels for them are registered",)
            return Conversion(model=model, signature=entry.info, inputs=specs, input_names=name_map,
                              strategy=strategy, attempts=tuple(attempts), tflite_ops=op_census(model),
                              recipe={**recipe.to_dict(), **_technique_recipe(config, settings, loops)},
                              converter_settings=settings, notes=notes,
                              seconds=time.perf_counter() - start, family=plan.to_dict(), custom_ops=kept)
        index = next_step(steps, index, attempts[-1])  # Select TF ops / custom ops, when they can help
    raise failure(attempts, config)


def _compacted(model: bytes, config: ConvertConfig, settings: dict[str, Any],
               notes: Sequence[str]) -> tuple[bytes, tuple[str, ...]]:
    """`--compact` (compact.py): the model with identical vectors stored once and intermediate names dropped;
    what it saved is recorded in the converter settings and the notes."""
    if not config.compact:
        return model, tuple(notes)
    from .compact import compact_model

    done = compact_model(model)
    settings["compact"] = done.to_dict()
    note = (f"--compact: {done.bytes_saved:,} bytes saved ({done.shared_vectors} repeated vectors stored once, "
            f"{done.names_dropped} intermediate tensor names dropped)")
    return done.model, (*notes, note)


def _no_flex_calibration(attempts: list[Attempt], config: ConvertConfig) -> ConversionError:
    """Calibrated recipes cannot take the Select-TF-ops step: the converter calibrates by running the model in its
    own interpreter, which has no Flex delegate in TensorFlow 2.19+ (and the Flex runtime cannot host the converter)."""
    flex = sorted({op for a in attempts for op in a.flex_ops})
    return ConversionError(f"--quantize {config.quantize.value} cannot calibrate this model: ops {flex} need Select "
                           "TF ops, and the converter's calibration interpreter has no Flex delegate",
                           hint="use --quantize float16 or dynamic (no calibration) for this model",
                           attempts=tuple(attempts))


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


def _build_all(loaded: LoadedModel, config: ConvertConfig,
               names: Sequence[str]) -> tuple[Any, list[SignaturePart], list[Any], list[str]]:
    """`--signature all`: the model's family plan, and every signature's planned inputs and typed function,
    with the planning notes."""
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
    return plan, parts, concretes, notes


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
    plan, parts, concretes, notes = _build_all(loaded, config, names)
    holder = tf.Module()  # the functions and exactly their variables: keeps every SignatureDef
    holder.fns = concretes
    holder.captured_variables = [v for c in concretes for v in c.variables]
    attempts: list[Attempt] = []
    for strategy, select, _ in ladder(config.ops_policy):  # --allow-custom-ops: one signature at a time
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
            reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
            flex, custom, summary = diagnose(exc)
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
        model, notes = _compacted(model, config, settings, notes)
        return Conversion(model=model, signature=first.signature, inputs=first.inputs, input_names=first.input_names,
                          strategy=strategy, attempts=tuple(attempts), tflite_ops=op_census(model),
                          recipe=recipe.to_dict(), converter_settings=settings, notes=tuple(notes),
                          seconds=time.perf_counter() - start, family=plan.to_dict(), parts=tuple(parts))
    raise failure(attempts, config)
