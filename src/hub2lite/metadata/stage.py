"""The metadata stage: give a converted .tflite its metadata, from what hub2lite knows, in one call.

    embed_metadata(model bytes, name=..., scalings=..., labels_file=..., model_dir=..., family=..., ...)
        -> (new bytes, MetadataResult)

Input/output names and shapes are read from the .tflite itself; labels come from `labels_file` (`--labels`), else
from a labels file in the hub model's assets (`model_dir`), else there are none (normalization and descriptions
are still written). The result records where the labels came from and what MediaPipe Tasks cannot use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..accuracy import load_labels
from ..datasets import ImageScaling
from .describe import describe_model, find_asset_labels
from .spec import ModelMetadata, mediapipe_notes
from .writer import tensor_specs, write_metadata

__all__ = ["MetadataResult", "embed_metadata"]


@dataclass(frozen=True)
class MetadataResult:
    metadata: ModelMetadata
    labels_source: str | None  # "--labels FILE", "hub assets: PATH", or None
    notes: tuple[str, ...]  # what MediaPipe Tasks cannot use, and label notes

    def to_dict(self) -> dict[str, Any]:
        return {"written": True, **self.metadata.summary(), "labels_source": self.labels_source,
                "notes": list(self.notes)}


def embed_metadata(model: bytes, *, name: str, scalings: Mapping[str, ImageScaling] | None = None,
                   labels_file: str | os.PathLike[str] | None = None, model_dir: str | os.PathLike[str] | None = None,
                   family: str | None = None, validated_kinds: Mapping[str, str] | None = None,
                   probabilities: Mapping[str, bool] | None = None, provenance: Mapping[str, Any] | None = None,
                   version: str = "", description: str = "") -> tuple[bytes, MetadataResult]:
    """`model` with TFLite metadata written into it, and what was written."""
    inputs, outputs = tensor_specs(model)
    labels = None
    source = None
    if labels_file is not None:
        labels, source = load_labels(labels_file), f"--labels {labels_file}"
    else:
        classes = [o.shape[-1] for o in outputs if o.shape and len(o.shape) == 2 and o.shape[-1]]
        found = find_asset_labels(Path(model_dir) if model_dir else None, classes[0] if len(classes) == 1 else None)
        if found is not None:
            labels, source = load_labels(found), f"hub assets: {found}"
    meta = describe_model(name=name, inputs=inputs, outputs=outputs, scalings=scalings, labels=labels, family=family,
                          validated_kinds=validated_kinds, probabilities=probabilities, provenance=provenance,
                          version=version, description=description)
    notes = list(mediapipe_notes(meta, {s.name: s.dtype for s in inputs}))
    if labels is None:
        notes.append("no labels: none given with --labels and none found in the model's assets; normalization and "
                     "descriptions are written")
    return write_metadata(model, meta), MetadataResult(meta, source, tuple(notes))
