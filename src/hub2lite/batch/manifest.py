"""Batch manifests: which models to run, each with the per-model options `convert` / `sweep` take.

A manifest is either a text file (one source per line: handle, URL, path or archive; `#` starts a comment) or a
JSON list of objects, e.g.::

    [{"source": "models/mobilenet", "name": "mnv2", "input_range": "-1,1", "modes": ["float32", "int8"],
      "calibration": "calib/", "input_shape": {"images": [1, 224, 224, 3]}},
     "https://tfhub.dev/google/imagenet/mobilenet_v2_035_224/classification/5"]

(a bare string in the list is `{"source": ...}`). Every key of `OPTION_KEYS` may appear in an entry; the command
line gives the defaults (`parse_manifest(path, defaults)`), an entry's own keys override them. Relative paths are
relative to the manifest's folder. Everything is checked before any model runs: a bad entry raises one
`ConfigError` naming the entry and the problem.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..specs import QuantMode

__all__ = ["ModelSpec", "parse_manifest", "OPTION_KEYS", "TOLERANCE_KEYS", "DEFAULT_MODES", "spec_from_options",
           "derive_name"]

DEFAULT_MODES = (QuantMode.FLOAT32,)

#: Tolerance overrides, named as the CLI flags (`--min-snr` -> "min_snr"); each applies to every mode.
TOLERANCE_KEYS = ("atol", "rtol", "min_cosine", "sample_quantile", "min_snr", "min_top1_agreement",
                  "min_top5_overlap", "max_kl", "max_accuracy_drop")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_TASKS = ("auto", "classification", "embedding", "other")


@dataclass(frozen=True)
class ModelSpec:
    """One model of a batch, with every per-model option (paths absolute). `to_dict` is JSON-safe and is what
    the job key and the worker see."""

    name: str
    source: str
    modes: tuple[QuantMode, ...] = DEFAULT_MODES
    signature: str | None = None
    tags: tuple[str, ...] | None = None
    input_shape: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    keep_dynamic: bool = False
    batch_size: int = 1
    no_flex: bool = False
    resource_variables: bool = False
    io_type: str | None = None
    calibration: str | None = None
    calibration_samples: int = 200
    input_range: str | None = None
    mean: str | None = None
    std: str | None = None
    data: str | None = None
    labels: str | None = None
    samples: int | None = None  # None: 8 synthetic samples, or every --data sample up to 500
    seed: int = 0
    task: str = "auto"
    no_validate: bool = False
    no_flex_runtime: bool = False  # Select-TF-ops models: validation not run instead of starting the Flex runtime
    metadata: bool = False  # embed TFLite metadata in every written model
    normalization_from: str | None = None  # a .tflite whose metadata gives the image normalization
    tolerances: Mapping[str, float] = field(default_factory=dict)
    unsafe_keras: bool = False
    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()
    cache_dir: str | None = None
    timeout: float | None = None  # hub fetches
    timeout_per_model: float | None = None  # None: the batch's limit
    memory_per_model: float | None = None  # GiB; None: the batch's limit
    seq_len: int | None = None  # text encoders: tokens per example for a dynamic sequence length (default 128)
    vocab: str | None = None  # text encoders: the vocab.txt that tokenizes text data (default: the model's)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "modes": [m.value for m in self.modes],
                "signature": self.signature, "tags": None if self.tags is None else list(self.tags),
                "input_shape": {k: list(v) for k, v in self.input_shape.items()}, "keep_dynamic": self.keep_dynamic,
                "batch_size": self.batch_size, "no_flex": self.no_flex, "resource_variables": self.resource_variables,
                "io_type": self.io_type, "calibration": self.calibration,
                "calibration_samples": self.calibration_samples, "input_range": self.input_range, "mean": self.mean,
                "std": self.std, "data": self.data, "labels": self.labels, "samples": self.samples, "seed": self.seed,
                "task": self.task, "no_validate": self.no_validate, "no_flex_runtime": self.no_flex_runtime,
                "metadata": self.metadata, "normalization_from": self.normalization_from,
                "tolerances": dict(self.tolerances),
                "unsafe_keras": self.unsafe_keras, "input_names": list(self.input_names),
                "output_names": list(self.output_names), "cache_dir": self.cache_dir, "timeout": self.timeout,
                "timeout_per_model": self.timeout_per_model, "memory_per_model": self.memory_per_model,
                "seq_len": self.seq_len, "vocab": self.vocab}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelSpec:
        """The inverse of `to_dict` (values already checked)."""
        return cls(name=d["name"], source=d["source"], modes=tuple(QuantMode(m) for m in d["modes"]),
                   signature=d.get("signature"), tags=None if d.get("tags") is None else tuple(d["tags"]),
                   input_shape={k: tuple(v) for k, v in (d.get("input_shape") or {}).items()},
                   keep_dynamic=d.get("keep_dynamic", False), batch_size=d.get("batch_size", 1),
                   no_flex=d.get("no_flex", False), resource_variables=d.get("resource_variables", False),
                   io_type=d.get("io_type"), calibration=d.get("calibration"),
                   calibration_samples=d.get("calibration_samples", 200), input_range=d.get("input_range"),
                   mean=d.get("mean"), std=d.get("std"), data=d.get("data"), labels=d.get("labels"),
                   samples=d.get("samples"), seed=d.get("seed", 0), task=d.get("task", "auto"),
                   no_validate=d.get("no_validate", False), no_flex_runtime=d.get("no_flex_runtime", False),
                   metadata=d.get("metadata", False), normalization_from=d.get("normalization_from"),
                   tolerances=dict(d.get("tolerances") or {}),
                   unsafe_keras=d.get("unsafe_keras", False), input_names=tuple(d.get("input_names") or ()),
                   output_names=tuple(d.get("output_names") or ()), cache_dir=d.get("cache_dir"),
                   timeout=d.get("timeout"), timeout_per_model=d.get("timeout_per_model"),
                   memory_per_model=d.get("memory_per_model"), seq_len=d.get("seq_len"), vocab=d.get("vocab"))

    def key_options(self) -> dict[str, Any]:
        """What decides a model's result (the job key): everything but where the hub cache is and the limits."""
        d = self.to_dict()
        for k in ("cache_dir", "timeout", "timeout_per_model", "memory_per_model"):
            d.pop(k)
        return d


