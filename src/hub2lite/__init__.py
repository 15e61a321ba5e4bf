"""hub2lite: TensorFlow Hub / Kaggle Models -> validated TensorFlow Lite models.

The Python API is one call per command, taking the CLI's options as keyword arguments:

    import hub2lite
    result = hub2lite.convert("model_dir", "model.tflite", quantize="int8", calibration="photos/",
                              input_range=(-1, 1))
    print(result.passed, result.report["validation"]["passed"])

`convert`, `validate`, `sweep`, `optimize`, `inspect` and `bench` return result objects with their report and
raise the typed errors below (`Hub2LiteError` and its subclasses; each has an `exit_code`). Importing hub2lite
imports neither TensorFlow nor its stages: result types and stage functions load on first use.
"""

from __future__ import annotations

import importlib as _importlib
import sys as _sys
import types as _types
from typing import Any as _Any

__version__ = "0.1.0"

from .api import bench, convert, inspect, optimize, sweep, validate
from .errors import (CalibrationError, ConfigError, ConversionError, Hub2LiteError, LoadError, MissingKernelsError,
                     OutputError, ResolveError)

#: Types and stages below the command calls, loaded on first use: name -> module.
_LAZY = {
    "BenchConfig": "benchmark", "LatencyStats": "benchmark",
    "Attempt": "convert", "Conversion": "convert", "ConvertConfig": "convert",
    "ModelInfo": "inspect", "OpInfo": "inspect",
    "EntryPoint": "load", "LoadedModel": "load", "LoadOptions": "load",
    "ConvertResult": "pipeline", "ValidateConfig": "pipeline",
    "SplitPlan": "split", "CustomOp": "custom_ops",
    "OptimizeResult": "optimize",
    "Prepared": "prepare", "prepare": "prepare",
    "ResolvedModel": "resolve", "resolve": "resolve",
    "LiteRunner": "runners", "TFRunner": "runners",
    "ModelFormat": "specs", "OpSupport": "specs", "OpsPolicy": "specs", "QuantMode": "specs",
    "SignatureInfo": "specs", "TensorSpec": "specs",
    "SweepResult": "sweep",
    "OutputMetrics": "validate", "Tolerance": "validate", "ValidationReport": "validate",
}

__all__ = [
    "__version__",
    "convert", "validate", "sweep", "optimize", "inspect", "bench",
    "CalibrationError", "ConfigError", "ConversionError", "Hub2LiteError", "LoadError", "OutputError", "ResolveError",
    "MissingKernelsError",
    *_LAZY,
]

#: Package attributes that are both a call and a submodule name: the call wins.
_SHADOWED = frozenset({"convert", "validate", "sweep", "optimize", "inspect", "bench", "prepare", "resolve"})


def __getattr__(name: str) -> _Any:
    if name in _LAZY:
        value = getattr(_importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(_types.ModuleType):
    """Importing the submodule hub2lite.convert (or .validate, .sweep, ...) must not replace the API call of
    the same name on the package: the import system sets the package attribute; keep the call."""

    def __setattr__(self, name: str, value: _Any) -> None:
        if name in _SHADOWED and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
