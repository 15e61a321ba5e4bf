"""`doctor`: what hub2lite runs on — package versions, the Flex runtime's state, where the caches are.

Reads installed package metadata (importlib.metadata) and the Flex runtime's marker file: it imports no
TensorFlow and starts no process, so it answers in well under a second.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from .flexruntime import FlexRuntimeStatus, runtime_disabled, runtime_status
from .resolve import default_cache_dir

__all__ = ["Diagnosis", "diagnose", "STACK_PACKAGES"]

#: The packages whose versions decide hub2lite's behaviour (conversion, loading, running).
STACK_PACKAGES = ("hub2lite", "tensorflow", "tf-keras", "keras", "tensorflow-hub", "ai-edge-litert", "numpy",
                  "protobuf", "ml-dtypes", "h5py")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class Diagnosis:
    python: str
    platform: str
    packages: dict[str, str | None]
    flex_runtime: FlexRuntimeStatus
    flex_runtime_disabled: bool
    caches: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "hub2lite.doctor/1", "python": self.python, "platform": self.platform,
                "packages": dict(self.packages), "flex_runtime": self.flex_runtime.to_dict(),
                "flex_runtime_disabled": self.flex_runtime_disabled, "caches": dict(self.caches)}

    def text(self) -> list[str]:
        lines = [f"python          {self.python} ({self.platform})"]
        for name, version in self.packages.items():
            lines.append(f"{name:<15} {version or 'not installed'}")
        fr = self.flex_runtime
        state = "ready" if fr.ready else f"not ready: {fr.reason}"
        if fr.ready and fr.build_seconds is not None:
            state += f" (built {fr.built_at} in {fr.build_seconds:.0f} s)"
        if self.flex_runtime_disabled:
            state += "; disabled by HUB2LITE_NO_FLEX_RUNTIME"
        lines.append(f"flex runtime    TensorFlow {fr.tensorflow}, Python {fr.python_version}: {state}")
        lines.append(f"                {fr.path}")
        if not fr.ready and not self.flex_runtime_disabled and "Python" not in fr.reason:
            lines.append("                set it up: hub2lite setup-flex (or it is built on first need)")
        for name, path in self.caches.items():
            lines.append(f"{name + ' cache':<15} {path}")
        return lines


def diagnose() -> Diagnosis:
    runtime = runtime_status()
    caches = {"hub": str(default_cache_dir()), "flex": str(Path(runtime.path).parent)}
    return Diagnosis(python=".".join(map(str, sys.version_info[:3])), platform=platform.platform(terse=True),
                     packages={name: _version(name) for name in STACK_PACKAGES}, flex_runtime=runtime,
                     flex_runtime_disabled=runtime_disabled(),
                     caches=caches)
