"""The exceptions hub2lite raises, and the exit codes the CLI maps them to.

    Hub2LiteError            a problem with the user's input or environment (exit 1 unless below)
    ├── ConfigError          flags or configs that do not fit the model or each other (exit 2)
    ├── ResolveError         the source cannot be found, fetched or unpacked (exit 4)
    ├── LoadError            the source was found but is not a loadable model (exit 5)
    ├── ConversionError      no conversion strategy produced a model (exit 6)
    ├── CalibrationError     calibration / validation data is unusable (exit 7)
    ├── OutputError          an output exists (no --force) or cannot be written (exit 8)
    ├── FlexRuntimeError     a Select-TF-ops model needs the Flex runtime (TensorFlow 2.18.1 venv) and it is
    │                        disabled (--no-flex-runtime), cannot be built here (Python > 3.12) or its build
    │                        failed (offline) (exit 10)
    ├── FlexRunError         the Flex runtime's interpreter failed on the model (exit 1)
    └── MissingKernelsError  a .tflite holds custom ops (--allow-custom-ops) no runtime here has
                             kernels for: it cannot be validated or benchmarked (exit 11)

A failed validation is *not* an exception: it is a `ValidationReport` with `passed=False`
(exit 3); a validation that could not run because the Flex runtime is unavailable is a report with
`not_run` set (exit 10, as FlexRuntimeError).  Anything that is not a `Hub2LiteError` is a bug in hub2lite (exit 1, traceback
with --debug); Ctrl-C exits 130, SIGTERM 143 (`interrupts.py`). A native crash (segfault, abort) inside TensorFlow
or LiteRT exits 12 through the `hub2lite` command's crash guard (`crashguard.py`).

Every error carries a one-line `message` naming the problem and, where there is one, a
`hint` naming the fix.

A model that fails inside `hub2lite batch` is not an exception either: it is a failed row of the catalog, and
the batch exits EXIT_MODEL_FAILED (9: not everything could be done, and everything that was is written) once
every model is done.
"""

from __future__ import annotations

__all__ = [
    "Hub2LiteError",
    "ConfigError",
    "ResolveError",
    "LoadError",
    "ConversionError",
    "CalibrationError",
    "OutputError",
    "FlexRuntimeError",
    "FlexRunError",
    "MissingKernelsError",
    "EXIT_OK",
    "EXIT_ERROR",
    "EXIT_USAGE",
    "EXIT_VALIDATION_FAILED",
    "EXIT_FLEX_UNAVAILABLE",
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "EXIT_MODEL_FAILED",
    "EXIT_MISSING_KERNELS",
    "EXIT_NATIVE_CRASH",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_VALIDATION_FAILED = 3
EXIT_FLEX_UNAVAILABLE = 10
EXIT_INTERRUPTED = 130
#: 128 + SIGTERM, as a shell reports a process ended by `kill`.
EXIT_TERMINATED = 143
#: `hub2lite batch`: at least one model of the catalog failed (the catalog still lists every model, with why).
EXIT_MODEL_FAILED = 9
EXIT_MISSING_KERNELS = 11
#: the `hub2lite` command's child process died by a signal (a segfault or abort inside TensorFlow, the converter
#: or LiteRT): reported in one line by `crashguard`, with what the run had written removed
EXIT_NATIVE_CRASH = 12


class Hub2LiteError(Exception):
    """Base class of every user-facing hub2lite error."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())
        self.hint = " ".join(hint.split()) if hint else None

    def __str__(self) -> str:
        return f"{self.message} (fix: {self.hint})" if self.hint else self.message


class ConfigError(Hub2LiteError):
    exit_code = EXIT_USAGE


class ResolveError(Hub2LiteError):
    exit_code = 4


class LoadError(Hub2LiteError):
    exit_code = 5


class ConversionError(Hub2LiteError):
    exit_code = 6

    def __init__(self, message: str, *, hint: str | None = None, attempts: tuple = ()) -> None:
        super().__init__(message, hint=hint)
        self.attempts = attempts


class CalibrationError(Hub2LiteError):
    exit_code = 7


class OutputError(Hub2LiteError):
    exit_code = 8


class FlexRuntimeError(Hub2LiteError):
    exit_code = EXIT_FLEX_UNAVAILABLE


class FlexRunError(Hub2LiteError):
    """The Flex runtime's worker reported an error running the model, or died."""


class MissingKernelsError(Hub2LiteError):
    """The model holds custom ops (kept by --allow-custom-ops) that need kernels the app registers itself."""

    exit_code = EXIT_MISSING_KERNELS

    def __init__(self, message: str, *, hint: str | None = None, ops: tuple[str, ...] = ()) -> None:
        super().__init__(message, hint=hint)
        self.ops = ops
