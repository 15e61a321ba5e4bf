"""The one place where batch calls hub2lite's library to process a model (runs inside the worker process).

`run_model(spec, workdir, progress)` converts and validates every mode of one model into `workdir`
(`MODE.tflite` + `MODE.report.json`, as `hub2lite convert` writes them) and returns a JSON-safe result: the
model's status and, per mode, the conversion status (builtins / Select TF ops and which / failed at which stage),
size, and validation verdict. A model-level problem (the source cannot be resolved or loaded) fails the model; a
mode that does not convert fails only that variant. A bug in hub2lite propagates (the worker saves the
traceback).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import (CalibrationError, ConfigError, ConversionError, Hub2LiteError, LoadError, OutputError,
                      ResolveError)
from ..specs import QuantMode
from .manifest import ModelSpec
from .model_options import convert_args
from .worker import PARTIAL_FILE

__all__ = ["run_model", "STAGES", "stage_of", "verdict", "crashed_variant"]

log = logging.getLogger(__name__)

#: pipeline progress steps -> the catalog's stage names
STAGES = {"resolving": "resolve", "loading": "load", "converting": "convert", "validating": "validate",
          "writing": "write"}

_STAGE_OF_ERROR: tuple[tuple[type[Hub2LiteError], str], ...] = (
    (ResolveError, "resolve"), (LoadError, "load"), (ConversionError, "convert"), (CalibrationError, "data"),
    (OutputError, "write"))


def stage_of(exc: BaseException, current: str) -> str:
    """The stage an error belongs to: by its type, else where the pipeline was."""
    return next((stage for kind, stage in _STAGE_OF_ERROR if isinstance(exc, kind)), current)


def _convert(spec: ModelSpec, mode: QuantMode, output: Path, progress: Callable[[str], None]) -> Any:
    """One mode of one model, exactly as `hub2lite convert SOURCE -o OUTPUT --quantize MODE <the model's
    options>` runs it: convert's own parser and job builder (model_options.convert_args)."""
    from ..commands.convert import job_from_args
    from ..pipeline import run_convert

    try:
        args = convert_args(spec.source, str(output), mode, spec.options)
    except ValueError as exc:  # checked when the manifest was read: only a hand-made job.json gets here
        raise ConfigError(f"{spec.name}: {exc}", hint="correct the manifest entry") from None
    return run_convert(job_from_args(args), progress=progress)


def verdict(validation: Mapping[str, Any] | None, *, skipped_why: str | None = None) -> dict[str, Any]:
    """passed / failed / not run (with why) and the figures the catalog shows, from a validation report dict."""
    if validation is None:
        return {"verdict": "not run", "why": skipped_why or "validation was off"}
    if validation.get("not_run"):  # e.g. a Select-TF-ops model with no Flex runtime: why, and the fix
        return {"verdict": "not run", "why": validation["not_run"],
                "runtime": (validation.get("runtimes") or {}).get("candidate")}
    outputs = validation.get("outputs") or []
    if not outputs:  # the .tflite could not run anywhere: nothing was compared
        why = "; ".join(validation.get("problems") or []) or "the .tflite could not be run"
        return {"verdict": "not run", "why": why, "runtime": (validation.get("runtimes") or {}).get("candidate")}
    agreements = [o["top1_agreement"] for o in outputs if o.get("top1_agreement") is not None]
    cosines = [o["cosine"] for o in outputs if o.get("cosine") is not None]
    errors = [o["max_abs"] for o in outputs if o.get("max_abs") is not None]
    accuracy = validation.get("accuracy") or {}
    return {"verdict": "passed" if validation.get("passed") else "failed",
            "why": None if validation.get("passed") else "; ".join(validation.get("failures") or [])[:500] or None,
            "runtime": (validation.get("runtimes") or {}).get("candidate"),
            "samples": validation.get("samples"),
            "top1_agreement": min(agreements) if agreements else None,
            "cosine": min(cosines) if cosines else None,
            "max_abs_error": max(errors) if errors else None,
            "accuracy": accuracy.get("top1_tflite"), "original_accuracy": accuracy.get("top1_original")}


def _ops_of_attempts(attempts: Any) -> tuple[list[str], list[str]]:
    select, custom = [], []
    for a in attempts or ():
        d = a if isinstance(a, Mapping) else a.to_dict()
        select += [o for o in d.get("flex_ops") or () if o not in select]
        custom += [o for o in d.get("custom_ops") or () if o not in custom]
    return select, custom


def _status(conv: Mapping[str, Any], split: Mapping[str, Any] | None) -> str:
    """custom-ops (kept as declared custom ops: needs the app's kernels) > split (ops cut out into TensorFlow
    stages) > select-tf-ops > builtins."""
    if conv.get("custom_ops"):
        return "custom-ops"
    if split:
        return "split"
    return "select-tf-ops" if conv.get("strategy") != "builtins" else "builtins"


