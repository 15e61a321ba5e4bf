"""Save the exact inputs of a validation run, and the outputs of both models, so a failure can be reproduced.

A folder written by `save_inputs` holds

    inputs.npz    one array per model input, the feeds concatenated on axis 0 (plus the labels under
                  `labels_key`, "y" unless an input is called "y"), so it also works as `--data`;
    inputs.json   the manifest: schema "hub2lite.inputs/1", input names/dtypes, the batch size of every
                  feed (to split the arrays back exactly), the source (data path or synthetic seed), the
                  class names of an image folder, and the sha256 of inputs.npz;

and, when the validation failed, `outputs-original.npz` / `outputs-tflite.npz` (keyed by the original's
output names; the .tflite's outputs under the name of the original output they were paired with).

String inputs are stored as fixed-width bytes (numpy's "S" dtype, which drops trailing NUL bytes) and
come back as object arrays of bytes, as the runners expect.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write_bytes, atomic_write_text, check_output_path
from .errors import CalibrationError, OutputError
from .specs import TensorSpec

__all__ = ["INPUTS_SCHEMA", "SavedInputs", "save_inputs", "load_inputs", "save_outputs", "prepare_folder"]

INPUTS_SCHEMA = "hub2lite.inputs/1"
INPUTS_FILE = "inputs.npz"
MANIFEST_FILE = "inputs.json"


@dataclass(frozen=True)
class SavedInputs:
    feeds: tuple[dict[str, np.ndarray], ...]
    labels: np.ndarray | None
    info: dict[str, Any] = field(default_factory=dict)  # the manifest


def prepare_folder(folder: str | os.PathLike[str], names: Sequence[str], *, force: bool) -> Path:
    """Create `folder` if needed and make sure none of `names` exists in it (unless force); fail before work."""
    p = Path(folder)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{str(p)!r} exists and is not a folder", hint="give a folder path")
    if not p.exists():
        if not p.parent.is_dir():
            raise OutputError(f"folder {str(p.parent)!r} does not exist", hint=f"create it first: mkdir -p {p.parent}")
        p.mkdir()
    for n in names:
        check_output_path(p / n, force=force)
    return p


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """What numpy.savez writes, for any key (np.savez(file, **arrays) breaks on an input named 'file')."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, value in arrays.items():
            with zf.open(key + ".npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(value), allow_pickle=False)
    return buf.getvalue()


def _storable(a: np.ndarray) -> np.ndarray:
    if a.dtype == object:
        return np.asarray([v if isinstance(v, bytes) else str(v).encode() for v in a.reshape(-1)],
                          dtype=np.bytes_).reshape(a.shape)
    return a


def save_inputs(folder: str | os.PathLike[str], feeds: Sequence[Mapping[str, np.ndarray]], *,
                labels: np.ndarray | None = None, source: Mapping[str, Any] | None = None,
                classes: Sequence[str] | None = None, force: bool = False) -> dict[str, str]:
    """Write inputs.npz + inputs.json into `folder`. Returns {"inputs": path, "manifest": path}."""
    if not feeds:
        raise CalibrationError("no inputs to save")
    p = prepare_folder(folder, [INPUTS_FILE, MANIFEST_FILE], force=force)
    names = list(feeds[0])
    arrays = {n: np.concatenate([_storable(np.asarray(f[n])) for f in feeds]) for n in names}
    batch = [int(len(np.asarray(f[names[0]]))) for f in feeds]
    labels_key = None
    if labels is not None:
        labels_key = "y" if "y" not in arrays else "__labels__"
        arrays[labels_key] = np.asarray(labels)
    data = _npz_bytes(arrays)
    manifest = {
        "schema": INPUTS_SCHEMA,
        "inputs": [{"name": n, "dtype": "string" if np.asarray(feeds[0][n]).dtype == object
                    else str(np.asarray(feeds[0][n]).dtype),
                    "shape": list(np.asarray(feeds[0][n]).shape[1:])} for n in names],
        "feeds": len(feeds),
        "batch_sizes": batch,
        "labels_key": labels_key,
        "classes": list(classes) if classes is not None else None,
        "source": dict(source or {}),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    atomic_write_bytes(p / INPUTS_FILE, data)
    atomic_write_text(p / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return {"inputs": str(p / INPUTS_FILE), "manifest": str(p / MANIFEST_FILE)}


def load_inputs(folder: str | os.PathLike[str], specs: Sequence[TensorSpec]) -> SavedInputs:
    """Read a folder written by `save_inputs` (or its inputs.npz) back into the exact same feeds."""
    p = Path(folder)
    if p.is_file():
        p = p.parent
    npz, man = p / INPUTS_FILE, p / MANIFEST_FILE
    if not npz.is_file() or not man.is_file():
        raise CalibrationError(f"{str(p)!r} holds no saved inputs ({INPUTS_FILE} + {MANIFEST_FILE})",
                               hint="point --load-inputs at a folder written by --save-inputs")
    try:
        manifest = json.loads(man.read_text())
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"{str(man)!r} is not valid JSON: {exc.msg}", hint="re-save the inputs") from exc
    if manifest.get("schema") != INPUTS_SCHEMA:
        raise CalibrationError(f"{str(man)!r} has schema {manifest.get('schema')!r}, expected {INPUTS_SCHEMA!r}",
                               hint="re-save the inputs with this hub2lite")
    data = npz.read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        raise CalibrationError(f"{str(npz)!r} does not match its manifest (sha256 differs)",
                               hint="the saved inputs were modified; re-save them")
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    saved = {i["name"]: i for i in manifest["inputs"]}
    wanted = [s.name for s in specs]
    if set(saved) != set(wanted):
        raise CalibrationError(f"the saved inputs are for inputs {sorted(saved)}, the model has {sorted(wanted)}",
                               hint="load inputs saved from this model")
    for s in specs:
        if s.dtype != saved[s.name]["dtype"] and not (s.dtype == "bfloat16" and saved[s.name]["dtype"] == "float32"):
            raise CalibrationError(f"saved input {s.name!r} is {saved[s.name]['dtype']}, the model wants {s.dtype}",
                                   hint="load inputs saved from this model")
    bounds = np.cumsum([0, *manifest["batch_sizes"]])
    feeds = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        feed = {}
        for n in wanted:
            v = arrays[n][a:b]
            feed[n] = v.astype(object) if saved[n]["dtype"] == "string" else v
        feeds.append(feed)
    key = manifest.get("labels_key")
    labels = arrays[key] if key else None
    return SavedInputs(tuple(feeds), labels, manifest)


def save_outputs(folder: str | os.PathLike[str], original: Mapping[str, np.ndarray],
                 tflite: Mapping[str, np.ndarray], *, force: bool = False) -> dict[str, str]:
    """Write outputs-original.npz and outputs-tflite.npz (stacked outputs) into `folder`."""
    p = prepare_folder(folder, ["outputs-original.npz", "outputs-tflite.npz"], force=force)
    paths = {}
    for key, arrays in (("outputs_original", original), ("outputs_tflite", tflite)):
        path = p / f"{key.replace('_', '-')}.npz"
        atomic_write_bytes(path, _npz_bytes({k: _storable(np.asarray(v)) for k, v in arrays.items()}))
        paths[key] = str(path)
    return paths
