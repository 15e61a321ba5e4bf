"""The worker process of a batch: one model, then exit (`python -m hub2lite.batch WORKDIR/job.json`).

It runs the job's runner (default `hub2lite.batch.adapter:run_model`) with the model's spec and `WORKDIR`, records
the stage it is in (`WORKDIR/stage`, so a crash can say where it happened) and writes `WORKDIR/result.json`. A
hub2lite bug (any exception that is not a hub2lite error the adapter turned into a result) becomes a failed result
with the traceback in `WORKDIR/traceback.txt`; the process still exits 0, because the model, not the batch, failed.
A crash of the process itself (native abort, a kill) leaves no result.json: the supervisor reports it.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..crashguard import die_with_parent

__all__ = ["main", "load_runner", "DEFAULT_RUNNER", "RESULT_FILE", "PARTIAL_FILE", "STAGE_FILE", "TRACEBACK_FILE", "JOB_FILE",
           "LOG_FILE"]

DEFAULT_RUNNER = "hub2lite.batch.adapter:run_model"
JOB_FILE = "job.json"
RESULT_FILE = "result.json"
PARTIAL_FILE = "partial.json"  # the variants finished so far (kept when the process dies in a later mode)
STAGE_FILE = "stage"
TRACEBACK_FILE = "traceback.txt"
LOG_FILE = "worker.log"


def load_runner(ref: str) -> Callable[..., dict[str, Any]]:
    """'package.module:function', or '/path/to/file.py:function' (test hooks)."""
    module_ref, _, name = ref.rpartition(":")
    if module_ref.endswith(".py"):
        spec = importlib.util.spec_from_file_location(Path(module_ref).stem, module_ref)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {module_ref}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_ref)
    return getattr(module, name)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    die_with_parent("HUB2LITE_BATCH_PARENT")  # a killed Ray worker or driver leaves no orphan
    job_path = Path(args[0])
    job = json.loads(job_path.read_text(encoding="utf-8"))
    workdir = job_path.parent
    logging.basicConfig(level=logging.INFO, format="hub2lite: %(levelname)s: %(name)s: %(message)s")
    stage = "start"

    def progress(text: str) -> None:
        nonlocal stage
        stage = text.split(" ", 1)[0]
        _write(workdir / STAGE_FILE, text)

    try:
        runner = load_runner(job.get("runner") or DEFAULT_RUNNER)
        result = runner(job["spec"], workdir, progress)
    except Exception as exc:  # noqa: BLE001 - a bug in hub2lite: the model's failed row, with its traceback
        (workdir / TRACEBACK_FILE).write_text(traceback.format_exc(), encoding="utf-8")
        result = {"status": "failed", "stage": stage, "bug": True,
                  "error": f"hub2lite bug: {type(exc).__name__}: {exc} (traceback: {TRACEBACK_FILE})",
                  "variants": []}
    _write(workdir / RESULT_FILE, json.dumps(result, indent=1))
    return 0

