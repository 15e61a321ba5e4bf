"""The sweep report's renderings: report.json (the dict itself, its derived numbers added by
report/analysis.py), report.md (a table) and report.html (self-contained: CSS, an inline SVG chart drawn by
matplotlib, per-variant details). Pure: no TensorFlow, no files.

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

import json
from collections.abc import Mapping
from typing import Any

from . import chart
from .analysis import QUALITY_LABELS
from .format import fmt_ms, fmt_pct, fmt_quality, fmt_x, human_size
from .html import page
from .table import escape, html_table, kv_table
from .table import markdown_table as _markdown_table
from .text import changed_top1_text

__all__ = ["render_markdown", "render_html", "render_chart_svg", "markdown_table"]


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
    orig = ["original (TF)", human_size(o["size_bytes"]), fmt_x(o.get("size_ratio")), fmt_ms(ob.get("p50_ms")),
            fmt_x(o.get("speedup_vs_float32")), "1.00×" if ob else "—",
            human_size(ob["peak_rss_bytes"]) if ob else "—"]
    orig += ([fmt_pct(o.get("accuracy"))] if labeled else []) + ["reference",
                                                                   "reference" if not o.get("error") else
                                                                   f"BENCHMARK FAILED: {o['error']}"]
    rows = [orig]
    for v in report["variants"]:
        b = v.get("bench") or {}
        agreement = v.get("agreement")
        row = [v["mode"] + (" ★" if v.get("pareto") else ""),
               "—" if v.get("size_bytes") is None else human_size(v["size_bytes"]), fmt_x(v.get("size_ratio")),
               fmt_ms(v.get("p50_ms")), fmt_x(v.get("speedup_vs_float32")), fmt_x(v.get("speedup_vs_original")),
               human_size(b["peak_rss_bytes"]) if b else "—"]
        row += ([fmt_pct(v.get("accuracy"))] if labeled else [])
        row += [fmt_quality(agreement, "cosine" if metric == "cosine" else "agreement"), _verdict(v)]
        rows.append(row)
    return header, rows


def markdown_table(report: Mapping[str, Any]) -> str:
    """The variants table (with the original as the first row) in Markdown: report.md and the terminal."""
    return _markdown_table(*_table_rows(report))


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

    metric = report["quality_metric"]
    qlabel = QUALITY_LABELS[metric]
    pts = [v for v in report["variants"] if v.get("p50_ms") is not None and v.get("size_bytes") is not None]
    with chart.figure(10, 4.6) as fig:
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
        for ax in (ax_size, ax_q):
            ax.set_xscale("log")
            ax.set_xlabel("p50 latency per inference (ms, log scale)")
            ax.grid(True, which="both", alpha=0.3)
            ax.margins(0.15)
        ax_size.set_yscale("log")
        for axis in (ax_size.xaxis, ax_size.yaxis, ax_q.xaxis):
            chart.plain_log_axis(axis)
        ax_size.set_ylabel("model size (KiB, log scale)")
        ax_size.set_title("size vs latency (lower left is better)")
        ax_q.set_ylabel(qlabel)
        ax_q.set_title(f"{qlabel} vs latency (upper left is better)")
        handles, labels = ax_size.get_legend_handles_labels()
        fig.tight_layout(rect=(0, 0.1, 1, 1))
        if handles:
            fig.legend(handles, labels, loc="lower center", ncol=min(len(handles), 6), fontsize=8, frameon=False)
        return chart.to_svg(fig)


# ------------------------------------------------------------------------------------------------- html

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


def _bench_pairs(b: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [("runtime", b["runtime"]), ("threads", b["threads"]), ("runs / warm-up", f"{b['runs']} / {b['warmup']}"),
            ("latency min / p50 / p90 / p99", " / ".join(fmt_ms(b[k]) for k in ("min_ms", "p50_ms", "p90_ms", "p99_ms"))),
            ("latency mean ± std", f"{fmt_ms(b['mean_ms'])} ± {fmt_ms(b['std_ms'])}"),
            ("first inference", fmt_ms(b["first_inference_ms"])), ("init", fmt_ms(b["init_ms"])),
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
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    fails = "".join(f"<li class=err>{escape(f)}</li>" for f in val.get("failures") or [])
    changed = "".join(f"<li>{escape(changed_top1_text(o, val['samples']))}</li>" for o in val["outputs"]
                      if o.get("top1_changed"))
    tol = ", ".join(f"{k} {v}" for k, v in val["tolerance"].items())
    return (f"<p>{'passed' if val['passed'] else '<b class=err>failed</b>'} on {val['samples']} samples; "
            f"tolerance: {escape(tol)}</p><table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
            + (f"<ul>{changed}{fails}</ul>" if changed or fails else ""))


def _variant_details(v: Mapping[str, Any], metric: str) -> str:
    parts = [f"<details class=variant-details id='variant-{escape(v['mode'])}' {'open' if v['status'] != 'ok' else ''}>",
             f"<summary>{escape(v['mode'])} — {escape(v['recipe']['name'])}: {escape(_verdict(v))}</summary>",
             f"<p>{escape(v['recipe']['description'])}</p>"]
    if v.get("error"):
        parts.append(f"<p class=err>{escape(v['status'])}: {escape(v['error'])}</p>")
    c = v.get("conversion")
    if c:
        parts.append("<h4>conversion</h4>" + kv_table([
            ("file", v["file"]), ("size", f"{human_size(v['size_bytes'])} ({v['size_bytes']:,} bytes)"),
            ("strategy", c["strategy"]), ("converter settings", json.dumps(c["converter_settings"])),
            ("ops", ", ".join(f"{k}×{n}" for k, n in c["tflite_ops"].items())), ("seconds", c["seconds"]),
            ("sha256", c["sha256"])]))
    if v.get("validation"):
        parts.append("<h4>validation against the original</h4>" + _validation_html(v["validation"]))
        parts.append(f"<p>{escape(QUALITY_LABELS[metric])}: {escape(fmt_quality(v.get('quality'), metric))}</p>")
    if v.get("bench"):
        parts.append("<h4>benchmark</h4>" + kv_table(_bench_pairs(v["bench"])))
    parts.append("</details>")
    return "".join(parts)


def render_html(report: Mapping[str, Any]) -> str:
    """A self-contained page: inline CSS, inline SVG chart, no external requests."""
    metric = report["quality_metric"]
    header, rows = _table_rows(report)
    attrs = [" class='original' data-variant='original'"]
    for v in report["variants"]:
        verdict = "pass" if v["status"] == "ok" and v["passed"] else "fail"
        attrs.append(f" class='variant {verdict}' data-variant='{escape(v['mode'])}'")
    table = html_table(header, rows, table_id="variants", row_attrs=attrs, text_columns=(0, len(header) - 1))
    rec = "<div class=rec><b>Recommendation</b><ul>" + "".join(
        f"<li>{escape(line)}</li>" for line in report["recommendation"]["lines"]) + "</ul></div>"
    src = report["source"]
    vd = report["validation_data"]
    o = report["original"]
    original = ["<details class=variant-details id=variant-original><summary>original (TF)</summary>",
                kv_table([("source", src.get("source")), ("resolved path", src.get("path")),
                           ("size (all files)", human_size(o["size_bytes"])),
                           ("labeled accuracy", fmt_pct(o.get("accuracy")))])]
    if o.get("bench"):
        original.append("<h4>benchmark</h4>" + kv_table(_bench_pairs(o["bench"])))
    if o.get("error"):
        original.append(f"<p class=err>benchmark failed: {escape(o['error'])}</p>")
    original.append("</details>")
    calib = report.get("calibration")
    context = kv_table([
        ("format / signature", f"{report['format']} / {report['signature']['name']}"),
        ("inputs", ", ".join(f"{i['name']} {i['dtype']}{i['shape']}" for i in report["inputs"])),
        ("latency settings", _settings_line(report)),
        ("validation data", f"{vd['samples']} samples from {vd['source']}" + (" (labeled)" if vd.get("labeled") else "")),
        ("calibration", "—" if not calib else f"{calib['samples']} samples from {calib['source']}"
         + (f" — {calib['warning']}" if calib.get("warning") else "")),
        ("versions", ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v)),
        ("machine", f"{report['machine']['platform']}, {report['machine']['usable_cpus']} usable CPUs"),
        ("created", report["created"]), ("schema", report["schema"])])
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.get("notes") or [])
    body = f"""<h1>hub2lite sweep</h1>
<p class=muted>{escape(src.get('source'))} · {len(report['variants'])} variants · {escape(report['created'])}
 · <span id=render-status>not rendered by a browser</span></p>
{rec}
<h2>Size, latency and {escape(QUALITY_LABELS[metric])}</h2>
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
{f'<ul>{notes}</ul>' if notes else ''}"""
    return page(f"hub2lite sweep — {src.get('source')}", body, script=_SCRIPT)
