"""Hostile files: archives that try to write outside their folder or to exhaust the disk are refused, both as
local archives and when fetched through tensorflow_hub's resolver; Keras files carrying code are not run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import cached_build
from models_reliability import (BUILDERS, LAMBDA_MARKER, assert_one_line_error, file_member, link_member, model_members,
                                tree_outside, write_tar, zeros_member)

import models_reliability
from hub2lite.errors import ConfigError, LoadError, ResolveError
from hub2lite.localhub import LocalHub
from hub2lite.resolve import resolve

FAST = {"timeout": 2.0, "retries": 0, "backoff": 0.01}


@pytest.fixture(scope="module")
def hub() -> Iterator[LocalHub]:
    with LocalHub() as h:
        yield h


def _hostile(kind: str, root: Path, model: Path) -> list:
    """Members of a hub archive holding a real model plus one hostile entry aimed at `root/escaped-*`."""
    target = root / f"escaped-{kind}"
    evil = {
        "dotdot": [file_member("variables/../../../escaped-dotdot", b"pwned")],
        "dotdot_nested": [file_member("assets/a/b/../../../../escaped-dotdot_nested", b"pwned")],
        "absolute": [file_member(str(target), b"pwned")],
        "symlink": [link_member("assets/link", str(root)), file_member("assets/link/escaped-symlink", b"pwned")],
        "hardlink": [link_member("assets/hard", str(root / "victim.txt"), hard=True)],
        "device": [],
    }[kind]
    members = model_members(model) + evil
    if kind == "device":
        import tarfile

        ti = tarfile.TarInfo("assets/fifo")
        ti.type = tarfile.FIFOTYPE
        members.append((ti, None))
    return members


KINDS = ["dotdot", "dotdot_nested", "absolute", "symlink", "hardlink", "device"]
NEEDLE = {"dotdot": "unsafe path", "dotdot_nested": "unsafe path", "absolute": "unsafe path", "symlink": "link",
          "hardlink": "link", "device": "special file"}


@pytest.fixture()
def arena(tmp_path: Path) -> Path:
    """A folder whose whole content is known: anything new outside the cache is an escape."""
    (tmp_path / "victim.txt").write_text("original")
    return tmp_path


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_local_archive_is_refused(cli, arena: Path, model_path, kind: str) -> None:
    arch = write_tar(arena / f"{kind}.tar.gz", _hostile(kind, arena, model_path("simple")))
    before = tree_outside(arena, arena / "cache")
    res = cli("convert", arch, "-o", arena / "m.tflite", "--cache-dir", arena / "cache")
    assert_one_line_error(res, ResolveError.exit_code, NEEDLE[kind], "refused")
    assert tree_outside(arena, arena / "cache") == before  # nothing escaped, no output
    assert (arena / "victim.txt").read_text() == "original"
    cache = arena / "cache"
    assert not cache.exists() or [p for p in cache.rglob("*") if p.is_file()] == []  # nothing unpacked at all


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_hub_archive_is_refused(hub, arena: Path, model_path, kind: str) -> None:
    """The same archives served over HTTP and unpacked by tensorflow_hub's own extractor (guarded)."""
    arch = write_tar(arena / f"{kind}.tar.gz", _hostile(kind, arena, model_path("simple")))
    handle = hub.add(f"evil/{kind}/1", arch)
    before = tree_outside(arena, arena / "cache")
    with pytest.raises(ResolveError, match=NEEDLE[kind]) as info:
        resolve(handle, cache_dir=arena / "cache", **FAST)
    assert "refused" in info.value.message and info.value.hint
    assert tree_outside(arena, arena / "cache") == before
    assert (arena / "victim.txt").read_text() == "original"
    assert sorted(p.name for p in (arena / "cache").iterdir()) == []  # no module, no .tmp, no .lock


def test_tensorflow_hub_alone_would_reroot_absolute_paths(arena: Path, model_path) -> None:
    """Why the guard exists: tensorflow_hub's own extractor accepts an absolute member (it strips the '/')."""
    import io

    from tensorflow_hub import file_utils

    arch = write_tar(arena / "abs.tar", _hostile("absolute", arena, model_path("simple")), mode="w")
    # make the parent folders exist inside the destination, as a crafted archive would
    dest = arena / "dest"
    dest.mkdir()
    (dest / str(arena).lstrip("/")).mkdir(parents=True)
    file_utils.extract_tarfile_to_destination(io.BytesIO(arch.read_bytes()), str(dest))
    assert (dest / str(arena).lstrip("/") / "escaped-absolute").read_bytes() == b"pwned"  # silently accepted


