"""`hub2lite inspect SOURCE [--json]`"""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import _common


def add_parser(sub: Any) -> None:
    p = sub.add_parser("inspect", help="show signatures, shapes, parameters and the op census with TFLite support",
                       description="Describe a model: format, signatures (dynamic dims as ?), parameter count, the "
                                   "op census of the chosen signature with TFLite support, and a convert command.")
    p.add_argument("source", help="SavedModel folder, .tar.gz, .keras/.h5/.pb file, hub handle/URL, or a .tflite "
                                  "(signatures, op census, quantization and TFLite metadata)")
    _common.add_source_options(p)
    _common.add_shape_options(p)
    p.add_argument("--vocab", metavar="FILE", help="text encoders: the WordPiece vocab.txt to report (default: the "
                                                  "model's assets/vocab.txt)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--no-probe", action="store_true", help="skip the probe conversion (op support shown as unknown)")
    p.add_argument("--tensors", action="store_true",
                   help="also list every tensor of the frozen graph (names for --body-inputs/--body-outputs)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ui: Any) -> int:
    from ..tflite_file import is_tflite_path

    if is_tflite_path(args.source):
        from ..inspect_tflite import inspect_tflite, tflite_text

        data = inspect_tflite(args.source).to_dict()
        ui.print(json.dumps(data, indent=2) if args.json else tflite_text(data))
        return 0
    from ..convert import ConvertConfig
    from ..pipeline import run_inspect
    from ..report import inspect_text

    config = ConvertConfig(input_shapes=_common.input_shapes(args), keep_dynamic=args.keep_dynamic,
                           batch_size=args.batch_size, seq_len=args.seq_len)
    with ui.progress("inspecting"):
        info = run_inspect(args.source, signature=args.signature, cache_dir=args.cache_dir, timeout=args.timeout, tags=_common.tags(args),
                           probe=not args.no_probe, config=config, load_options=_common.load_options(args),
                           tensors=args.tensors, vocab=args.vocab)
    data = info.to_dict()
    ui.print(json.dumps(data, indent=2) if args.json else inspect_text(data))
    return 0
