"""Number and size formatting shared by every report (pure; no TensorFlow)."""

from __future__ import annotations

import importlib.metadata as _md
import platform
from typing import Any

__all__ = ["versions", "human_size", "fmt_num", "fmt_ms", "fmt_pct", "fmt_x", "fmt_quality"]


def versions() -> dict[str, str | None]:
    """Versions of Python and of the packages a report's numbers depend on (None: not installed)."""
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


def fmt_num(x: Any, spec: str = ".3g", missing: str = "-") -> str:
    return missing if x is None else format(x, spec)


def fmt_ms(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.3f} ms" if x < 10 else f"{x:.1f} ms"


def fmt_pct(x: float | None, missing: str = "—") -> str:
    """A fraction as a percentage with one decimal (0.123 -> 12.3%)."""
    return missing if x is None else f"{100 * x:.1f}%"


def fmt_x(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}×"


def fmt_quality(x: float | None, metric: str) -> str:
    """A quality figure: cosine with 4 decimals, fractions (accuracy, agreement) as percentages."""
    if x is None:
        return "—"
    return f"{x:.4f}" if metric == "cosine" else fmt_pct(x)
