"""Flags shared by several subcommands, and their translation into configs."""

from __future__ import annotations

import argparse
from typing import Any


def add_source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--signature", help="signature to use (default: serving_default, else the only one; "
                                       "convert: 'all' exports every signature into one .tflite)")
    p.add_argument("--tags", help="comma-separated SavedModel tags (default: serve; TF1 Hub: empty set)")
    p.add_argument("--cache-dir", help="hub download cache (default: $TFHUB_CACHE_DIR or ~/.cache/hub2lite)")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="hub downloads: give up on a server that sends nothing for this long (default 60; "
                        "failed fetches are retried 3 times with backoff)")
    p.add_argument("--unsafe-keras", action="store_true",
                   help="allow Keras files with Lambda layers (their Python code runs on load: trusted files only)")
    p.add_argument("--input-names", metavar="NAME,...", help="frozen graph .pb: tensors to feed (default: Placeholders)")
    p.add_argument("--output-names", metavar="NAME,...",
                   help="frozen graph .pb: tensors to fetch (default: nodes nothing consumes)")


def add_shape_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0,D1,...",
                   help="fix an input's shape, e.g. images=1,224,224,3 (repeatable)")
    p.add_argument("--keep-dynamic", action="store_true", help="keep dims not given by --input-shape dynamic")
    p.add_argument("--batch-size", type=int, default=1, help="batch size for a dynamic batch dim (default 1)")


#: Validation sample counts when --samples is not given: synthetic inputs, and the cap on --data.
SYNTHETIC_SAMPLES = 8
DATA_SAMPLES = 500


def add_validation_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="inputs for validation: .npy/.npz file or image folder (class_name/*.jpg or .npz "
                                  "x/y give labels: top-1/top-5 accuracy of both models) (default: seeded synthetic)")
    p.add_argument("--labels", metavar="FILE", help="class names by output index: one per line, or JSON")
    p.add_argument("--samples", type=int,
                   help=f"validation samples (default {SYNTHETIC_SAMPLES} synthetic, or all of --data up to "
                        f"{DATA_SAMPLES}, a seeded selection)")
    p.add_argument("--seed", type=int, default=0, help="seed for synthetic inputs and sampling (default 0)")
    p.add_argument("--save-inputs", metavar="DIR", help="save the exact validation inputs (and, on failure, the "
                                                        "outputs of both models) to DIR")
    p.add_argument("--load-inputs", metavar="DIR", help="validate on inputs saved by --save-inputs")
    p.add_argument("--outputs-dir", metavar="DIR", help="on failure, save both models' outputs and the inputs to DIR")
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


def add_scaling_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-range", metavar="LOW,HIGH",
                   help="value range of float image inputs: 0,1 | -1,1 | 0,255 (default: what the model's leading "
                        "Rescaling/Normalization implies, else 0,1 as TF Hub image models)")
    p.add_argument("--mean", metavar="M[,M,M]", help="image input = (pixel - mean) / std, pixels 0..255 (with --std)")
    p.add_argument("--std", metavar="S[,S,S]", help="see --mean")


def load_options(args: argparse.Namespace) -> Any:
    from ..load import LoadOptions

    def names(text: str | None) -> tuple[str, ...]:
        return tuple(n.strip() for n in (text or "").split(",") if n.strip())

    return LoadOptions(unsafe_keras=args.unsafe_keras, input_names=names(args.input_names),
                       output_names=names(args.output_names))


def tags(args: argparse.Namespace) -> tuple[str, ...] | None:
    if args.tags is None:
        return None
    return tuple(t.strip() for t in args.tags.split(",") if t.strip())


def input_shapes(args: argparse.Namespace) -> dict[str, tuple[int, ...]]:
    from ..convert import parse_input_shape
    from ..errors import ConfigError

    shapes: dict[str, tuple[int, ...]] = {}
    for text in args.input_shape:
        name, dims = parse_input_shape(text)
        if name in shapes:
            raise ConfigError(f"--input-shape given twice for {name!r}")
        shapes[name] = dims
    return shapes


def validate_config(args: argparse.Namespace, mode: Any) -> Any:
    from ..errors import ConfigError
    from ..pipeline import ValidateConfig
    from ..validate import default_tolerance

    if args.samples is not None and args.samples <= 0:
        raise ConfigError("--samples must be positive")
    samples = args.samples or (DATA_SAMPLES if args.data else SYNTHETIC_SAMPLES)
    tol = default_tolerance(mode, atol=args.atol, rtol=args.rtol, min_cosine=args.min_cosine,
                            min_top1_agreement=args.min_top1_agreement, min_snr_db=args.min_snr,
                            min_top5_overlap=args.min_top5_overlap, max_kl=args.max_kl,
                            max_accuracy_drop=args.max_accuracy_drop, sample_quantile=args.sample_quantile)
    if not 0.0 <= tol.sample_quantile < 0.5:
        raise ConfigError("--sample-quantile must be in [0, 0.5)", hint="0 judges the worst sample; 0.05 is typical")
    return ValidateConfig(enabled=not getattr(args, "no_validate", False), samples=samples, seed=args.seed,
                          data=args.data, tolerance=tol, task=args.task, labels=args.labels,
                          load_inputs=args.load_inputs, save_inputs=args.save_inputs, outputs_dir=args.outputs_dir)
