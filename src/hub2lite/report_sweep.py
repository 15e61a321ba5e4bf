"""The sweep report: derived numbers (ratios, speed-ups, Pareto front, recommendation) and its three
renderings: report.json (the dict itself), report.md (a table) and report.html (self-contained: CSS,
an inline SVG chart drawn by matplotlib, per-variant details). Pure: no TensorFlow, no files.

Schema `hub2lite.sweep/1` (report.json), top level:
    schema, created, versions, machine, source, format, signature, inputs, config, calibration,
    validation_data, quality_metric ("accuracy" | "top1_agreement" | "cosine"),
    original {size_bytes, accuracy, bench, error, speedup_vs_float32},
    variants [{mode, recipe, status ("ok" | "conversion failed" | "validation failed to run" |
              "benchmark failed"), error, file, size_bytes, size_ratio, conversion, validation, passed,
              accuracy, agreement, quality, bench (benchmark.LatencyStats.to_dict), p50_ms,
              speedup_vs_float32, speedup_vs_original, pareto}],
    pareto_front [mode], recommendation {size, latency, accuracy: {variant, reason} | null, lines [str]},
    notes [str]
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .report import human_size

__all__ = ["analyze", "pareto_front", "recommend", "render_markdown", "render_html", "render_chart_svg",
           "markdown_table", "QUALITY_LABELS"]

QUALITY_LABELS = {"accuracy": "accuracy", "top1_agreement": "top-1 agreement", "cosine": "min cosine"}


def _p50(bench: Mapping[str, Any] | None) -> float | None:
    return None if not bench else bench.get("p50_ms")


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return num / den


def pareto_front(points: Sequence[tuple[str, float, float, float]]) -> list[str]:
    """Names of the points (name, size, latency, quality) that no other point beats: smaller-or-equal size,
    lower-or-equal latency and higher-or-equal quality, strictly better in at least one."""
    front = []
    for name, size, lat, q in points:
        dominated = any(s <= size and t <= lat and u >= q and (s < size or t < lat or u > q)
                        for other, s, t, u in points if other != name)
        if not dominated:
            front.append(name)
    return front


def _quality(v: Mapping[str, Any], metric: str) -> float | None:
    return v.get("accuracy") if metric == "accuracy" else v.get("agreement")


def _fmt_ms(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.3f} ms" if x < 10 else f"{x:.1f} ms"


def _fmt_pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _fmt_quality(x: float | None, metric: str) -> str:
    if x is None:
        return "—"
    return f"{x:.4f}" if metric == "cosine" else _fmt_pct(x)


def _fmt_x(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}×"


def recommend(report: Mapping[str, Any]) -> dict[str, Any]:
    """Best variant for size, latency and accuracy among those that converted, passed validation and have a
    measured latency (never one without), each with its reason."""
    metric = report["quality_metric"]
    label = QUALITY_LABELS[metric]
    ok = [v for v in report["variants"] if v["status"] == "ok" and v["passed"] and v.get("p50_ms") is not None]
    excluded = [f"{v['mode']} ({v['status'] if v['status'] != 'ok' else 'failed validation'})"
                for v in report["variants"] if v not in ok]
    rec: dict[str, Any] = {"size": None, "latency": None, "accuracy": None, "lines": []}
    if not ok:
        rec["lines"] = ["no variant passed validation with a measured latency: none is recommended"
                        + (f" (excluded: {', '.join(excluded)})" if excluded else "")]
        return rec

    def facts(v: Mapping[str, Any]) -> str:
        return (f"{human_size(v['size_bytes'])} ({_fmt_x(v['size_ratio'])} float32's size), "
                f"p50 {_fmt_ms(v['p50_ms'])} ({_fmt_x(v['speedup_vs_float32'])} float32's speed), "
                f"{label} {_fmt_quality(_quality(v, metric), metric)}")

    best_size = min(ok, key=lambda v: (v["size_bytes"], v["p50_ms"]))
    best_lat = min(ok, key=lambda v: (v["p50_ms"], v["size_bytes"]))
    with_q = [v for v in ok if _quality(v, metric) is not None]
    best_q = max(with_q, key=lambda v: (round(_quality(v, metric), 6), -v["p50_ms"])) if with_q else None
    rec["size"] = {"variant": best_size["mode"], "reason": f"smallest that passes validation: {facts(best_size)}"}
    rec["latency"] = {"variant": best_lat["mode"], "reason": f"lowest measured p50 latency: {facts(best_lat)}"}
    if best_q is not None:
        rec["accuracy"] = {"variant": best_q["mode"],
                           "reason": f"highest {label} (ties go to the faster): {facts(best_q)}"}
    rec["lines"] = [f"best for {k}: {rec[k]['variant']} — {rec[k]['reason']}"
                    for k in ("size", "latency", "accuracy") if rec[k] is not None]
    if excluded:
        rec["lines"].append(f"not recommended: {', '.join(excluded)}")
    return rec


def analyze(report: dict[str, Any]) -> dict[str, Any]:
    """Add size ratios, speed-ups, quality, the Pareto front and the recommendation to a sweep report."""
    metric = report["quality_metric"]
    variants = report["variants"]
    base = next((v for v in variants if v["mode"] == "float32"), None)
    base_size = None if base is None else base.get("size_bytes")
    base_p50 = None if base is None else _p50(base.get("bench"))
    orig_p50 = _p50(report["original"].get("bench"))
    for v in variants:
        v["p50_ms"] = _p50(v.get("bench"))
        v["size_ratio"] = _ratio(v.get("size_bytes"), base_size)
        v["speedup_vs_float32"] = _ratio(base_p50, v["p50_ms"])
        v["speedup_vs_original"] = _ratio(orig_p50, v["p50_ms"])
        v["quality"] = _quality(v, metric)
    report["original"]["speedup_vs_float32"] = _ratio(base_p50, orig_p50)
    report["original"]["size_ratio"] = _ratio(report["original"].get("size_bytes"), base_size)
    points = [(v["mode"], float(v["size_bytes"]), float(v["p50_ms"]), float(v["quality"])) for v in variants
              if v["status"] == "ok" and v["passed"] and v["p50_ms"] is not None and v["quality"] is not None]
    front = pareto_front(points)
    for v in variants:
        v["pareto"] = v["mode"] in front
    report["pareto_front"] = front
    report["recommendation"] = recommend(report)
    return report


def _verdict(v: Mapping[str, Any]) -> str:
    if v["status"] != "ok":
        return f"{v['status'].upper()}: {v['error']}"
    if v["passed"]:
        return "PASS"
    failures = (v.get("validation") or {}).get("failures") or []
    return "FAIL" + (f": {failures[0]}" if failures else "")


def _table_rows(report: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    metric = report["quality_metric"]
    labeled = metric == "accuracy"
    agreement_label = "min cosine" if metric == "cosine" else "top-1 agreement"
    header = ["variant", "size", "size ratio", "p50 latency", "speed-up vs float32", "speed-up vs TF", "peak RSS"]
    header += (["accuracy"] if labeled else []) + [agreement_label, "validation"]
    o = report["original"]
    ob = o.get("bench") or {}
    orig = ["original (TF)", human_size(o["size_bytes"]), _fmt_x(o.get("size_ratio")), _fmt_ms(ob.get("p50_ms")),
            _fmt_x(o.get("speedup_vs_float32")), "1.00×" if ob else "—",
            human_size(ob["peak_rss_bytes"]) if ob else "—"]
    orig += ([_fmt_pct(o.get("accuracy"))] if labeled else []) + ["reference",
                                                                   "reference" if not o.get("error") else
                                                                   f"BENCHMARK FAILED: {o['error']}"]
    rows = [orig]
    for v in report["variants"]:
        b = v.get("bench") or {}
        agreement = v.get("agreement")
        row = [v["mode"] + (" ★" if v.get("pareto") else ""),
               "—" if v.get("size_bytes") is None else human_size(v["size_bytes"]), _fmt_x(v.get("size_ratio")),
               _fmt_ms(v.get("p50_ms")), _fmt_x(v.get("speedup_vs_float32")), _fmt_x(v.get("speedup_vs_original")),
               human_size(b["peak_rss_bytes"]) if b else "—"]
        row += ([_fmt_pct(v.get("accuracy"))] if labeled else [])
        row += [_fmt_quality(agreement, "cosine" if metric == "cosine" else "agreement"), _verdict(v)]
        rows.append(row)
    return header, rows


def _md_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def markdown_table(report: Mapping[str, Any]) -> str:
    header, rows = _table_rows(report)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _settings_line(report: Mapping[str, Any]) -> str:
    b = report["config"]["bench"]
    threads = f"{b['threads']} thread" + ("s" if b["threads"] != 1 else "")
    rounds = b.get("rounds", 1)
    runs = f"{rounds} round-robin rounds x {b['runs']}" if rounds > 1 else f"{b['runs']}"
    return (f"{runs} timed runs after {b['warmup']} warm-up, {threads}, "
            f"XNNPACK {'on' if b['xnnpack'] else 'off'}, batch 1, one child process per model, "
            f"on {report['machine']['machine']} with {report['machine']['usable_cpus']} usable CPUs")


def render_markdown(report: Mapping[str, Any]) -> str:
    src = report["source"]
    vd = report["validation_data"]
    lines = [f"# hub2lite sweep: {src.get('source')}", "",
             f"Format {report['format']}, signature `{report['signature']['name']}`, inputs "
             + ", ".join(f"`{i['name']}` {i['dtype']}{i['shape']}" for i in report["inputs"]) + ".",
             f"Latency: {_settings_line(report)}.",
             f"Validation: {vd['samples']} samples from {vd['source']}"
             + (" (labeled)" if vd.get("labeled") else "") + "; per-mode default tolerances.", ""]
    if report.get("calibration"):
        c = report["calibration"]
        lines += [f"Calibration: {c['samples']} samples from {c['source']}." + (f" **{c['warning']}**"
                                                                               if c.get("warning") else ""), ""]
    lines += [markdown_table(report), "", "★ = on the Pareto front (size, latency, "
              f"{QUALITY_LABELS[report['quality_metric']]}) among variants that pass validation.", ""]
    lines += [f"- {line}" for line in report["recommendation"]["lines"]]
    if report.get("notes"):
        lines += [""] + [f"Note: {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ chart

def render_chart_svg(report: Mapping[str, Any]) -> str:
    """Two panels sharing the latency axis: size vs p50 latency, and quality vs p50 latency. Variants that
    pass validation are filled circles, Pareto-front variants stars, failing ones crosses; the original TF
    model is a grey square. Returns the <svg> element (no XML prolog) for inlining."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    metric = report["quality_metric"]
    qlabel = QUALITY_LABELS[metric]
    pts = [v for v in report["variants"] if v.get("p50_ms") is not None and v.get("size_bytes") is not None]
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "hub2lite", "font.size": 9}):
        fig = Figure(figsize=(10, 4.6))
        ax_size, ax_q = fig.subplots(1, 2)
        colors = matplotlib.colormaps["tab10"]
        for i, v in enumerate(pts):
            color = colors(i % 10)
            marker = "*" if v.get("pareto") else ("o" if v["passed"] else "X")
            ms = 16 if v.get("pareto") else 9
            label = v["mode"] + (" (Pareto)" if v.get("pareto") else "") + ("" if v["passed"] else " (fails validation)")
            ax_size.plot(v["p50_ms"], v["size_bytes"] / 1024, marker=marker, ms=ms, color=color, ls="none",
                         label=label, markeredgecolor="black")
            ax_size.annotate(v["mode"], (v["p50_ms"], v["size_bytes"] / 1024), textcoords="offset points",
                             xytext=(7, 5))
            if v.get("quality") is not None:
                ax_q.plot(v["p50_ms"], v["quality"], marker=marker, ms=ms, color=color, ls="none",
                          markeredgecolor="black")
                ax_q.annotate(v["mode"], (v["p50_ms"], v["quality"]), textcoords="offset points", xytext=(7, 5))
        front = sorted((v for v in pts if v.get("pareto")), key=lambda v: v["p50_ms"])
        if len(front) > 1:
            ax_size.plot([v["p50_ms"] for v in front], [v["size_bytes"] / 1024 for v in front], ls="--",
                         color="0.4", lw=1, label="Pareto front")
        o = report["original"]
        ob = o.get("bench")
        if ob:
            ax_size.plot(ob["p50_ms"], o["size_bytes"] / 1024, marker="s", ms=9, color="0.6", ls="none",
                         label="original (TF)", markeredgecolor="black")
            ax_size.annotate("original (TF)", (ob["p50_ms"], o["size_bytes"] / 1024), textcoords="offset points",
                             xytext=(7, -12))
            q = o.get("accuracy") if metric == "accuracy" else 1.0
            if q is not None:
                ax_q.plot(ob["p50_ms"], q, marker="s", ms=9, color="0.6", ls="none", markeredgecolor="black")
                ax_q.annotate("original (TF)", (ob["p50_ms"], q), textcoords="offset points", xytext=(7, -12))
        plain = FuncFormatter(lambda x, _pos: f"{x:g}")
        for ax in (ax_size, ax_q):
            ax.set_xscale("log")
            ax.set_xlabel("p50 latency per inference (ms, log scale)")
            ax.grid(True, which="both", alpha=0.3)
            ax.margins(0.15)
        ax_size.set_yscale("log")
        for axis in (ax_size.xaxis, ax_size.yaxis, ax_q.xaxis):
            axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(plain)
            axis.set_minor_formatter(NullFormatter())
        ax_size.set_ylabel("model size (KiB, log scale)")
        ax_size.set_title("size vs latency (lower left is better)")
        ax_q.set_ylabel(qlabel)
        ax_q.set_title(f"{qlabel} vs latency (upper left is better)")
        handles, labels = ax_size.get_legend_handles_labels()
        fig.tight_layout(rect=(0, 0.1, 1, 1))
        if handles:
            fig.legend(handles, labels, loc="lower center", ncol=min(len(handles), 6), fontsize=8, frameon=False)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


