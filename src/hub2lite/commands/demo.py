"""`hub2lite demo`: the whole path on a real offline model, through the hub resolver."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help="run resolve -> inspect -> convert -> validate on a built-in real model",
                       description="Train a small CNN on scikit-learn's real digits, serve it as a hub model on "
                                   "127.0.0.1, and convert + validate it through tensorflow_hub's resolver.")
    p.add_argument("-o", "--output-dir", default="hub2lite-demo", help="where to write (default ./hub2lite-demo)")
    p.add_argument("--force", action="store_true", help="overwrite earlier demo outputs")
    p.add_argument("--cache-dir", help="hub download cache")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ui: Any) -> int:
    from ..demo import run_demo
    from ..errors import EXIT_VALIDATION_FAILED
    from ..report import convert_summary, inspect_text

    with ui.progress("demo") as p:
        res = run_demo(args.output_dir, force=args.force, cache_dir=args.cache_dir, progress=p.step)
    ui.print(f"resolved {res.handle} through tensorflow_hub (served from 127.0.0.1)")
    ui.print("== inspect ==")
    ui.print(inspect_text(res.inspect.to_dict()))
    ui.print("== convert + validate ==")
    ui.print(convert_summary(res.convert.report))
    ui.print(f"labeled accuracy on {res.test_samples} held-out digits: original {res.accuracy_original:.2%}, "
             f".tflite {res.accuracy_tflite:.2%} (drop {100 * (res.accuracy_original - res.accuracy_tflite):.2f} points)")
    ui.print("with internet, the same for a real hub model:\n  hub2lite convert "
             "https://tfhub.dev/google/imagenet/mobilenet_v2_035_224/classification/5 -o mobilenet.tflite")
    return 0 if res.convert.passed else EXIT_VALIDATION_FAILED
