"""Every report hub2lite writes or prints, in one place (pure: no TensorFlow, no files):

    format.py    versions, sizes, milliseconds, percentages (shared)
    table.py     Markdown and HTML tables (shared)
    chart.py     matplotlib figures as inline SVG (shared)
    html.py      the self-contained HTML page and its CSS (shared)
    text.py      convert / inspect / validate: the convert report dict and text for the terminal
    analysis.py  a sweep's derived numbers: ratios, speed-ups, Pareto front, recommendation
    sweep.py     the sweep's report.md / report.html (table, two-panel chart, details)
    optimize.py  the optimize report's .md / .html (candidates, worst layers, size-vs-metric chart)

The text helpers are importable from here (`from hub2lite.report import convert_summary`)."""

from __future__ import annotations

from .text import (CONVERT_SCHEMA, calibration_text, convert_report, convert_summary, human_size, inspect_text,
                   validation_text, versions)

__all__ = ["versions", "convert_report", "convert_summary", "calibration_text", "inspect_text", "validation_text",
           "human_size", "CONVERT_SCHEMA"]
