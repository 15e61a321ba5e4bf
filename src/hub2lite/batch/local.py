"""The local executor: up to N worker processes on this machine, no extra dependency.

One loop in the driver's main thread starts workers, polls them (exit, wall time, resident memory) and hands each
`Outcome` to `on_done` as it comes, so the driver alone writes the batch folder. Ctrl-C (KeyboardInterrupt in the
loop) kills every running worker and propagates; what finished was already handed over.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .supervise import Limits, Outcome, WorkerProcess

__all__ = ["Task", "run_local", "default_workers"]


@dataclass(frozen=True)
class Task:
    """One model to run: its name and job key, the job the worker reads, and its limits."""

    name: str
    key: str
    job: dict[str, Any]
    limits: Limits


def default_workers() -> int:
    """Half the usable cores (a TensorFlow conversion uses more than one), at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, cores // 2)


def run_local(tasks: Sequence[Task], workdir_root: Path, *, workers: int,
              on_start: Callable[[Task], None], on_done: Callable[[Task, Outcome, Path], None]) -> None:
    """Run `tasks` with at most `workers` at a time. `on_done(task, outcome, workdir)` gets each result and the
    folder holding the files the worker wrote (the callee moves them; this function removes what is left)."""
    pending = deque(tasks)
    running: dict[str, tuple[Task, WorkerProcess]] = {}
    try:
        while pending or running:
            while pending and len(running) < workers:
                task = pending.popleft()
                folder = workdir_root / f"{task.name}.{task.key[:12]}"
                shutil.rmtree(folder, ignore_errors=True)
                proc = WorkerProcess(task.name, task.key, task.job, folder, task.limits)
                on_start(task)
                proc.start()
                running[task.key] = (task, proc)
            for key, (task, proc) in list(running.items()):
                outcome = proc.poll()
                if outcome is not None:
                    del running[key]
                    try:
                        on_done(task, outcome, proc.workdir)
                    finally:
                        shutil.rmtree(proc.workdir, ignore_errors=True)
            if running:
                time.sleep(min(t.limits.poll_s for t, _ in running.values()))
    finally:
        for _task, proc in running.values():  # Ctrl-C or a driver error: no worker outlives the batch
            proc.kill()
            shutil.rmtree(proc.workdir, ignore_errors=True)