# -- value checkers: each takes the raw JSON value and returns the typed one, or raises ValueError ----------

def _str(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError("must be a non-empty string")
    return v.strip()


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError("must be true or false")
    return v


def _int(low: int) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"must be an integer >= {low}")
        return v
    return check


def _positive(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or not math.isfinite(v):
        raise ValueError("must be a positive number")
    return float(v)


def _number(v: Any) -> float:
    if isinstance(v, str) and v.strip() in ("inf", "-inf"):
        return float(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
        raise ValueError("must be a number (or \"inf\" / \"-inf\" to turn the check off)")
    return float(v)


def _names(v: Any) -> tuple[str, ...]:
    items = v.split(",") if isinstance(v, str) else v
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError("must be a comma-separated string or a list of strings")
    return tuple(i.strip() for i in items if i.strip())


def _csv_numbers(v: Any) -> str:
    """'0,1' or [0, 1] or 127.5 -> '0,1' / '127.5' (the CLI's spelling, parsed by the prepare path)."""
    if isinstance(v, list | tuple):
        if not v or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            raise ValueError("must be numbers, e.g. [-1, 1]")
        return ",".join(str(x) for x in v)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    text = _str(v)
    try:
        [float(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"{text!r} is not comma-separated numbers") from None
    return text


def _modes(v: Any) -> tuple[QuantMode, ...]:
    items = [t.strip() for t in v.split(",")] if isinstance(v, str) else v
    if not isinstance(items, list | tuple) or not items or not all(isinstance(i, str) for i in items):
        raise ValueError("must be a non-empty list of modes, e.g. [\"float32\", \"int8\"]")
    modes: list[QuantMode] = []
    for item in items:
        try:
            mode = QuantMode(item.strip())
        except ValueError:
            raise ValueError(f"unknown mode {item!r} (use {', '.join(m.value for m in QuantMode)})") from None
        if mode not in modes:
            modes.append(mode)
    return tuple(modes)


def _input_shape(v: Any) -> dict[str, tuple[int, ...]]:
    """{"images": [1, 224, 224, 3]} or ["images=1,224,224,3", ...] or "images=1,224,224,3"."""
    out: dict[str, tuple[int, ...]] = {}
    if isinstance(v, str):
        v = [v]
    if isinstance(v, list):
        for text in v:
            if not isinstance(text, str) or "=" not in text:
                raise ValueError(f"{text!r} is not NAME=D0,D1,...")
            name, dims = text.split("=", 1)
            out[name.strip()] = _dims(dims.replace("x", ",").split(","), name)
        return out
    if not isinstance(v, dict):
        raise ValueError("must be an object {\"input name\": [dims...]}")
    for name, dims in v.items():
        out[str(name)] = _dims(dims if isinstance(dims, list) else str(dims).split(","), name)
    return out


def _dims(items: Sequence[Any], name: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in items)
    except (TypeError, ValueError):
        raise ValueError(f"dims of {name!r} must be integers, got {list(items)!r}") from None
    if not dims or any(d < 1 for d in dims):
        raise ValueError(f"dims of {name!r} must be positive integers, got {list(dims)}")
    return dims


def _io_type(v: Any) -> str:
    if v not in ("int8", "uint8"):
        raise ValueError("must be \"int8\" or \"uint8\"")
    return str(v)


def _task(v: Any) -> str:
    if v not in _TASKS:
        raise ValueError(f"must be one of {', '.join(_TASKS)}")
    return str(v)


def _name(v: Any) -> str:
    text = _str(v)
    if not _NAME_RE.match(text):
        raise ValueError(f"{text!r} is not a usable folder name (letters, digits, '.', '_', '-'; at most 100)")
    return text


#: Every key a manifest entry (or the command line's defaults) may give, with its checker.
OPTION_KEYS: dict[str, Callable[[Any], Any]] = {
    "source": _str, "name": _name, "modes": _modes, "signature": _str, "tags": _names, "input_shape": _input_shape,
    "keep_dynamic": _bool, "batch_size": _int(1), "no_flex": _bool, "resource_variables": _bool,
    "io_type": _io_type, "calibration": _str, "calibration_samples": _int(1), "input_range": _csv_numbers,
    "mean": _csv_numbers, "std": _csv_numbers, "data": _str, "labels": _str, "samples": _int(1), "seed": _int(0),
    "task": _task, "no_validate": _bool, "no_flex_runtime": _bool, "metadata": _bool, "normalization_from": _str,
    "unsafe_keras": _bool, "input_names": _names, "output_names": _names,
    "cache_dir": _str, "timeout": _positive, "timeout_per_model": _positive, "memory_per_model": _positive,
    "seq_len": _int(2), "vocab": _str,
    **{k: _number for k in TOLERANCE_KEYS},
}
_PATH_KEYS = ("data", "labels", "calibration", "normalization_from", "vocab")


def _is_handle(source: str) -> bool:
    from ..resolve import normalize_handle

    return normalize_handle(source) is not None


def derive_name(source: str) -> str:
    """A folder name for a model from its source: the last path part of a local path (extension dropped), the
    last two non-version parts of a handle."""
    text = source.strip().split("?", 1)[0].rstrip("/")
    if _is_handle(text):
        parts = [p for p in re.sub(r"^[a-z]+://", "", text, flags=re.I).split("/")[1:]
                 if p and not p.isdigit() and p.lower() not in ("frameworks", "variations", "versions", "models")]
        parts = parts[-2:] or ["model"]
    else:
        base = Path(text).name
        for ext in (".tar.gz", ".tgz", ".keras", ".h5", ".pb", ".tar"):
            if base.lower().endswith(ext):
                base = base[: -len(ext)]
                break
        parts = [base or "model"]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts)).strip("._-") or "model"
    return name[:100]


def spec_from_options(options: Mapping[str, Any], *, base: Path, where: str) -> ModelSpec:
    """A checked `ModelSpec` from raw manifest keys (defaults already merged). `where` names the entry in
    errors; relative paths are taken relative to `base`."""
    values: dict[str, Any] = {}
    for key, raw in options.items():
        if key not in OPTION_KEYS:
            close = [k for k in OPTION_KEYS if k.replace("_", "") == key.replace("_", "").replace("-", "").lower()]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown key {key!r}{hint}",
                              hint=f"use the keys {', '.join(sorted(OPTION_KEYS))}")
        if raw is None:
            continue
        try:
            values[key] = OPTION_KEYS[key](raw)
        except ValueError as exc:
            raise ConfigError(f"{where}: {key}: {exc}",
                              hint=f"correct {key!r} in that entry (or the command-line default)") from None
    if "source" not in values:
        raise ConfigError(f"{where}: no \"source\"", hint="give each entry a source: handle, URL, path or archive")
    source = values["source"]
    if not _is_handle(source):
        local = Path(source).expanduser()
        local = local if local.is_absolute() else base / local
        if not local.exists():
            raise ConfigError(f"{where}: source {source!r} does not exist and is not a hub handle",
                              hint="give an existing path (relative to the manifest's folder) or a handle/URL")
        values["source"] = str(local.resolve())
    for key in _PATH_KEYS:
        if key in values and not (key == "calibration" and values[key] == "synthetic"):
            p = Path(values[key]).expanduser()
            p = p if p.is_absolute() else base / p
            if not p.exists():
                raise ConfigError(f"{where}: {key} {values[key]!r} does not exist",
                                  hint="paths are relative to the manifest's folder")
            values[key] = str(p.resolve())
    if "cache_dir" in values:
        values["cache_dir"] = str(Path(values["cache_dir"]).expanduser().resolve())
    tolerances = {k: values.pop(k) for k in TOLERANCE_KEYS if k in values}
    sq = tolerances.get("sample_quantile")
    if sq is not None and not 0.0 <= sq < 0.5:
        raise ConfigError(f"{where}: sample_quantile must be in [0, 0.5)",
                          hint="0 judges the worst sample; 0.05 is typical")
    values.setdefault("name", derive_name(source))
    spec = ModelSpec(tolerances=tolerances, **values)
    _check_combinations(spec, where)
    return spec