@pytest.mark.parametrize("shape", ["one_huge_file", "many_files"])
def test_decompression_bomb_local(cli, arena: Path, monkeypatch, shape: str) -> None:
    monkeypatch.setenv("HUB2LITE_MAX_UNPACKED_MB", "4")
    members = ([zeros_member("saved_model.pb", 64 * 1024**2)] if shape == "one_huge_file" else
               [zeros_member(f"variables/shard-{i}", 512 * 1024) for i in range(12)])
    arch = write_tar(arena / "bomb.tar.gz", members)
    assert arch.stat().st_size < 200 * 1024  # tiny on disk...
    res = cli("convert", arch, "-o", arena / "m.tflite", "--cache-dir", arena / "cache")
    assert_one_line_error(res, ResolveError.exit_code, "more than 4 MiB", "decompression bomb",
                          "HUB2LITE_MAX_UNPACKED_MB")
    cache = arena / "cache"
    assert sum(p.stat().st_size for p in cache.rglob("*") if p.is_file()) == 0 if cache.exists() else True


def test_decompression_bomb_hub(hub, arena: Path, monkeypatch) -> None:
    monkeypatch.setenv("HUB2LITE_MAX_UNPACKED_MB", "4")
    arch = write_tar(arena / "bomb.tar.gz", [file_member("saved_model.pb", b"x"),
                                             zeros_member("variables/variables.data-00000-of-00001", 64 * 1024**2)])
    handle = hub.add("evil/bomb/1", arch)
    with pytest.raises(ResolveError, match="decompression bomb"):
        resolve(handle, cache_dir=arena / "cache", **FAST)
    assert list((arena / "cache").iterdir()) == []
    written = sum(p.stat().st_size for p in arena.rglob("*") if p.is_file() and p != arch)
    assert written < 1024**2  # refused from the header, before unpacking


def test_unpack_limit_must_be_a_positive_number(cli, arena: Path, archive_of, monkeypatch) -> None:
    monkeypatch.setenv("HUB2LITE_MAX_UNPACKED_MB", "lots")
    res = cli("convert", archive_of("simple"), "-o", arena / "m.tflite", "--cache-dir", arena / "cache")
    assert_one_line_error(res, ConfigError.exit_code, "HUB2LITE_MAX_UNPACKED_MB")


def test_guard_is_removed_after_resolve(hub, archive_of, arena: Path) -> None:
    """tensorflow_hub is left as it was found (the guard is installed only while hub2lite resolves)."""
    from tensorflow_hub import file_utils

    original = file_utils.extract_tarfile_to_destination
    resolve(hub.add("ok/simple/1", archive_of("simple")), cache_dir=arena / "cache", **FAST)
    assert file_utils.extract_tarfile_to_destination is original


@pytest.fixture(scope="module")
def lambda_model() -> Callable[[], Path]:
    def get() -> Path:
        return cached_build("keras_lambda_marker", BUILDERS["keras_lambda_marker"], Path(models_reliability.__file__))

    return get


def test_keras_lambda_is_not_deserialized(cli, lambda_model, tmp_path: Path, monkeypatch) -> None:
    folder = lambda_model()
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / LAMBDA_MARKER
    res = cli("convert", folder / "model.keras", "-o", tmp_path / "m.tflite")
    assert_one_line_error(res, LoadError.exit_code, "Lambda", "--unsafe-keras")
    assert not marker.exists(), "the file's code ran"
    assert list(tmp_path.iterdir()) == []  # no marker, no output


def test_keras_lambda_runs_only_with_unsafe_keras(cli, lambda_model, tmp_path: Path, monkeypatch) -> None:
    """The opt-in really is what runs the file's code: with --unsafe-keras the smuggled Lambda executes (and the
    model converts, validated)."""
    folder = lambda_model()
    monkeypatch.chdir(tmp_path)
    res = cli("convert", folder / "model.keras", "-o", tmp_path / "m.tflite", "--unsafe-keras")
    assert res.code == 0, res
    assert (tmp_path / LAMBDA_MARKER).exists()
    assert (tmp_path / "m.tflite").is_file()
