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
import contextvars
import hashlib
import http.client
import logging
import os
import re
import shutil
import socket
import tarfile
import threading
import time
import urllib.error
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._files import MemberGuard, max_unpacked_bytes, safe_extract_tar
from .errors import LoadError, ResolveError
from .interrupts import reraise_pending

__all__ = ["ResolvedModel", "resolve", "normalize_handle", "default_cache_dir", "DEFAULT_TIMEOUT"]

log = logging.getLogger(__name__)

_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_KAGGLE_FRAMEWORKS = {"tensorflow1", "tensorflow2", "tfjs", "tflite", "keras", "litert"}
_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt", "tfhub_module.pb")

#: Seconds a fetch may wait for the server (connect, or the next bytes) before the attempt fails.
DEFAULT_TIMEOUT = 60.0


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
            timeout: float | None = None, retries: int = 3, backoff: float = 0.5) -> ResolvedModel:
    """Resolve `source` to a local model. Raises `ResolveError` with a one-line reason and fix.

    Hub fetches wait at most `timeout` seconds (default `DEFAULT_TIMEOUT`) for the server at each step, and
    retry transient failures (HTTP 5xx/429, resets, timeouts, cut-short downloads) `retries` times, after
    `backoff`, 2*`backoff`, 4*`backoff`... seconds.
    """
    src = os.fspath(source)
    if not src.strip() or "\x00" in src:
        raise ResolveError(f"invalid model source {src!r}",
                           hint="give a SavedModel folder, an archive, a model file or a hub handle")
    timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    if not timeout > 0:
        raise ResolveError(f"timeout must be a positive number of seconds, got {timeout!r}", hint="e.g. --timeout 60")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    try:
        local = Path(src).expanduser()
    except RuntimeError:  # "~name" for a user that does not exist: take it literally
        local = Path(src)
    try:
        exists = local.exists()
    except OSError as exc:  # e.g. a name too long for the file system
        raise ResolveError(f"model source {src[:200]!r} is not a usable path: {exc.strerror or exc}",
                           hint="give an existing model path or a hub handle") from exc
    if exists:
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
        root = _model_root(dest)
        _require_model(root, f"archive {str(path)!r}")
        return ResolvedModel(src, "archive", str(root),
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


def _require_model(root: Path, what: str) -> None:
    """An archive must unpack to a model: fail here, naming the archive, rather than in load()."""
    if not any((root / f).exists() for f in _MODEL_FILES):
        found = sorted(p.name for p in root.iterdir())[:8] if root.is_dir() else []
        raise LoadError(f"{what} holds no model: no saved_model.pb or tfhub_module.pb in it (found {found})",
                        hint="pack the SavedModel folder's contents: tar -czf model.tar.gz -C saved_model_dir .")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# -- tensorflow_hub, hardened --------------------------------------------------------------------------
# hub.resolve keeps its own download, lock file and atomic rename. Its extractor
# (tensorflow_hub.file_utils.extract_tarfile_to_destination) refuses `..` paths and links, but silently
# re-roots absolute paths and has no size limit; while hub2lite resolves, it runs with `MemberGuard`.

_current_source: contextvars.ContextVar[str] = contextvars.ContextVar("hub2lite_source", default="download")
_guard_lock = threading.Lock()
_guard_users = 0
_original_extract: Callable[..., None] | None = None


_current_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("hub2lite_deadline", default=None)


def max_download_seconds() -> float:
    """Total time one download may take (HUB2LITE_MAX_DOWNLOAD_SECONDS, default 1 hour): `--timeout` bounds each
    read, but a server that trickles a byte just inside every timeout would otherwise never end."""
    return float(os.environ.get("HUB2LITE_MAX_DOWNLOAD_SECONDS", 3600))


class DownloadDeadlineError(TimeoutError):
    """A download outlived `max_download_seconds()` although every single read arrived in time."""


class _DeadlineReader:
    """File-like view of an HTTP response whose reads fail once `deadline` (time.monotonic) has passed.
    Each underlying read is a single `read1` (one receive), so the check runs at least once per timeout."""

    def __init__(self, raw: Any, deadline: float) -> None:
        self.raw = raw
        self.deadline = deadline

    def read(self, n: int = -1) -> bytes:
        chunks: list[bytes] = []
        remaining = n
        while remaining != 0:
            if time.monotonic() > self.deadline:
                raise DownloadDeadlineError(f"the download took longer than {max_download_seconds():g} s in all "
                                            "(a server trickling data)")
            block = self.raw.read1(remaining if remaining > 0 else 1 << 16)
            if not block:
                break
            chunks.append(block)
            if remaining > 0:
                remaining -= len(block)
        return b"".join(chunks)


def _guarded_extract(fileobj: object, dst_path: str, log_function: Callable[[int], None] | None = None) -> None:
    """tensorflow_hub's extraction loop, with every member checked before it is written."""
    import tensorflow as tf
    from tensorflow_hub import file_utils

    guard = MemberGuard(_current_source.get(), max_unpacked_bytes())

    def counted(nbytes: int) -> None:
        guard.count(nbytes)
        if log_function is not None:
            log_function(nbytes)

    deadline = _current_deadline.get()
    if deadline is not None and hasattr(fileobj, "read1"):
        fileobj = _DeadlineReader(fileobj, deadline)
    with tarfile.open(mode="r|*", fileobj=fileobj) as tgz:
        for tarinfo in tgz:
            guard.check(tarinfo)
            target = file_utils.merge_relative_path(dst_path, tarinfo.name)
            if tarinfo.isfile():
                file_utils.extract_file(tgz, tarinfo, target, log_function=counted)
            else:
                tf.compat.v1.gfile.MakeDirs(target)


@contextlib.contextmanager
def _hub_settings(cache: Path, timeout: float, source: str) -> Iterator[None]:
    """tensorflow_hub reads its cache folder from the environment at call time, urlopen has no timeout, and
    its extractor needs the guard above. Restores all three afterwards."""
    global _guard_users, _original_extract
    from tensorflow_hub import file_utils

    with _guard_lock:
        if _guard_users == 0:
            _original_extract = file_utils.extract_tarfile_to_destination
            file_utils.extract_tarfile_to_destination = _guarded_extract
        _guard_users += 1
    token = _current_source.set(source)
    deadline_token = _current_deadline.set(time.monotonic() + max_download_seconds())
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
        _current_source.reset(token)
        _current_deadline.reset(deadline_token)
        with _guard_lock:
            _guard_users -= 1
            if _guard_users == 0 and _original_extract is not None:
                file_utils.extract_tarfile_to_destination = _original_extract
                _original_extract = None


def _pid_alive(pid: int) -> bool:
    """Is process `pid` running? A zombie is not: a command killed hard (SIGKILL of the `hub2lite` command kills its
    guarded child too, see crashguard.py) stays a zombie until its new parent reaps it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(0) is all there is
    return state not in ("Z", "X")


def _clear_stale_lock(cache: Path, handle: str) -> None:
    """A download killed hard (SIGKILL, power loss) leaves tensorflow_hub's `<module>.lock`, and the next
    resolve would wait up to 10 minutes for it. Remove it when its owner, on this host, is gone."""
    module_dir = cache / hashlib.sha1(handle.encode("utf8")).hexdigest()
    lock = Path(str(module_dir) + ".lock")
    try:
        content = lock.read_text().strip()
    except OSError:
        return
    host, pid, uid = (content.rsplit(".", 2) + ["", "", ""])[:3]
    if host != socket.gethostname() or not pid.isdigit() or _pid_alive(int(pid)):
        return
    log.warning("removing the stale download lock of %s (process %s is gone)", handle, pid)
    lock.unlink(missing_ok=True)
    if uid and "/" not in uid:
        shutil.rmtree(f"{module_dir}.{uid}.tmp", ignore_errors=True)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code in (408, 429)
    if isinstance(exc, (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException, EOFError)):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, (FileNotFoundError, PermissionError))


def _describe(exc: BaseException, timeout: float) -> str:
    """What went wrong with a fetch, in words."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError) \
        else exc
    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered HTTP {exc.code} {exc.reason}"
    if isinstance(reason, DownloadDeadlineError):
        return str(reason)
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"the server sent nothing for {timeout:g} s (timed out)"
    if isinstance(reason, (ConnectionResetError, http.client.RemoteDisconnected, ConnectionAbortedError)):
        return "the server closed the connection without an answer (connection reset)"
    if isinstance(reason, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(reason, (http.client.IncompleteRead, EOFError)) or "not appear to be a valid module" in str(exc):
        return "the download was cut short or is not a .tar.gz archive"
    return f"{type(reason).__name__}: {reason}"


def _resolve_handle(src: str, handle: str, cache: Path, *, timeout: float, retries: int,
                    backoff: float) -> ResolvedModel:
    import tensorflow_hub as hub  # lazy: imports TensorFlow

    cache = cache.absolute()
    cache.mkdir(parents=True, exist_ok=True)
    last: BaseException | None = None
    for attempt in range(1, retries + 2):
        _clear_stale_lock(cache, handle)
        try:
            with _hub_settings(cache, timeout, handle):
                path = hub.resolve(handle)
            break
        except ResolveError:
            raise  # refused by the archive guard: retrying cannot help
        except urllib.error.HTTPError as exc:
            last = exc
            if exc.code in (401, 403, 404, 410):
                what = "not found (HTTP 404)" if exc.code == 404 else f"refused (HTTP {exc.code})"
                raise ResolveError(f"model {handle!r} {what}",
                                   hint="check the handle's spelling and version on tfhub.dev / kaggle.com/models") from exc
            if not _is_transient(exc):
                raise ResolveError(f"fetching {handle!r} failed: {_describe(exc, timeout)}",
                                   hint="check the handle") from exc
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised as ResolveError
            reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
            last = exc
            if not _is_transient(exc):
                raise ResolveError(f"fetching {handle!r} failed: {_describe(exc, timeout)}",
                                   hint="check the handle and your network") from exc
        if attempt <= retries:
            delay = backoff * 2 ** (attempt - 1)
            log.warning("fetching %s failed (%s); retry %d/%d in %.1fs", handle, _describe(last, timeout),
                        attempt, retries, delay)
            time.sleep(delay)
    else:
        assert last is not None
        raise ResolveError(
            f"fetching {handle!r} failed after {retries + 1} attempts: {_describe(last, timeout)}",
            hint="retry later, raise --timeout for a slow network, or download the archive and pass its path",
        ) from last
    root = _model_root(Path(path))
    _require_model(root, f"the archive served for {handle!r}")
    return ResolvedModel(src, "hub", str(root), handle=handle,
                         provenance={"handle": handle, "cache_dir": str(cache), "cache_path": str(path),
                                     "resolver": "tensorflow_hub.resolve"})
