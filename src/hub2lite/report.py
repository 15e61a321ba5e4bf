"""Turn results into JSON-safe dicts and into text for people (pure formatting; no TensorFlow)."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as _md
import platform
from typing import Any

__all__ = ["versions", "convert_report", "convert_summary", "calibration_text", "inspect_text", "validation_text", "human_size",
           "CONVERT_SCHEMA"]

CONVERT_SCHEMA = "hub2lite.convert/1"


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in ("hub2lite", "tensorflow", "tensorflow-hub", "tf-keras", "keras", "ai-edge-litert", "numpy"):
        try:
            out[pkg] = _md.version(pkg)
        except _md.PackageNotFoundError:
            out[pkg] = None
    return out


def human_size(n: int | float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def convert_report(*, resolved: dict[str, Any], model_format: str, config: dict[str, Any], conversion: dict[str, Any],
                   validation: dict[str, Any] | None, output: dict[str, Any], calibration: dict[str, Any] | None = None,
                   notes: list[str] | None = None) -> dict[str, Any]:
    passed = validation["passed"] if validation is not None else None
    return {
        "schema": CONVERT_SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "source": resolved,
        "format": model_format,
        "config": config,
        "conversion": conversion,
        "calibration": calibration,
        "validation": validation,
        "output": output,
        "passed": passed,
        "notes": notes or [],
    }


def _fmt(x: Any, spec: str = ".3g") -> str:
    return "-" if x is None else format(x, spec)


def validation_text(v: dict[str, Any]) -> list[str]:
    lines = [f"validation: {'PASSED' if v['passed'] else 'FAILED'} on {v['samples']} samples "
             f"({v.get('runtimes', {}).get('candidate', '?')})"]
    for o in v["outputs"]:
        extra = ""
        if o.get("top1_agreement") is not None:
            extra = f" top1={o['top1_agreement']:.1%} top5={o['top5_overlap']:.1%}"
        if o.get("exact_match") is not None:
            extra = f" exact={o['exact_match']:.1%}"
        lines.append(f"  {'ok  ' if o['passed'] else 'FAIL'} {o['name']}: max|d|={_fmt(o['max_abs'])} "
                     f"mean|d|={_fmt(o['mean_abs'])} cos={_fmt(o['cosine'], '.6f')} snr={_fmt(o['snr_db'], '.1f')}dB{extra}")
    for f in v.get("failures", []):
        lines.append(f"  - {f}")
    return lines


def calibration_text(cal: dict[str, Any] | None) -> list[str]:
    """Lines on the calibration data: source, count, the input range used and why, warnings."""
    if not cal:
        return []
    lines = [f"calibration: {cal['samples']} samples from {cal['source']} (seed {cal.get('seed', 0)})"]
    if cal.get("warning"):
        lines.append(f"WARNING: {cal['warning']}")
    scalings = dict(cal.get("input_scaling") or {})
    if cal.get("scaling"):
        scalings[cal.get("input", "input")] = cal["scaling"]
    for name, sc in scalings.items():
        lo, hi = sc["range"]
        lines.append(f"input range {name}: [{lo:.4g}, {hi:.4g}] ({sc['source']}: {sc['reason']})")
    for note in cal.get("notes", []):
        lines.append(f"calibration note: {note}")
    return lines


def convert_summary(report: dict[str, Any]) -> str:
    c = report["conversion"]
    lines = [f"wrote {report['output']['path']} ({human_size(report['output']['size_bytes'])}) "
             f"from {report['source']['source']} [{report['format']}, signature {c['signature']['name']!r}]"]
    lines.append(f"strategy: {c['strategy']}" + (f" (forced by {', '.join(c['forced_select_by'])})"
                                                  if c["forced_select_by"] else ""))
    lines.append(f"quantization: {c['recipe']['mode']} ({c['recipe']['description']})")
    lines.extend(calibration_text(report.get("calibration")))
    lines.append("inputs: " + ", ".join(f"{i['name']}:{i['dtype']}[{','.join('?' if d is None else str(d) for d in i['shape'])}]"
                                         for i in c["inputs"]))
    for note in c["notes"] + report.get("notes", []):
        lines.append(f"note: {note}")
    if report["validation"] is not None:
        lines.extend(validation_text(report["validation"]))
    else:
        lines.append("validation: skipped (--no-validate)")
    lines.append(f"report: {report['output']['report']}")
    return "\n".join(lines)


def inspect_text(info: dict[str, Any]) -> str:
    lines = [f"source: {info['source']}", f"path: {info['path']}", f"format: {info['format']}",
             f"parameters: {info['parameters']:,}"]
    for s in info["signatures"]:
        mark = "*" if s["name"] == info["chosen_signature"] else " "
        lines.append(f"{mark} signature {s['name']!r} ({s['kind']})")
        for kind in ("inputs", "outputs"):
            for t in s[kind]:
                shape = "<unknown rank>" if t["shape"] is None else "[" + ",".join(
                    "?" if d is None else str(d) for d in t["shape"]) + "]"
                lines.append(f"    {kind[:-1]:6} {t['name']}: {t['dtype']} {shape}")
    if info["ops"]:
        lines.append(f"ops of {info['chosen_signature']!r}:")
        width = max(len(o["op"]) for o in info["ops"])
        for o in info["ops"]:
            lines.append(f"    {o['op']:<{width}} x{o['count']:<4} {o['support']}")
    if info["strategy"]:
        lines.append(f"convert will use: {info['strategy']}" + (
            f" (Select TF ops needed by {', '.join(info['blocking_ops'])})" if info["blocking_ops"] else ""))
    elif info["probe_error"]:
        lines.append(f"convert will fail: {info['probe_error']}")
    for n in info["notes"]:
        lines.append(f"note: {n}")
    if info["suggested_command"]:
        lines.append(f"suggested: {info['suggested_command']}")
    return "\n".join(lines)
