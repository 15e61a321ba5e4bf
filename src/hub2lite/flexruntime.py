"""The Flex runtime: TensorFlow 2.18.1 in its own venv, driven as a subprocess, for Select-TF-ops models.

TensorFlow 2.19+ wheels (and ai-edge-litert) ship no Flex delegate, so a .tflite with Select TF ops runs only
where TensorFlow <= 2.18 is imported. hub2lite converts with the current TensorFlow and runs such models here:

    runtime_status() -> FlexRuntimeStatus          is it built? where? (no TensorFlow import, no subprocess)
    ensure_runtime(build=True) -> FlexRuntimeStatus builds it on first need (lock + staging dir + rename)
    FlexRunner(model)                              the Runner interface (input_specs / infer), one worker
                                                   process per model, many calls; `bench()` times in the worker

The venv lives under hub2lite's cache dir, keyed by TensorFlow version and Python:
`~/.cache/hub2lite/flex-runtime/tf-2.18.1-py3.11/` (`HUB2LITE_FLEX_RUNTIME_DIR` overrides the parent folder).
It is built with the same Python as hub2lite, which must be <= 3.12 (TensorFlow 2.18.1 has no wheels beyond).
A half-built runtime is never taken as ready: it is built in a staging folder and renamed into place only after
TensorFlow imported in it; a file lock keeps two processes from building it at once.
Set `HUB2LITE_NO_FLEX_RUNTIME=1` (or pass `allow=False`) to never build or start it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import _flex_worker as wire
from .errors import EXIT_FLEX_UNAVAILABLE, ConfigError, FlexRunError, FlexRuntimeError
from .tflite_file import flex_ops
from .tflite_io import SignatureIO, lite_inputs, lite_output

__all__ = ["FLEX_TF_VERSION", "FLEX_REQUIREMENTS", "EXIT_FLEX_UNAVAILABLE", "FlexRuntimeError", "FlexRunError",
           "FlexRuntimeStatus", "runtime_dir", "runtime_status", "ensure_runtime", "build_runtime", "FlexRunner",
           "is_flex_model", "runtime_disabled", "SETUP_HINT"]

log = logging.getLogger(__name__)

#: The last TensorFlow whose pip wheel has the Flex delegate in `tf.lite.Interpreter`.
FLEX_TF_VERSION = "2.18.1"
#: What the runtime's venv gets (TensorFlow 2.18.1 needs numpy >= 1.26, < 2.1).
FLEX_REQUIREMENTS = (f"tensorflow=={FLEX_TF_VERSION}", "numpy>=1.26,<2.1")
#: TensorFlow 2.18.1 publishes wheels for CPython 3.9-3.12.
MAX_PYTHON = (3, 12)
SETUP_HINT = "run `hub2lite setup-flex` once while PyPI is reachable (a one-time ~600 MB download, a few minutes)"
_MARKER = "hub2lite-flex-runtime.json"
_WORKER = Path(wire.__file__)


@dataclass(frozen=True)
class FlexRuntimeStatus:
    path: str
    python: str  # the runtime's interpreter
    python_version: str  # "3.11"
    tensorflow: str  # the version it has (or will have)
    ready: bool
    reason: str  # why it is not ready ("" when ready)
    built_at: str = ""
    build_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "python": self.python, "python_version": self.python_version,
                "tensorflow": self.tensorflow, "ready": self.ready, "reason": self.reason,
                "built_at": self.built_at, "build_seconds": self.build_seconds}


def runtime_disabled() -> bool:
    return os.environ.get("HUB2LITE_NO_FLEX_RUNTIME", "").strip().lower() not in ("", "0", "false", "no")


def _cache_root() -> Path:
    env = os.environ.get("HUB2LITE_FLEX_RUNTIME_DIR")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "hub2lite" / "flex-runtime"


def _python_tag() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def runtime_dir() -> Path:
    """Where this Python's Flex runtime lives: <cache>/flex-runtime/tf-2.18.1-py3.11."""
    return _cache_root() / f"tf-{FLEX_TF_VERSION}-py{_python_tag()}"


