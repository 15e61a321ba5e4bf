"""The user's input options, shared by every command that reads data, and the checks they need no model for.

Light on purpose (no numpy, no TensorFlow): the CLI refuses a wrong flag combination with these before it
imports anything heavy, and `prepare` turns the same values into feeds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import CalibrationError, ConfigError
from .quantize.recipes import recipe_for
from .specs import QuantMode

__all__ = ["ScalingFlags", "CalibrationOptions", "DataOptions", "parse_scaling", "check_scaling_flags",
           "check_calibration", "check_quantized_validation", "check_data_options", "range_text",
           "parse_input_shape", "parse_modes"]


@dataclass(frozen=True)
class ScalingFlags:
    """`--input-range LOW,HIGH` or `--mean/--std`: how float image inputs are scaled (flags > model > [0,1])."""

    input_range: str | None = None
    mean: str | None = None
    std: str | None = None
    normalization_from: str | None = None  # a .tflite whose TFLite metadata records the normalization

    def to_dict(self) -> dict[str, Any]:
        return {"input_range": self.input_range, "mean": self.mean, "std": self.std,
                "normalization_from": self.normalization_from}


@dataclass(frozen=True)
class CalibrationOptions:
    source: str | None = None  # path, or "synthetic"
    samples: int = 200
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "samples": self.samples, "seed": self.seed}


@dataclass(frozen=True)
class DataOptions:
    """Where validation / evaluation inputs come from."""

    data: str | None = None  # .npy / .npz / image folder; seeded synthetic when None
    samples: int = 8
    seed: int = 0
    load_inputs: str | None = None  # a folder written by --save-inputs replaces both

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data, "samples": self.samples, "seed": self.seed, "load_inputs": self.load_inputs}


def range_text(value: str | Sequence[float] | None) -> str | None:
    """(-1, 1) or "-1,1" -> "-1,1" (the Python API takes tuples, the CLI text)."""
    if value is None or isinstance(value, str):
        return value
    return ",".join(f"{float(v):g}" for v in value)


def _numbers(text: str, flag: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        values = ()
    if not values or not all(math.isfinite(v) for v in values):
        raise ConfigError(f"cannot parse {flag} {text!r}", hint=f"write numbers separated by commas, e.g. {flag} 127.5")
    return values


def parse_scaling(flags: ScalingFlags) -> tuple[tuple[float, ...], tuple[float, ...], str] | None:
    """The user's explicit scaling as (mean, std, reason) on 0..255 pixels, or None when no flag is given.
    --input-range excludes --mean/--std; those two come together."""
    if flags.input_range is not None and (flags.mean is not None or flags.std is not None):
        raise ConfigError("--input-range cannot be combined with --mean/--std", hint="give one or the other")
    if flags.input_range is not None:
        values = _numbers(flags.input_range, "--input-range")
        if len(values) != 2 or not values[1] > values[0]:
            raise ConfigError(f"--input-range {flags.input_range!r} must be LOW,HIGH with LOW < HIGH",
                              hint="e.g. --input-range -1,1")
        lo, hi = values
        std = 255.0 / (hi - lo)
        return (-lo * std,), (std,), f"--input-range {flags.input_range}"
    if flags.mean is None and flags.std is None:
        return None
    if flags.mean is None or flags.std is None:
        raise ConfigError("--mean and --std go together", hint="e.g. --mean 127.5 --std 127.5 for [-1, 1]")
    m, s = _numbers(flags.mean, "--mean"), _numbers(flags.std, "--std")
    if any(v <= 0 for v in s):
        raise ConfigError(f"--std {flags.std!r} must be positive")
    if len(m) not in (1, 3) or len(s) not in (1, 3):
        raise ConfigError("--mean/--std take 1 value or 3 (one per RGB channel)")
    return m, s, f"--mean {flags.mean} --std {flags.std} (input = (pixel - mean) / std)"


def check_scaling_flags(flags: ScalingFlags) -> None:
    explicit = parse_scaling(flags)
    if flags.normalization_from is not None and explicit is not None:
        raise ConfigError("--normalization-from cannot be combined with --input-range/--mean/--std",
                          hint="give the normalization one way")


def check_calibration(options: CalibrationOptions, modes: Sequence[QuantMode], *, flag: str = "--modes") -> None:
    """Raise before any work when a mode needs calibration data and none was given (`flag`: the flag that chose
    the modes, --quantize or --modes)."""
    needing = [m.value for m in modes if recipe_for(m).needs_calibration]
    if not needing or options.source:
        return
    if flag == "--quantize":
        raise CalibrationError(f"--quantize {needing[0]} needs calibration data",
                               hint="pass --calibration PATH (image folder, .npy or .npz), or --calibration "
                                    "synthetic to accept unverified accuracy")
    raise CalibrationError(f"modes {needing} need calibration data",
                           hint="pass --calibration PATH (.npy/.npz or image folder), --calibration synthetic "
                                "to accept unverified accuracy, or leave those modes out of --modes")


def check_quantized_validation(mode: QuantMode, validate: bool) -> None:
    if not validate and mode is not QuantMode.FLOAT32:
        raise ConfigError("--no-validate cannot be used with --quantize: quantized models are always validated",
                          hint="drop --no-validate")


def check_data_options(options: DataOptions) -> None:
    if options.load_inputs and options.data:
        raise ConfigError("--load-inputs and --data both give the inputs", hint="pass only one of them")
    if options.samples <= 0:
        raise ConfigError("--samples must be positive")


_SHAPE_RE = re.compile(r"^\s*([^=\s][^=]*?)\s*=\s*(-?\d+(?:\s*[,x]\s*-?\d+)*)\s*$")


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """Parse 'name=1,224,224,3' (or '1x224x224x3'). Raises ConfigError with the expected form."""
    m = _SHAPE_RE.match(text or "")
    if not m:
        raise ConfigError(f"cannot parse --input-shape {text!r}", hint="write NAME=1,224,224,3")
    dims = tuple(int(d) for d in re.split(r"\s*[,x]\s*", m.group(2).strip()))
    if any(d <= 0 for d in dims):
        raise ConfigError(f"--input-shape {text!r} has a non-positive dimension",
                          hint="every dimension must be a positive integer, e.g. NAME=1,224,224,3")
    return m.group(1), dims


def parse_modes(text: str | Sequence[str]) -> tuple[QuantMode, ...]:
    """'float32,float16,int8' (or a list) -> modes in the order given, duplicates removed."""
    items = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    if not items:
        raise ConfigError("--modes is empty", hint=f"give a comma-separated list of {[m.value for m in QuantMode]}")
    modes: list[QuantMode] = []
    for item in items:
        try:
            mode = QuantMode(item)
        except ValueError:
            raise ConfigError(f"unknown mode {item!r} in --modes",
                              hint=f"use some of {','.join(m.value for m in QuantMode)}") from None
        if mode not in modes:
            modes.append(mode)
    return tuple(modes)
