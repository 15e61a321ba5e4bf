"""A native crash (segfault, abort) inside TensorFlow, the converter's calibrator or LiteRT must reach the user as one
line and an exit code, not as a core dump with half-written outputs. The `hub2lite` console command therefore runs
each command in a child process (`python -m hub2lite.cli`) and waits for it:

* the child's exit code is passed through unchanged (Ctrl-C, SIGTERM and SIGHUP are forwarded to the child,
  which unwinds as always);
* when the child dies by a signal, the parent names the signal and where it happened — read from the child's
  `faulthandler` dump (e.g. "in TensorFlow's int8 calibrator") — removes what the run left in its output
  location (temp `.part` files, files and folders it created), prints one line with a fix, and exits 12.

Usage errors, `--help` and `--version` skip the child. `HUB2LITE_NO_CRASH_GUARD=1` runs the command in-process (a
native crash then ends the process as it would without hub2lite). The Python API (`hub2lite.convert` ...) runs
in the caller's process: batch (`hub2lite batch`) gives every model a worker process of its own for the same reason.
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .errors import EXIT_NATIVE_CRASH

__all__ = ["CHILD_ENV", "run_guarded", "wanted", "enable_fault_dump", "describe_crash", "die_with_parent",
           "signal_name"]

#: set in the child: the file its faulthandler writes a crash's Python stack to
CHILD_ENV = "HUB2LITE_FAULT_FILE"
_OFF_ENV = "HUB2LITE_NO_CRASH_GUARD"
_PARENT_ENV = "HUB2LITE_GUARD_PARENT"

# (a path fragment of the frame, what was happening, the fix), the deepest matching frame wins
_PLACES: tuple[tuple[str, str, str], ...] = (
    ("tensorflow/lite/python/optimize/calibrator.py", "in TensorFlow's int8 calibrator (running the model on the "
     "calibration data)", "quantize without calibration (--quantize float16 or dynamic), or calibrate on other "
     "data; report the model to TensorFlow with the command"),
    ("tensorflow/lite/python/convert", "in the TFLite converter", "try --no-flex or another --quantize mode, and "
     "report the model to TensorFlow with the command"),
    ("tensorflow/lite/python/lite.py", "in the TFLite converter", "try --no-flex or another --quantize mode, and "
     "report the model to TensorFlow with the command"),
    ("ai_edge_litert/", "in LiteRT running the converted .tflite", "the model converted but LiteRT cannot run it: "
     "try another --quantize mode (float32, float16 or dynamic) and report the .tflite to LiteRT"),
    ("tensorflow/lite/python/interpreter.py", "in TensorFlow's TFLite interpreter running the converted .tflite",
     "the model converted but the interpreter cannot run it: try another --quantize mode (float32, float16 or "
     "dynamic) and report the .tflite to LiteRT"),
    ("tensorflow/", "inside TensorFlow", "rerun with --debug and report the model and command"),
)


def wanted(argv: Sequence[str]) -> bool:
    """Run `argv` in a guarded child? Not when disabled, already in a child, or for help/version/no command."""
    if os.environ.get(_OFF_ENV, "").strip().lower() not in ("", "0", "false", "no") or os.environ.get(CHILD_ENV):
        return False
    return not (not argv or any(a in ("-h", "--help", "--version") for a in argv))


def enable_fault_dump() -> None:
    """In the child: write the Python stack of a fatal signal to the file the parent reads, and die with the parent
    (a parent killed hard, e.g. SIGKILL, must not leave its command running on as an orphan)."""
    path = os.environ.get(CHILD_ENV)
    if not path:
        return
    faulthandler.enable(open(path, "w"), all_threads=False)  # noqa: SIM115 - open until the process ends
    die_with_parent(_PARENT_ENV)


def die_with_parent(parent_env: str) -> None:
    """Linux: get SIGKILL when the parent process dies (PR_SET_PDEATHSIG), so a parent killed hard leaves no
    orphan running on; elsewhere nothing. `parent_env` names the environment variable holding the parent's pid:
    if the parent died before prctl took effect, exit at once as if killed."""
    parent = os.environ.get(parent_env)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent and str(os.getppid()) != parent:
        os._exit(128 + int(signal.SIGKILL))


def signal_name(num: int) -> str:
    """SIGSEGV, SIGABRT, ...; `signal N` for a number Python does not name."""
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def describe_crash(dump: str) -> tuple[str, str]:
    """(where, fix) for a faulthandler dump: the deepest frame in a place hub2lite knows, plus the innermost
    hub2lite function that called into it."""
    frames = [line.strip() for line in dump.splitlines() if line.strip().startswith("File ")]
    where, fix = "in native code", "rerun with --debug and report the model and command"
    for fragment, what, hint in _PLACES:  # frames are listed innermost first
        if any(fragment in f for f in frames):
            where, fix = what, hint
            break
    own = next((f for f in frames if "/hub2lite/" in f and "crashguard" not in f), None)
    if own is not None:
        try:
            module = own.split("/hub2lite/", 1)[1].split('"', 1)[0].removesuffix(".py").replace("/", ".")
            func = own.rsplit(" in ", 1)[1]
            where += f", called from hub2lite.{module}.{func}"
        except IndexError:
            pass
    return where, fix


def _snapshot(files: list[Path], dirs: list[Path]) -> set[Path]:
    """What already stands where the command writes (beside each output file, in each output folder)."""
    return {p for place in [f.parent for f in files] + dirs if place.is_dir() for p in place.iterdir()}


def _clean(files: list[Path], dirs: dict[Path, bool], before: set[Path], started: float) -> list[Path]:
    """Remove what the crashed run left: new or rewritten files beside an output file whose names start with its
    stem (and its `.part` temp files), an output folder the run created, and new entries of one that existed."""
    removed: list[Path] = []

    def drop(p: Path) -> None:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)

    for f in files:
        if f.parent.is_dir():
            for p in list(f.parent.iterdir()):
                ours = p.name.startswith(f.stem) or (p.name.startswith(f".{f.name}") and p.name.endswith(".part"))
                if ours and (p not in before or p.stat().st_mtime >= started):
                    drop(p)
    for d, existed in dirs.items():
        if d.is_dir() and not existed:
            drop(d)
        elif d.is_dir():
            for p in list(d.iterdir()):
                if p not in before:
                    drop(p)
    return removed


def run_guarded(argv: Sequence[str], *, files: Sequence[Path] = (), dirs: Sequence[Path] = (),
                err: TextIO | None = None) -> int:
    """Run `hub2lite ARGV` in a child process; a death by signal becomes one line and exit 12. `files` / `dirs`:
    the output file(s) and folder(s) the command line names, cleaned after a crash."""
    err = err or sys.stderr
    files, dir_list = list(files), list(dirs)
    outdirs = {d: d.is_dir() for d in dir_list}
    before, started = _snapshot(files, dir_list), time.time()
    with tempfile.TemporaryDirectory(prefix="hub2lite-guard-") as tmp:
        dump = Path(tmp) / "fault.txt"
        # The child gets a process group of its own, so a terminal's Ctrl-C reaches it once, forwarded by the parent
        # (twice would cut its clean-up short), exactly as `kill -INT` of the parent does.
        env = {**os.environ, CHILD_ENV: str(dump), _PARENT_ENV: str(os.getpid())}
        proc = subprocess.Popen([sys.executable, "-m", "hub2lite.cli", *argv], env=env, process_group=0)
        previous = _forward_signals(proc)
        try:
            code = proc.wait()
        finally:
            _restore_signals(previous)
        if code >= 0:
            return code
        if -code in (signal.SIGINT, signal.SIGTERM):  # stopped from outside before it could unwind: as a shell says
            return 128 - code
        text = dump.read_text(errors="replace") if dump.exists() else ""
    name = signal_name(-code)
    if -code == signal.SIGKILL:
        where = "(killed from outside, or by the kernel's out-of-memory killer)"
        fix = "check free memory (`hub2lite batch --memory-per-model` bounds it per model) and run it again"
    else:
        where, fix = describe_crash(text)
    removed = _clean(files, outdirs, before, started)
    if "--debug" in argv and text:
        print(text.rstrip(), file=err)
    kept = f"; removed what it had written ({', '.join(p.name for p in removed)})" if removed else ""
    print(f"hub2lite: error: the process crashed ({name}) {where}{kept} (fix: {fix})", file=err, flush=True)
    return EXIT_NATIVE_CRASH


def _forward_signals(proc: subprocess.Popen[Any]) -> dict[int, Any]:
    previous: dict[int, Any] = {}

    def forward(signum: int, frame: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, forward)
        except (ValueError, OSError):  # not the main thread
            pass
    return previous


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