def _python_in(venv: Path) -> Path:
    return venv / "bin" / "python"


def _unsupported_python() -> str:
    if sys.version_info[:2] > MAX_PYTHON:
        return (f"the Flex runtime needs Python <= {MAX_PYTHON[0]}.{MAX_PYTHON[1]} (TensorFlow {FLEX_TF_VERSION} "
                f"has no wheels for Python {_python_tag()})")
    return ""


def runtime_status() -> FlexRuntimeStatus:
    """The runtime's state, read from its marker file: no TensorFlow import, no subprocess."""
    venv = runtime_dir()
    python = _python_in(venv)
    base = FlexRuntimeStatus(str(venv), str(python), _python_tag(), FLEX_TF_VERSION, False, "")
    unsupported = _unsupported_python()
    if unsupported:
        return FlexRuntimeStatus(**{**base.to_dict(), "reason": unsupported})
    try:
        marker = json.loads((venv / _MARKER).read_text())
    except (OSError, ValueError):
        return FlexRuntimeStatus(**{**base.to_dict(), "reason": "not set up"})
    if not python.exists():
        return FlexRuntimeStatus(**{**base.to_dict(), "reason": f"its Python {python} is missing"})
    return FlexRuntimeStatus(str(venv), str(python), _python_tag(), str(marker.get("tensorflow", "?")), True, "",
                             str(marker.get("built_at", "")), marker.get("build_seconds"))


