"""Flags shared by several subcommands, and their translation into configs."""

from __future__ import annotations

import argparse
from typing import Any


class PathArg:
    """argparse `type` of a flag that names a file or folder: the text, unchanged. It marks the flag for batch
    manifests, which take such paths relative to the manifest's folder and check that they exist (unless
    `must_exist` is off, or the value is one of `keywords`, e.g. "synthetic") before any model runs."""

    def __init__(self, *, keywords: tuple[str, ...] = (), must_exist: bool = True) -> None:
        self.keywords, self.must_exist = keywords, must_exist

    def __call__(self, text: str) -> str:
        return text

    def __repr__(self) -> str:
        return "path"


#: --calibration: a file or folder, or "synthetic".
CALIBRATION_PATH = PathArg(keywords=("synthetic",))


def add_source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--signature", help="signature to use (default: serving_default, else the only one; "
                                       "convert: 'all' exports every signature into one .tflite)")
    p.add_argument("--tags", help="comma-separated SavedModel tags (default: serve; TF1 Hub: empty set)")
    p.add_argument("--cache-dir", type=PathArg(must_exist=False),
                   help="hub download cache (default: $TFHUB_CACHE_DIR or ~/.cache/hub2lite)")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="hub downloads: give up on a server that sends nothing for this long (default 60; "
                        "failed fetches are retried 3 times with backoff)")
    p.add_argument("--unsafe-keras", action="store_true",
                   help="allow Keras files with Lambda layers (their Python code runs on load: trusted files only)")
    p.add_argument("--input-names", metavar="NAME,...", help="frozen graph .pb: tensors to feed (default: Placeholders)")
    p.add_argument("--output-names", metavar="NAME,...",
                   help="frozen graph .pb: tensors to fetch (default: nodes nothing consumes)")
    p.add_argument("--freeze-input", action="append", default=[], metavar="NAME=VALUE",
                   help="TF1 checkpoint: feed placeholder NAME the constant VALUE (e.g. is_training=false); repeatable")


def add_shape_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0,D1,...",
                   help="fix an input's shape, e.g. images=1,224,224,3 (repeatable)")
    p.add_argument("--keep-dynamic", action="store_true", help="keep dims not given by --input-shape dynamic")
    p.add_argument("--batch-size", type=int, default=1, help="batch size for a dynamic batch dim (default 1)")
    p.add_argument("--seq-len", type=int, metavar="N",
                   help="text encoders (word ids / mask / type ids inputs): tokens per example for a dynamic "
                        "sequence length (default 128)")


def add_split_options(p: argparse.ArgumentParser) -> None:
    """Ops no TFLite runtime has (no builtin, no Select TF kernel): the same flags in convert, sweep and optimize."""
    g = p.add_argument_group("ops nothing in TFLite can run (docs/split.md)")
    g.add_argument("--split-unsupported", action="store_true",
                   help="cut them out: the rest becomes the .tflite, the ops before it MODEL.pre/ and after it "
                        "MODEL.post/ (TensorFlow SavedModels whose signatures connect by name); validated end to end")
    g.add_argument("--body-inputs", metavar="TENSOR,...",
                   help="cut by hand: the tensors the .tflite starts from (names from `inspect --tensors`)")
    g.add_argument("--body-outputs", metavar="TENSOR,...",
                   help="cut by hand: the tensors the .tflite ends with (default: the model's outputs)")
    g.add_argument("--allow-custom-ops", action="store_true",
                   help="keep them as named TFLite custom ops instead (the report lists each; your app supplies "
                        "the kernels, so the model cannot be validated or benchmarked here)")


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in (text or "").split(",") if n.strip())


def split_config(args: argparse.Namespace) -> dict[str, Any]:
    """ConvertConfig keyword arguments of the split flags (checked by check_split_options)."""
    return {"split_unsupported": bool(getattr(args, "split_unsupported", False)),
            "body_inputs": _names(getattr(args, "body_inputs", None)),
            "body_outputs": _names(getattr(args, "body_outputs", None)),
            "allow_custom_ops": bool(getattr(args, "allow_custom_ops", False))}


def check_split_options(args: argparse.Namespace) -> None:
    """Refused before TensorFlow is imported: the two answers to the same problem, or a cut of every signature."""
    from ..errors import ConfigError

    kw = split_config(args)
    split = kw["split_unsupported"] or kw["body_inputs"] or kw["body_outputs"]
    if split and kw["allow_custom_ops"]:
        raise ConfigError("--allow-custom-ops cannot be combined with --split-unsupported/--body-inputs/--body-outputs",
                          hint="split the ops out (the model then runs everywhere) or keep them as custom ops, "
                               "not both")
    if split and getattr(args, "signature", None) == "all":
        raise ConfigError("--split-unsupported / --body-inputs / --body-outputs work on one signature, not 'all'",
                          hint="choose one with --signature NAME")


