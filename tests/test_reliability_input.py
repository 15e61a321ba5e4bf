"""The bad-input matrix, through the CLI in-process: every case is one error line naming the problem and the
fix, its error class's exit code, no traceback (unless --debug), and no output file left behind."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from models_reliability import assert_one_line_error, error_lines, file_member, listing, write_tar

from hub2lite.errors import CalibrationError, ConfigError, LoadError, OutputError, ResolveError


@dataclass(frozen=True)
class Env:
    tmp: Path
    out: Path  # the output folder; must hold nothing new after a failure
    simple: Path  # SavedModel: x float32[?,4] -> y, score
    archive: Path  # hub archive of `simple`


def _corrupt_pb(env: Env, how: str) -> Path:
    bad = env.tmp / f"model-{how}"
    shutil.copytree(env.simple, bad)
    pb = bad / "saved_model.pb"
    data = pb.read_bytes()
    pb.write_bytes(data[: len(data) // 3] if how == "truncated" else
                   np.random.default_rng(0).integers(0, 256, len(data), dtype=np.uint8).tobytes())
    return bad


def _npy(env: Env, name: str, array: np.ndarray) -> Path:
    p = env.tmp / name
    np.save(p, array)
    return p


def _convert(env: Env, source: object, *extra: str, out: str | Path | None = None) -> list[str]:
    return ["convert", str(source), "-o", str(out or env.out / "m.tflite"), "--cache-dir", str(env.tmp / "cache"),
            *extra]


def _int8(env: Env, calibration: Path) -> list[str]:
    return _convert(env, env.simple, "--quantize", "int8", "--calibration", str(calibration))


def _empty_folder(env: Env) -> Path:
    (env.tmp / "empty").mkdir()
    return env.tmp / "empty"


def _garbage_tflite(env: Env) -> Path:
    p = env.tmp / "garbage.tflite"
    p.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return p


def _existing_output(env: Env) -> list[str]:
    (env.out / "m.tflite").write_bytes(b"keep me")
    return _convert(env, env.simple)


@dataclass(frozen=True)
class Case:
    id: str
    argv: Callable[[Env], list[str]]
    error: type
    needles: tuple[str, ...]


CASES = [
    Case("nonexistent_path", lambda e: _convert(e, e.tmp / "no-such-model"), ResolveError, ("does not exist",)),
    Case("folder_not_savedmodel", lambda e: _convert(e, _empty_folder(e)), LoadError, ("not a SavedModel",)),
    Case("truncated_saved_model_pb", lambda e: _convert(e, _corrupt_pb(e, "truncated")), LoadError,
         ("cannot load SavedModel",)),
    Case("corrupt_saved_model_pb", lambda e: _convert(e, _corrupt_pb(e, "random")), LoadError,
         ("cannot load SavedModel",)),
    Case("archive_not_tar", lambda e: _convert(e, _garbage_archive(e)), ResolveError, ("not a readable",)),
    Case("archive_cut_short", lambda e: _convert(e, _cut_archive(e)), ResolveError, ("not a readable",)),
    Case("archive_without_model", lambda e: _convert(e, write_tar(e.tmp / "readme.tar.gz",
                                                                  [file_member("README.md", b"# hi")])),
         LoadError, ("holds no model",)),
    Case("unknown_signature", lambda e: _convert(e, e.simple, "--signature", "nope"), ConfigError,
         ("unknown signature", "nope")),
    Case("input_shape_unknown_input", lambda e: _convert(e, e.simple, "--input-shape", "bogus=1,4"), ConfigError,
         ("unknown input", "bogus")),
    Case("input_shape_wrong_rank", lambda e: _convert(e, e.simple, "--input-shape", "x=1,4,4"), ConfigError,
         ("rank 3", "rank 2")),
    Case("input_shape_non_positive", lambda e: _convert(e, e.simple, "--input-shape", "x=0,4"), ConfigError,
         ("non-positive",)),
    Case("input_shape_unparsable", lambda e: _convert(e, e.simple, "--input-shape", "x:1,4"), ConfigError,
         ("cannot parse",)),
    Case("calibration_wrong_shape", lambda e: _int8(e, _npy(e, "c.npy", np.ones((10, 5), np.float32))),
         CalibrationError, ("shape",)),
    Case("calibration_wrong_dtype", lambda e: _int8(e, _npy(e, "c.npy", np.full((10, 4), "a"))),
         CalibrationError, ("float32",)),
    Case("calibration_nan", lambda e: _int8(e, _npy(e, "c.npy", np.array([[0, 1, np.nan, 2]] * 10, np.float32))),
         CalibrationError, ("NaN",)),
    Case("calibration_inf", lambda e: _int8(e, _npy(e, "c.npy", np.array([[0, 1, np.inf, 2]] * 10, np.float32))),
         CalibrationError, ("Inf",)),
    Case("calibration_empty_folder", lambda e: _int8(e, _empty_folder(e)), CalibrationError, ("empty",)),
    Case("output_in_missing_folder", lambda e: _convert(e, e.simple, out=e.out / "missing" / "m.tflite"),
         OutputError, ("does not exist", "mkdir")),
    Case("output_under_a_regular_file", lambda e: _convert(e, e.simple, out=_regular_file(e) / "m.tflite"),
         OutputError, ("is a file",)),
    Case("output_exists_without_force", _existing_output, OutputError, ("already exists", "--force")),
    Case("validate_not_a_flatbuffer", lambda e: ["validate", str(e.simple), str(_garbage_tflite(e))], LoadError,
         ("not a TFLite flatbuffer",)),
    Case("bench_not_a_flatbuffer", lambda e: ["bench", str(_garbage_tflite(e)), "--runs", "2"], LoadError,
         ("not a TFLite flatbuffer",)),
    Case("validate_truncated_tflite", lambda e: ["validate", str(e.simple), str(_cut_tflite(e))], LoadError,
         ("truncated or corrupt",)),
    Case("bench_truncated_tflite", lambda e: ["bench", str(_cut_tflite(e)), "--runs", "2"], LoadError,
         ("truncated or corrupt",)),
]


def _cut_tflite(env: Env) -> Path:
    """A real .tflite cut in half: it keeps its 'TFL3' identifier, so only a flatbuffer verifier notices."""
    whole = env.tmp / "whole.tflite"
    if not whole.exists():
        from hub2lite.pipeline import ConvertJob, ValidateConfig, run_convert

        run_convert(ConvertJob(str(env.simple), str(whole), validate=ValidateConfig(enabled=False)))
    data = whole.read_bytes()
    p = env.tmp / "cut.tflite"
    p.write_bytes(data[: len(data) // 2])
    return p


def _garbage_archive(env: Env) -> Path:
    p = env.tmp / "garbage.tar.gz"
    p.write_bytes(np.random.default_rng(2).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    return p


def _cut_archive(env: Env) -> Path:
    data = env.archive.read_bytes()
    p = env.tmp / "cut.tar.gz"
    p.write_bytes(data[: len(data) // 2])
    return p


def _regular_file(env: Env) -> Path:
    p = env.tmp / "notes.txt"
    p.write_text("a file, not a folder")
    return p


@pytest.fixture()
def env(tmp_path: Path, model_path, archive_of) -> Env:
    out = tmp_path / "out"
    out.mkdir()
    return Env(tmp_path, out, model_path("simple"), archive_of("simple"))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(cli, env: Env, case: Case) -> None:
    argv = case.argv(env)
    before = listing(env.out)
    kept = {p: p.read_bytes() for p in env.out.rglob("*") if p.is_file()}
    res = cli(*argv)
    assert_one_line_error(res, case.error.exit_code, *case.needles)
    assert listing(env.out) == before, "a failed command left files behind"
    for p, data in kept.items():
        assert p.read_bytes() == data, f"{p} was modified"
    assert list(env.tmp.rglob("*.part")) == []


def test_exit_codes_are_distinct_per_error_class() -> None:
    classes = [ConfigError, ResolveError, LoadError, CalibrationError, OutputError]
    codes = [c.exit_code for c in classes]
    assert len(set(codes)) == len(codes) and 0 not in codes and 1 not in codes and 3 not in codes
    assert {c.error for c in CASES} == set(classes)  # the matrix exercises every class


def test_output_in_read_only_folder(cli, env: Env) -> None:
    """root ignores permission bits, so the folder is made immutable (chattr +i), which root respects."""
    ro = env.out / "ro"
    ro.mkdir()
    if subprocess.run(["chattr", "+i", str(ro)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available on this file system")
    try:
        res = cli(*_convert(env, env.simple, out=ro / "m.tflite"))
        assert_one_line_error(res, OutputError.exit_code, "not writable")
        assert list(ro.iterdir()) == []
    finally:
        subprocess.run(["chattr", "-i", str(ro)], check=True)


def test_debug_shows_the_traceback(cli, env: Env) -> None:
    res = cli("--debug", *_convert(env, env.simple, "--signature", "nope"))
    assert res.code == ConfigError.exit_code
    assert "Traceback (most recent call last)" in res.err
    assert len(error_lines(res.err)) == 1


def test_force_replaces_the_output_pair(cli, env: Env) -> None:
    """--force overwrites both files, and the old report never sits next to the new model."""
    out = env.out / "m.tflite"
    assert cli(*_convert(env, env.simple)).code == 0
    report = out.with_name("m.report.json")
    old_report = report.read_text()
    assert cli(*_convert(env, env.simple, "--force", "--input-shape", "x=2,4")).code == 0
    assert report.read_text() != old_report and '"x"' in report.read_text()
    import hashlib
    import json

    assert json.loads(report.read_text())["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert sorted(p.name for p in env.out.iterdir()) == ["m.md", "m.report.json", "m.tflite"]  # the card too


def test_tar_archive_member_checks_happen_before_any_write(tmp_path: Path) -> None:
    """A local archive is checked whole before the first byte is unpacked."""
    from hub2lite._files import safe_extract_tar

    arch = write_tar(tmp_path / "a.tar", [file_member("ok.txt", b"fine"), file_member("../evil.txt")], mode="w")
    with pytest.raises(ResolveError, match="unsafe path"):
        safe_extract_tar(arch, tmp_path / "dest")
    assert not (tmp_path / "dest").exists() and not (tmp_path / "evil.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.tar"]
    assert tarfile.is_tarfile(arch)
