"""One isolated worker process per model, under a wall-time limit and a resident-memory watchdog.

`WorkerProcess` starts `python -m hub2lite.batch` (worker.py) in its own session (Ctrl-C in the terminal does not
reach it; the driver stops it), and `poll()` turns whatever happens into an `Outcome`: the worker's result, or a
failed row naming why it died — timed out, over the memory limit (resident memory of the worker and its children,
read from /proc: an address-space rlimit breaks TensorFlow), native abort, killed (e.g. by the kernel's OOM
killer), or exited without a result. The local pool polls several of them; a Ray task polls one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..crashguard import signal_name
from .worker import JOB_FILE, LOG_FILE, PARTIAL_FILE, RESULT_FILE, STAGE_FILE

__all__ = ["Limits", "Outcome", "WorkerProcess", "tree_rss_bytes", "run_one", "GIB"]

GIB = 1024**3
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 1800.0
    memory_bytes: int | None = 4 * GIB  # None: no watchdog
    poll_s: float = 0.2


@dataclass(frozen=True)
class Outcome:
    """What came of one model: the worker's result dict (or the failure the supervisor saw), and, for results
    that travel back from a remote worker, the files the worker wrote (relative path -> bytes)."""

    name: str
    key: str
    result: dict[str, Any]
    seconds: float
    peak_rss_bytes: int | None = None
    files: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def failed(self) -> bool:
        return self.result.get("status") != "ok"


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(c) for c in fh.read().split()]
        except OSError:
            continue
    return out


def tree_rss_bytes(pid: int) -> int | None:
    """Resident memory of `pid` and all its descendants (Linux /proc); None where /proc is not available."""
    if not os.path.isdir("/proc/self"):
        return None
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            continue
        todo += _children(p)
    return total


def _last_line(log: Path) -> str | None:
    """The last meaningful line of the worker's log (e.g. TensorFlow's 'Check failed: ...')."""
    try:
        data = log.read_bytes()[-8192:].decode("utf-8", "replace")
    except OSError:
        return None
    noise = ("hub2lite: INFO", "hub2lite: WARNING", "INFO:", "WARNING:", "I0000", "W0000", "E0000",
             "Fatal Python error", "Instructions for updating", "This API was designed")
    lines = [ln.strip() for ln in data.splitlines() if ln.strip() and not ln.strip().startswith(noise)]
    return lines[-1][:300] if lines else None


class WorkerProcess:
    """One model in its own process; `poll()` until it returns an `Outcome`."""

    def __init__(self, name: str, key: str, job: dict[str, Any], workdir: Path, limits: Limits) -> None:
        self.name, self.key, self.job, self.workdir, self.limits = name, key, job, Path(workdir), limits
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.peak_rss = 0

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / JOB_FILE).write_text(json.dumps(self.job, indent=1), encoding="utf-8")
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONFAULTHANDLER"] = "1"
        env["HUB2LITE_BATCH_PARENT"] = str(os.getpid())  # a native crash leaves its Python stack in worker.log
        with open(self.workdir / LOG_FILE, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "hub2lite.batch", str(self.workdir / JOB_FILE)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def stage(self) -> str | None:
        try:
            return (self.workdir / STAGE_FILE).read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def _where(self) -> str:
        stage = self.stage()
        return f" (while: {stage})" if stage else " (while starting)"

    def kill(self) -> None:
        """Stop the worker and every process it started (its own session / process group)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self.proc.kill()
        self.proc.wait()

    def _failed(self, stage: str, error: str) -> Outcome:
        """A failed row for a worker that died: the variants it finished (partial.json), then the mode it was in."""
        from .adapter import crashed_variant

        where = (self.stage() or stage).split(" ")
        result: dict[str, Any] = {"variants": []}
        try:
            result.update(json.loads((self.workdir / PARTIAL_FILE).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass  # it died before finishing a mode
        if len(where) > 1:
            result["variants"] = [*result["variants"], crashed_variant(where[1], where[0], error)]
        result.update(status="failed", stage=where[0], error=error, crash=True)
        return Outcome(self.name, self.key, result, round(self.elapsed, 3), self.peak_rss or None)

    def poll(self) -> Outcome | None:
        assert self.proc is not None, "start() first"
        code = self.proc.poll()
        if code is None:
            if self.elapsed > self.limits.timeout_s:
                self.kill()
                return self._failed("timeout", f"timed out after {self.limits.timeout_s:g} s{self._where()}")
            rss = tree_rss_bytes(self.proc.pid)
            if rss is not None:
                self.peak_rss = max(self.peak_rss, rss)
                if self.limits.memory_bytes is not None and rss > self.limits.memory_bytes:
                    self.kill()
                    return self._failed("memory", f"resident memory {rss / GIB:.2f} GiB went over the "
                                                  f"{self.limits.memory_bytes / GIB:g} GiB limit{self._where()}")
            return None
        return self._finished(code)

    def _finished(self, code: int) -> Outcome:
        result_path = self.workdir / RESULT_FILE
        if code == 0 and result_path.exists():
            result = json.loads(result_path.read_text(encoding="utf-8"))
            return Outcome(self.name, self.key, result, round(self.elapsed, 3), self.peak_rss or None)
        last = _last_line(self.workdir / LOG_FILE)
        detail = f": {last}" if last else ""
        if code < 0:
            sig = -code
            what = {signal.SIGABRT: "native abort (SIGABRT)",
                    signal.SIGKILL: "killed (SIGKILL: the kernel's out-of-memory killer, or another process)",
                    signal.SIGSEGV: "segmentation fault (SIGSEGV)",
                    signal.SIGBUS: "bus error (SIGBUS)"}.get(sig, f"killed by {signal_name(sig)}")
            return self._failed("crash", f"worker crashed: {what}{self._where()}{detail} (log: {LOG_FILE})")
        return self._failed("crash", f"worker exited with code {code} without a result{self._where()}{detail} "
                                     f"(log: {LOG_FILE})")


def run_one(name: str, key: str, job: dict[str, Any], workdir: Path, limits: Limits) -> Outcome:
    """Run one worker to the end (a Ray task's whole body)."""
    worker = WorkerProcess(name, key, job, workdir, limits)
    worker.start()
    try:
        while True:
            outcome = worker.poll()
            if outcome is not None:
                return outcome
            time.sleep(limits.poll_s)
    finally:
        worker.kill()
