"""Turn what the user typed into a local model path plus provenance.

Sources, in the order they are recognised:
  * an existing local path: a SavedModel / TF1 Hub folder, a `.tar.gz`/`.tgz`/`.tar` archive of one,
    a Keras file (`.keras`, `.h5`) or a frozen GraphDef (`.pb`);
  * a hub handle: any `http(s)://` URL, `tfhub.dev/...` or `kaggle.com/models/...` without a scheme, or a
    Kaggle handle `owner/model/framework/variation/version`. Handles are fetched by tensorflow_hub's own
    resolver (`hub.resolve`: `?tf-hub-format=compressed`, lock files, atomic rename into the cache).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import socket
import time
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._files import safe_extract_tar
from .errors import ResolveError

__all__ = ["ResolvedModel", "resolve", "normalize_handle", "default_cache_dir"]

log = logging.getLogger(__name__)

_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_KAGGLE_FRAMEWORKS = {"tensorflow1", "tensorflow2", "tfjs", "tflite", "keras", "litert"}


@dataclass(frozen=True)
class ResolvedModel:
    """A source made local. `path` is a folder (SavedModel / TF1 Hub) or a file (Keras / GraphDef)."""

    source: str
    kind: str  # "folder" | "archive" | "hub" | "file"
    path: str
    handle: str | None = None  # normalised URL for hub sources
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "path": self.path, "handle": self.handle,
                "provenance": dict(self.provenance)}


def default_cache_dir() -> Path:
    """`TFHUB_CACHE_DIR` if set (shared with tensorflow_hub), else ~/.cache/hub2lite/tfhub_modules."""
    env = os.environ.get("TFHUB_CACHE_DIR")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "hub2lite" / "tfhub_modules"


def normalize_handle(source: str) -> str | None:
    """Return the URL tensorflow_hub should fetch for `source`, or None if it is not a handle."""
    s = source.strip()
    if re.match(r"^https?://", s, re.IGNORECASE):
        return s
    if re.match(r"^(www\.)?(tfhub\.dev|hub\.tensorflow\.google\.cn|kaggle\.com/models)/", s, re.IGNORECASE):
        return "https://" + s
    parts = s.strip("/").split("/")
    # Kaggle Models handle: owner/model/framework/variation/version
    if len(parts) == 5 and parts[2].lower() in _KAGGLE_FRAMEWORKS and parts[4].isdigit():
        owner, model, framework, variation, version = parts
        return (f"https://www.kaggle.com/models/{owner}/{model}/frameworks/{framework}/"
                f"variations/{variation}/versions/{version}")
    return None


def resolve(source: str | os.PathLike[str], *, cache_dir: str | os.PathLike[str] | None = None,
            timeout: float = 60.0, retries: int = 3, backoff: float = 0.5) -> ResolvedModel:
    """Resolve `source` to a local model. Raises `ResolveError` with a one-line reason and fix."""
    src = os.fspath(source)
    if not src.strip():
        raise ResolveError("empty model source", hint="give a SavedModel folder, an archive, a model file or a hub handle")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    local = Path(src).expanduser()
    if local.exists():
        return _resolve_local(src, local, cache)
    handle = normalize_handle(src)
    if handle is None:
        raise ResolveError(
            f"model source {src!r} does not exist",
            hint="give an existing SavedModel folder, .tar.gz archive, .keras/.h5/.pb file, or a hub handle "
            "such as https://tfhub.dev/google/imagenet/mobilenet_v2_035_224/classification/5",
        )
    return _resolve_handle(src, handle, cache, timeout=timeout, retries=retries, backoff=backoff)


def _resolve_local(src: str, local: Path, cache: Path) -> ResolvedModel:
    path = local.resolve()
    if path.is_dir():
        return ResolvedModel(src, "folder", str(path), provenance={"local_path": str(path)})
    name = path.name.lower()
    if name.endswith(_ARCHIVE_SUFFIXES):
        digest = _sha256(path)
        dest = cache / "archives" / digest[:24]
        if not (dest.is_dir() and any(dest.iterdir())):
            log.info("unpacking %s into %s", path, dest)
            safe_extract_tar(path, dest)
        return ResolvedModel(src, "archive", str(_model_root(dest)),
                             provenance={"archive": str(path), "sha256": digest, "unpacked_to": str(dest)})
    if not os.access(path, os.R_OK):
        raise ResolveError(f"{str(path)!r} is not readable", hint="check the file permissions")
    return ResolvedModel(src, "file", str(path), provenance={"local_path": str(path), "sha256": _sha256(path)})


def _model_root(folder: Path) -> Path:
    """The folder holding saved_model.pb: the archive root, or its only sub-folder."""
    if (folder / "saved_model.pb").exists() or (folder / "tfhub_module.pb").exists():
        return folder
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        return _model_root(entries[0])
    return folder  # load() reports what is missing


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def _hub_settings(cache: Path, timeout: float) -> Iterator[None]:
    """tensorflow_hub reads its cache folder from the environment at call time, and urlopen has no timeout."""
    old_env = os.environ.get("TFHUB_CACHE_DIR")
    old_timeout = socket.getdefaulttimeout()
    os.environ["TFHUB_CACHE_DIR"] = str(cache)
    socket.setdefaulttimeout(timeout)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old_timeout)
        if old_env is None:
            os.environ.pop("TFHUB_CACHE_DIR", None)
        else:
            os.environ["TFHUB_CACHE_DIR"] = old_env


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code == 429
    if isinstance(exc, (urllib.error.URLError, ConnectionError, TimeoutError, socket.timeout)):
        return True
    return isinstance(exc, (EOFError, IOError)) and not isinstance(exc, FileNotFoundError)


def _resolve_handle(src: str, handle: str, cache: Path, *, timeout: float, retries: int,
                    backoff: float) -> ResolvedModel:
    import tensorflow_hub as hub  # lazy: imports TensorFlow

    cache.mkdir(parents=True, exist_ok=True)
    last: BaseException | None = None
    for attempt in range(1, retries + 2):
        try:
            with _hub_settings(cache, timeout):
                path = hub.resolve(handle)
            break
        except urllib.error.HTTPError as exc:
            last = exc
            if exc.code in (401, 403, 404, 410):
                what = "not found" if exc.code in (404, 410) else f"refused (HTTP {exc.code})"
                raise ResolveError(f"model {handle!r} {what}",
                                   hint="check the handle's spelling and version on tfhub.dev / kaggle.com/models") from exc
            if not _is_transient(exc):
                raise ResolveError(f"fetching {handle!r} failed: HTTP {exc.code} {exc.reason}") from exc
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised as ResolveError
            last = exc
            if not _is_transient(exc):
                raise ResolveError(f"fetching {handle!r} failed: {type(exc).__name__}: {exc}",
                                   hint="check the handle and your network") from exc
        if attempt <= retries:
            delay = backoff * 2 ** (attempt - 1)
            log.warning("fetching %s failed (%s); retry %d/%d in %.1fs", handle, last, attempt, retries, delay)
            time.sleep(delay)
    else:
        raise ResolveError(
            f"fetching {handle!r} failed after {retries + 1} attempts: {type(last).__name__}: {last}",
            hint="check your network or proxy, or download the archive and pass its path",
        ) from last
    root = _model_root(Path(path))
    return ResolvedModel(src, "hub", str(root), handle=handle,
                         provenance={"handle": handle, "cache_dir": str(cache), "cache_path": str(path),
                                     "resolver": "tensorflow_hub.resolve"})
