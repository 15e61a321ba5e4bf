"""`hub2lite validate ORIGINAL MODEL.tflite`"""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import _common


def add_parser(sub: Any) -> None:
    p = sub.add_parser("validate", help="compare a .tflite model with its original on the same inputs",
                       description="Run the original and the .tflite on the same inputs and compare every output "
                                   "(max/mean abs error, RMSE, cosine, SNR; top-k and KL for classifiers); with "
                                   "labeled --data, top-1/top-5 accuracy of both. Exit 3 when a check fails.")
    p.add_argument("source", help="the original: SavedModel folder, archive, model file or hub handle")
    p.add_argument("tflite", help="the .tflite model to check")
    _common.add_source_options(p)
    p.add_argument("--tflite-signature", help="signature of the .tflite model (default: serving_default/only one)")
    p.add_argument("--mode", choices=["float32", "float16", "dynamic", "int8", "int8-strict", "int16x8"],
                   help="quantization mode the .tflite was made with (sets default tolerances; default: read from "
                        "the .tflite: float16 weights -> float16, int8 weights -> dynamic, int8 activations -> "
                        "int8/int8-strict, int16 activations -> int16x8)")
    _common.add_validation_options(p)
    p.add_argument("--report", metavar="FILE", help="write the JSON report (schema hub2lite.validate/1) to FILE")
    p.add_argument("--force", action="store_true", help="overwrite --report and files in --save-inputs/--outputs-dir")
    p.add_argument("--json", action="store_true", help="print the JSON report (docs/report-schema.md)")
    p.add_argument("--per-layer", action="store_true",
                   help="int8 drill-down: TFLite QuantizationDebugger error per quantized layer, the worst ranked and "
                        "the layers to keep in float; NAME.layers.csv/.json in the report folder")
    p.set_defaults(run=run, check=check)


def check(args: argparse.Namespace) -> None:
    """Usage errors found from the flags alone (before TensorFlow is imported)."""
    _common.check_validation_flags(args)
    _common.check_input_options(args)


def run(args: argparse.Namespace, ui: Any) -> int:
    from ..pipeline import ValidateJob, run_validate, validation_document
    from ..report import validation_text
    from ..specs import QuantMode

    mode = None if args.mode is None else QuantMode(args.mode)
    job = ValidateJob(source=args.source, tflite=args.tflite, signature=args.signature,
                      tflite_signature=args.tflite_signature, validate=_common.validate_config(args, mode), mode=mode,
                      tolerance_overrides=_common.tolerance_overrides(args),
                      cache_dir=args.cache_dir, timeout=args.timeout,
                      tags=_common.tags(args), report=args.report, force=args.force,
                      load_options=_common.load_options(args), input_range=args.input_range, mean=args.mean,
                      std=args.std, normalization_from=args.normalization_from,
                      vocab=args.vocab)
    if args.per_layer:  # refused before any work when it cannot run
        from ..quantize.debugger import check_debuggable
        from ..tflite_file import read_model_bytes

        check_debuggable(read_model_bytes(args.tflite), args.tflite)
    with ui.progress("validating") as p:
        report = run_validate(job, progress=p.step)
    data = validation_document(report)
    if not args.json:
        ui.print(next((n for n in report.notes if n.startswith(f"mode {report.mode} (")), f"mode {report.mode}"))
    ui.print(json.dumps(data, indent=2) if args.json else "\n".join(validation_text(data)))
    if args.per_layer:
        from ..quantize.debugger import run_per_layer

        with ui.progress("per-layer quantization error") as p:
            layers, csv_path, json_path = run_per_layer(
                args.source, args.tflite, data=args.data, signature=args.signature, samples=args.samples,
                seed=args.seed, cache_dir=args.cache_dir, tags=_common.tags(args), timeout=args.timeout,
                report=getattr(args, "report", None), force=getattr(args, "force", False),
                load_options=_common.load_options(args), scaling=_common.scaling_flags(args))
        if not args.json:
            ui.print("\n".join(layers.text() + [f"per-layer report: {csv_path}, {json_path}"]))
    return _common.validation_exit_code(report)
