"""Timing several models on one machine one after the other: the loop `sweep` and `batch` share.

`time_round_robin(targets, rounds=N)` measures every target once per round, in alternating order (A B C, then
C B A: drift and load from other processes hit every model alike), each measurement being the target's own
callable (normally benchmark.benchmark_tflite / benchmark_source: one child process each), and pools each target's
rounds (benchmark.merge_rounds). A target whose measurement raises one of `failures` is not measured again: its
error is returned beside the others' statistics, never hidden; any other exception propagates (a hub2lite bug).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .benchmark import LatencyStats, merge_rounds
from .errors import Hub2LiteError

__all__ = ["Timed", "time_round_robin", "error_text"]


@dataclass(frozen=True)
class Timed:
    stats: dict[str, LatencyStats] = field(default_factory=dict)  # target name -> its rounds, pooled
    errors: dict[str, str] = field(default_factory=dict)  # target name -> why it could not be measured


def error_text(exc: BaseException) -> str:
    """A hub2lite error's own line; anything else with its type (a converter's RuntimeError, an OSError...)."""
    return str(exc) if isinstance(exc, Hub2LiteError) else f"{type(exc).__name__}: {exc}"


def time_round_robin(targets: Sequence[tuple[str, Callable[[], LatencyStats]]], *, rounds: int = 1,
                     failures: tuple[type[BaseException], ...] = (Hub2LiteError,),
                     on_start: Callable[[str, int], None] = lambda _name, _round: None,
                     on_error: Callable[[str, str], None] = lambda _name, _error: None) -> Timed:
    """See the module docstring. `on_start(name, round)` before each measurement (round from 0), `on_error(name,
    error)` when a target fails."""
    measured: dict[str, list[LatencyStats]] = {name: [] for name, _ in targets}
    errors: dict[str, str] = {}
    for r in range(max(1, rounds)):
        for name, measure in (targets if r % 2 == 0 else targets[::-1]):
            if name in errors:
                continue
            on_start(name, r)
            try:
                measured[name].append(measure())
            except failures as exc:
                errors[name] = error_text(exc)
                on_error(name, errors[name])
    return Timed({name: merge_rounds(runs) for name, runs in measured.items() if runs and name not in errors},
                 errors)
