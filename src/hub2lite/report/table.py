"""Tables shared by the reports: Markdown (report.md, the terminal) and HTML (report.html)."""

from __future__ import annotations

import html
from collections.abc import Container, Sequence
from typing import Any

__all__ = ["md_cell", "markdown_table", "escape", "html_table", "kv_table"]


def md_cell(text: Any) -> str:
    """One Markdown table cell: whitespace collapsed to single spaces, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def escape(x: Any) -> str:
    """HTML-escaped text; None shows as an em dash."""
    return html.escape("—" if x is None else str(x))


def html_table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, table_id: str | None = None,
               row_attrs: Sequence[str] | None = None, text_columns: Container[int] = (0,)) -> str:
    """An HTML table; `row_attrs[i]` is inserted into row i's <tr> (e.g. " class='pass'"), columns in
    `text_columns` are left-aligned text."""
    body = []
    for i, row in enumerate(rows):
        attrs = row_attrs[i] if row_attrs is not None else ""
        cells = "".join(f"<td{' class=text' if j in text_columns else ''}>{escape(c)}</td>" for j, c in enumerate(row))
        body.append(f"<tr{attrs}>{cells}</tr>")
    ident = f" id={table_id}" if table_id else ""
    return (f"<table{ident}><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")


def kv_table(pairs: Sequence[tuple[str, Any]]) -> str:
    """A two-column HTML table of labels and values."""
    return "<table>" + "".join(f"<tr><th class=text>{escape(k)}</th><td class=text>{escape(v)}</td></tr>"
                               for k, v in pairs) + "</table>"
