"""The optimize report's renderings: NAME.optimize.md (a candidates table, the int8 ops ranked by sensitivity) and
NAME.optimize.html (self-contained: the shared page, an inline SVG chart of size against the metric, the
same table). Pure: no TensorFlow, no files. The report dict (schema hub2lite.optimize/1) is built by
optimize.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import chart
from .format import fmt_num
from .html import page
from .table import escape, html_table, markdown_table

__all__ = ["render_markdown", "render_html", "render_chart_svg", "candidate_rows", "short_layer_name",
           "CANDIDATE_HEADER"]

CANDIDATE_HEADER = ["candidate", "recipe", "float layers", "size KiB", "p50 ms", "metric", "drop", "budget"]


def short_layer_name(node: str) -> str:
    """A readable layer name: the first ';'-separated part of a fused op's tensor name."""
    return node.split(";")[0]


def candidate_rows(report: Mapping[str, Any]) -> list[list[str]]:
    """One row per candidate, in CANDIDATE_HEADER's order."""
    rows = []
    for c in report["candidates"]:
        mark = ("**winner**" if c["name"] == report["winner"] else "baseline" if c["stage"] == "baseline"
                else "in" if c["in_budget"] else "out")
        floats = ", ".join(short_layer_name(n) for n in c["float_nodes"]) or "-"
        recipe = c["recipe"] + (f" ({c['technique']})" if c.get("technique") else "")
        rows.append([c["name"], recipe, f"{c['float_layers']} ({floats})" if c["float_layers"] else "0",
                     fmt_num(c["size_bytes"] and c["size_bytes"] / 1024, ".1f"), fmt_num(c["latency_ms"], ".3f"),
                     fmt_num(c["value"], ".2f"), fmt_num(c["drop"], "+.2f"), c["error"] or mark])
    return rows


def _data_line(data: Mapping[str, Any]) -> str:
    if data.get("note"):
        return str(data["note"])
    return (f"{data['calibration_samples']} calibration samples from {data['calibration']}, "
            f"{data['evaluation_samples']} evaluation samples from {data['data']} (no shared file)")


def _verdict(report: Mapping[str, Any]) -> str:
    if report["winner"]:
        return f"Winner: {report['winner']}"
    return f"No candidate meets the budget; closest: {report['closest']}"


def _ranking_rows(report: Mapping[str, Any], top: int = 8) -> list[list[str]]:
    """The ops the int8 search ranked, by the ranking-subset loss when each alone is reverted to float."""
    chosen = set(report["search"].get("float_nodes") or ())
    return [[short_layer_name(name), fmt_num(loss, ".4g"), "float" if name in chosen else ""]
            for name, loss in (report["search"].get("ranking") or [])[:top]]


_RANKING_HEADER = ["op", "loss reverted alone", "kept float"]


def _search_line(s: Mapping[str, Any]) -> str:
    technique = f"; technique {s['technique']} (lowest ranking loss)" if s.get("technique") else ""
    return (f"int8 search: {'ran' if s['ran'] else 'not needed'}{technique}; {s['evaluations']} of at most "
            f"{s['max_evals']} mixed candidates measured" + (f" ({s['stopped']})" if s.get("stopped") else ""))


def render_markdown(report: Mapping[str, Any]) -> str:
    m = report["metric"]
    lines = [f"# hub2lite optimize: {report['source'].get('source', '')}", "",
             f"Metric **{m['name']}** on output `{m['output']}`: the original scores {m['reference']:.2f}; "
             f"budget: drop <= {m['max_drop']} (floor {m['floor']:.2f}). Objective: {report['config']['objective']}.",
             "", f"Data: {_data_line(report['data'])}", ""]
    if report["winner"]:
        lines.append(f"**Winner: {report['winner']}** -> `{report['output']['path']}`")
    else:
        lines.append(f"**No candidate meets the budget.** Closest: {report['closest']}")
    s = report["search"]
    lines += ["", _search_line(s), ""]
    lines.append(markdown_table(CANDIDATE_HEADER, candidate_rows(report)))
    if s.get("ranking"):
        lines += ["", "Ops by the effect of reverting each to float (ranking subset, lower loss = more sensitive "
                  "in int8):", ""]
        lines.append(markdown_table(_RANKING_HEADER, _ranking_rows(report)))
    for note in report["notes"]:
        lines.append(f"\nNote: {note}")
    return "\n".join(lines) + "\n"


def render_chart_svg(report: Mapping[str, Any]) -> str:
    """Size (x) against the metric (y); latency in each label; green inside the budget; the winner a star.
    Returns the <svg> element for inlining."""
    with chart.figure(7.5, 4.5) as fig:
        ax = fig.add_subplot()
        for c in report["candidates"]:
            if c["value"] is None:
                continue
            color = "#1a7f37" if c["in_budget"] else "#cf222e"
            size = c["size_bytes"] / 1024
            ax.scatter([size], [c["value"]], color=color, s=60 if c["name"] == report["winner"] else 30,
                       marker="*" if c["name"] == report["winner"] else "o", zorder=3)
            label = c["name"] + (f"\n{c['latency_ms']:.3f} ms" if c["latency_ms"] is not None else "")
            ax.annotate(label, (size, c["value"]), textcoords="offset points", xytext=(5, 4), fontsize=7)
        ax.axhline(report["metric"]["floor"], color="#888", linestyle="--", linewidth=1)
        ax.set_xlabel("size (KiB)")
        ax.set_ylabel(f"{report['metric']['name']} (reference {report['metric']['reference']:.2f})")
        ax.set_title("size - latency - accuracy (green: inside the budget; dashed: the floor)")
        ax.grid(alpha=0.3)
        return chart.to_svg(fig, bbox_inches="tight")


def render_html(report: Mapping[str, Any]) -> str:
    """A self-contained page: the shared CSS, an inline SVG chart, the candidates and the Markdown report."""
    table = html_table(CANDIDATE_HEADER, candidate_rows(report), table_id="candidates")
    layers = ""
    if report["search"].get("ranking"):
        layers = ("<h2>int8 ops by sensitivity</h2><p class=muted>loss on the ranking subset with the op alone "
                  "reverted to float</p>" + html_table(_RANKING_HEADER, _ranking_rows(report)))
    body = (f"<h1>hub2lite optimize</h1><p class=muted>{escape(report['source'].get('source', ''))}</p>"
            f"<div class=rec><b>{escape(_verdict(report))}</b></div>"
            f"<figure id=chart>{render_chart_svg(report)}</figure><h2>Candidates</h2>{table}{layers}"
            f"<details><summary>Markdown report</summary><pre>{escape(render_markdown(report))}</pre></details>")
    return page(f"hub2lite optimize — {report['source'].get('source', '')}", body)