#: Validation sample counts when --samples is not given: synthetic inputs, and the cap on --data.
SYNTHETIC_SAMPLES = 8
DATA_SAMPLES = 500


#: --labels means one thing in every command.
LABELS_HELP = ("class names by output index: one per line, or JSON; maps the data's own labels (.npz 'y' names, "
               "class_name/ folders) to outputs. Per-sample labels travel with the data, never here")


def add_input_options(p: argparse.ArgumentParser, *, data_help: str, data_required: bool = False,
                      samples_help: str | None = None, samples_default: int | None = None,
                      seed_help: str = "seed for synthetic inputs and sampling (default 0)") -> None:
    """The input flags every command that reads data takes, from this one group: --data, --labels, --samples,
    --seed, --input-range, --mean, --std (commands/_common.input_options turns them into options)."""
    g = p.add_argument_group("input data (the same flags in convert, validate, sweep and optimize)")
    g.add_argument("--data", type=PathArg(), required=data_required, help=data_help)
    g.add_argument("--labels", type=PathArg(), metavar="FILE", help=LABELS_HELP)
    if samples_help is not None:
        g.add_argument("--samples", type=int, default=samples_default, help=samples_help)
    g.add_argument("--seed", type=int, default=0, help=seed_help)
    g.add_argument("--input-range", metavar="LOW,HIGH",
                   help="value range of float image inputs: 0,1 | -1,1 | 0,255 (default: what the model's leading "
                        "Rescaling/Normalization implies, else 0,1 as TF Hub image models)")
    g.add_argument("--mean", metavar="M[,M,M]", help="image input = (pixel - mean) / std, pixels 0..255 (with --std)")
    g.add_argument("--std", metavar="S[,S,S]", help="see --mean")
    g.add_argument("--normalization-from", type=PathArg(), metavar="MODEL.tflite",
                   help="take the image normalization recorded in this .tflite's TFLite metadata (validate: the "
                        ".tflite it checks, when no scaling flag is given)")
    g.add_argument("--vocab", type=PathArg(), metavar="FILE",
                   help="text encoders: WordPiece vocab.txt that tokenizes a text --data/--calibration file (one "
                        "example per line, or two texts separated by a tab) (default: the model's assets/vocab.txt)")



def add_metadata_option(p: argparse.ArgumentParser) -> None:
    """--metadata, for every command that writes models."""
    p.add_argument("--metadata", action="store_true",
                   help="embed TFLite metadata in each written model: name, description, version, provenance, "
                        "image properties and normalization, labels (--labels, else a labels file in the hub "
                        "model's assets), output descriptions (needs `hub2lite setup-metadata` once)")


def command_of(args: argparse.Namespace) -> str | None:
    """The command line as typed (for model cards), when the CLI recorded it."""
    argv = getattr(args, "argv", None)
    if not argv:
        return None
    from ..model_card import command_line

    return command_line(argv)


def check_metadata_flag(args: argparse.Namespace) -> None:
    """--metadata needs tflite-support: refuse before any work (and before TensorFlow is imported)."""
    if getattr(args, "metadata", False):
        from ..metadata.support import check_metadata_support

        check_metadata_support()


VALIDATION_DATA_HELP = ("inputs for validation: .npy/.npz file or image folder (class_name/*.jpg or .npz x/y give "
                        "labels: top-1/top-5 accuracy of both models) (default: seeded synthetic)")
VALIDATION_SAMPLES_HELP = (f"validation samples (default {SYNTHETIC_SAMPLES} synthetic, or all of --data up to "
                           f"{DATA_SAMPLES}, a seeded selection)")


def add_int8_options(p: argparse.ArgumentParser) -> None:
    """int8 techniques between calibration and quantization (docs/quantization.md)."""
    g = p.add_argument_group("int8 techniques (with --quantize int8 / int8-strict)")
    g.add_argument("--int8-ranges", choices=["minmax", "percentile", "mse"], default="minmax",
                   help="activation ranges: observed min/max (the converter's, default), 99.99th percentiles, or the "
                        "clipping that minimizes int8 error of the calibration activations")
    g.add_argument("--bias-correction", action="store_true",
                   help="correct each conv/dense bias for the mean shift its int8 weight rounding causes "
                        "(from calibration statistics)")
    g.add_argument("--int8-keep-float", metavar="PART,...",
                   help="--quantize int8: keep these parts in float, found by kind in the converted graph: softmax "
                        "(attention's score scaling, mask and softmax), layernorm, gelu (transformers), lstm "
                        "(recurrent ops and loops; kept float by default); e.g. softmax (docs/quantization.md)")


def add_compact_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--compact", action="store_true",
                   help="the same network in fewer bytes: repeated vectors (per-channel zero points, shapes) stored "
                        "once and intermediate tensor names dropped; outputs are unchanged (docs/quantization.md)")


