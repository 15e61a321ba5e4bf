"""What hub2lite writes beside the network in every model it ships: TFLite metadata and a model card.

convert, sweep and optimize call these for each .tflite they write (`--metadata`; the card always):

    embed_model_metadata(model bytes, name=, resolved=, family=, scalings=, labels=, recipe=, signature=)
        -> (bytes with metadata, MetadataResult)
    write_model_card(report dict, metadata=, command=, latency=) -> NAME.md beside the model
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._files import atomic_write_text
from .metadata.stage import MetadataResult, embed_metadata
from .model_card import card_from_report, model_card_path, render_model_card
from .resolve import ResolvedModel

__all__ = ["embed_model_metadata", "write_model_card", "model_name"]


def model_name(resolved: ResolvedModel, recipe: str | None = None) -> str:
    """A human name for the model: the hub handle's path (google/imagenet/.../5), else the file or folder name;
    with the recipe when it is not float32."""
    from urllib.parse import urlparse

    handle = resolved.handle or ""
    base = urlparse(handle).path.strip("/") if handle else ""
    if base.startswith("models/"):  # kaggle.com/models/owner/model/...
        base = base[len("models/"):]
    base = base or Path(resolved.source.rstrip("/")).name or resolved.source
    return base if recipe in (None, "float32") else f"{base} ({recipe})"


def embed_model_metadata(model: bytes, *, name: str, resolved: ResolvedModel, family: Mapping[str, Any],
                         scalings: Mapping[str, Any], labels: str | None, recipe: Mapping[str, Any],
                         signature: str | None) -> tuple[bytes, MetadataResult]:
    """`model` with TFLite metadata from what hub2lite knows (provenance, scaling, labels, family)."""
    from .report import versions

    model_dir = resolved.path if Path(resolved.path).is_dir() else None
    stack = versions()
    facts = {"source": resolved.source, "resolved": resolved.handle or resolved.path,
             "hub2lite_version": stack.get("hub2lite"), "tensorflow_version": stack.get("tensorflow"),
             "signature": signature, "recipe": recipe.get("name") or recipe.get("mode"),
             **{f"provenance_{k}": v for k, v in sorted(resolved.provenance.items()) if isinstance(v, (str, int))}}
    return embed_metadata(model, name=name, scalings=scalings, labels_file=labels, model_dir=model_dir,
                          family=family.get("family"), provenance=facts)


def write_model_card(report: Mapping[str, Any], *, metadata: MetadataResult | None, command: str,
                     latency: Mapping[str, Any] | None = None) -> Path:
    """NAME.md beside the model the report describes (atomically); returns its path."""
    card = card_from_report(report, metadata=None if metadata is None else metadata.metadata,
                            metadata_notes=() if metadata is None else metadata.notes, command=command,
                            latency=latency)
    path = model_card_path(report["output"]["path"])
    atomic_write_text(path, render_model_card(card))
    return path
