"""Session fixtures: tiny models in real hub formats, built once and cached on disk.

The cache lives in `.fixtures/<key>/` at the repo root (or $HUB2LITE_FIXTURE_CACHE); the key hashes
the builder sources and the TensorFlow version, so editing a builder rebuilds only what changed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hub2lite.localhub import LocalHub, pack_hub_archive

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _cache_root() -> Path:
    base = Path(os.environ.get("HUB2LITE_FIXTURE_CACHE", ROOT / ".fixtures"))
    base.mkdir(parents=True, exist_ok=True)
    return base


def _key(*sources: Path) -> str:
    h = hashlib.sha256(importlib.metadata.version("tensorflow").encode())
    for src in sources:
        h.update(src.read_bytes())
    return h.hexdigest()[:16]


def cached_build(name: str, builder: Callable[[Path], None], *sources: Path) -> Path:
    """Build `name` with `builder(path)` once per cache key; atomic (tmp dir + rename)."""
    dest = _cache_root() / f"{name}-{_key(*sources)}"
    if dest.exists():
        return dest
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    builder(tmp)
    try:
        tmp.rename(dest)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another process built it first
    return dest


MODELS_PY = Path(__file__).with_name("models.py")


@pytest.fixture(scope="session")
def model_path() -> Callable[[str], Path]:
    """model_path('simple') -> folder of that SavedModel (see tests/models.py)."""
    from models import BUILDERS

    def get(name: str) -> Path:
        return cached_build(name, BUILDERS[name], MODELS_PY)

    return get


MODELS_SPLIT_PY = Path(__file__).with_name("models_split.py")


@pytest.fixture(scope="session")
def split_model() -> Callable[[str], Path]:
    """split_model('calibrated_classifier') -> folder of that SavedModel with ops nothing in TFLite runs
    (see tests/models_split.py)."""
    from models_split import BUILDERS

    def get(name: str) -> Path:
        return cached_build(name, BUILDERS[name], MODELS_SPLIT_PY)

    return get


@pytest.fixture(scope="session")
def archive_of(model_path: Callable[[str], Path]) -> Callable[[str], Path]:
    """archive_of('simple') -> hub-format .tar.gz of that model."""

    def get(name: str) -> Path:
        folder = model_path(name)
        archive = folder.with_name(folder.name + ".tar.gz")
        if not archive.exists():
            pack_hub_archive(folder, archive)
        return archive

    return get


@pytest.fixture(scope="session")
def local_hub() -> Iterator[LocalHub]:
    with LocalHub() as hub:
        yield hub


@pytest.fixture()
def hub_cache(tmp_path: Path) -> Path:
    """A fresh, empty TFHUB cache folder per test."""
    return tmp_path / "hub-cache"


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out[-2000:]!r}, err={self.err[-2000:]!r})"


@pytest.fixture()
def cli() -> Callable[..., CliResult]:
    """cli('convert', src, '-o', out) runs hub2lite in-process and returns code/out/err."""
    import io

    from hub2lite.cli import main

    def run(*argv: str | os.PathLike[str]) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        code = main([os.fspath(a) for a in argv], out=out, err=err)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


DEMO_PY = ROOT / "src" / "hub2lite" / "demo.py"


@pytest.fixture(scope="session")
def digits_model() -> Path:
    """A real classifier: the demo CNN trained on scikit-learn's digits (input 'image' float32[?,8,8,1] in
    [0,1], output 'output_0' softmax[?,10]); ~99% held-out accuracy. Built once per cache key."""
    from hub2lite.demo import build_digits_model

    return cached_build("digits", build_digits_model, DEMO_PY)


@pytest.fixture(scope="session")
def digits_split():
    """(x_train, y_train, x_test, y_test) of scikit-learn's digits, the split the digits model was trained on."""
    from hub2lite.demo import digits_data

    return digits_data()
