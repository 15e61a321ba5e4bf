"""Command-line interface: a thin layer that turns flags into configs and results into text + exit codes.

Exit codes: 0 ok, 1 error (bug or unexpected), 2 usage/config, 3 validation failed, 4 resolve, 5 load,
6 conversion, 7 calibration/data, 8 output path, 9 a batch model failed, 10 Flex runtime unavailable, 11 custom ops
without kernels, 12 a native crash in TensorFlow/LiteRT (the `hub2lite` command runs each command in a child process
for that: `entry`, crashguard.py), 130 interrupted, 143 terminated.
`--help` imports no TensorFlow.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from . import __version__, interrupts
from .commands import COMMANDS
from .errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USAGE, Hub2LiteError

__all__ = ["main", "entry", "build_parser", "UI"]


class UI:
    """What commands may do to the terminal: print results, show progress (rich, TTY only)."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, *, quiet: bool = False) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        self.interactive = hasattr(self.err, "isatty") and self.err.isatty() and not os.environ.get("CI")
        self._status: Any = None

    def print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def warn(self, text: str) -> None:
        print(f"hub2lite: warning: {text}", file=self.err, flush=True)

    def step(self, text: str) -> None:
        if self._status is not None:
            self._status.update(f"[bold]{text}[/]…")

    @contextmanager
    def progress(self, title: str) -> Iterator[UI]:
        if not self.interactive or self.quiet:
            yield self
            return
        from rich.console import Console

        with Console(file=self.err).status(f"[bold]{title}[/]…") as status:
            self._status = status
            try:
                yield self
            finally:
                self._status = None


class _WarningsToUI(logging.Handler):
    def __init__(self, ui: UI) -> None:
        super().__init__(logging.WARNING)
        self.ui = ui

    def emit(self, record: logging.LogRecord) -> None:
        self.ui.warn(record.getMessage())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hub2lite",
        description="Convert TensorFlow Hub / Kaggle Models to validated TensorFlow Lite (LiteRT) models.",
    )
    parser.add_argument("--version", action="version", version=f"hub2lite {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and TensorFlow's own logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each step")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def _configure_logging(args: argparse.Namespace, ui: UI) -> logging.Handler:
    from ._tf import quiet_tensorflow

    quiet_tensorflow(debug=args.debug)  # only where the user has not configured TensorFlow's logging
    lib = logging.getLogger("hub2lite")
    lib.setLevel(logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING)
    handler: logging.Handler
    if args.verbose or args.debug:
        handler = logging.StreamHandler(ui.err)
        handler.setFormatter(logging.Formatter("hub2lite: %(levelname)s: %(message)s"))
    else:
        handler = _WarningsToUI(ui)
    lib.addHandler(handler)
    lib.propagate = False
    return handler


_NEGATIVE_VALUE = re.compile(r"^-(\d|\.\d|inf\b)")


def _join_negative_values(argv: list[str]) -> list[str]:
    """argparse reads `--input-range -1,1` or `--min-snr -inf` as two flags; join such values to their flag
    (`--input-range=-1,1`) so the documented spellings work."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("--") and "=" not in token and i + 1 < len(argv) and _NEGATIVE_VALUE.match(argv[i + 1]):
            out.append(f"{token}={argv[i + 1]}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def entry() -> int:
    """The `hub2lite` console command: `main` in a child process, so that a native crash inside TensorFlow or
    LiteRT is one line and exit 12 (crashguard.py); help, version and `HUB2LITE_NO_CRASH_GUARD=1` run in-process."""
    from pathlib import Path

    from . import crashguard

    argv = sys.argv[1:]
    if not crashguard.wanted(argv):
        return main(argv)
    try:
        args, _ = build_parser().parse_known_args(_join_negative_values(argv))
    except SystemExit as exc:  # usage errors: no child needed
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_USAGE
    # validate's --report too: LiteRT's heap corruption can abort the run after the report was written
    files = [Path(p) for p in [getattr(args, "output", None), getattr(args, "report", None)] if p]
    dirs = [Path(p) for p in [getattr(args, "output_dir", None)] if p and args.command != "batch"]  # batch resumes
    return crashguard.run_guarded(argv, files=files, dirs=dirs)


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    err = err or sys.stderr
    from .crashguard import enable_fault_dump

    enable_fault_dump()  # in the crash guard's child: a fatal signal's Python stack goes to the parent
    parser = build_parser()
    try:
        given = list(sys.argv[1:] if argv is None else argv)
        args = parser.parse_args(_join_negative_values(given))
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_USAGE
    args.argv = given  # the command as typed, for the model cards
    ui = UI(out, err, quiet=args.quiet)
    handler = _configure_logging(args, ui)
    restore_signals = interrupts.install()
    try:
        check = getattr(args, "check", None)
        if check is not None:  # flag combinations wrong whatever the model: refused before TensorFlow loads
            check(args)
        if getattr(args, "needs_tensorflow", True) and not args.debug:
            from ._tf import import_tensorflow_quietly

            import_tensorflow_quietly()
        return int(args.run(args, ui))
    except KeyboardInterrupt as exc:  # outputs are written atomically, so nothing half-written exists
        return _interrupted(exc, args, err)
    except Hub2LiteError as exc:
        if interrupts.pending():  # the signal came out of TensorFlow as another error (interrupts.py)
            return _interrupted(interrupts.pending()(), args, err)
        if args.debug:
            traceback.print_exc(file=err)
        print(f"hub2lite: error: {exc}", file=err)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - a bug: one line unless --debug
        if interrupts.pending():
            return _interrupted(interrupts.pending()(), args, err)
        if args.debug:
            traceback.print_exc(file=err)
            return EXIT_ERROR
        print(f"hub2lite: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=err)
        return EXIT_ERROR
    finally:
        logging.getLogger("hub2lite").removeHandler(handler)
        restore_signals()


def _interrupted(exc: KeyboardInterrupt, args: argparse.Namespace, err: TextIO) -> int:
    if args.debug:
        traceback.print_exc(file=err)
    terminated = isinstance(exc, interrupts.Terminated)
    what = "terminated" if terminated else "interrupted"
    print(f"hub2lite: {what}; no partial output was kept (fix: run the command again)", file=err, flush=True)
    return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