def convert_config(args: argparse.Namespace) -> Any:
    """The ConvertConfig of the shared convert flags (convert, sweep, optimize, batch through convert): one place
    turns flags into settings. A flag a command does not offer keeps its default (optimize chooses the
    quantization itself, sweep converts every mode: `ConvertConfig.for_mode` narrows per mode)."""
    from ..conversion import ConvertConfig
    from ..specs import OpsPolicy, QuantMode

    return ConvertConfig(
        signature=args.signature, input_shapes=input_shapes(args), keep_dynamic=args.keep_dynamic,
        batch_size=args.batch_size, seq_len=args.seq_len, quantize=QuantMode(getattr(args, "quantize", "float32")),
        ops_policy=OpsPolicy.BUILTINS if getattr(args, "no_flex", False) else OpsPolicy.AUTO,
        io_type=getattr(args, "io_type", None), resource_variables=getattr(args, "resource_variables", False),
        int8_ranges=getattr(args, "int8_ranges", "minmax"), bias_correction=getattr(args, "bias_correction", False),
        int8_keep_float=int8_keep_float(args), float16_guard=not getattr(args, "no_float16_guard", False),
        compact=getattr(args, "compact", False), **split_config(args))


def int8_keep_float(args: argparse.Namespace) -> tuple[str, ...]:
    """--int8-keep-float as a tuple of known part names (ConfigError naming an unknown one)."""
    from ..errors import ConfigError
    from ..quantize.transformer import FRAGILE_PARTS

    parts = _names(getattr(args, "int8_keep_float", None))
    unknown = [p for p in parts if p not in FRAGILE_PARTS]
    if unknown:
        raise ConfigError(f"--int8-keep-float: unknown part {unknown[0]!r}",
                          hint=f"use one or more of {','.join(FRAGILE_PARTS)}")
    return tuple(dict.fromkeys(parts))


def check_int8_options(args: argparse.Namespace, modes: Any) -> None:
    from ..errors import ConfigError
    from ..specs import QuantMode

    if (getattr(args, "int8_ranges", "minmax") != "minmax" or getattr(args, "bias_correction", False)) and not any(
            QuantMode(m) in (QuantMode.INT8, QuantMode.INT8_STRICT) for m in modes):
        raise ConfigError("--int8-ranges/--bias-correction need --quantize int8 or int8-strict",
                          hint="add --quantize int8, or drop the int8 technique flags")
    if int8_keep_float(args) and QuantMode.INT8 not in [QuantMode(m) for m in modes]:
        raise ConfigError("--int8-keep-float needs --quantize int8",
                          hint="add --quantize int8 (int8-strict keeps no op in float), or drop --int8-keep-float")


def add_validation_options(p: argparse.ArgumentParser) -> None:
    add_input_options(p, data_help=VALIDATION_DATA_HELP, samples_help=VALIDATION_SAMPLES_HELP)
    p.add_argument("--save-inputs", metavar="DIR", help="save the exact validation inputs (and, on failure, the "
                                                        "outputs of both models) to DIR")
    p.add_argument("--load-inputs", metavar="DIR", help="validate on inputs saved by --save-inputs")
    p.add_argument("--outputs-dir", metavar="DIR", help="on failure, save both models' outputs and the inputs to DIR")
    add_flex_runtime_option(p)
    g = p.add_argument_group("tolerances (defaults per --quantize/--mode, see README; "
                             "inf or -inf disables one, e.g. --min-snr=-inf)")
    g.add_argument("--atol", type=float, help="absolute tolerance on max |error|")
    g.add_argument("--rtol", type=float, help="tolerance on max |error| relative to max |original output|")
    g.add_argument("--min-cosine", type=float, help="minimum cosine similarity per output (of the sample chosen "
                                                    "by --sample-quantile)")
    g.add_argument("--sample-quantile", type=float, help="which sample max-abs and cosine judge: 0 = the worst "
                                                         "(float default), 0.05 = worst 5%% may miss (quantized)")
    g.add_argument("--min-snr", type=float, help="minimum signal-to-noise ratio in dB per output")
    g.add_argument("--min-top1-agreement", type=float, help="minimum top-1 agreement for classifier outputs")
    g.add_argument("--min-top5-overlap", type=float, help="minimum top-5 overlap for classifier outputs (default: off)")
    g.add_argument("--max-kl", type=float, help="maximum KL divergence for classifier outputs")
    g.add_argument("--max-accuracy-drop", type=float, help="maximum labeled top-1 accuracy drop, e.g. 0.01")
    p.add_argument("--task", choices=["auto", "classification", "embedding", "other"], default="auto",
                   help="kind of the rank-2 outputs: classification (top-k, KL), embedding (cosine) or other; "
                        "auto decides per output from its name and values")


