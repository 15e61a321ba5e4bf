"""Builders and helpers for the reliability tests: a model that takes seconds to convert, hostile archives,
and the checks every user-facing failure must pass."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

#: Layers of `deep_slow`: enough that converting it takes several seconds (measured ~5-7 s here).
DEEP_LAYERS = 300


def deep_slow(path: Path) -> None:
    """TF2 SavedModel whose conversion takes seconds: x float32[?,16] through 300 matmul/tanh/sin blocks."""
    import tensorflow as tf

    rng = np.random.default_rng(0)

    class Deep(tf.Module):
        def __init__(self) -> None:
            self.ws = [tf.Variable(rng.normal(size=(16, 16)).astype(np.float32) * 0.25) for _ in range(DEEP_LAYERS)]

        @tf.function(input_signature=[tf.TensorSpec([None, 16], tf.float32, name="x")])
        def serve(self, x):
            for w in self.ws:
                x = tf.tanh(tf.matmul(x, w)) + tf.sin(x) * 0.1
            return {"y": x}

    m = Deep()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


#: What the smuggled Lambda of `keras_lambda_marker` creates in the current folder when it runs.
LAMBDA_MARKER = "hub2lite-lambda-ran"


def keras_lambda_marker(path: Path) -> None:
    """Keras 3 .keras whose Lambda layer, when deserialized and run, creates LAMBDA_MARKER in the current
    folder (stands in for code an attacker ships in a model file)."""
    import keras

    code = f"lambda t: (open({LAMBDA_MARKER!r}, 'w').close(), t * 2.0)[1]"
    inputs = keras.Input((4,), name="x")
    out = keras.layers.Lambda(eval(code), output_shape=(4,), name="smuggled")(inputs)  # noqa: S307 - own constant
    keras.Model(inputs, out).save(path / "model.keras")
    Path(LAMBDA_MARKER).unlink(missing_ok=True)  # if building the model ran it


BUILDERS = {"deep_slow": deep_slow, "keras_lambda_marker": keras_lambda_marker}


# -- archives -----------------------------------------------------------------------------------------------

def file_member(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes | None]:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    return ti, data


def dir_member(name: str) -> tuple[tarfile.TarInfo, bytes | None]:
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    ti.mode = 0o755
    return ti, None


def link_member(name: str, target: str, *, hard: bool = False) -> tuple[tarfile.TarInfo, bytes | None]:
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    ti.linkname = target
    return ti, None


def zeros_member(name: str, size: int) -> tuple[tarfile.TarInfo, bytes | None]:
    ti = tarfile.TarInfo(name)
    ti.size = size
    return ti, b"\0" * size


def write_tar(path: Path, members: Iterable[tuple[tarfile.TarInfo, bytes | None]], *, mode: str = "w:gz") -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    path.write_bytes(buf.getvalue())
    return path


def model_members(model_dir: Path) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    """A real SavedModel's files as tar members (relative paths), to mix with hostile ones."""
    out: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for p in sorted(model_dir.rglob("*")):
        rel = str(p.relative_to(model_dir))
        out.append(dir_member(rel) if p.is_dir() else file_member(rel, p.read_bytes()))
    return out


# -- checks ---------------------------------------------------------------------------------------------------

def error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("hub2lite: error:")]


def assert_one_line_error(res, code: int, *needles: str) -> str:
    """The failure contract: exit `code`, exactly one error line naming the problem (`needles`) and a fix,
    no traceback, nothing else on stderr but warnings."""
    assert res.code == code, res
    errors = error_lines(res.err)
    assert len(errors) == 1, res
    line = errors[0]
    assert "(fix: " in line, res
    for needle in needles:
        assert needle.lower() in line.lower(), (needle, line)
    assert "Traceback" not in res.err and "Traceback" not in res.out, res
    others = [ln for ln in res.err.splitlines() if ln.strip() and not ln.startswith(("hub2lite: error:",
                                                                                     "hub2lite: warning:"))]
    assert not others, res
    return line


def listing(folder: Path) -> set[str]:
    """Every path under `folder` (hidden temp files included), relative."""
    if not folder.exists():
        return set()
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} | {"."}


def tree_outside(root: Path, inside: Path) -> set[str]:
    """Files under `root` that are not under `inside`."""
    return {str(p) for p in root.rglob("*") if not p.is_relative_to(inside)}


def env_without_tf_noise() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env
