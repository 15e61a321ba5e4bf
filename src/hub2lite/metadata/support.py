"""Where the TFLite metadata writer comes from: tflite-support 0.4.4, installed without its dependency pins.

tflite-support 0.4.4 (the last release, 2023) has wheels for Python 3.7-3.11 and declares protobuf < 4, which
current TensorFlow contradicts (2.18 ships protobuf 5, 2.21 needs >= 6.31). Its metadata writers need neither
protobuf nor the package's own `__init__` (which fails to import next to TensorFlow: `generic_type: cannot
initialize type "StatusCode"`): `tensorflow_lite_support.metadata.python.metadata_writers` imports and works. So
hub2lite installs the wheel with `pip install --no-deps` (`hub2lite setup-metadata`, also run by `make setup`),
caching the wheel under ~/.cache/hub2lite/wheels, and imports only the metadata modules.
"""

from __future__ import annotations

import glob
import importlib
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..errors import ConfigError

__all__ = ["TFLITE_SUPPORT_VERSION", "MetadataUnavailableError", "check_python", "metadata_support_available",
           "check_metadata_support",
           "load_tflite_support", "install_metadata_support", "InstallResult", "wheel_cache_dir"]

log = logging.getLogger(__name__)

TFLITE_SUPPORT_VERSION = "0.4.4"
#: Python versions tflite-support 0.4.4 publishes wheels for.
_PYTHONS = ((3, 7), (3, 8), (3, 9), (3, 10), (3, 11))
_SETUP_HINT = "run `hub2lite setup-metadata` (or `make setup`) once in this environment"
_PROBE = "from tensorflow_lite_support.metadata.python.metadata_writers import metadata_writer"


class MetadataUnavailableError(ConfigError):
    """The TFLite metadata writer/reader (tflite-support) is not installed or cannot be installed here."""


def check_python(version: tuple[int, ...] | None = None) -> None:
    """Raise MetadataUnavailableError when tflite-support 0.4.4 has no wheel for this Python (3.12+)."""
    major, minor = tuple(version or sys.version_info[:2])[:2]
    if (major, minor) not in _PYTHONS:
        raise MetadataUnavailableError(
            f"TFLite metadata needs tflite-support {TFLITE_SUPPORT_VERSION}, which has wheels for Python 3.7-3.11 "
            f"only; this is Python {major}.{minor}",
            hint="run hub2lite from a Python 3.11 (or older) environment to write metadata, or leave out --metadata")


def metadata_support_available() -> bool:
    """Whether the metadata writer modules import in this process."""
    try:
        importlib.import_module("tensorflow_lite_support.metadata.python.metadata_writers.metadata_writer")
    except ImportError:
        return False
    return True


def check_metadata_support() -> None:
    """Raise MetadataUnavailableError (one line naming the fix) unless --metadata can work here; imports nothing
    heavy (tflite-support's metadata module would import TensorFlow), so it runs before any work."""
    import importlib.util

    check_python()
    try:
        found = importlib.util.find_spec(
            "tensorflow_lite_support.metadata.python.metadata_writers.metadata_writer") is not None
    except ImportError:
        found = False
    if not found:
        raise MetadataUnavailableError(f"--metadata needs tflite-support {TFLITE_SUPPORT_VERSION}, which is not "
                                       "installed", hint=_SETUP_HINT)


def load_tflite_support() -> Any:
    """The tflite-support modules hub2lite uses, as one namespace; raises MetadataUnavailableError if missing.

    Fields: metadata (populator/displayer), metadata_fb (metadata schema), schema_fb (model schema),
    writer (MetadataWriter), info (metadata_info), writer_utils.
    """
    check_python()
    try:
        from tensorflow_lite_support.metadata import metadata_schema_py_generated as metadata_fb
        from tensorflow_lite_support.metadata import schema_py_generated as schema_fb
        from tensorflow_lite_support.metadata.python import metadata
        from tensorflow_lite_support.metadata.python.metadata_writers import metadata_info, metadata_writer, writer_utils
    except ImportError as exc:
        raise MetadataUnavailableError(
            f"TFLite metadata needs tflite-support {TFLITE_SUPPORT_VERSION}, which is not installed ({exc})",
            hint=_SETUP_HINT) from exc
    return SimpleNamespace(metadata=metadata, metadata_fb=metadata_fb, schema_fb=schema_fb,
                           writer=metadata_writer.MetadataWriter, info=metadata_info, writer_utils=writer_utils)


