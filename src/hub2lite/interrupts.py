"""Ctrl-C and SIGTERM, remembered so that no `except Exception` can swallow them.

The CLI turns SIGINT into `KeyboardInterrupt` and SIGTERM into `Terminated` (a `KeyboardInterrupt`), so both
unwind the stack and atomic writes remove their temporary files. But a Python signal handler runs wherever the
interpreter happens to be, and an exception raised there can come out as something else: raised while pybind11
normalizes a TensorFlow error, it becomes pybind11's `RuntimeError("... ORIGINAL InvalidArgumentError REPLACED BY
Terminated ...")`. The converter's strategy ladder catches every `Exception` (the converter raises many types) and
takes that for a failed strategy: it tried the next route and the command exited 0 after a `kill` (seen once in
five CI runs of tests/test_reliability_process.py).

So the handlers also *record* the signal, and every `except Exception` in hub2lite that goes on (retries, falls
back, records a failure) calls `reraise_pending()` first: a recorded signal is raised again there, as itself.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Terminated", "install", "reraise_pending", "pending"]


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job, `kill`): unwound like Ctrl-C, so temp files are removed on the way out."""


_pending: type[KeyboardInterrupt] | None = None


def pending() -> type[KeyboardInterrupt] | None:
    """The interrupt a signal raised since `install`, if any (KeyboardInterrupt or Terminated)."""
    return _pending


def reraise_pending() -> None:
    """Raise the recorded interrupt again, if a signal arrived: call it first in every broad `except`."""
    if _pending is not None:
        raise _pending()


def _record(kind: type[KeyboardInterrupt]) -> Callable[[int, Any], None]:
    def handler(signum: int, frame: Any) -> None:
        global _pending
        _pending = kind
        raise kind()

    return handler


def install() -> Callable[[], None]:
    """Route SIGINT and SIGTERM through the recording handlers; returns what puts the previous handlers back.
    Main thread only (signal handlers cannot be set elsewhere): elsewhere nothing changes."""
    global _pending
    _pending = None
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _record(Terminated))}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where Ctrl-C is ignored (`nohup`, `&`)
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _record(KeyboardInterrupt))

    def restore() -> None:
        global _pending
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _pending = None

    return restore
