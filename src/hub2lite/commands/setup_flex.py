"""`hub2lite setup-flex [--force]`"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("setup-flex", help="build the Flex runtime (TensorFlow 2.18.1 venv) that runs Select-TF-ops "
                                          "models",
                       description="Create the Flex runtime: a venv with TensorFlow 2.18.1 under hub2lite's cache "
                                   "folder, used to validate and benchmark .tflite models with Select TF ops (newer "
                                   "TensorFlow and ai-edge-litert cannot run them). Built with this Python (<= 3.12); "
                                   "a one-time ~600 MB download. Other commands build it on first need unless "
                                   "--no-flex-runtime. Exit 9 when it cannot be built (offline, Python too new).")
    p.add_argument("--force", action="store_true", help="rebuild it even if it is ready")
    p.add_argument("--json", action="store_true", help="print the runtime's state as JSON")
    p.set_defaults(run=run, needs_tensorflow=False)


def run(args: argparse.Namespace, ui: Any) -> int:
    from ..flexruntime import build_runtime

    with ui.progress("building the Flex runtime"):
        status = build_runtime(force=args.force, notify=ui.warn)
    if args.json:
        ui.print(json.dumps(status.to_dict(), indent=2))
    else:
        took = f", built in {status.build_seconds:.0f} s" if status.build_seconds is not None else ""
        ui.print(f"Flex runtime ready: TensorFlow {status.tensorflow}, Python {status.python_version}{took}")
        ui.print(f"  {status.path}")
    return 0
