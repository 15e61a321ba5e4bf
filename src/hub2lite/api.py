"""The Python API: one call per command, the CLI's options as typed keyword arguments.

    hub2lite.convert(source, output, quantize="int8", calibration="photos/", input_range=(-1, 1)) -> ConvertResult
    hub2lite.convert(source, output, metadata=True, labels="labels.txt")     (TFLite metadata + a model card)
    hub2lite.validate(source, tflite, data="photos/")                                       -> ValidationReport
    hub2lite.sweep(source, output_dir, modes=("float32", "int8"), calibration="photos/")    -> SweepResult
    hub2lite.optimize(source, output, data="photos/", max_drop=1.0)                         -> OptimizeResult
    hub2lite.inspect(source)                                            -> ModelInfo (TfliteInfo for a .tflite)
    hub2lite.bench(model)                                                                   -> LatencyStats

Each runs the same code path as its command (the same `prepare`, the same checks), returns the result object
with its report, and raises the typed errors of `hub2lite.errors` (never exits). TensorFlow's C++ log noise is
quieted unless the user configured TF_CPP_MIN_LOG_LEVEL, or passes `debug=True`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .options import range_text

if TYPE_CHECKING:
    from .benchmark import LatencyStats
    from .inspect import ModelInfo
    from .inspect_tflite import TfliteInfo
    from .optimize import OptimizeResult
    from .pipeline import ConvertResult
    from .sweep import SweepResult
    from .validate import ValidationReport

__all__ = ["convert", "validate", "sweep", "optimize", "inspect", "bench"]

Progress = Callable[[str], None]


def _start(debug: bool) -> None:
    from ._tf import import_tensorflow_quietly

    import_tensorflow_quietly(debug=debug)


def _texts(values: str | Sequence[float] | None) -> str | None:
    if values is None or isinstance(values, str):
        return values
    if isinstance(values, (int, float)):
        return f"{float(values):g}"
    return ",".join(f"{float(v):g}" for v in values)


def _load_options(unsafe_keras: bool, input_names: Sequence[str], output_names: Sequence[str],
                  freeze_inputs: Mapping[str, Any] | None = None) -> Any:
    from .load import LoadOptions

    frozen = tuple(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in (freeze_inputs or {}).items())
    return LoadOptions(unsafe_keras=unsafe_keras, input_names=tuple(input_names), output_names=tuple(output_names),
                       freeze_inputs=frozen)


def _convert_config(*, signature: str | None, input_shapes: Mapping[str, Sequence[int]] | None, keep_dynamic: bool,
                    batch_size: int, quantize: str = "float32", no_flex: bool = False, io_type: str | None = None,
                    resource_variables: bool = False, split_unsupported: bool = False,
                    body_inputs: Sequence[str] = (), body_outputs: Sequence[str] = (),
                    allow_custom_ops: bool = False, seq_len: int | None = None,
                    int8_keep_float: Sequence[str] = (), int8_ranges: str = "minmax", bias_correction: bool = False,
                    float16_guard: bool = True, compact: bool = False) -> Any:
    from .convert import ConvertConfig
    from .specs import OpsPolicy, QuantMode

    return ConvertConfig(signature=signature, input_shapes={k: tuple(int(d) for d in v)
                                                            for k, v in (input_shapes or {}).items()},
                         keep_dynamic=keep_dynamic, batch_size=batch_size,
                         ops_policy=OpsPolicy.BUILTINS if no_flex else OpsPolicy.AUTO, quantize=QuantMode(quantize),
                         io_type=io_type, resource_variables=resource_variables, split_unsupported=split_unsupported,
                         body_inputs=tuple(body_inputs), body_outputs=tuple(body_outputs),
                         allow_custom_ops=allow_custom_ops, seq_len=seq_len,
                         int8_keep_float=tuple(int8_keep_float), int8_ranges=int8_ranges,
                         bias_correction=bias_correction, float16_guard=float16_guard, compact=compact)


def _validate_config(mode: Any, *, validate: bool, data: str | None, labels: str | None, samples: int | None,
                     seed: int, task: str, tolerances: Mapping[str, float | None], flex_runtime: bool = True) -> Any:
    from .errors import ConfigError
    from .pipeline import ValidateConfig
    from .validate import default_tolerance

    if samples is not None and samples <= 0:
        raise ConfigError("samples must be positive")
    count = samples or (500 if data else 8)
    tol = None if mode is None else default_tolerance(mode, **dict(tolerances))
    return ValidateConfig(enabled=validate, samples=count, seed=seed, data=data, tolerance=tol, task=task,
                          labels=labels, flex_runtime=flex_runtime)


def convert(source: str, output: str, *, quantize: str = "float32", signature: str | None = None,
            input_shapes: Mapping[str, Sequence[int]] | None = None, keep_dynamic: bool = False, batch_size: int = 1,
            input_range: tuple[float, float] | str | None = None, mean: Sequence[float] | float | str | None = None,
            std: Sequence[float] | float | str | None = None, normalization_from: str | None = None,
            metadata: bool = False, calibration: str | None = None,
            calibration_samples: int = 200, data: str | None = None, labels: str | None = None,
            samples: int | None = None, seed: int = 0, validate: bool = True, task: str = "auto",
            tolerances: Mapping[str, float | None] | None = None, no_flex: bool = False, io_type: str | None = None,
            resource_variables: bool = False, force: bool = False, cache_dir: str | None = None,
            tags: Sequence[str] | None = None, timeout: float | None = None, unsafe_keras: bool = False,
            input_names: Sequence[str] = (), output_names: Sequence[str] = (), debug: bool = False,
            flex_runtime: bool = True, progress: Progress | None = None, split_unsupported: bool = False,
            body_inputs: Sequence[str] = (), body_outputs: Sequence[str] = (),
            allow_custom_ops: bool = False, seq_len: int | None = None,
            vocab: str | None = None, int8_keep_float: Sequence[str] = (), int8_ranges: str = "minmax",
            bias_correction: bool = False, float16_guard: bool = True, compact: bool = False,
            freeze_inputs: Mapping[str, Any] | None = None) -> ConvertResult:
    """`hub2lite convert`: convert, validate, write OUTPUT and OUTPUT.report.json. Returns the ConvertResult
    (`.passed`, `.report`, `.conversion`, `.validation`). `flex_runtime=False`: a Select-TF-ops model's
    validation is not run (`.validation.not_run` says why) instead of starting the Flex runtime.
    `split_unsupported` / `body_inputs` / `body_outputs` cut out ops no TFLite runtime has (OUTPUT.pre/,
    OUTPUT.post/; docs/split.md); `allow_custom_ops` keeps them as custom ops. `int8_keep_float` (with
    quantize="int8"): transformer parts kept in float, e.g. ("softmax",) (docs/quantization.md). `int8_ranges`
    ("minmax", "percentile", "mse") and `bias_correction` (int8 / int8-strict) are `--int8-ranges` /
    `--bias-correction`; `float16_guard=False` is `--no-float16-guard`; `freeze_inputs` ({"is_training": False})
    feeds TF1 checkpoint placeholders constants, as `--freeze-input NAME=VALUE`; `compact` is `--compact`."""
    from .options import check_quantized_validation
    from .pipeline import ConvertJob, run_convert
    from .specs import QuantMode

    mode = QuantMode(quantize)
    check_quantized_validation(mode, validate)
    _start(debug)
    cfg = _convert_config(signature=signature, input_shapes=input_shapes, keep_dynamic=keep_dynamic,
                          batch_size=batch_size, quantize=quantize, no_flex=no_flex, io_type=io_type,
                          resource_variables=resource_variables, split_unsupported=split_unsupported,
                          body_inputs=body_inputs, body_outputs=body_outputs, allow_custom_ops=allow_custom_ops,
                          seq_len=seq_len, int8_keep_float=int8_keep_float, int8_ranges=int8_ranges,
                          bias_correction=bias_correction, float16_guard=float16_guard, compact=compact)
    if cfg.split_requested and allow_custom_ops:
        from .errors import ConfigError

        raise ConfigError("allow_custom_ops cannot be combined with a split",
                          hint="split the ops out or keep them as custom ops, not both")
    job = ConvertJob(source=source, output=str(output), convert=cfg,
                     validate=_validate_config(mode, validate=validate, data=data, labels=labels, samples=samples,
                                               seed=seed, task=task, tolerances=tolerances or {},
                                               flex_runtime=flex_runtime),
                     calibration=calibration, calibration_samples=calibration_samples, force=force,
                     cache_dir=cache_dir, timeout=timeout, tags=None if tags is None else tuple(tags),
                     input_range=range_text(input_range), mean=_texts(mean), std=_texts(std), calibration_seed=seed,
                     load_options=_load_options(unsafe_keras, input_names, output_names, freeze_inputs),
                     metadata=metadata,
                     normalization_from=normalization_from, vocab=vocab)
    return run_convert(job, progress=progress or (lambda _: None))


def validate(source: str, tflite: str, *, mode: str | None = None, signature: str | None = None,
             tflite_signature: str | None = None, input_range: tuple[float, float] | str | None = None,
             mean: Sequence[float] | float | str | None = None, std: Sequence[float] | float | str | None = None,
             normalization_from: str | None = None,
             data: str | None = None, labels: str | None = None, samples: int | None = None, seed: int = 0,
             task: str = "auto", tolerances: Mapping[str, float | None] | None = None, report: str | None = None,
             force: bool = False, cache_dir: str | None = None, tags: Sequence[str] | None = None,
             timeout: float | None = None, unsafe_keras: bool = False, input_names: Sequence[str] = (),
             output_names: Sequence[str] = (), debug: bool = False, flex_runtime: bool = True,
             progress: Progress | None = None, vocab: str | None = None,
             freeze_inputs: Mapping[str, Any] | None = None) -> ValidationReport:
    """`hub2lite validate`: run the original and the .tflite on the same inputs; `mode` None reads the
    quantization mode from the .tflite. Returns the ValidationReport (`.passed`, `.outputs`, `.to_dict()`)."""
    from .pipeline import ValidateJob, run_validate
    from .specs import QuantMode

    quant = None if mode is None else QuantMode(mode)
    _start(debug)
    job = ValidateJob(source=source, tflite=str(tflite), signature=signature, tflite_signature=tflite_signature,
                      validate=_validate_config(quant, validate=True, data=data, labels=labels, samples=samples,
                                                seed=seed, task=task, tolerances=tolerances or {},
                                                flex_runtime=flex_runtime),
                      mode=quant, tolerance_overrides=dict(tolerances or {}), cache_dir=cache_dir, timeout=timeout,
                      tags=None if tags is None else tuple(tags), report=report, force=force,
                      load_options=_load_options(unsafe_keras, input_names, output_names, freeze_inputs),
                      input_range=range_text(input_range), mean=_texts(mean), std=_texts(std),
                      normalization_from=normalization_from, vocab=vocab)
    return run_validate(job, progress=progress or (lambda _: None))


def sweep(source: str, output_dir: str, *, modes: Sequence[str] | str = ("float32", "float16", "dynamic", "int8"),
          calibration: str | None = None, calibration_samples: int = 200, data: str | None = None,
          labels: str | None = None, samples: int = 100, seed: int = 0, signature: str | None = None,
          input_shapes: Mapping[str, Sequence[int]] | None = None, keep_dynamic: bool = False, batch_size: int = 1,
          input_range: tuple[float, float] | str | None = None, mean: Sequence[float] | float | str | None = None,
          std: Sequence[float] | float | str | None = None, normalization_from: str | None = None,
          metadata: bool = False, task: str = "auto", no_flex: bool = False,
          io_type: str | None = None, threads: int | None = None, runs: int = 50, warmup: int = 5,
          rounds: int = 3, force: bool = False, cache_dir: str | None = None, tags: Sequence[str] | None = None,
          timeout: float | None = None, unsafe_keras: bool = False, input_names: Sequence[str] = (),
          output_names: Sequence[str] = (), debug: bool = False, seq_len: int | None = None,
          vocab: str | None = None, int8_keep_float: Sequence[str] = (), int8_ranges: str = "minmax",
          bias_correction: bool = False, freeze_inputs: Mapping[str, Any] | None = None,
          split_unsupported: bool = False, body_inputs: Sequence[str] = (), body_outputs: Sequence[str] = (),
          allow_custom_ops: bool = False, flex_runtime: bool = True, xnnpack: bool = True, compact: bool = False,
          tolerances: Mapping[str, float | None] | None = None) -> SweepResult:
    """`hub2lite sweep`: every quantization variant converted, validated and benchmarked; writes
    OUTPUT_DIR/report.json/.md/.html. Returns the SweepResult (`.passed`, `.report`, `.files`).
    `int8_keep_float`: the int8 variant keeps these transformer parts in float (as `convert`)."""
    from .benchmark import BenchConfig
    from .sweep import SweepConfig, parse_modes, run_sweep

    _start(debug)
    cfg = SweepConfig(source=source, output_dir=str(output_dir), modes=parse_modes(modes), calibration=calibration,
                      calibration_samples=calibration_samples, data=data, labels=labels, samples=samples, seed=seed,
                      convert=_convert_config(signature=signature, input_shapes=input_shapes,
                                              keep_dynamic=keep_dynamic, batch_size=batch_size, no_flex=no_flex,
                                              io_type=io_type, seq_len=seq_len, int8_keep_float=int8_keep_float,
                                              int8_ranges=int8_ranges, bias_correction=bias_correction,
                                              split_unsupported=split_unsupported, body_inputs=body_inputs,
                                              body_outputs=body_outputs, allow_custom_ops=allow_custom_ops,
                                              compact=compact),
                      bench=BenchConfig(runs=runs, warmup=warmup, threads=threads, seed=seed, rounds=rounds,
                                        xnnpack=xnnpack, flex_runtime=flex_runtime),
                      tolerance_overrides={k: v for k, v in (tolerances or {}).items() if v is not None},
                      classification={"auto": None, "classification": True}.get(task, False), force=force,
                      cache_dir=cache_dir, tags=None if tags is None else tuple(tags), timeout=timeout,
                      load_options=_load_options(unsafe_keras, input_names, output_names, freeze_inputs),
                      input_range=range_text(input_range), mean=_texts(mean), std=_texts(std),
                      normalization_from=normalization_from, metadata=metadata, vocab=vocab)
    return run_sweep(cfg)


def optimize(source: str, output: str, *, data: str, calibration: str | None = None, labels: str | None = None,
             max_drop: float = 1.0, metric: str = "top1", objective: str = "size", max_evals: int = 12,
             calibration_samples: int = 200, eval_samples: int | None = None, runs: int = 50,
             threads: int | None = None, seed: int = 0, signature: str | None = None,
             input_shapes: Mapping[str, Sequence[int]] | None = None, keep_dynamic: bool = False, batch_size: int = 1,
             input_range: tuple[float, float] | str | None = None, mean: Sequence[float] | float | str | None = None,
             std: Sequence[float] | float | str | None = None, normalization_from: str | None = None,
             metadata: bool = False, force: bool = False, cache_dir: str | None = None,
             tags: Sequence[str] | None = None, timeout: float | None = None, unsafe_keras: bool = False,
             input_names: Sequence[str] = (), output_names: Sequence[str] = (), debug: bool = False,
             flex_runtime: bool = True, progress: Progress | None = None,
             seq_len: int | None = None, vocab: str | None = None,
             freeze_inputs: Mapping[str, Any] | None = None,
             split_unsupported: bool = False, body_inputs: Sequence[str] = (), body_outputs: Sequence[str] = (),
             allow_custom_ops: bool = False, compact: bool = False) -> OptimizeResult:
    """`hub2lite optimize`: the smallest (or fastest) .tflite within `max_drop` points of the original's metric.
    Returns the OptimizeResult (`.passed`, `.report`, `.report_paths`). `flex_runtime=False`: Select-TF-ops
    candidates are refused with FlexRuntimeError instead of running in the Flex runtime."""
    from .optimize import OptimizeConfig, OptimizeJob, run_optimize

    _start(debug)
    cfg = OptimizeConfig(max_drop=max_drop, metric=metric, objective=objective, threads=threads,
                         max_evals=max_evals, calibration_samples=calibration_samples, eval_samples=eval_samples,
                         seed=seed, bench_runs=runs, flex_runtime=flex_runtime)
    job = OptimizeJob(source=source, output=str(output), data=data, calibration=calibration, labels=labels,
                      optimize=cfg, convert=_convert_config(signature=signature, input_shapes=input_shapes,
                                                            keep_dynamic=keep_dynamic, batch_size=batch_size,
                                                            seq_len=seq_len, split_unsupported=split_unsupported,
                                                            body_inputs=body_inputs, body_outputs=body_outputs,
                                                            allow_custom_ops=allow_custom_ops, compact=compact),
                      force=force, cache_dir=cache_dir, tags=None if tags is None else tuple(tags), timeout=timeout,
                      load_options=_load_options(unsafe_keras, input_names, output_names, freeze_inputs),
                      input_range=range_text(input_range), mean=_texts(mean), std=_texts(std),
                      normalization_from=normalization_from, metadata=metadata, vocab=vocab)
    return run_optimize(job, progress=progress or (lambda _: None))


def inspect(source: str, *, signature: str | None = None, probe: bool = True,
            input_shapes: Mapping[str, Sequence[int]] | None = None, keep_dynamic: bool = False, batch_size: int = 1,
            cache_dir: str | None = None, tags: Sequence[str] | None = None, timeout: float | None = None,
            unsafe_keras: bool = False, input_names: Sequence[str] = (), output_names: Sequence[str] = (),
            debug: bool = False, seq_len: int | None = None,
            vocab: str | None = None,
            freeze_inputs: Mapping[str, Any] | None = None) -> ModelInfo | TfliteInfo:
    """`hub2lite inspect`: signatures, shapes, parameters and the op census. Returns the ModelInfo; for a .tflite
    the TfliteInfo (signatures, op census, quantization and its TFLite metadata)."""
    from .pipeline import run_inspect
    from .tflite_file import is_tflite_path

    _start(debug)
    if is_tflite_path(source):
        from .inspect_tflite import inspect_tflite

        return inspect_tflite(source)
    config = _convert_config(signature=None, input_shapes=input_shapes, keep_dynamic=keep_dynamic,
                             batch_size=batch_size, seq_len=seq_len)
    return run_inspect(source, signature=signature, cache_dir=cache_dir, timeout=timeout,
                       tags=None if tags is None else tuple(tags), probe=probe, config=config,
                       load_options=_load_options(unsafe_keras, input_names, output_names, freeze_inputs), vocab=vocab)


def bench(model: str, *, runs: int = 50, warmup: int = 5, threads: int | None = None, xnnpack: bool = True,
          rounds: int = 1, seed: int = 0, signature: str | None = None,
          input_shapes: Mapping[str, Sequence[int]] | None = None, batch_size: int = 1,
          cache_dir: str | None = None, tags: Sequence[str] | None = None,
          timeout: float | None = None, flex_runtime: bool = True,
          seq_len: int | None = None) -> LatencyStats:
    """`hub2lite bench`: latency, start-up and memory of a .tflite or of the original, in a child process
    (Select-TF-ops models in the Flex runtime; `flex_runtime=False` refuses them with FlexRuntimeError)."""
    from .benchmark import BenchConfig, benchmark_source, benchmark_tflite
    from .tflite_file import is_tflite_path

    cfg = BenchConfig(runs=runs, warmup=warmup, threads=threads, xnnpack=xnnpack, seed=seed, rounds=rounds,
                      flex_runtime=flex_runtime)
    if is_tflite_path(model):
        return benchmark_tflite(model, cfg, signature=signature)
    return benchmark_source(model, cfg, signature=signature, input_shapes=input_shapes, batch_size=batch_size,
                            cache_dir=cache_dir, tags=tags, timeout=timeout, seq_len=seq_len)
