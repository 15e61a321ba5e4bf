"""A cached virtualenv with MediaPipe Tasks 0.10.21 and no TensorFlow, driven as a subprocess.

MediaPipe 0.10.21 needs protobuf >= 4.25 (< 5) and numpy < 2 and pulls an unpinned jax that breaks TensorFlow, so
it cannot share hub2lite's environment. `mediapipe_python()` builds ~/.cache/hub2lite/mediapipe-0.10.21-pyXY once per
machine (a file lock serialises concurrent builders; a stamp marks a finished build) with the same base Python as
the running interpreter. mediapipe is installed with --no-deps plus the dependencies its vision tasks import (jax and
jaxlib are left out: only its LLM converter uses them). `classify(model, images)` runs
`mediapipe_classify.py` there and returns its JSON.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

MEDIAPIPE_VERSION = "0.10.21"
#: What mediapipe 0.10.21 declares, minus jax/jaxlib, with numpy/opencv held to builds for numpy 1.x.
REQUIREMENTS = ("absl-py", "attrs>=19.1.0", "flatbuffers>=2.0", "matplotlib", "numpy<2", "opencv-contrib-python<4.11",
                "protobuf>=4.25.3,<5", "sentencepiece", "sounddevice>=0.4.4")
SCRIPT = Path(__file__).with_name("mediapipe_classify.py")


def cache_root() -> Path:
    base = os.environ.get("HUB2LITE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "hub2lite")
    return Path(base)


def _pip(python: Path, *args: str) -> None:
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


def mediapipe_python() -> Path:
    """The python of the MediaPipe venv, built on first use."""
    tag = f"py{sys.version_info[0]}{sys.version_info[1]}"
    venv = cache_root() / f"mediapipe-{MEDIAPIPE_VERSION}-{tag}"
    python = venv / "bin" / "python"
    stamp = venv / ".hub2lite-ready"
    if stamp.exists():
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=600)
        _pip(python, "--no-deps", f"mediapipe=={MEDIAPIPE_VERSION}")
        _pip(python, *REQUIREMENTS)
        probe = subprocess.run([str(python), "-c", "from mediapipe.tasks.python import vision; import mediapipe; "
                                "print(mediapipe.__version__)"], capture_output=True, text=True, timeout=600)
        if probe.returncode != 0 or probe.stdout.strip() != MEDIAPIPE_VERSION:
            raise RuntimeError(f"the MediaPipe venv does not import: {probe.stderr[-3000:]}")
        stamp.write_text(MEDIAPIPE_VERSION + "\n")
    return python


def classify(model: Path, images: list[Path], *, max_results: int = 3) -> dict:
    """{image path: [{"index", "category_name", "score"}, ...]} from MediaPipe Tasks' ImageClassifier."""
    python = mediapipe_python()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["GLOG_minloglevel"] = "2"
    proc = subprocess.run([str(python), str(SCRIPT), str(model), str(max_results), *map(str, images)],
                          capture_output=True, text=True, timeout=600, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"MediaPipe classification failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
