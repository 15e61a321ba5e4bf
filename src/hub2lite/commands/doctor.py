"""`hub2lite doctor [--json]`"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("doctor", help="show the versions in use, whether the Flex runtime is ready, where caches are",
                       description="Report the Python and package versions hub2lite runs on (TensorFlow, tf-keras, "
                                   "tensorflow-hub, ai-edge-litert, numpy...), the state of the Flex runtime "
                                   "(TensorFlow 2.18.1 for Select-TF-ops models) and the cache folders. "
                                   "Imports no TensorFlow.")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON (schema hub2lite.doctor/1)")
    p.set_defaults(run=run, needs_tensorflow=False)


def run(args: argparse.Namespace, ui: Any) -> int:
    from ..doctor import diagnose

    diagnosis = diagnose()
    ui.print(json.dumps(diagnosis.to_dict(), indent=2) if args.json else "\n".join(diagnosis.text()))
    return 0
