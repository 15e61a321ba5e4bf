"""Batch manifests: which models to run, each with the per-model options `convert` / `sweep` take.

A manifest is either a text file (one source per line: handle, URL, path or archive; `#` starts a comment) or a
JSON list of objects, e.g.::

    [{"source": "models/mobilenet", "name": "mnv2", "input_range": "-1,1", "modes": ["float32", "int8"],
      "calibration": "calib/", "input_shape": {"images": [1, 224, 224, 3]}},
     "https://tfhub.dev/google/imagenet/mobilenet_v2_035_224/classification/5"]

(a bare string in the list is `{"source": ...}`). Every key of `manifest_keys()` may appear in an entry: batch's own
(`BATCH_KEYS`) and every per-model flag of convert (sweep's are the same), named as its argparse dest
(`--bias-correction` -> "bias_correction"; derived from convert's parser, model_options.py, so a new flag is a key at
once). The command line gives the defaults (`parse_manifest(path, defaults)`), an entry's own keys override them.
Relative paths are relative to the manifest's folder. Everything is checked before any model runs: a bad entry
raises one `ConfigError` naming the entry and the problem.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Hub2LiteError
from ..specs import QuantMode
from .model_options import ModelOption, absolute_paths, check_model_options, model_options, normalize_value

__all__ = ["ModelSpec", "parse_manifest", "manifest_keys", "BATCH_KEYS", "DEFAULT_MODES", "spec_from_options",
           "derive_name"]

DEFAULT_MODES = (QuantMode.FLOAT32,)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class ModelSpec:
    """One model of a batch: its name, source and modes, every per-model option given (manifest keys of
    `model_options()`, in their normalized spelling, paths absolute) and its limits. `to_dict` is JSON-safe and
    is what the job key and the worker see."""

    name: str
    source: str
    modes: tuple[QuantMode, ...] = DEFAULT_MODES
    options: Mapping[str, Any] = field(default_factory=dict)
    timeout_per_model: float | None = None  # None: the batch's limit
    memory_per_model: float | None = None  # GiB; None: the batch's limit

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "modes": [m.value for m in self.modes],
                "options": {k: self.options[k] for k in sorted(self.options)},
                "timeout_per_model": self.timeout_per_model, "memory_per_model": self.memory_per_model}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelSpec:
        """The inverse of `to_dict` (values already checked)."""
        return cls(name=d["name"], source=d["source"], modes=tuple(QuantMode(m) for m in d["modes"]),
                   options=dict(d.get("options") or {}), timeout_per_model=d.get("timeout_per_model"),
                   memory_per_model=d.get("memory_per_model"))

    def key_options(self) -> dict[str, Any]:
        """What decides a model's result (the job key): everything but where the hub cache is and the limits."""
        d = self.to_dict()
        d["options"] = {k: v for k, v in d["options"].items() if k not in ("cache_dir", "timeout")}
        for k in ("timeout_per_model", "memory_per_model"):
            d.pop(k)
        return d


# -- checkers of batch's own keys: each takes the raw JSON value and returns the typed one, or raises ValueError --

def _str(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError("must be a non-empty string")
    return v.strip()


def _positive(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or not math.isfinite(v):
        raise ValueError("must be a positive number")
    return float(v)


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


def _name(v: Any) -> str:
    text = _str(v)
    if not _NAME_RE.match(text):
        raise ValueError(f"{text!r} is not a usable folder name (letters, digits, '.', '_', '-'; at most 100)")
    return text


#: The keys of batch itself (not options of convert / sweep): which model, its folder name, its modes (sweep's
#: --modes; default float32 only) and its limits (default: the batch's).
BATCH_KEYS: dict[str, Callable[[Any], Any]] = {
    "source": _str, "name": _name, "modes": _modes, "timeout_per_model": _positive, "memory_per_model": _positive}


def manifest_keys() -> list[str]:
    """Every key a manifest entry (or the command line's defaults) may give: batch's own and every per-model
    option of convert and sweep."""
    return sorted({*BATCH_KEYS, *model_options()})


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


def _unknown_key(key: str, where: str) -> ConfigError:
    keys = manifest_keys()
    plain = key.replace("_", "").replace("-", "").lower()
    close = [k for k in keys if k.replace("_", "") == plain]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{where}: unknown key {key!r}{hint}",
                       hint="a manifest key is a convert/sweep flag without its dashes, '-' as '_' (--int8-ranges: "
                            "\"int8_ranges\"); `hub2lite batch --help` lists them")


def _check_paths_exist(option: ModelOption, given: Any, absolute: Any, where: str) -> None:
    """`given`, made `absolute` by model_options.absolute_paths: each path must exist (unless the flag's own
    `must_exist` is off, or it is a keyword)."""
    pairs = [(given, absolute)] if option.kind == "value" else list(zip(given, absolute))
    for text, path in pairs:
        if option.must_exist and text not in option.keywords and not Path(path).exists():
            raise ConfigError(f"{where}: {option.key} {text!r} does not exist",
                              hint="paths are relative to the manifest's folder")


def spec_from_options(options: Mapping[str, Any], *, base: Path, where: str) -> ModelSpec:
    """A checked `ModelSpec` from raw manifest keys (defaults already merged). `where` names the entry in
    errors; relative paths are taken relative to `base`. Every value is parsed by convert's own parser and the
    combination checked by convert's own flag checks (model_options.check_model_options)."""
    table = model_options()
    own: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for key, raw in options.items():
        if key not in BATCH_KEYS and key not in table:
            raise _unknown_key(key, where)
        if raw is None:
            continue
        try:
            if key in BATCH_KEYS:
                own[key] = BATCH_KEYS[key](raw)
            else:
                values[key] = normalize_value(table[key], raw)
        except ValueError as exc:
            raise ConfigError(f"{where}: {key}: {exc}",
                              hint=f"correct {key!r} in that entry (or the command-line default)") from None
    if "source" not in own:
        raise ConfigError(f"{where}: no \"source\"", hint="give each entry a source: handle, URL, path or archive")
    source = own["source"]
    if not _is_handle(source):
        local = Path(source).expanduser()
        local = local if local.is_absolute() else base / local
        if not local.exists():
            raise ConfigError(f"{where}: source {source!r} does not exist and is not a hub handle",
                              hint="give an existing path (relative to the manifest's folder) or a handle/URL")
        own["source"] = str(local.resolve())
    for key, value in list(values.items()):
        option = table[key]
        if option.is_path:
            values[key] = absolute_paths(option, value, base)
            _check_paths_exist(option, value, values[key], where)
    own.setdefault("name", derive_name(source))
    spec = ModelSpec(options=values, **own)
    try:
        check_model_options(spec.source, spec.modes, spec.options)
    except ValueError as exc:  # argparse's own message: "argument --int8-ranges: invalid choice: ..."
        raise ConfigError(f"{where}: {_as_keys(str(exc))}",
                          hint="correct that value in the entry (or the command-line default)") from None
    except Hub2LiteError as exc:
        raise ConfigError(f"{where}: {_as_keys(exc.message)}", hint=exc.hint and _as_keys(exc.hint)) from None
    return spec


def _as_keys(text: str) -> str:
    """convert's messages name flags; a manifest's keys: '--int8-ranges' -> 'int8_ranges' (keys only)."""
    keys = set(manifest_keys())

    def key(m: re.Match[str]) -> str:
        name = m.group(1).replace("-", "_")
        return name if name in keys else m.group(0)

    return re.sub(r"(?<![\w-])--([a-z][a-z0-9-]*)", key, text)


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