def _check_combinations(spec: ModelSpec, where: str) -> None:
    """What `convert` / `sweep` would refuse, refused here before any model runs."""
    from ..quantize.recipes import recipe_for

    needing = [m.value for m in spec.modes if recipe_for(m).needs_calibration]
    if needing and not spec.calibration:
        raise ConfigError(f"{where}: modes {needing} need calibration data",
                          hint="give \"calibration\" (a path, or \"synthetic\" for unverified accuracy) or drop "
                               "those modes")
    if spec.no_validate and any(m is not QuantMode.FLOAT32 for m in spec.modes):
        raise ConfigError(f"{where}: no_validate with quantized modes: quantized models are always validated",
                          hint="drop no_validate, or keep only float32 in modes")
    if spec.io_type and QuantMode.INT8_STRICT not in spec.modes:
        raise ConfigError(f"{where}: io_type applies only to the int8-strict mode", hint="add int8-strict to modes")
    from ..errors import Hub2LiteError
    from ..options import ScalingFlags, check_scaling_flags

    try:  # the same rules as every command's --input-range / --mean / --std
        check_scaling_flags(ScalingFlags(spec.input_range, spec.mean, spec.std))
    except Hub2LiteError as exc:
        raise ConfigError(f"{where}: {exc.message}", hint=exc.hint) from None


