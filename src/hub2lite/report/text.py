"""convert, inspect and validate results as a JSON-safe report dict and as text for people (pure; no TensorFlow)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from .format import fmt_num, human_size, versions

__all__ = ["versions", "convert_report", "convert_summary", "calibration_text", "inspect_text", "validation_text",
           "changed_top1_text", "human_size", "split_text", "CONVERT_SCHEMA"]

CONVERT_SCHEMA = "hub2lite.convert/1"


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


def _pct(x: Any) -> str:
    return fmt_num(x, ".1%")


def changed_top1_text(o: dict[str, Any], samples: int) -> str:
    """One output's changed top-1 predictions, and how sure the original was of them (OutputMetrics.to_dict)."""
    return (f"{o['name']}: top-1 changed on {o['top1_changed']} of {samples} samples; the original's margin between "
            f"its top two classes was at most {o['top1_changed_max_margin']:.3f} (probability) on them")


def validation_text(v: dict[str, Any]) -> list[str]:
    """A validation dict (ValidationReport.to_dict, schema hub2lite.validate/1) as lines for people."""
    inputs = v.get("inputs") or {}
    where = {"synthetic": f"synthetic, seed {inputs.get('seed')}", "data": f"{inputs.get('path')}",
             "saved": f"saved inputs {inputs.get('path')}"}.get(inputs.get("source"), "")
    mode = f"; {v['mode']} tolerances" if v.get("mode") else ""
    if v.get("not_run"):
        return [f"validation: NOT RUN: {v['not_run']}",
                f"  runtimes: original {v.get('runtimes', {}).get('original', '?')}; "
                f".tflite {v.get('runtimes', {}).get('candidate', 'none available')}"]
    lines = [f"validation: {'PASSED' if v['passed'] else 'FAILED'} on {v['samples']} samples"
             + (f" ({where}{mode})" if where or mode else ""),
             f"  runtimes: original {v.get('runtimes', {}).get('original', '?')}; "
             f".tflite {v.get('runtimes', {}).get('candidate', '?')}"]
    rows = [("", "output", "kind", "max|d|", "mean|d|", "rmse", "cos(min)", "snr dB", "top1", "top5", "KL")]
    for o in v["outputs"]:
        name = o["name"] + ("" if o.get("tflite_name") in (None, o["name"]) else f" <- {o['tflite_name']}")
        if o.get("exact_match") is not None:
            rows.append(("ok" if o["passed"] else "FAIL", name, o.get("kind", ""), f"equal {_pct(o['exact_match'])}",
                         "", "", "", "", "", "", ""))
            continue
        rows.append(("ok" if o["passed"] else "FAIL", name, o.get("kind", ""), fmt_num(o["max_abs"]), fmt_num(o["mean_abs"]),
                     fmt_num(o.get("rmse")), fmt_num(o["cosine"], ".6f"), fmt_num(o["snr_db"], ".1f"),
                     _pct(o.get("top1_agreement")), _pct(o.get("top5_overlap")), fmt_num(o.get("kl_divergence"))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        lines.append(("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths))).rstrip())
    for o in v["outputs"]:
        if o.get("top1_changed"):
            lines.append(f"  {changed_top1_text(o, v['samples'])}")
    for f in v.get("failures", []):
        lines.append(f"  - {f}")
    a = v.get("accuracy")
    if a:
        lines.append(f"  accuracy on {a['samples']} labeled samples (output {a['output']!r}, {a['classes']} classes"
                     + (f", names from {a['labels_file']}" if a.get("labels_file") else "") + "):")
        for k, label in (("top1", "top-1"), ("top5", f"top-{a['k']}")):
            lines.append(f"    {label}: original {_pct(a[k + '_original'])}  .tflite {_pct(a[k + '_tflite'])}  "
                         f"drop {a[k + '_drop'] * 100:+.2f} points")
        if a.get("disagreement_count"):
            shown = ", ".join(f"#{d['sample']} {d['label']}: {d['original']} -> {d['tflite']}"
                              for d in a.get("disagreements", [])[:5])
            lines.append(f"    {a['disagreement_count']} samples predicted differently (label: original -> .tflite): "
                         f"{shown}")
        for n in a.get("notes", []):
            lines.append(f"    note: {n}")
    for n in v.get("notes", []):
        lines.append(f"  note: {n}")
    art = v.get("artifacts") or {}
    if art.get("inputs"):
        lines.append(f"  inputs saved: {art['inputs']} (reproduce with --load-inputs)")
    if art.get("outputs_original"):
        lines.append(f"  outputs saved: {art['outputs_original']}, {art['outputs_tflite']}")
    elif not v["passed"] and not art:
        lines.append("  (pass --save-inputs DIR or --outputs-dir DIR to keep the inputs and both models' outputs)")
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
    if c.get("family"):
        lines.append(f"family: {c['family']['family']} - {c['family']['strategy']}")
    if c.get("signatures"):
        lines.append("signatures: " + ", ".join(p["key"] for p in c["signatures"]))
    lines.append(f"strategy: {c['strategy']}" + (f" (forced by {', '.join(c['forced_select_by'])})"
                                                  if c["forced_select_by"] else ""))
    lines.append(f"quantization: {c['recipe']['mode']} ({c['recipe']['description']})")
    lines.extend(calibration_text(report.get("calibration")))
    lines.append("inputs: " + ", ".join(f"{i['name']}:{i['dtype']}[{','.join('?' if d is None else str(d) for d in i['shape'])}]"
                                         for i in c["inputs"]))
    lines.extend(split_text(report.get("split")))
    for op in c.get("custom_ops") or []:
        io = ", ".join(f"{t['dtype']}[{','.join('?' if d is None else str(d) for d in t['shape'])}]"
                       for t in op["inputs"])
        lines.append(f"custom op {op['name']}({io}) attributes {op['attributes']}: needs a kernel in your app")
    for note in c["notes"] + report.get("notes", []):
        lines.append(f"note: {note}")
    if report["validation"] is not None:
        if report.get("split"):
            lines.append("end to end: the split model (prefix, body, suffix as in runtimes) vs the original")
        lines.extend(validation_text(report["validation"]))
        body = (report.get("split") or {}).get("body_validation")
        if body is not None:
            worst = max((o["max_abs"] or 0.0 for o in body["outputs"]), default=0.0)
            lines.append(f"body alone vs the original's tensors at the cut: {'PASSED' if body['passed'] else 'FAILED'} "
                         f"({len(body['outputs'])} tensors, max |error| {worst:.3g})")
    elif c.get("custom_ops"):
        lines.append("validation: not possible here (custom ops need your kernels)")
    else:
        lines.append("validation: skipped (--no-validate)")
    lines.extend(metadata_text(report["output"].get("metadata")))
    if report["output"].get("model_card"):
        lines.append(f"model card: {report['output']['model_card']}")
    lines.append(f"report: {report['output']['report']}")
    return "\n".join(lines)


def metadata_text(meta: dict[str, Any] | None) -> list[str]:
    """One line on the embedded TFLite metadata (and one per note), or nothing without --metadata."""
    if not meta:
        return []
    parts = []
    for inp in meta.get("inputs") or ():
        im = inp.get("image")
        if im:
            parts.append(f"{inp['name']}: {im['color']} {im['height']}x{im['width']}, mean {im['mean']} std "
                         f"{im['std']}")
    labeled = [o for o in meta.get("outputs") or () if o.get("labels_count")]
    parts += [f"{o['name']}: {o['kind']}, {o['labels_count']} labels" for o in labeled]
    if meta.get("labels_source"):
        parts.append(f"labels from {meta['labels_source']}")
    lines = [f"metadata: embedded ({'; '.join(parts) or 'descriptions only'})"]
    return lines + [f"metadata note: {n}" for n in meta.get("notes") or ()]


def split_text(split: dict[str, Any] | None) -> list[str]:
    """The `split` section of a convert report as lines for people."""
    if not split:
        return []
    cut = f" (cut out: {', '.join(split['cut_ops'])})" if split.get("cut_ops") else " (cut by hand)"
    lines = [f"split{cut}: {split['ops_outside_body']} op(s) stay in TensorFlow"]
    files = split.get("files") or {}
    for key in ("prefix", "body", "suffix"):
        part = split.get(key)
        if not part:
            continue
        where = (f"{files[key]['path']} ({human_size(files[key]['size_bytes'])}, SavedModel)" if key in files
                 else "the .tflite" if key == "body" else "-")
        lines.append(f"    {key}: {part['op_count']} op(s) -> {where}")
    body = split.get("body") or {}
    lines.append("    body inputs: " + ", ".join(f"{t['name']}:{t['dtype']}" for t in body.get("inputs", [])))
    lines.append("    body outputs: " + ", ".join(f"{t['name']}:{t['dtype']}" for t in body.get("outputs", [])))
    lines.extend(f"    note: {n}" for n in split.get("notes", []))
    return lines


def inspect_text(info: dict[str, Any]) -> str:
    lines = [f"source: {info['source']}", f"path: {info['path']}", f"format: {info['format']}",
             f"parameters: {info['parameters']:,}"]
    family = info.get("family") or {}
    if family:
        lines.append(f"family: {family['family']}" + (f" ({'; '.join(family['evidence'])})" if family["evidence"] else ""))
        lines.append(f"family strategy: {family['strategy']}")
        for m in family.get("members", []):
            lines.append(f"    {m['signature']}: {m['family']} - {m['strategy']}")
        text = family.get("text")
        if text:
            lines.append(f"sequence length: {text['seq_len']} tokens (--seq-len N to choose)")
            lines.append(f"vocabulary: {text['vocab_note']}")
            for t in text["inputs"]:
                rows = f", table of {t['rows']} rows" if t["rows"] is not None else ""
                lines.append(f"    {t['name']}: {t['role']}{rows}; synthetic: {text['draws'].get(t['name'], 'generic')}")
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
    split = info.get("split")
    if split:
        lines.append(f"split that converts: {split['plan']}")
    for n in info["notes"]:
        lines.append(f"note: {n}")
    if info["suggested_command"]:
        lines.append(f"suggested: {info['suggested_command']}")
    if info.get("tensors"):
        lines.append("tensors (names for --body-inputs/--body-outputs):")
        width = max(len(t["name"]) for t in info["tensors"])
        for t in info["tensors"]:
            dims = t["shape"]
            shape = "?" if dims is None else "[" + ",".join("?" if d is None else str(d) for d in dims) + "]"
            lines.append(f"    {t['name']:<{width}}  {t['dtype']}{shape}  {t['op']}")
    return "\n".join(lines)
