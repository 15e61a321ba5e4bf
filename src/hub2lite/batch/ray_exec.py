"""The Ray executor: each model is one Ray task on an existing cluster (`address`) or a local Ray instance.

A task runs on a fresh Ray worker process (`max_calls=1`: Ray would reuse workers otherwise), declares
`num_cpus` and `memory` so Ray schedules no more models on a node than it can hold, and supervises the model's
own worker process exactly as the local pool does (wall time, resident-memory watchdog, crash reasons). The files
the model wrote travel back in the task's result: the driver alone writes the batch folder, so workers need no
shared file system (their sources must be reachable from every node: hub handles, or paths every node has).
A Ray worker that dies (killed, node lost) is retried once by Ray itself (`max_retries=1`); a second loss is the
model's failed row. Needs the optional extra: `pip install hub2lite[ray]`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .local import Task
from .supervise import Limits, Outcome, run_one
from .worker import JOB_FILE, PARTIAL_FILE, STAGE_FILE

__all__ = ["run_ray", "RAY_RETRIES"]

#: Ray retries a task whose worker died this many times, then the model is a failed row.
RAY_RETRIES = 1


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs Ray, which is not installed",
                          hint="pip install 'hub2lite[ray]' (or run without --ray on the local process pool)") from None
    return ray


def _model_task(name: str, key: str, job: dict[str, Any], limits: dict[str, Any]) -> Outcome:
    """The body of a Ray task: run one model's worker in a scratch folder and send its files back."""
    scratch = Path(tempfile.mkdtemp(prefix="hub2lite-batch-"))
    try:
        work = scratch / "work"
        outcome = run_one(name, key, job, work, Limits(**limits))
        files = {p.relative_to(work).as_posix(): p.read_bytes() for p in sorted(work.rglob("*"))
                 if p.is_file() and p.name not in (JOB_FILE, STAGE_FILE, PARTIAL_FILE) and not p.name.startswith(".")}
        return replace(outcome, files=files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _connect(ray: Any, address: str, num_cpus: int | None) -> bool:
    """Connect (or start a local instance); True when this call started Ray and must shut it down."""
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    if address == "local":
        ray.init(num_cpus=num_cpus, **kwargs)
    else:
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot connect to the Ray cluster at {address!r}: {exc}",
                              hint="start it with `ray start --head`, check the address, or use --ray local") from None
    return True


def _lost(task: Task, exc: BaseException) -> Outcome:
    kind = type(exc).__name__
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return Outcome(task.name, task.key, {
        "status": "failed", "stage": "worker", "crash": True, "variants": [],
        "error": f"the Ray worker running this model was lost {RAY_RETRIES + 1} times ({kind}: {first})"}, 0.0)


def _task_bug(task: Task, exc: BaseException) -> Outcome:
    return Outcome(task.name, task.key, {
        "status": "failed", "stage": "worker", "bug": True, "variants": [],
        "error": f"hub2lite bug in the Ray task: {type(exc).__name__} (traceback: traceback.txt)"}, 0.0,
        files={"traceback.txt": str(exc).encode()})


def run_ray(tasks: Sequence[Task], address: str, *, num_cpus: int | None = None, cpus_per_model: float = 1.0,
            on_start: Callable[[Task], None], on_done: Callable[[Task, Outcome], None]) -> None:
    """Submit every task, hand each `Outcome` to `on_done` as it arrives. Ctrl-C cancels what is left."""
    ray = _import_ray()
    started = _connect(ray, address, num_cpus)
    refs: dict[Any, Task] = {}
    try:
        remote = ray.remote(max_calls=1)(_model_task)  # max_calls cannot go through .options()
        for task in tasks:
            memory = task.limits.memory_bytes
            options: dict[str, Any] = {"num_cpus": cpus_per_model, "max_retries": RAY_RETRIES,
                                       "retry_exceptions": False}
            if memory is not None:
                options["memory"] = int(memory)
            on_start(task)
            refs[remote.options(**options).remote(task.name, task.key, task.job, asdict(task.limits))] = task
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
            for ref in ready:
                task = refs.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:  # raised inside the task: a bug, not a lost worker
                    outcome = _task_bug(task, exc)
                except ray.exceptions.RayError as exc:  # worker or node died, twice
                    outcome = _lost(task, exc)
                on_done(task, outcome)
    finally:
        for ref in refs:  # Ctrl-C or a driver error: stop what is still queued or running
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already finished or gone: nothing to stop
                pass
        if started:
            ray.shutdown()

