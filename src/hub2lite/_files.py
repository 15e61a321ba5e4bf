"""File helpers: atomic writes, output-path checks and safe archive extraction."""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

from .errors import ConfigError, OutputError, ResolveError

__all__ = ["check_output_path", "atomic_write_bytes", "atomic_write_text", "safe_extract_tar", "MemberGuard",
           "max_unpacked_bytes", "MAX_UNPACKED_BYTES"]

#: Refuse archives that unpack to more than this (decompression bombs). 8 GiB fits every hub model.
MAX_UNPACKED_BYTES = 8 * 1024**3


def check_output_path(path: str | os.PathLike[str], *, force: bool) -> Path:
    """Fail early, before any work, when `path` cannot be written or exists without `force`."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        blocker = next((a for a in (parent, *parent.parents) if a.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise OutputError(f"output folder {str(parent)!r} cannot exist: {str(blocker)!r} is a file",
                              hint="choose an -o path inside a folder")
        raise OutputError(f"output folder {str(parent)!r} does not exist", hint=f"create it first: mkdir -p {parent}")
    if not _writable(parent):
        raise OutputError(f"output folder {str(parent)!r} is not writable",
                          hint="choose another -o path, or fix the folder's permissions")
    if p.is_dir():
        raise OutputError(f"output path {str(p)!r} is a folder", hint="give a file name, e.g. -o model.tflite")
    if p.exists() and not force:
        raise OutputError(f"{str(p)!r} already exists", hint="pass --force to overwrite it, or choose another -o path")
    return p


def _writable(folder: Path) -> bool:
    """Whether a file can be created in `folder`. Tries it: permission bits alone mislead root, read-only
    mounts and immutable (chattr +i) folders."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".hub2lite-probe-"):
            return True
    except OSError:
        return False


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


def max_unpacked_bytes() -> int:
    """The unpack limit: `HUB2LITE_MAX_UNPACKED_MB` (MiB) when set, else `MAX_UNPACKED_BYTES`."""
    raw = os.environ.get("HUB2LITE_MAX_UNPACKED_MB")
    if raw is None or not raw.strip():
        return MAX_UNPACKED_BYTES
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not mb > 0:
        raise ConfigError(f"HUB2LITE_MAX_UNPACKED_MB={raw!r} is not a positive number of MiB",
                          hint="set it to e.g. 16384, or unset it for the default of 8192")
    return int(mb * 1024**2)


class MemberGuard:
    """Checks tar members one by one, before each is written: refuses paths that leave the extraction
    folder (`../`, absolute), links, special files, and a running total beyond `max_bytes`."""

    def __init__(self, archive: str, max_bytes: int) -> None:
        self.archive = archive
        self.max_bytes = max_bytes
        self.declared = 0  # sum of member sizes from the headers
        self.written = 0  # bytes actually unpacked

    def _bomb(self) -> ResolveError:
        return ResolveError(
            f"archive {self.archive!r} unpacks to more than {self.max_bytes / 1024**2:g} MiB; refused as a possible "
            "decompression bomb",
            hint="raise the limit with HUB2LITE_MAX_UNPACKED_MB if the model really is that large")

    def check(self, m: tarfile.TarInfo) -> None:
        name = m.name
        if name.startswith(("/", "\\")) or os.path.isabs(name) or re.match(r"^[A-Za-z]:", name) \
                or ".." in re.split(r"[/\\]", name):
            raise ResolveError(f"archive {self.archive!r} has an unsafe path {name!r} (leaves the extraction "
                               "folder); refused", hint="use a trusted archive; hub archives hold relative paths only")
        if m.issym() or m.islnk():
            raise ResolveError(
                f"archive {self.archive!r} contains a link {name!r} -> {m.linkname!r}; refused",
                hint="hub archives contain only files and folders; re-pack it without links")
        if not (m.isfile() or m.isdir()):
            raise ResolveError(f"archive {self.archive!r} has a special file {name!r}; refused",
                               hint="use a trusted archive; hub archives contain only files and folders")
        self.declared += tarfile.BLOCKSIZE + max(m.size, 0)  # headers count: a million empty files is a bomb too
        if self.declared > self.max_bytes:
            raise self._bomb()

    def count(self, nbytes: int) -> None:
        """Account for `nbytes` actually unpacked (guards against headers that understate sizes)."""
        self.written += nbytes
        if self.written > self.max_bytes:
            raise self._bomb()


def safe_extract_tar(archive: str | os.PathLike[str], dest: str | os.PathLike[str], *, max_bytes: int | None = None) -> None:
    """Extract `archive` into the new folder `dest`, atomically, refusing unsafe members.

    Nothing is written outside `dest`; on any failure `dest` does not exist afterwards.
    """
    archive = str(archive)
    guard = MemberGuard(archive, max_unpacked_bytes() if max_bytes is None else max_bytes)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        try:
            with tarfile.open(archive, "r:*") as tf:
                members = tf.getmembers()
                for m in members:  # every member is checked before the first byte is written
                    guard.check(m)
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
                            guard.count(len(chunk))
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
