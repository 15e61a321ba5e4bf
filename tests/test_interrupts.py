"""interrupts.py: a Ctrl-C or SIGTERM that TensorFlow turns into another exception still stops the command.

The real case (1 CI run in 5): SIGTERM landed while pybind11 normalized the converter's InvalidArgumentError, came
out as pybind11's RuntimeError("... REPLACED BY _Terminated"), and the conversion ladder's `except Exception` took
it for a failed strategy and went on. Here the signal is real (os.kill to this process) and the replacement is what
pybind11 does: raise another exception while the interrupt is being handled.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from hub2lite import interrupts


def _signal_turned_into_runtime_error(sig: signal.Signals) -> None:
    try:
        os.kill(os.getpid(), sig)
        time.sleep(5)  # the handler raises before this ends
    except KeyboardInterrupt as exc:
        raise RuntimeError(f"Internal error: ORIGINAL InvalidArgumentError REPLACED BY {type(exc).__name__}") from None
    raise AssertionError("the signal handler did not run")


@pytest.mark.parametrize(("sig", "kind"), [(signal.SIGTERM, interrupts.Terminated),
                                           (signal.SIGINT, KeyboardInterrupt)])
def test_a_signal_swallowed_by_a_broad_except_is_raised_again_as_itself(sig: signal.Signals, kind: type) -> None:
    restore = interrupts.install()
    try:
        with pytest.raises(kind) as caught:
            try:
                _signal_turned_into_runtime_error(sig)
            except Exception:  # noqa: BLE001 - what the conversion ladder does
                interrupts.reraise_pending()
                raise AssertionError("the pending signal was not raised again") from None
        assert type(caught.value) is kind
        assert interrupts.pending() is kind
    finally:
        restore()
    assert interrupts.pending() is None  # cleared for the next in-process command
    interrupts.reraise_pending()  # and nothing is raised once it is


def test_without_a_signal_a_broad_except_goes_on() -> None:
    restore = interrupts.install()
    try:
        try:
            raise RuntimeError("a converter error")
        except RuntimeError:
            interrupts.reraise_pending()  # nothing pending: no-op
    finally:
        restore()


def test_handlers_are_put_back_and_an_ignored_ctrl_c_stays_ignored() -> None:
    before_term = signal.getsignal(signal.SIGTERM)
    before_int = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as for a process started with `nohup` or `&`
    try:
        restore = interrupts.install()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is not before_term
        restore()
        assert signal.getsignal(signal.SIGTERM) is before_term
    finally:
        signal.signal(signal.SIGINT, before_int)


def test_the_cli_exits_143_when_the_signal_came_out_as_another_error(monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """main(): an error that escapes while SIGTERM is pending is the termination, not an internal error (exit 1)."""
    from hub2lite import cli
    from hub2lite.commands import doctor

    def run(args: object, ui: object) -> int:
        _signal_turned_into_runtime_error(signal.SIGTERM)
        return 0

    monkeypatch.setattr(doctor, "run", run)  # a command whose work is the signal; the CLI around it is real
    assert cli.main(["doctor"]) == 143
    assert "hub2lite: terminated; no partial output was kept" in capsys.readouterr().err
    assert interrupts.pending() is None
