"""The self-contained HTML page every report uses: inline CSS, no external requests."""

from __future__ import annotations

from .table import escape

__all__ = ["CSS", "page"]

CSS = """
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


def page(title: str, body: str, *, script: str | None = None) -> str:
    """A complete HTML document: `body` is trusted HTML, `title` is escaped; `script` runs after the body."""
    tail = f"<script>{script}</script>\n" if script else ""
    return f"""<!DOCTYPE html>
<html lang=en><head><meta charset=utf-8><meta name=viewport content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body>
{body}
{tail}</body></html>
"""
