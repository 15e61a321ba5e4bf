"""SavedModel and TF1 Hub format folders: their signatures, else the traced `__call__` of a model saved
without signatures."""

from __future__ import annotations

import logging
from typing import Any

from ..errors import LoadError
from ..loaded import CALL, EntryPoint, LoadedModel, LoadOptions, entry_from_function, tf_nest
from ..resolve import ResolvedModel
from ..specs import ModelFormat
from ..interrupts import reraise_pending

__all__ = ["load_saved_model", "traced_call_entries"]

log = logging.getLogger(__name__)


def traced_call_entries(obj: Any) -> dict[str, EntryPoint]:
    """Entry points from a restored `__call__` (a SavedModel saved with no signatures)."""
    import tensorflow as tf

    call = getattr(obj, "__call__", None)
    concrete = list(getattr(call, "concrete_functions", None) or [])
    candidates = []
    for fn in concrete:
        args, kwargs = fn.structured_input_signature
        leaves = tf.nest.flatten((args, kwargs))
        if not any(isinstance(x, tf.TensorSpec) for x in leaves):
            continue
        training = [x for p, x in tf_nest().flatten_with_joined_string_paths(dict(kwargs)) if p == "training"]
        # prefer inference traces (training=False), then the most general (most dynamic dims)
        penalty = 1 if training and training[0] is True else 0
        dyn = -sum(1 for x in leaves if isinstance(x, tf.TensorSpec) and x.shape.rank is not None
                   for d in x.shape.as_list() if d is None)
        candidates.append((penalty, dyn, fn))
    if not candidates:
        return {}
    candidates.sort(key=lambda t: (t[0], t[1]))
    if len(candidates) > 1:
        log.info("__call__ has %d traces; using the inference trace with the most dynamic dims", len(candidates))
    return {CALL: entry_from_function(CALL, candidates[0][2], kind="call")}


def load_saved_model(resolved: ResolvedModel, fmt: ModelFormat, tags: tuple[str, ...] | None,
                      options: LoadOptions | None = None) -> LoadedModel:
    import tensorflow as tf

    path = resolved.path
    if fmt is ModelFormat.TF1_HUB and tags is None:
        tags = ()  # the TF1 Hub format stores its inference graph under the empty tag set
    try:
        obj = tf.saved_model.load(path, tags=list(tags) if tags is not None else None)
    except Exception as exc:  # noqa: BLE001 - TF raises many types for a bad SavedModel
        reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "MetaGraphDef associated with tags" in str(exc):
            raise LoadError(f"{path!r} has no graph for tags {list(tags or ['serve'])}: {first}",
                            hint="pass --tags with one of the model's tag sets (see `saved_model_cli show --dir`)") from exc
        raise LoadError(f"cannot load SavedModel {path!r}: {type(exc).__name__}: {first}",
                        hint="the model files may be truncated or corrupt; fetch or export them again") from exc
    entries: dict[str, EntryPoint] = {}
    for name, fn in dict(getattr(obj, "signatures", {}) or {}).items():
        entries[name] = entry_from_function(name, fn, kind="signature")
    notes: list[str] = []
    if not entries:
        entries = traced_call_entries(obj)
        if entries:
            notes.append("no serving signature: using the traced __call__")
    return LoadedModel(resolved, fmt, obj, entries, tags=tags, notes=tuple(notes))
