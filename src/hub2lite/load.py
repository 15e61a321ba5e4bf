"""Load a resolved model into callable entry points with known input/output specs.

Every entry point is called the same way: `entry(feed) -> {output_name: tensor}`, whether it is a
SavedModel signature (keyword inputs, dict outputs) or a traced `__call__` on a SavedModel that has
no serving signature (positional inputs, tensor or tuple outputs).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .errors import LoadError
from .loaded import CALL, EntryPoint, LoadedModel, LoadOptions, outputs_as_dict, tensor_spec_from_tf
from .loaders.frozen import load_checkpoint, load_frozen_graph
from .loaders.keras import UNSAFE_KERAS_LAYERS, keras_file_facts, load_keras
from .loaders.savedmodel import load_saved_model
from .resolve import ResolvedModel
from .specs import ModelFormat

__all__ = ["LoadedModel", "EntryPoint", "LoadOptions", "load", "detect_format", "tensor_spec_from_tf",
           "outputs_as_dict", "keras_file_facts", "UNSAFE_KERAS_LAYERS", "CALL"]


def detect_format(path: str | os.PathLike[str]) -> ModelFormat:
    from .checkpoint import is_checkpoint

    p = Path(path)
    if p.suffix.lower() == ".meta" or (p.is_dir() and not (p / "saved_model.pb").exists() and is_checkpoint(p)):
        return ModelFormat.TF1_CHECKPOINT
    if p.is_dir():
        if (p / "tfhub_module.pb").exists():
            return ModelFormat.TF1_HUB
        if (p / "saved_model.pb").exists() or (p / "saved_model.pbtxt").exists():
            return ModelFormat.SAVED_MODEL
        raise LoadError(
            f"folder {str(p)!r} is not a SavedModel: it has no saved_model.pb",
            hint="point at the folder that contains saved_model.pb (and variables/)",
        )
    suffix = p.suffix.lower()
    if suffix in (".keras", ".h5", ".hdf5"):
        return ModelFormat.KERAS
    if suffix == ".pb":
        return ModelFormat.FROZEN_GRAPH
    if suffix == ".tflite":
        raise LoadError(f"{str(p)!r} is already a TFLite model", hint="use `hub2lite validate` or `hub2lite bench` on it")
    raise LoadError(
        f"cannot tell what kind of model {str(p)!r} is",
        hint="give a SavedModel folder, a .tar.gz of one, a .keras/.h5 file or a frozen .pb graph",
    )


Loader = Callable[[ResolvedModel, ModelFormat, "tuple[str, ...] | None", LoadOptions], LoadedModel]

_LOADERS: dict[ModelFormat, Loader] = {
    ModelFormat.SAVED_MODEL: load_saved_model,
    ModelFormat.TF1_HUB: load_saved_model,
    ModelFormat.KERAS: load_keras,
    ModelFormat.FROZEN_GRAPH: load_frozen_graph,
    ModelFormat.TF1_CHECKPOINT: load_checkpoint,
}


def load(resolved: ResolvedModel, *, tags: tuple[str, ...] | None = None,
         options: LoadOptions | None = None) -> LoadedModel:
    """Load `resolved` (see `resolve`). Raises `LoadError` for anything that is not a loadable model."""
    fmt = detect_format(resolved.path)
    return _LOADERS[fmt](resolved, fmt, tags, options or LoadOptions())
