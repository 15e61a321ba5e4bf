"""The built-in demo: a real model, offline, through the same path a hub handle takes.

No hub is reachable here, so the demo trains a small CNN on scikit-learn's bundled handwritten
digits (1,797 real 8x8 scans), exports it as a TF2 SavedModel (Keras 3 `model.export`), packs it
as a hub-format archive, serves it from a `LocalHub` on 127.0.0.1, and runs
`hub2lite convert http://127.0.0.1:PORT/hub2lite/digits-cnn/1` — tensorflow_hub's real resolver,
cache and all — then validates the .tflite on held-out digits and measures labeled accuracy.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write_bytes
from .localhub import LocalHub, pack_hub_archive
from .resolve import default_cache_dir

__all__ = ["digits_data", "build_digits_model", "DemoResult", "run_demo", "DEMO_HANDLE_PATH"]

log = logging.getLogger(__name__)

DEMO_HANDLE_PATH = "hub2lite/digits-cnn/1"
_DEMO_VERSION = "1"


def digits_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's digits as float32 images [N, 8, 8, 1] in [0, 1]; a seeded 80/20 split."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    y = d.target.astype(np.int64)
    idx = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    return x[idx[:cut]], y[idx[:cut]], x[idx[cut:]], y[idx[cut:]]


def build_digits_model(folder: Path, *, seed: int = 0, epochs: int = 12) -> Path:
    """Train the demo CNN and export it as a SavedModel into `folder` (skipped if already there)."""
    if (folder / "saved_model.pb").exists():
        return folder
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    x_train, y_train, _, _ = digits_data(seed)
    model = keras.Sequential([
        keras.Input((8, 8, 1), name="image"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax", name="probabilities"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    model.export(str(tmp), verbose=False)  # Keras 3: a TF2 SavedModel with serving_default
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    tmp.rename(folder)
    del tf
    return folder


@dataclass(frozen=True)
class DemoResult:
    handle: str
    inspect: Any  # inspect.ModelInfo
    convert: Any  # pipeline.ConvertResult
    accuracy_original: float
    accuracy_tflite: float
    test_samples: int


def run_demo(out_dir: str | Path, *, force: bool = False, cache_dir: str | None = None,
             progress: Any = lambda _: None) -> DemoResult:
    from .convert import ConvertConfig
    from .pipeline import ConvertJob, ValidateConfig, run_convert, run_inspect

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    work = cache.parent / "demo" / f"v{_DEMO_VERSION}"
    work.mkdir(parents=True, exist_ok=True)
    progress("training the demo model on scikit-learn digits")
    model_dir = build_digits_model(work / "digits-savedmodel")
    archive = work / "digits-cnn.tar.gz"
    if not archive.exists():
        pack_hub_archive(model_dir, archive)
    _, _, x_test, y_test = digits_data()
    data = out / "digits-test.npz"
    import io

    buf = io.BytesIO()
    np.savez(buf, x=x_test, y=y_test)
    atomic_write_bytes(data, buf.getvalue())
    # a fresh cache entry per archive content, so the resolver really downloads on first use
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:12]
    with LocalHub() as hub:
        handle = hub.add(f"{DEMO_HANDLE_PATH}-{digest}", archive)
        progress("inspecting")
        info = run_inspect(handle, cache_dir=str(cache))
        job = ConvertJob(source=handle, output=str(out / "digits.tflite"), convert=ConvertConfig(),
                         validate=ValidateConfig(samples=len(x_test), data=str(data)), force=force,
                         cache_dir=str(cache))
        result = run_convert(job, progress=progress)
    accuracy = result.validation.accuracy if result.validation is not None else None
    if accuracy is None:  # the test set carries labels, so validation always measures accuracy
        raise RuntimeError("the demo's validation measured no labeled accuracy")
    return DemoResult(handle, info, result, accuracy.top1_original, accuracy.top1_tflite, accuracy.samples)
