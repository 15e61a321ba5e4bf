"""The batch catalog as text (terminal), catalog.md and a self-contained catalog.html (schema
`hub2lite.catalog/1`, built by hub2lite.batch.catalog). The Markdown and HTML tables come from the same rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .format import fmt_ms, fmt_pct, fmt_x, human_size
from .html import page
from .table import escape, html_table, markdown_table

__all__ = ["catalog_rows", "op_rows", "summary_line", "summary_text", "render_markdown", "render_html",
           "VARIANT_HEADER", "OP_HEADER"]

VARIANT_HEADER = ("model", "mode", "status", "ops outside TFLite builtins / failure", "size", "size ratio", "p50",
                  "speed-up", "validation", "agreement / accuracy")
OP_HEADER = ("op", "kind", "models", "variants")


def _status(m: Mapping[str, Any], v: Mapping[str, Any] | None) -> str:
    if v is None:
        return m["status"]
    return v["status"]


def _detail(m: Mapping[str, Any], v: Mapping[str, Any] | None) -> str:
    if v is None:  # a model with no variant row: failed (or skipped) before any mode
        return f"{m.get('stage') or ''}: {str(m.get('error') or '').split(' (fix: ')[0]}".strip(": ")
    if v["status"] == "failed":  # the fix hint is in the Failures list, not in the table
        return f"{v.get('stage')}: {str(v.get('error')).split(' (fix: ')[0]}"
    parts = []
    if v.get("split"):
        sp = v["split"]
        stages = " + ".join(f"{s['dir']}/" for s in (sp.get("stages") or {}).values())
        cut = f"cut out {', '.join(sp['cut_ops'])}" if sp.get("cut_ops") else "cut by hand"
        parts.append(f"{cut} ({sp.get('ops_outside_body')} ops in {stages or 'TensorFlow'})")
    if v.get("custom_ops"):
        parts.append(f"custom ops {', '.join(v['custom_ops'])}")
    if v.get("select_ops"):
        parts.append(", ".join(v["select_ops"]))
    return "; ".join(parts)


def _verdict(v: Mapping[str, Any] | None) -> str:
    if v is None:
        return "not run"
    val = v.get("validation") or {}
    verdict = val.get("verdict", "not run")
    if verdict == "passed":
        return "PASS"
    if verdict == "failed":
        return "FAIL"
    return f"not run ({val.get('why')})" if val.get("why") and v["status"] != "failed" else "not run"


def _quality(v: Mapping[str, Any] | None) -> str:
    if v is None:
        return "—"
    val = v.get("validation") or {}
    if val.get("accuracy") is not None:
        return f"accuracy {fmt_pct(val['accuracy'])} (original {fmt_pct(val.get('original_accuracy'))})"
    if val.get("top1_agreement") is not None:
        return f"top-1 {fmt_pct(val['top1_agreement'])}"
    if val.get("cosine") is not None:
        return f"cosine {val['cosine']:.5f}"
    return "—"


def _p50(v: Mapping[str, Any] | None) -> str:
    if v is None:
        return "—"
    if (v.get("bench") or {}).get("error"):
        return "bench failed"
    if (v.get("bench") or {}).get("not_run"):
        return f"not timed ({v['bench']['not_run']})"
    return fmt_ms(v.get("p50_ms"))


def catalog_rows(catalog: Mapping[str, Any]) -> list[list[str]]:
    """One row per model x mode (a model that failed before any mode: one row)."""
    rows = []
    for m in catalog["models"]:
        for v in m["variants"] or [None]:
            rows.append([m["name"], v["mode"] if v else "—", _status(m, v), _detail(m, v),
                         human_size(v["size_bytes"]) if v and v.get("size_bytes") else "—",
                         fmt_x(v.get("size_ratio")) if v else "—", _p50(v),
                         fmt_x(v.get("speedup")) if v else "—", _verdict(v), _quality(v)])
    return rows


OP_KINDS = {"select": "forced Select TF ops", "cut": "cut out (runs in TensorFlow)",
            "custom": "kept as a custom op (app kernel)", "unsupported": "no kernel (failed)"}


def op_rows(catalog: Mapping[str, Any]) -> list[list[str]]:
    return [[o["op"], OP_KINDS.get(o["kind"], o["kind"]), ", ".join(o["models"]), str(o["variants"])]
            for o in catalog["ops"]]


def summary_line(catalog: Mapping[str, Any]) -> str:
    s = catalog["summary"]
    val = s["validation"]
    return (f"{s['models']} models: {s['ok']} ok, {s['failed']} failed, {s['skipped']} skipped; {s['variants']} "
            f"variants: {s['builtins']} builtins, {s['select_tf_ops']} Select TF ops, {s.get('split', 0)} split, "
            f"{s.get('custom_ops', 0)} custom ops, {s['variants_failed']} failed; "
            f"validation: {val['passed']} passed, {val['failed']} failed, {val['not run']} not run")


def _failures(catalog: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Failed models, and variants whose conversion or benchmark failed, with why."""
    out = []
    for m in catalog["models"]:
        if m["status"] == "failed":
            out.append((m["name"], f"{m.get('stage')}: {m.get('error')}"))
            continue
        for v in m["variants"]:
            if v["status"] == "failed":
                out.append((f"{m['name']} {v['mode']}", f"{v.get('stage')}: {v.get('error')}"))
            elif (v.get("bench") or {}).get("error"):
                out.append((f"{m['name']} {v['mode']}", f"benchmark: {v['bench']['error']}"))
    return out


