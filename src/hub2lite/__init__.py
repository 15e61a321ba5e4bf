"""hub2lite: TensorFlow Hub / Kaggle Models -> validated TensorFlow Lite models.

Importing hub2lite does not import TensorFlow; each stage imports it when it runs.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .benchmark import BenchConfig, LatencyStats, benchmark_source, benchmark_tflite
from .convert import Attempt, Conversion, ConvertConfig, convert, parse_input_shape
from .errors import (CalibrationError, ConfigError, ConversionError, Hub2LiteError, LoadError, OutputError,
                     ResolveError)
from .inspect import ModelInfo, OpInfo, inspect_model
from .load import EntryPoint, LoadedModel, load
from .pipeline import (ConvertJob, ConvertResult, ValidateConfig, ValidateJob, run_convert, run_inspect,
                       run_validate)
from .resolve import ResolvedModel, resolve
from .runners import LiteRunner, TFRunner
from .specs import ModelFormat, OpSupport, OpsPolicy, QuantMode, SignatureInfo, TensorSpec
from .sweep import SweepConfig, SweepResult, run_sweep
from .validate import OutputMetrics, Tolerance, ValidationReport, compare, validate

__all__ = [
    "__version__",
    "BenchConfig", "LatencyStats", "benchmark_source", "benchmark_tflite",
    "Attempt", "Conversion", "ConvertConfig", "convert", "parse_input_shape",
    "CalibrationError", "ConfigError", "ConversionError", "Hub2LiteError", "LoadError", "OutputError", "ResolveError",
    "ModelInfo", "OpInfo", "inspect_model",
    "EntryPoint", "LoadedModel", "load",
    "ConvertJob", "ConvertResult", "ValidateConfig", "ValidateJob", "run_convert", "run_inspect", "run_validate",
    "ResolvedModel", "resolve",
    "LiteRunner", "TFRunner",
    "ModelFormat", "OpSupport", "OpsPolicy", "QuantMode", "SignatureInfo", "TensorSpec",
    "SweepConfig", "SweepResult", "run_sweep",
    "OutputMetrics", "Tolerance", "ValidationReport", "compare", "validate",
]
