"""File helpers: atomic writes, output-path checks and safe archive extraction."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .errors import OutputError, ResolveError

__all__ = ["check_output_path", "atomic_write_bytes", "atomic_write_text", "safe_extract_tar", "MAX_UNPACKED_BYTES"]

#: Refuse archives that unpack to more than this (decompression bombs). 8 GiB fits every hub model.
MAX_UNPACKED_BYTES = 8 * 1024**3


def check_output_path(path: str | os.PathLike[str], *, force: bool) -> Path:
    """Fail early, before any work, when `path` cannot be written or exists without `force`."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"output folder {str(parent)!r} does not exist", hint=f"create it first: mkdir -p {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {str(parent)!r} is not writable", hint="choose another -o path")
    if p.is_dir():
        raise OutputError(f"output path {str(p)!r} is a folder", hint="give a file name, e.g. -o model.tflite")
    if p.exists() and not force:
        raise OutputError(f"{str(p)!r} already exists", hint="pass --force to overwrite it, or choose another -o path")
    return p


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write via a temp file in the same folder + rename: readers never see a partial file."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _check_members(members: Iterable[tarfile.TarInfo], max_bytes: int, archive: str) -> None:
    total = 0
    for m in members:
        name = m.name
        if name.startswith(("/", "\\")) or os.path.isabs(name) or ".." in Path(name).parts:
            raise ResolveError(f"archive {archive!r} has an unsafe path {name!r}; refused", hint="use a trusted archive")
        if m.issym() or m.islnk():
            raise ResolveError(
                f"archive {archive!r} contains a link {name!r} -> {m.linkname!r}; refused",
                hint="hub archives contain only files and folders; re-pack it without links",
            )
        if not (m.isfile() or m.isdir()):
            raise ResolveError(f"archive {archive!r} has a special file {name!r}; refused", hint="use a trusted archive")
        total += max(m.size, 0)
        if total > max_bytes:
            raise ResolveError(
                f"archive {archive!r} unpacks to more than {max_bytes // 1024**2} MiB; refused as a possible "
                "decompression bomb",
                hint="raise the limit with HUB2LITE_MAX_UNPACKED_MB if the model really is that large",
            )


def safe_extract_tar(archive: str | os.PathLike[str], dest: str | os.PathLike[str], *, max_bytes: int | None = None) -> None:
    """Extract `archive` into the new folder `dest`, atomically, refusing unsafe members.

    Nothing is written outside `dest`; on any failure `dest` does not exist afterwards.
    """
    archive = str(archive)
    if max_bytes is None:
        max_bytes = int(os.environ.get("HUB2LITE_MAX_UNPACKED_MB", MAX_UNPACKED_BYTES // 1024**2)) * 1024**2
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        try:
            with tarfile.open(archive, "r:*") as tf:
                members = tf.getmembers()
                _check_members(members, max_bytes, archive)
                written = 0
                for m in members:
                    target = tmp / m.name
                    if m.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    src = tf.extractfile(m)
                    assert src is not None
                    with src, open(target, "wb") as out:
                        while chunk := src.read(1 << 20):
                            written += len(chunk)
                            if written > max_bytes:
                                raise ResolveError(
                                    f"archive {archive!r} unpacks to more than {max_bytes // 1024**2} MiB; refused",
                                    hint="raise HUB2LITE_MAX_UNPACKED_MB if the model really is that large",
                                )
                            out.write(chunk)
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise ResolveError(
                f"{archive!r} is not a readable .tar/.tar.gz archive ({type(exc).__name__}: {exc})",
                hint="check the file is complete (re-download it) and is a tar archive",
            ) from exc
        try:
            os.replace(tmp, dest)
        except OSError:
            if not dest.is_dir():  # another process won the race with an identical copy otherwise
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