def summary_text(catalog: Mapping[str, Any]) -> str:
    """What the terminal shows: the table, the failures, the summary."""
    lines = [markdown_table(VARIANT_HEADER, catalog_rows(catalog)), ""]
    if catalog["ops"]:
        lines += [markdown_table(OP_HEADER, op_rows(catalog)), ""]
    lines.append(summary_line(catalog))
    if catalog.get("interrupted"):
        lines.append("interrupted: skipped models did not run (rerun the command to resume)")
    return "\n".join(lines)


def render_markdown(catalog: Mapping[str, Any]) -> str:
    out = ["# hub2lite catalog", "", summary_line(catalog), "",
           f"hub2lite {catalog['versions'].get('hub2lite')}, TensorFlow {catalog['versions'].get('tensorflow')}, "
           f"created {catalog['created']}. Size ratio and speed-up are relative to the same model's float32 variant.",
           "", "## Models × modes", "", markdown_table(VARIANT_HEADER, catalog_rows(catalog)), ""]
    if catalog["ops"]:
        out += ["## Ops outside TFLite's builtins: Select TF ops, cut out, custom, or no kernel", "", markdown_table(OP_HEADER, op_rows(catalog)),
                ""]
    failures = _failures(catalog)
    if failures:
        out += ["## Failures", "", *[f"- **{n}**: {why}" for n, why in failures], ""]
    return "\n".join(out)


def _row_class(row: Sequence[str]) -> str:
    if row[2] == "failed":
        return " class=fail"
    return " class=pass" if row[8] == "PASS" else ""


def render_html(catalog: Mapping[str, Any]) -> str:
    """One self-contained page: summary, the models x modes table, the op table, failures with their reasons."""
    rows = catalog_rows(catalog)
    body = [f"<h1>hub2lite catalog</h1><p>{escape(summary_line(catalog))}</p>",
            f"<p class=muted>hub2lite {escape(catalog['versions'].get('hub2lite'))}, TensorFlow "
            f"{escape(catalog['versions'].get('tensorflow'))}, created {escape(catalog['created'])}. Size ratio and "
            f"speed-up are relative to the same model's float32 variant.</p>",
            "<h2>Models × modes</h2>",
            html_table(VARIANT_HEADER, rows, table_id="catalog", row_attrs=[_row_class(r) for r in rows],
                       text_columns=(0, 1, 2, 3, 8, 9))]
    if catalog["ops"]:
        body += ["<h2>Ops outside TFLite's builtins: Select TF ops, cut out, custom, or no kernel</h2>",
                 html_table(OP_HEADER, op_rows(catalog), text_columns=(0, 1, 2))]
    failures = _failures(catalog)
    if failures:
        body.append("<h2>Failures</h2>")
        body += [f"<details><summary class=err>{escape(n)}</summary><pre>{escape(why)}</pre></details>"
                 for n, why in failures]
    return page("hub2lite catalog", "\n".join(body))