def scaling_flags(args: argparse.Namespace) -> Any:
    from ..options import ScalingFlags

    return ScalingFlags(args.input_range, args.mean, args.std, getattr(args, "normalization_from", None))


def check_input_options(args: argparse.Namespace) -> None:
    """The shared input flags' checks that need no model (before TensorFlow is imported)."""
    from ..errors import ConfigError
    from ..options import check_scaling_flags

    check_scaling_flags(scaling_flags(args))
    if getattr(args, "samples", None) is not None and args.samples <= 0:
        raise ConfigError("--samples must be positive")
    if getattr(args, "seq_len", None) is not None and args.seq_len < 2:
        raise ConfigError(f"--seq-len {args.seq_len} is too short", hint="give at least 2 ([CLS] and [SEP]); BERT uses 128")
    vocab = getattr(args, "vocab", None)
    if vocab is not None:
        from pathlib import Path

        if not Path(vocab).is_file():
            raise ConfigError(f"vocabulary file {vocab!r} does not exist", hint="give --vocab a vocab.txt file")
    for flag in ("batch_size", "calibration_samples"):
        if getattr(args, flag, None) is not None and getattr(args, flag) < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} must be at least 1, not {getattr(args, flag)}")
    for text in getattr(args, "input_shape", []) or []:
        _parse_shape(text)


def load_options(args: argparse.Namespace) -> Any:
    from ..load import LoadOptions

    def names(text: str | None) -> tuple[str, ...]:
        return tuple(n.strip() for n in (text or "").split(",") if n.strip())

    return LoadOptions(unsafe_keras=args.unsafe_keras, input_names=names(args.input_names),
                       output_names=names(args.output_names),
                       freeze_inputs=tuple(getattr(args, "freeze_input", None) or ()))


def tags(args: argparse.Namespace) -> tuple[str, ...] | None:
    if args.tags is None:
        return None
    return tuple(t.strip() for t in args.tags.split(",") if t.strip())


def _parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    from ..options import parse_input_shape

    return parse_input_shape(text)


def input_shapes(args: argparse.Namespace) -> dict[str, tuple[int, ...]]:
    from ..errors import ConfigError

    shapes: dict[str, tuple[int, ...]] = {}
    for text in args.input_shape:
        name, dims = _parse_shape(text)
        if name in shapes:
            raise ConfigError(f"--input-shape given twice for {name!r}")
        shapes[name] = dims
    return shapes


def tolerance_overrides(args: argparse.Namespace) -> dict[str, float | None]:
    return dict(atol=args.atol, rtol=args.rtol, min_cosine=args.min_cosine,
                min_top1_agreement=args.min_top1_agreement, min_snr_db=args.min_snr,
                min_top5_overlap=args.min_top5_overlap, max_kl=args.max_kl,
                max_accuracy_drop=args.max_accuracy_drop, sample_quantile=args.sample_quantile)


def check_validation_flags(args: argparse.Namespace) -> None:
    from ..errors import ConfigError

    if args.samples is not None and args.samples <= 0:
        raise ConfigError("--samples must be positive")
    if args.sample_quantile is not None and not 0.0 <= args.sample_quantile < 0.5:
        raise ConfigError("--sample-quantile must be in [0, 0.5)", hint="0 judges the worst sample; 0.05 is typical")


def add_flex_runtime_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-flex-runtime", action="store_true",
                   help="never build or start the Flex runtime (a TensorFlow 2.18.1 venv, see setup-flex) that runs "
                        "Select-TF-ops models: they still convert, but are reported as not run (exit 10)")


def validation_exit_code(validation: Any) -> int:
    """0 passed (or no validation), 3 failed, 9 not run (a Select-TF-ops model and no Flex runtime)."""
    from ..errors import EXIT_FLEX_UNAVAILABLE, EXIT_VALIDATION_FAILED

    if validation is None or validation.passed:
        return 0
    return EXIT_FLEX_UNAVAILABLE if getattr(validation, "not_run", "") else EXIT_VALIDATION_FAILED


def validate_config(args: argparse.Namespace, mode: Any) -> Any:
    """The validation config; `mode` None (validate without --mode): tolerances once the mode is read."""
    from ..pipeline import ValidateConfig
    from ..validate import default_tolerance

    check_validation_flags(args)
    samples = args.samples or (DATA_SAMPLES if args.data else SYNTHETIC_SAMPLES)
    tol = None if mode is None else default_tolerance(mode, **tolerance_overrides(args))
    return ValidateConfig(enabled=not getattr(args, "no_validate", False), samples=samples, seed=args.seed,
                          data=args.data, tolerance=tol, task=args.task, labels=args.labels,
                          load_inputs=args.load_inputs, save_inputs=args.save_inputs, outputs_dir=args.outputs_dir,
                          flex_runtime=not getattr(args, "no_flex_runtime", False))