def _clean_env() -> dict[str, str]:
    """The environment for the runtime's processes: none of the caller's Python path settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PYTHONNOUSERSITE"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def _run_logged(cmd: list[str], log_file: Path, what: str) -> None:
    with open(log_file, "ab") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n".encode())
        fh.flush()
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_clean_env())
    if proc.returncode != 0:
        tail = [ln.strip() for ln in log_file.read_text(errors="replace").splitlines() if ln.strip()]
        last = next((ln for ln in reversed(tail) if "error" in ln.lower()), tail[-1] if tail else "")
        raise FlexRuntimeError(f"could not build the Flex runtime: {what} failed ({last[:300]}); log: {log_file}",
                               hint=SETUP_HINT)


def build_runtime(*, force: bool = False, notify: Callable[[str], None] | None = None) -> FlexRuntimeStatus:
    """Build the runtime (or wait for another process that is building it). Idempotent; `force` rebuilds."""
    unsupported = _unsupported_python()
    if unsupported:
        raise FlexRuntimeError(unsupported, hint="run hub2lite with Python 3.10-3.12 to validate Select-TF-ops models")
    venv = runtime_dir()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits here, then finds the runtime ready
        status = runtime_status()
        if status.ready and not force:
            return status
        if notify:
            notify(f"building the Flex runtime (TensorFlow {FLEX_TF_VERSION}, Python {_python_tag()}) in {venv}: "
                   f"a one-time download of ~600 MB, a few minutes")
        t0 = time.perf_counter()
        staging = venv.parent / f".{venv.name}.building"
        shutil.rmtree(staging, ignore_errors=True)  # debris of a build that died half-way
        log_file = venv.parent / f"{venv.name}.build.log"
        log_file.write_text(f"building {venv} at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
        try:
            _run_logged([sys.executable, "-m", "venv", str(staging)], log_file, "creating the venv")
            py = str(_python_in(staging))
            _run_logged([py, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q",
                         *FLEX_REQUIREMENTS], log_file, f"pip install {' '.join(FLEX_REQUIREMENTS)}")
            probe = subprocess.run([py, "-I", "-c", "import tensorflow as tf, numpy as np; "
                                    "print(tf.__version__, np.__version__)"],
                                   capture_output=True, text=True, env=_clean_env(), stdin=subprocess.DEVNULL)
            versions = probe.stdout.split()
            if probe.returncode != 0 or not versions or versions[0] != FLEX_TF_VERSION:
                raise FlexRuntimeError(f"the Flex runtime built in {staging} does not import TensorFlow "
                                       f"{FLEX_TF_VERSION} ({(probe.stderr.strip().splitlines() or ['?'])[-1][:200]})",
                                       hint=f"remove {venv.parent} and run `hub2lite setup-flex` again")
            seconds = round(time.perf_counter() - t0, 1)
            marker = {"tensorflow": versions[0], "numpy": versions[1], "python": _python_tag(),
                      "base_python": sys.executable, "build_seconds": seconds,
                      "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            (staging / _MARKER).write_text(json.dumps(marker, indent=2) + "\n")
            if venv.exists():
                shutil.rmtree(venv)
            os.rename(staging, venv)  # atomic: the runtime is either absent or complete
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        log.info("Flex runtime ready in %s (%.0f s)", venv, seconds)
        return runtime_status()


def ensure_runtime(*, allow: bool = True, build: bool = True,
                   notify: Callable[[str], None] | None = None) -> FlexRuntimeStatus:
    """The ready runtime, building it on first need when `build`; FlexRuntimeError when it cannot be had."""
    if not allow or runtime_disabled():
        raise FlexRuntimeError("the Flex runtime is disabled (--no-flex-runtime or HUB2LITE_NO_FLEX_RUNTIME)",
                               hint="drop --no-flex-runtime / unset HUB2LITE_NO_FLEX_RUNTIME; " + SETUP_HINT)
    status = runtime_status()
    if status.ready:
        return status
    if not build:
        raise FlexRuntimeError(f"the Flex runtime is {status.reason}", hint=SETUP_HINT)
    return build_runtime(notify=notify or (lambda text: log.warning("%s", text)))


def _signature_keys(model: bytes) -> tuple[str, ...]:
    """SignatureDef keys read from the flatbuffer (ai-edge-litert's schema; no TensorFlow import)."""
    from ai_edge_litert import schema_py_generated as schema

    fb = schema.Model.GetRootAs(model, 0)
    return tuple(fb.SignatureDefs(i).SignatureKey().decode() for i in range(fb.SignatureDefsLength()))


def is_flex_model(model: bytes) -> bool:
    return bool(flex_ops(model))


class FlexRunner(SignatureIO):
    """Runs one signature of a Select-TF-ops .tflite in the Flex runtime: same interface as `LiteRunner`.

    One worker process per runner, started here and kept for every `infer`; `close()` (or `with`) ends it.
    Integer-I/O models are quantized/dequantized here exactly as `LiteRunner` does."""

    def __init__(self, model: bytes | str | os.PathLike[str], *, signature_key: str | None = None,
                 threads: int | None = None, input_names: Mapping[str, str] | None = None,
                 dequantize: bool = True, allow_runtime: bool = True, build: bool = True) -> None:
        self.model = model if isinstance(model, bytes) else Path(model).read_bytes()
        self.flex_ops = flex_ops(self.model)
        self.threads = threads
        self.dequantize = dequantize
        self.xnnpack = False
        self._proc: subprocess.Popen[bytes] | None = None
        keys = _signature_keys(self.model)  # checked here, before a worker is started for nothing
        if not keys:
            raise ConfigError("the .tflite model has no signatures",
                              hint="convert it with hub2lite (or TFLiteConverter from a SavedModel) to keep signatures")
        if signature_key is not None and signature_key not in keys:
            raise ConfigError(f"the .tflite model has no signature {signature_key!r}; it has {list(keys)}")
        self._tmp = tempfile.TemporaryDirectory(prefix="hub2lite-flex-")
        try:
            status = ensure_runtime(allow=allow_runtime, build=build)
            self._start(status)
            path = Path(self._tmp.name) / "model.tflite"
            path.write_bytes(self.model)
            info = self._call({"op": "load", "path": str(path), "signature_key": signature_key,
                               "threads": threads})[0]
        except BaseException:
            self.close()
            raise
        self.signature_key: str = info["signature_key"]
        self.load_seconds = float(info["load_s"])
        self.baseline_rss_bytes = int(info.get("rss_before_load_bytes") or 0)  # the worker with TensorFlow imported
        self._in: dict[str, dict[str, Any]] = info["inputs"]
        self._out: dict[str, dict[str, Any]] = info["outputs"]
        self.input_names = dict(input_names or {n: n for n in self._in})
        self.tensorflow_version = str(info["tensorflow"])
        self.runtime = f"flex-runtime: tf.lite.Interpreter (TensorFlow {self.tensorflow_version}, with Flex delegate)"
        self.name = f"tflite:{self.signature_key}"

    # -- process ---------------------------------------------------------------------------------------------
    def _start(self, status: FlexRuntimeStatus) -> None:
        self._stderr = open(Path(self._tmp.name) / "worker.stderr", "w+b")
        self._proc = subprocess.Popen([status.python, "-I", str(_WORKER)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._stderr, env=_clean_env())

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0)
            lines = [ln.strip() for ln in self._stderr.read().decode(errors="replace").splitlines() if ln.strip()]
        except (OSError, ValueError):
            return ""
        return lines[-1][:300] if lines else ""

    def _call(self, header: dict[str, Any], body: bytes = b"") -> tuple[dict[str, Any], bytes]:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise FlexRunError("the Flex runtime's worker is not running (the runner was closed)")
        try:
            wire.write_frame(proc.stdin, header, body)
            frame = wire.read_frame(proc.stdout)
        except (BrokenPipeError, OSError):
            frame = None
        if frame is None:
            code = proc.wait(timeout=30)
            self._proc = None
            raise FlexRunError(f"the Flex runtime's worker died (exit {code}) during {header.get('op')!r}: "
                               f"{self._stderr_tail() or 'no message'}",
                               hint="rerun with --debug; if the runtime itself is broken: hub2lite setup-flex --force")
        reply, out = frame
        if not reply.get("ok"):
            raise FlexRunError(f"the Flex runtime could not {header.get('op')} the model: {reply.get('error')}")
        return reply, out

    def close(self) -> None:
        proc, self._proc = getattr(self, "_proc", None), None
        if proc is not None:
            try:
                if proc.poll() is None and proc.stdin is not None:
                    wire.write_frame(proc.stdin, {"op": "quit"})
                    proc.stdin.close()
                proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
            finally:
                if proc.stdout is not None:
                    proc.stdout.close()
        if getattr(self, "_stderr", None) is not None:
            self._stderr.close()
        if getattr(self, "_tmp", None) is not None:
            self._tmp.cleanup()

    def __enter__(self) -> FlexRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten close() must not leave a worker behind
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    # -- the Runner interface ----------------------------------------------------------------------------------
    def _request(self, header: dict[str, Any], feed: Mapping[str, np.ndarray]) -> tuple[dict[str, Any], bytes]:
        details = {n: {**d, "dtype": np.object_ if d["dtype"] == "object" else np.dtype(d["dtype"])}
                   for n, d in self._in.items()}
        index, body = wire.pack_arrays(lite_inputs(details, self.input_names, feed))
        return self._call({**header, "arrays": index}, body)

    def infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        reply, body = self._request({"op": "infer"}, feed)
        result = {}
        for name, value in wire.unpack_arrays(reply.get("arrays", []), body).items():
            if value.dtype.kind == "S":  # strings travel as bytes_; the interpreter gives objects
                result[name] = value.astype(np.object_)
            else:
                result[name] = lite_output(value, self._out[name], dequantize=self.dequantize)
        return result

    def bench(self, feed: Mapping[str, np.ndarray], *, runs: int, warmup: int = 0) -> dict[str, Any]:
        """Time `runs` invocations inside the worker (no IPC in the figures): first_s, times_s, peak_rss_bytes."""
        reply, _ = self._request({"op": "bench", "runs": int(runs), "warmup": int(warmup)}, feed)
        return {k: reply[k] for k in ("first_s", "times_s", "peak_rss_bytes")}
