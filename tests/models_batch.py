"""Builders and worker hooks for the batch tests.

`keras_abort` is a real model that takes its worker process down natively (SIGABRT, as a C++ CHECK failure in
TensorFlow does). The `hook_*` functions replace the per-model function inside a batch worker (run_batch's
`worker_runner`, not reachable from the command line): a hub2lite bug, a memory hog, a model that hangs, and one
that reports the Ray worker's pid so that a test can kill that worker mid-task.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

#: While set, the aborting Lambda only doubles its input (so that building the fixture does not abort).
BUILDING = "HUB2LITE_TEST_BUILDING_ABORT_MODEL"


def keras_abort(path: Path) -> None:
    """Keras 3 .keras whose Lambda layer calls os.abort() when the model is loaded (needs unsafe_keras)."""
    import keras

    code = (f"lambda t: (None if __import__('os').environ.get({BUILDING!r}) else __import__('os').abort(), "
            "t * 2.0)[1]")
    os.environ[BUILDING] = "1"
    try:
        inputs = keras.Input((4,), name="x")
        out = keras.layers.Lambda(eval(code), output_shape=(4,), name="aborts")(inputs)  # noqa: S307 - own constant
        keras.Model(inputs, out).save(path / "model.keras")
    finally:
        del os.environ[BUILDING]


BUILDERS = {"keras_abort": keras_abort}


def _ok(spec: dict[str, Any]) -> dict[str, Any]:
    return {"status": "ok", "stage": None, "error": None, "format": "hook", "variants": [
        {"mode": m, "status": "builtins", "stage": None, "error": None, "select_ops": [], "custom_ops": [],
         "size_bytes": 100, "file": None, "report": None,
         "validation": {"verdict": "not run", "why": "test hook"}} for m in spec["modes"]]}


def hook_bug(spec: dict[str, Any], workdir: Path, progress: Any) -> dict[str, Any]:
    """Models whose name starts with 'bug' hit a bug (an exception that is not a hub2lite error)."""
    progress("convert float32")
    if spec["name"].startswith("bug"):
        raise KeyError("a hub2lite bug")
    return _ok(spec)


def hook_hog(spec: dict[str, Any], workdir: Path, progress: Any) -> dict[str, Any]:
    """Models named 'hog*' hold 600 MB of resident memory for 30 s; others finish at once."""
    progress("convert float32")
    if spec["name"].startswith("hog"):
        block = b"\x01" * (600 * 1024 * 1024)
        time.sleep(30)
        del block
    return _ok(spec)


def hook_hang(spec: dict[str, Any], workdir: Path, progress: Any) -> dict[str, Any]:
    """Models named 'hang*' never finish; others finish at once."""
    progress("convert float32")
    if spec["name"].startswith("hang"):
        time.sleep(3600)
    return _ok(spec)


def hook_count(spec: dict[str, Any], workdir: Path, progress: Any) -> dict[str, Any]:
    """Appends the model's name to `runs.txt` in its source folder (which tests count); 'fail*' models fail."""
    with open(Path(spec["source"]) / "runs.txt", "a") as fh:
        fh.write(spec["name"] + "\n")
    if spec["name"].startswith("fail"):
        return {"status": "failed", "stage": "load", "error": "cannot load it", "variants": []}
    return _ok(spec)


def hook_ray_pid(spec: dict[str, Any], workdir: Path, progress: Any) -> dict[str, Any]:
    """Writes its parent's pid (the Ray worker running the task) to `pids` in its source folder, then waits for
    the test: it finishes when `finish` exists there, else it waits to be killed."""
    folder = Path(spec["source"])
    with open(folder / "pids", "a") as fh:
        fh.write(f"{os.getppid()}\n")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (folder / "finish").exists():
            return _ok(spec)
        time.sleep(0.1)
    raise TimeoutError("the test never killed or released this worker")


def hook_abort_in_second_mode(spec: dict[str, Any], workdir: Path, progress: Any) -> dict[str, Any]:
    """Converts the first mode for real, then dies natively (SIGABRT) in the second, as a converter crash does."""
    from hub2lite.batch.adapter import run_model

    run_model({**spec, "modes": spec["modes"][:1]}, workdir, progress)
    progress(f"convert {spec['modes'][1]}")
    os.abort()
