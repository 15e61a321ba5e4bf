"""matplotlib charts as inline SVG, shared by the sweep and optimize reports (matplotlib only, imported lazily)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["figure", "to_svg", "plain_log_axis"]


@contextmanager
def figure(width: float, height: float) -> Iterator[Any]:
    """A matplotlib Figure (no pyplot, no display) whose SVG keeps text as text and is reproducible."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "hub2lite", "font.size": 9}):
        yield Figure(figsize=(width, height))


def to_svg(fig: Any, **savefig: Any) -> str:
    """The figure's <svg> element (no XML prolog, no date) for inlining into HTML."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, **savefig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def plain_log_axis(axis: Any) -> None:
    """Ticks at 1, 2, 5 x 10^k labelled as plain numbers on a log-scale axis."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))
    axis.set_minor_formatter(NullFormatter())
