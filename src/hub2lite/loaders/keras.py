"""Keras files (.keras, .h5): the file's keras_version picks the library. Keras 3 files load with Keras 3
and are exported to a SavedModel (`model.export`); Keras 2 files (hub.KerasLayer included) load with tf_keras.
Files whose config holds Python code (Lambda layers) load only with `unsafe_keras`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import LoadError
from ..loaded import EntryPoint, LoadedModel, LoadOptions, entry_from_function, outputs_as_dict
from ..resolve import ResolvedModel
from ..specs import ModelFormat
from .savedmodel import load_saved_model
from ..interrupts import reraise_pending

__all__ = ["load_keras", "keras_file_facts", "UNSAFE_KERAS_LAYERS"]

#: Layers whose saved config carries Python code (marshalled bytecode) instead of a registered class.
UNSAFE_KERAS_LAYERS = frozenset({"Lambda"})


def keras_file_facts(path: str | os.PathLike[str]) -> tuple[str | None, dict[str, Any]]:
    """(keras_version that wrote the file, model config) of a .keras zip or an .h5 file, without loading it."""
    import json
    import zipfile

    p = Path(path)
    try:
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as z:
                names = set(z.namelist())
                meta = json.loads(z.read("metadata.json")) if "metadata.json" in names else {}
                config = json.loads(z.read("config.json")) if "config.json" in names else {}
            return meta.get("keras_version"), config
        import h5py

        with h5py.File(p, "r") as f:
            attrs = dict(f.attrs)
    except (OSError, ValueError, KeyError) as exc:
        raise LoadError(f"{str(p)!r} is not a readable Keras file: {exc}",
                        hint="give a .keras file saved by model.save() or an HDF5 .h5 model") from exc

    def text(v: Any) -> str | None:
        return v.decode() if isinstance(v, bytes) else (None if v is None else str(v))

    raw = text(attrs.get("model_config"))
    if raw is None:
        raise LoadError(f"{str(p)!r} holds weights only (no model_config)",
                        hint="save the whole model (model.save), not model.save_weights")
    return text(attrs.get("keras_version")), json.loads(raw)


def _layer_classes(config: Any) -> list[str]:
    """Every class_name in a (nested) Keras config."""
    found: list[str] = []
    if isinstance(config, Mapping):
        if isinstance(config.get("class_name"), str):
            found.append(config["class_name"])
        for v in config.values():
            found.extend(_layer_classes(v))
    elif isinstance(config, list):
        for v in config:
            found.extend(_layer_classes(v))
    return found


def _uses_keras3(version: str | None, config: Mapping[str, Any]) -> bool:
    if version:
        try:
            return int(version.split(".")[0]) >= 3
        except ValueError:
            pass
    return "module" in config  # Keras 3 configs name each class's module; Keras 2 ones do not


def load_keras(resolved: ResolvedModel, fmt: ModelFormat, tags: tuple[str, ...] | None,
                options: LoadOptions) -> LoadedModel:
    """A .keras/.h5 file. The file's keras_version picks the library: Keras 3 files load with Keras 3 and
    are exported to a SavedModel (`model.export`); Keras 2 files (incl. hub.KerasLayer) load with tf_keras."""
    path = resolved.path
    version, config = keras_file_facts(path)
    classes = _layer_classes(config)
    unsafe = sorted(set(classes) & UNSAFE_KERAS_LAYERS)
    if unsafe and not options.unsafe_keras:
        raise LoadError(f"{Path(path).name} contains {', '.join(unsafe)} layer(s): loading them runs Python code "
                        "stored in the file", hint="pass --unsafe-keras only if you trust the file's author")
    keras3 = _uses_keras3(version, config)
    notes = [f"Keras file written by Keras {version or '?'}: loaded with "
             f"{'Keras 3 and exported with model.export' if keras3 else 'tf_keras'}"]
    if unsafe:
        notes.append(f"--unsafe-keras: deserialized {', '.join(unsafe)} layer(s) holding Python code")
    try:
        if keras3:
            loaded = _load_keras3(resolved, path, options)
            return replace(loaded, notes=tuple(notes) + loaded.notes)
        model = _load_tf_keras_model(path, options, "KerasLayer" in classes)
    except LoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - Keras raises TypeError/ValueError/... for files it cannot rebuild
        reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        hint = ("the model uses custom layers: export it as a SavedModel (model.export) where its code is available"
                if "Unknown layer" in first or "Could not locate" in first
                else "check that the file is complete and was saved by Keras (model.save)")
        raise LoadError(f"cannot load Keras file {Path(path).name}: {type(exc).__name__}: {first}", hint=hint) from exc
    if "KerasLayer" in classes:
        notes.append("hub.KerasLayer restored under tf_keras with custom_objects={'KerasLayer': hub.KerasLayer}")
    entry = _keras_entry(model)
    return LoadedModel(resolved, fmt, model, {entry.info.name: entry}, tags=None, notes=tuple(notes))


def _load_keras3(resolved: ResolvedModel, path: str, options: LoadOptions) -> LoadedModel:
    import shutil
    import tempfile
    import weakref

    import keras

    model = keras.saving.load_model(path, compile=False, safe_mode=not options.unsafe_keras)
    export_dir = tempfile.mkdtemp(prefix="hub2lite-keras3-")
    try:
        model.export(export_dir, format="tf_saved_model", verbose=False)
        exported = load_saved_model(replace(resolved, path=export_dir), ModelFormat.SAVED_MODEL, None, options)
    except BaseException:
        shutil.rmtree(export_dir, ignore_errors=True)
        raise
    weakref.finalize(exported.obj, shutil.rmtree, export_dir, True)  # the SavedModel lives as long as its object
    entries = {k: e for k, e in exported.entries.items() if not (k == "serve" and "serving_default" in exported.entries)}
    return replace(exported, resolved=resolved, format=ModelFormat.KERAS, entries=entries)


def _load_tf_keras_model(path: str, options: LoadOptions, has_hub_layer: bool) -> Any:
    import tf_keras

    custom_objects: dict[str, Any] = {}
    if has_hub_layer:
        import tensorflow_hub as hub

        custom_objects["KerasLayer"] = hub.KerasLayer
    kwargs: dict[str, Any] = {"custom_objects": custom_objects, "compile": False}
    if not path.endswith((".h5", ".hdf5")):
        kwargs["safe_mode"] = not options.unsafe_keras
    return tf_keras.models.load_model(path, **kwargs)


def _keras_entry(model: Any) -> EntryPoint:
    """A 'serving_default' entry calling `model(inputs, training=False)` with named inputs and outputs."""
    import tensorflow as tf

    names = list(model.input_names)
    specs = [tf.TensorSpec(t.shape, t.dtype, name=n) for n, t in zip(names, model.inputs)]
    out_names = list(model.output_names)

    def serve(*args: Any) -> dict[str, Any]:
        out = model(list(args) if len(args) > 1 else args[0], training=False)
        flat = tf.nest.flatten(out)
        return dict(zip(out_names, flat)) if len(flat) == len(out_names) else outputs_as_dict(out)

    import inspect as _inspect

    serve.__signature__ = _inspect.Signature(  # type: ignore[attr-defined]
        [_inspect.Parameter(n, _inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    fn = tf.function(serve, input_signature=specs, autograph=False).get_concrete_function()
    return entry_from_function("serving_default", fn, kind="keras")