# ------------------------------------------------------------------------------------------------- html

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#1d1d1f;
padding:0 16px;line-height:1.45}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:.6em 0}
th,td{border:1px solid #d0d0d0;padding:4px 8px;text-align:right;vertical-align:top}
th{background:#f2f2f5}td:first-child,th:first-child,td.text{text-align:left}
tr.pass td:last-child{color:#0a7a2f;font-weight:600}tr.fail td:last-child{color:#b00020;font-weight:600}
tr.original td{color:#555;font-style:italic}
.rec{background:#eef6ff;border-left:4px solid #2f6fdf;padding:8px 14px;margin:1em 0}
.rec li{margin:.2em 0}.muted{color:#666;font-size:.9em}
figure#chart{margin:1em 0;overflow-x:auto}figure#chart svg{max-width:100%;height:auto}
details{margin:.5em 0;border:1px solid #ddd;border-radius:4px;padding:6px 10px}
summary{cursor:pointer;font-weight:600}pre{background:#f7f7f9;padding:8px;overflow-x:auto;font-size:.85em}
.err{color:#b00020}
"""

_SCRIPT = """
(function () {
  var svg = document.querySelector('#chart svg');
  var box = svg ? svg.getBoundingClientRect() : null;
  var drawn = !!(box && box.width > 100 && box.height > 50 && svg.querySelectorAll('path,use').length > 0);
  var rows = document.querySelectorAll('#variants tbody tr.variant');
  document.body.setAttribute('data-chart-rendered', drawn ? 'true' : 'false');
  document.body.setAttribute('data-variant-rows', String(rows.length));
  var status = document.getElementById('render-status');
  if (status) { status.textContent = 'rendered: chart ' + (drawn ? 'yes' : 'NO') + ', ' + rows.length + ' variant rows'; }
})();
"""


def _e(x: Any) -> str:
    return html.escape("—" if x is None else str(x))


def _kv_table(pairs: Sequence[tuple[str, Any]]) -> str:
    return "<table>" + "".join(f"<tr><th class=text>{_e(k)}</th><td class=text>{_e(v)}</td></tr>" for k, v in pairs) \
        + "</table>"


def _bench_pairs(b: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [("runtime", b["runtime"]), ("threads", b["threads"]), ("runs / warm-up", f"{b['runs']} / {b['warmup']}"),
            ("latency min / p50 / p90 / p99", " / ".join(_fmt_ms(b[k]) for k in ("min_ms", "p50_ms", "p90_ms", "p99_ms"))),
            ("latency mean ± std", f"{_fmt_ms(b['mean_ms'])} ± {_fmt_ms(b['std_ms'])}"),
            ("first inference", _fmt_ms(b["first_inference_ms"])), ("init", _fmt_ms(b["init_ms"])),
            ("throughput", f"{b['throughput_per_s']:.1f} samples/s"),
            ("peak RSS / added by the model", f"{human_size(b['peak_rss_bytes'])} / {human_size(b['model_rss_bytes'])}"),
            ("memory measured as", b["memory_method"]), ("input", b.get("input_source"))]


def _validation_html(val: Mapping[str, Any]) -> str:
    head = ["output", "max |Δ|", "mean |Δ|", "RMSE", "cosine", "SNR dB", "top-1 agr.", "top-5 overlap", "KL", "pass"]
    rows = []
    for o in val["outputs"]:
        cells = [o["name"]] + [("—" if o.get(k) is None else f"{o[k]:.4g}") for k in
                               ("max_abs", "mean_abs", "rmse", "cosine", "snr_db", "top1_agreement", "top5_overlap",
                                "kl_divergence")] + ["yes" if o["passed"] else "NO"]
        rows.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    fails = "".join(f"<li class=err>{_e(f)}</li>" for f in val.get("failures") or [])
    tol = ", ".join(f"{k} {v}" for k, v in val["tolerance"].items())
    return (f"<p>{'passed' if val['passed'] else '<b class=err>failed</b>'} on {val['samples']} samples; "
            f"tolerance: {_e(tol)}</p><table><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>" + (f"<ul>{fails}</ul>" if fails else ""))


def _variant_details(v: Mapping[str, Any], metric: str) -> str:
    parts = [f"<details class=variant-details id='variant-{_e(v['mode'])}' {'open' if v['status'] != 'ok' else ''}>",
             f"<summary>{_e(v['mode'])} — {_e(v['recipe']['name'])}: {_e(_verdict(v))}</summary>",
             f"<p>{_e(v['recipe']['description'])}</p>"]
    if v.get("error"):
        parts.append(f"<p class=err>{_e(v['status'])}: {_e(v['error'])}</p>")
    c = v.get("conversion")
    if c:
        parts.append("<h4>conversion</h4>" + _kv_table([
            ("file", v["file"]), ("size", f"{human_size(v['size_bytes'])} ({v['size_bytes']:,} bytes)"),
            ("strategy", c["strategy"]), ("converter settings", json.dumps(c["converter_settings"])),
            ("ops", ", ".join(f"{k}×{n}" for k, n in c["tflite_ops"].items())), ("seconds", c["seconds"]),
            ("sha256", c["sha256"])]))
    if v.get("validation"):
        parts.append("<h4>validation against the original</h4>" + _validation_html(v["validation"]))
        parts.append(f"<p>{_e(QUALITY_LABELS[metric])}: {_e(_fmt_quality(v.get('quality'), metric))}</p>")
    if v.get("bench"):
        parts.append("<h4>benchmark</h4>" + _kv_table(_bench_pairs(v["bench"])))
    parts.append("</details>")
    return "".join(parts)


def render_html(report: Mapping[str, Any]) -> str:
    """A self-contained page: inline CSS, inline SVG chart, no external requests."""
    metric = report["quality_metric"]
    header, rows = _table_rows(report)
    body_rows = []
    for i, row in enumerate(rows):
        if i == 0:
            cls = "original"
            attrs = " data-variant='original'"
        else:
            v = report["variants"][i - 1]
            cls = "variant " + ("pass" if v["status"] == "ok" and v["passed"] else "fail")
            attrs = f" data-variant='{_e(v['mode'])}'"
        cells = "".join(f"<td{' class=text' if j in (0, len(row) - 1) else ''}>{_e(c)}</td>" for j, c in enumerate(row))
        body_rows.append(f"<tr class='{cls}'{attrs}>{cells}</tr>")
    table = ("<table id=variants><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead><tbody>"
             + "".join(body_rows) + "</tbody></table>")
    rec = "<div class=rec><b>Recommendation</b><ul>" + "".join(
        f"<li>{_e(line)}</li>" for line in report["recommendation"]["lines"]) + "</ul></div>"
    src = report["source"]
    vd = report["validation_data"]
    o = report["original"]
    original = ["<details class=variant-details id=variant-original><summary>original (TF)</summary>",
                _kv_table([("source", src.get("source")), ("resolved path", src.get("path")),
                           ("size (all files)", human_size(o["size_bytes"])),
                           ("labeled accuracy", _fmt_pct(o.get("accuracy")))])]
    if o.get("bench"):
        original.append("<h4>benchmark</h4>" + _kv_table(_bench_pairs(o["bench"])))
    if o.get("error"):
        original.append(f"<p class=err>benchmark failed: {_e(o['error'])}</p>")
    original.append("</details>")
    calib = report.get("calibration")
    context = _kv_table([
        ("format / signature", f"{report['format']} / {report['signature']['name']}"),
        ("inputs", ", ".join(f"{i['name']} {i['dtype']}{i['shape']}" for i in report["inputs"])),
        ("latency settings", _settings_line(report)),
        ("validation data", f"{vd['samples']} samples from {vd['source']}" + (" (labeled)" if vd.get("labeled") else "")),
        ("calibration", "—" if not calib else f"{calib['samples']} samples from {calib['source']}"
         + (f" — {calib['warning']}" if calib.get("warning") else "")),
        ("versions", ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v)),
        ("machine", f"{report['machine']['platform']}, {report['machine']['usable_cpus']} usable CPUs"),
        ("created", report["created"]), ("schema", report["schema"])])
    notes = "".join(f"<li>{_e(n)}</li>" for n in report.get("notes") or [])
    return f"""<!DOCTYPE html>
<html lang=en><head><meta charset=utf-8><meta name=viewport content="width=device-width, initial-scale=1">
<title>hub2lite sweep — {_e(src.get('source'))}</title><style>{_CSS}</style></head>
<body>
<h1>hub2lite sweep</h1>
<p class=muted>{_e(src.get('source'))} · {len(report['variants'])} variants · {_e(report['created'])}
 · <span id=render-status>not rendered by a browser</span></p>
{rec}
<h2>Size, latency and {_e(QUALITY_LABELS[metric])}</h2>
<figure id=chart>{render_chart_svg(report)}
<figcaption class=muted>Each variant converted once, validated against the original on the same inputs and
benchmarked with the same settings. ★ marks the Pareto front (no other passing variant is at least as small, as fast
and as accurate).</figcaption></figure>
<h2>Variants</h2>
{table}
<h2>Details</h2>
{''.join(original)}
{''.join(_variant_details(v, metric) for v in report['variants'])}
<h2>Context</h2>
{context}
{f'<ul>{notes}</ul>' if notes else ''}
<script>{_SCRIPT}</script>
</body></html>
"""