def _read_entries(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """[(where, raw options)] of a text or JSON manifest."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"manifest {str(path)!r} is not UTF-8 text", hint="give a text or JSON manifest") from None
    except OSError as exc:
        raise ConfigError(f"cannot read manifest {str(path)!r}: {exc.strerror or exc}",
                          hint="check the path") from None
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path.name}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                              hint="a JSON manifest is a list of objects (or of source strings)") from None
        if isinstance(data, dict) and isinstance(data.get("models"), list):
            data = data["models"]
        if not isinstance(data, list):
            raise ConfigError(f"{path.name}: a JSON manifest must be a list of entries",
                              hint="e.g. [{\"source\": \"model_dir\"}, \"https://tfhub.dev/...\"]")
        entries = []
        for i, item in enumerate(data, 1):
            if isinstance(item, str):
                item = {"source": item}
            if not isinstance(item, dict):
                raise ConfigError(f"{path.name}: entry {i}: must be an object or a source string",
                                  hint="e.g. {\"source\": \"model_dir\", \"modes\": [\"float32\"]}")
            label = item.get("name") or item.get("source")
            entries.append((f"{path.name}: entry {i}" + (f" ({label})" if isinstance(label, str) else ""), item))
        return entries
    entries = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            entries.append((f"{path.name}: line {lineno} ({line})", {"source": line}))
    return entries


def parse_manifest(path: str | os.PathLike[str], defaults: Mapping[str, Any] | None = None) -> tuple[ModelSpec, ...]:
    """Read and check every entry of a manifest; `defaults` (manifest keys, e.g. from the command line) apply to
    every entry that does not give its own value. Raises `ConfigError` naming the first bad entry."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"manifest {str(p)!r} does not exist", hint="give a text or JSON list of models")
    defaults = {k: v for k, v in (defaults or {}).items() if v is not None}
    for key in ("source", "name"):
        if key in defaults:
            raise ConfigError(f"{key!r} cannot be a default for every model", hint=f"give {key!r} per manifest entry")
    entries = _read_entries(p)
    if not entries:
        raise ConfigError(f"manifest {str(p)!r} lists no models", hint="one source per line, or a JSON list")
    specs: list[tuple[ModelSpec, bool]] = []
    explicit: dict[str, str] = {}
    for where, raw in entries:
        spec = spec_from_options({**defaults, **raw}, base=p.parent.resolve(), where=where)
        if "name" in raw:
            if spec.name in explicit:
                raise ConfigError(f"{where}: name {spec.name!r} is already used by {explicit[spec.name]}",
                                  hint="give every model its own name")
            explicit[spec.name] = where
        specs.append((spec, "name" in raw))
    return _unique_names(specs, set(explicit))


def _unique_names(specs: list[tuple[ModelSpec, bool]], taken: set[str]) -> tuple[ModelSpec, ...]:
    """Derived names that collide (with each other or an explicit name) get -2, -3, ... suffixes."""
    out = []
    for spec, is_explicit in specs:
        if is_explicit:
            out.append(spec)
            continue
        name, n = spec.name, 2
        while name in taken:
            name = f"{spec.name}-{n}"
            n += 1
        taken.add(name)
        out.append(replace(spec, name=name))
    return tuple(out)
