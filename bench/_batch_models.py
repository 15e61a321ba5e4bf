"""Small models for bench/bench_batch.py and bench/batch_catalog.py, built with the test suite's own builders
(tests/models.py, tests/models_families.py) and cached in $HUB2LITE_BENCH_CACHE/batch-fixtures (default
~/.cache/hub2lite/bench), keyed by the builder file and the TensorFlow version."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"


def cache_dir() -> Path:
    base = Path(os.environ.get("HUB2LITE_BENCH_CACHE", Path.home() / ".cache" / "hub2lite" / "bench"))
    folder = base / "batch-fixtures"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _build(name: str, builder: Callable[[Path], None], source: Path) -> Path:
    key = hashlib.sha256(importlib.metadata.version("tensorflow").encode() + source.read_bytes()).hexdigest()[:12]
    dest = cache_dir() / f"{name}-{key}"
    if dest.exists():
        return dest
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    builder(tmp)
    tmp.rename(dest)
    return dest


def model(name: str) -> Path:
    """A model of tests/models.py (`simple`, `flex_ops`, ...), tests/models_families.py (`fam:audio`) or
    tests/models_split.py (`split:calibrated_classifier`): the folder, or the model file inside it for single-file
    formats."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    if name.startswith("fam:"):
        import models_families as mf

        fam = name[4:]
        if fam == "hub_keras_layer":
            inner = _build("fam-hub_embedder", mf.hub_embedder, TESTS / "models_families.py")
            folder = _build("fam-hub_keras_layer", lambda p: mf.hub_keras_layer(p, inner), TESTS / "models_families.py")
        else:
            folder = _build(f"fam-{fam}", mf.BUILDERS[fam], TESTS / "models_families.py")
        file = mf.FILE_OF.get(fam)
        return folder / file if file else folder
    if name.startswith("split:"):  # tests/models_split.py: ops nothing in TFLite can run
        import models_split

        return _build(f"split-{name[6:]}", models_split.BUILDERS[name[6:]], TESTS / "models_split.py")
    import models

    return _build(name, models.BUILDERS[name], TESTS / "models.py")
