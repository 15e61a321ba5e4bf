"""`hub2lite convert SOURCE -o model.tflite`"""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import _common

QUANT_CHOICES = ["float32", "float16", "dynamic", "int8", "int8-strict", "int16x8"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("convert", help="convert to .tflite (builtins, then Select TF ops if needed) and validate it",
                       description="Convert one signature to TFLite with a strategy ladder, validate it against the "
                                   "original, and write MODEL.tflite plus MODEL.report.json (atomically).")
    p.add_argument("source", help="SavedModel folder, .tar.gz, .keras/.h5/.pb file, or hub handle/URL")
    p.add_argument("-o", "--output", required=True, help="output .tflite path")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    _common.add_source_options(p)
    _common.add_shape_options(p)
    p.add_argument("--no-flex", action="store_true", help="TFLite builtin ops only; never fall back to Select TF ops")
    p.add_argument("--resource-variables", action="store_true", help="enable resource variables / hash tables")
    p.add_argument("--quantize", choices=QUANT_CHOICES, default="float32", help="quantization recipe (default float32)")
    p.add_argument("--io-type", choices=["int8", "uint8"], help="integer input/output type for int8-strict")
    p.add_argument("--calibration", type=_common.CALIBRATION_PATH, metavar="PATH|synthetic",
                   help="calibration data (.npy/.npz/image folder) for int8/int16x8; 'synthetic' = random, unverified")
    p.add_argument("--calibration-samples", type=int, default=200,
                   help="calibration samples, a seeded (--seed) selection (default 200)")
    _common.add_int8_options(p)
    _common.add_compact_option(p)
    p.add_argument("--no-float16-guard", action="store_true",
                   help="float16: convert every constant, even those float16 cannot hold (default: they stay float32)")
    _common.add_split_options(p)
    p.add_argument("--no-validate", action="store_true", help="skip validation (float32 only)")
    _common.add_validation_options(p)
    _common.add_metadata_option(p)
    p.add_argument("--json", action="store_true", help="print the JSON report instead of the summary")
    p.set_defaults(run=run, check=check)


def check(args: argparse.Namespace) -> None:
    """Flag combinations wrong whatever the model, refused before TensorFlow is imported."""
    from ..specs import QuantMode

    check_modes(args, (QuantMode(args.quantize),), flag="--quantize")


def check_modes(args: argparse.Namespace, modes: Any, *, flag: str) -> None:
    """check() for a run of several modes with the same flags (batch): the mode-specific flags must concern at
    least one of them. `flag` names the flag that chose the modes in messages (--quantize or --modes)."""
    from ..options import (CalibrationOptions, DataOptions, check_calibration, check_data_options,
                           check_quantized_validation)

    for mode in modes:
        check_quantized_validation(mode, not args.no_validate)
    _common.check_split_options(args)
    _common.check_input_options(args)
    _common.check_validation_flags(args)
    if not args.no_validate:
        check_data_options(DataOptions(args.data, args.samples or 1, args.seed, args.load_inputs))
    check_calibration(CalibrationOptions(args.calibration), tuple(modes), flag=flag)
    _common.check_metadata_flag(args)
    _common.check_int8_options(args, tuple(modes))
    if args.io_type and not any(m.value == "int8-strict" for m in modes):
        from ..errors import ConfigError

        raise ConfigError("--io-type applies only to int8-strict", hint="add --quantize int8-strict, or drop --io-type")


def job_from_args(args: argparse.Namespace) -> Any:
    from ..pipeline import ConvertJob
    from ..specs import QuantMode

    mode = QuantMode(args.quantize)
    # .for_mode: a batch's mode takes its share of the model's flags (a lone --quantize has only its own: check())
    cfg = _common.convert_config(args).for_mode(mode)
    return ConvertJob(source=args.source, output=args.output, convert=cfg,
                      validate=_common.validate_config(args, mode), calibration=args.calibration,
                      calibration_samples=args.calibration_samples, force=args.force, cache_dir=args.cache_dir, timeout=args.timeout,
                      tags=_common.tags(args), input_range=args.input_range, mean=args.mean, std=args.std,
                      calibration_seed=args.seed, load_options=_common.load_options(args), metadata=args.metadata,
                      normalization_from=args.normalization_from, command=_common.command_of(args),
                      vocab=args.vocab)


def run(args: argparse.Namespace, ui: Any) -> int:
    from ..pipeline import run_convert
    from ..report import convert_summary

    job = job_from_args(args)
    with ui.progress("converting") as p:
        result = run_convert(job, progress=p.step)
    ui.print(json.dumps(result.report, indent=2) if args.json else convert_summary(result.report))
    return _common.validation_exit_code(result.validation)
