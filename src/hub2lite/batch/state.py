"""The batch state file (DIR/state.json): which models finished, keyed by source + options + hub2lite version.

Written by the driver alone, atomically, after every model that finishes (and after its benchmarks), so a batch
stopped by Ctrl-C, a crash of the driver or a lost cluster resumes where it was: a rerun skips the models whose
key it holds (failed ones too, unless `retry_failed`), and `force` reruns everything.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._files import atomic_write_text
from ..errors import OutputError
from .manifest import ModelSpec

__all__ = ["job_key", "BatchState", "STATE_SCHEMA", "STATE_FILE"]

STATE_SCHEMA = "hub2lite.batch-state/1"
STATE_FILE = "state.json"


def _version() -> str:
    from .. import __version__

    return __version__


def job_key(spec: ModelSpec, *, version: str | None = None) -> str:
    """sha256 of the model's source, the options that decide its result, and the hub2lite version."""
    payload = {"source": spec.source, "options": spec.key_options(), "hub2lite": version or _version()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class BatchState:
    """The finished rows of a batch folder, by job key. Only the driver process touches it."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory) / STATE_FILE
        self.rows: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise OutputError(f"cannot read the batch state {str(self.path)!r}: {exc}",
                                  hint="delete it (every model reruns) or rerun with --force") from None
            if not isinstance(data, dict) or data.get("schema") != STATE_SCHEMA:
                raise OutputError(f"{str(self.path)!r} is not a hub2lite batch state ({STATE_SCHEMA})",
                                  hint="choose another -o folder, or --force to start it over")
            self.rows = dict(data.get("models") or {})

    def get(self, key: str) -> dict[str, Any] | None:
        return self.rows.get(key)

    def put(self, key: str, row: Mapping[str, Any]) -> None:
        self.rows[key] = dict(row)
        self.save()

    def clear(self) -> None:
        self.rows = {}
        self.save()

    def save(self) -> None:
        doc = {"schema": STATE_SCHEMA, "hub2lite": _version(), "models": self.rows}
        atomic_write_text(self.path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
