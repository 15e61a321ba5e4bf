"""`hub2lite setup-metadata [--python PY] [--force]`: install the TFLite metadata writer (tflite-support 0.4.4)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("setup-metadata", help="install tflite-support 0.4.4 (the TFLite metadata writer) for --metadata",
                       description="Install tflite-support 0.4.4 with pip --no-deps: its protobuf<4 pin contradicts "
                                   "TensorFlow, but the metadata writers hub2lite uses need no protobuf. The wheel is "
                                   "cached under ~/.cache/hub2lite/wheels. Python 3.7-3.11 only (no newer wheels).")
    p.add_argument("--python", metavar="PATH", help="interpreter whose environment gets it (default: this one)")
    p.add_argument("--force", action="store_true", help="reinstall even when a working install is there")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(run=run, needs_tensorflow=False)


def run(args: argparse.Namespace, ui: Any) -> int:
    from ..metadata.support import install_metadata_support

    with ui.progress("installing tflite-support"):
        result = install_metadata_support(args.python, force=args.force)
    if args.json:
        ui.print(json.dumps(result.to_dict(), indent=2))
    elif result.already_installed:
        ui.print(f"tflite-support {result.version} is already installed for Python {result.python_version} "
                 f"({result.python}); --metadata works")
    else:
        ui.print(f"installed tflite-support {result.version} for Python {result.python_version} ({result.python}) "
                 f"from {result.wheel} without its dependency pins; --metadata works")
    return 0