def wheel_cache_dir() -> Path:
    """~/.cache/hub2lite/wheels (or $HUB2LITE_CACHE/wheels)."""
    base = os.environ.get("HUB2LITE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "hub2lite")
    return Path(base) / "wheels"


@dataclass(frozen=True)
class InstallResult:
    python: str
    python_version: str
    version: str
    wheel: str
    already_installed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"python": self.python, "python_version": self.python_version, "version": self.version,
                "wheel": self.wheel, "already_installed": self.already_installed}


def _run(cmd: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    log.info("running %s", " ".join(cmd))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln.strip() for ln in (proc.stderr + "\n" + proc.stdout).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    return (errors or lines or ["(no output)"])[-1][:300]


def _python_version(python: str) -> tuple[int, int]:
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        return sys.version_info[0], sys.version_info[1]
    proc = _run([python, "-c", "import sys; print(*sys.version_info[:2])"], timeout=60)
    if proc.returncode != 0:
        raise ConfigError(f"cannot run Python interpreter {python!r}: {_last_line(proc)}",
                          hint="give the python of the environment hub2lite is installed in")
    major, minor = (int(v) for v in proc.stdout.split()[:2])
    return major, minor


def _installed_version(python: str) -> str | None:
    """tflite-support's version in `python`'s environment when its metadata writers import there, else None."""
    code = (f"{_PROBE}\nimport importlib.metadata as m\nprint(m.version('tflite-support'))")
    proc = _run([python, "-c", code], timeout=120)
    return proc.stdout.strip().splitlines()[-1] if proc.returncode == 0 and proc.stdout.strip() else None


def install_metadata_support(python: str | None = None, *, force: bool = False,
                             cache_dir: str | os.PathLike[str] | None = None) -> InstallResult:
    """Install tflite-support 0.4.4 into `python`'s environment (default: this one) with `pip --no-deps`.

    The wheel is downloaded once into the wheel cache and installed from there; a working install is left alone
    unless `force`. Raises MetadataUnavailableError naming the limit on Python 3.12+, or pip's error.
    """
    python = python or sys.executable
    major, minor = _python_version(python)
    check_python((major, minor))
    shown = f"{major}.{minor}"
    if not force:
        found = _installed_version(python)
        if found == TFLITE_SUPPORT_VERSION:
            return InstallResult(python, shown, found, "", True)
    cache = Path(cache_dir) if cache_dir else wheel_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    pattern = str(cache / f"tflite_support-{TFLITE_SUPPORT_VERSION}-cp{major}{minor}-*.whl")
    wheels = sorted(glob.glob(pattern))
    if not wheels:
        proc = _run([python, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
                     f"tflite-support=={TFLITE_SUPPORT_VERSION}", "-d", str(cache)], timeout=900)
        wheels = sorted(glob.glob(pattern))
        if proc.returncode != 0 or not wheels:
            raise MetadataUnavailableError(
                f"cannot download tflite-support {TFLITE_SUPPORT_VERSION} for Python {shown}: {_last_line(proc)}",
                hint="check access to PyPI; the wheel is cached in " + str(cache))
    proc = _run([python, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "-q",
                 *(["--force-reinstall"] if force else []), wheels[-1]], timeout=900)
    if proc.returncode != 0:
        raise MetadataUnavailableError(f"pip could not install {Path(wheels[-1]).name}: {_last_line(proc)}",
                                       hint="rerun with --debug for pip's output")
    found = _installed_version(python)
    if found != TFLITE_SUPPORT_VERSION:
        raise MetadataUnavailableError(
            f"tflite-support {TFLITE_SUPPORT_VERSION} installed, but its metadata writers do not import in {python}",
            hint="rerun `hub2lite setup-metadata --force`; check `python -c '" + _PROBE + "'`")
    importlib.invalidate_caches()
    return InstallResult(python, shown, found, wheels[-1], False)