def _split_summary(mode: QuantMode, split: Mapping[str, Any]) -> dict[str, Any]:
    """What the catalog shows of a split: the ops cut out, the stage folders beside MODE.tflite, their sizes, and
    the body's own check at the cut."""
    files = split.get("files") or {}
    body = split.get("body_validation")
    return {"cut_ops": list(split.get("cut_ops") or []), "mode": split.get("mode"),
            "ops_outside_body": split.get("ops_outside_body"),
            "stages": {stage: {"dir": f"{mode.value}.{'pre' if stage == 'prefix' else 'post'}",
                               "size_bytes": info.get("size_bytes")} for stage, info in files.items()},
            "body_validation": None if body is None else verdict(body)["verdict"]}


def _variant_ok(mode: QuantMode, report: Mapping[str, Any], output: Path, seconds: float,
                validated: bool) -> dict[str, Any]:
    conv = report["conversion"]
    split = report.get("split")
    status = _status(conv, split)
    custom = sorted({op["name"] for op in conv.get("custom_ops") or []})
    why = (f"custom ops {custom} need your app's kernels: no runtime here has them" if custom
           else None if validated else "validation was turned off (no_validate)")
    return {"mode": mode.value, "status": status, "stage": None, "error": None,
            "select_ops": list(conv.get("forced_select_by") or []), "custom_ops": custom,
            "strategy": conv.get("strategy"), "tflite_ops": dict(conv.get("tflite_ops") or {}),
            "size_bytes": conv.get("size_bytes"), "file": output.name, "report": output.stem + ".report.json",
            "split": None if not split else _split_summary(mode, split),
            "seconds": round(seconds, 3), "notes": list(conv.get("notes") or []),
            "validation": verdict(report.get("validation"), skipped_why=why)}


def _variant_failed(mode: QuantMode, exc: Hub2LiteError, stage: str, seconds: float) -> dict[str, Any]:
    select, custom = _ops_of_attempts(getattr(exc, "attempts", ()))
    return {"mode": mode.value, "status": "failed", "stage": stage, "error": str(exc), "select_ops": select,
            "custom_ops": custom, "strategy": None, "tflite_ops": {}, "size_bytes": None, "file": None,
            "report": None, "split": None, "seconds": round(seconds, 3), "notes": [],
            "validation": {"verdict": "not run", "why": f"no model: {stage} failed"}}


def crashed_variant(mode: str, stage: str, error: str) -> dict[str, Any]:
    """The row of the mode a worker was in when its process died."""
    return {"mode": mode, "status": "failed", "stage": stage, "error": error, "select_ops": [], "custom_ops": [],
            "strategy": None, "tflite_ops": {}, "size_bytes": None, "file": None, "report": None, "split": None,
            "seconds": None, "notes": [],
            "validation": {"verdict": "not run", "why": f"no model: the worker died during {stage}"}}


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def run_model(spec_dict: Mapping[str, Any], workdir: str | Path,
              progress: Callable[[str], None] = lambda _stage: None) -> dict[str, Any]:
    """Convert + validate every mode of one model into `workdir`; see the module docstring."""
    from .._tf import import_tensorflow_quietly

    spec = ModelSpec.from_dict(spec_dict)
    import_tensorflow_quietly()
    folder = Path(workdir)
    variants: list[dict[str, Any]] = []
    info: dict[str, Any] = {}
    t_model = time.perf_counter()

    def checkpoint() -> None:  # what finished survives a crash of this process in a later mode
        _write_json(folder / PARTIAL_FILE, {"variants": variants, **info})

    for mode in spec.modes:
        stage = "prepare"

        def step(name: str, mode: QuantMode = mode) -> None:
            nonlocal stage
            stage = STAGES.get(name, name)
            progress(f"{stage} {mode.value}")

        t0 = time.perf_counter()
        output = folder / f"{mode.value}.tflite"
        try:
            result = _convert(spec, mode, output, step)
        except (ResolveError, LoadError) as exc:  # the model itself is unusable: no mode can work
            return {"status": "failed", "stage": stage_of(exc, stage), "error": str(exc), "variants": variants,
                    "seconds": round(time.perf_counter() - t_model, 3), **info}
        except (ConversionError, CalibrationError, ConfigError, OutputError) as exc:
            variants.append(_variant_failed(mode, exc, stage_of(exc, stage), time.perf_counter() - t0))
            log.warning("%s %s: %s failed: %s", spec.name, mode.value, stage_of(exc, stage), exc)
            checkpoint()
            continue
        report = result.report
        info = {"format": report.get("format"), "family": (report["conversion"].get("family") or {}).get("family"),
                "signature": (report["conversion"].get("signature") or {}).get("name")}
        validated = not spec.option("no_validate", False)
        variants.append(_variant_ok(mode, report, output, time.perf_counter() - t0, validated))
        checkpoint()
    converted = [v for v in variants if v["status"] != "failed"]
    first_failure = next((v for v in variants if v["status"] == "failed"), None)
    failed = not converted and first_failure is not None
    return {"status": "failed" if failed else "ok",
            "stage": first_failure["stage"] if failed and first_failure else None,
            "error": first_failure["error"] if failed and first_failure else None,
            "variants": variants, "seconds": round(time.perf_counter() - t_model, 3), **info}
