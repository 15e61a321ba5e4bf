"""The Flex runtime (TensorFlow 2.18.1 in its own venv, driven as a subprocess) and FlexRunner.

The session fixture builds the runtime once per machine under ~/.cache/hub2lite/flex-runtime (or
$HUB2LITE_FLEX_RUNTIME_DIR): the first build downloads TensorFlow 2.18.1 (~600 MB) and takes about
3-6 minutes on CI's 2 cores; afterwards the fixture only reads the marker file.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from hub2lite import flexruntime
from hub2lite.convert import convert
from hub2lite.errors import ConfigError
from hub2lite.feeds import synthetic_feeds
from hub2lite.flexruntime import FlexRunError, FlexRunner, FlexRuntimeError
from hub2lite.load import load
from hub2lite.resolve import resolve
from hub2lite.runners import TFRunner
from hub2lite.validate import validate


@pytest.fixture(scope="session")
def flex_runtime():
    return flexruntime.ensure_runtime(notify=print)


@pytest.fixture(scope="session")
def flex_conversion(model_path):
    loaded = load(resolve(str(model_path("flex_ops"))))
    return loaded, convert(loaded)


@pytest.fixture(scope="module")
def flex_lite(flex_runtime, flex_conversion):
    """One worker for the module's tests (starting one imports TensorFlow 2.18.1: seconds)."""
    _, conversion = flex_conversion
    with FlexRunner(conversion.model, input_names=conversion.input_names, threads=1) as lite:
        yield lite


def test_select_tf_ops_model_converted_by_current_tf_runs_in_the_flex_runtime(flex_runtime, flex_conversion,
                                                                              flex_lite):
    import tensorflow as tf

    loaded, conversion = flex_conversion
    assert conversion.flex_ops and any(op.startswith("Flex") for op in conversion.tflite_ops)
    assert flex_runtime.ready and flex_runtime.tensorflow == flexruntime.FLEX_TF_VERSION
    lite = flex_lite
    assert lite.runtime.startswith("flex-runtime:") and "2.18.1" in lite.runtime
    assert lite.tensorflow_version != tf.__version__  # converted by one TensorFlow, run by another
    assert [s.name for s in lite.input_specs()] == ["m"] and lite.signature_key == "serving_default"
    pid = lite._proc.pid
    report = validate(TFRunner(loaded.choose(None)), lite, synthetic_feeds(conversion.inputs, 5))
    assert lite._proc.pid == pid and lite._proc.poll() is None  # many calls, one worker process
    assert report.passed, report.failures
    assert {o.name for o in report.outputs} == {"det", "erf"}
    for out in report.outputs:
        assert out.max_abs <= 1e-6, (out.name, out.max_abs)


def test_flex_runner_bench_times_inside_the_worker(flex_conversion, flex_lite):
    _, conversion = flex_conversion
    stats = flex_lite.bench(synthetic_feeds(conversion.inputs, 1)[0], runs=5, warmup=2)
    assert len(stats["times_s"]) == 5 and all(t > 0 for t in stats["times_s"])
    assert stats["first_s"] > 0 and stats["peak_rss_bytes"] > 50 * 2**20  # TensorFlow is loaded there


def test_worker_errors_come_back_as_one_line(flex_lite):
    with pytest.raises(ConfigError, match="missing input 'm'"):
        flex_lite.infer({"x": np.zeros((1, 3, 3), np.float32)})
    with pytest.raises(FlexRunError, match="could not infer") as info:
        flex_lite.infer({"m": np.zeros((1, 4, 4), np.float32)})  # wrong shape: the interpreter refuses
    assert "\n" not in str(info.value)
    # the worker survives its errors
    np.testing.assert_allclose(flex_lite.infer({"m": np.zeros((1, 3, 3), np.float32)})["det"], [1.0], atol=1e-6)


def test_close_ends_the_worker(flex_runtime, flex_conversion):
    _, conversion = flex_conversion
    lite = FlexRunner(conversion.model, input_names=conversion.input_names)
    proc = lite._proc
    lite.close()
    assert proc.wait(timeout=10) == 0
    with pytest.raises(FlexRunError, match="not running"):
        lite.infer({"m": np.zeros((1, 3, 3), np.float32)})


def test_unknown_signature_is_a_config_error_before_any_worker_starts(flex_conversion):
    _, conversion = flex_conversion
    with pytest.raises(ConfigError, match=r"no signature 'nope'; it has \['serving_default'\]"):
        FlexRunner(conversion.model, signature_key="nope", allow_runtime=False)


def test_disabled_runtime_is_a_distinct_error_with_the_fix(monkeypatch, flex_conversion):
    _, conversion = flex_conversion
    with pytest.raises(FlexRuntimeError) as info:
        FlexRunner(conversion.model, allow_runtime=False)
    assert info.value.exit_code == flexruntime.EXIT_FLEX_UNAVAILABLE == 10
    assert "setup-flex" in str(info.value)
    monkeypatch.setenv("HUB2LITE_NO_FLEX_RUNTIME", "1")
    with pytest.raises(FlexRuntimeError, match="disabled"):
        flexruntime.ensure_runtime()


def test_a_half_built_runtime_is_never_ready(monkeypatch, tmp_path):
    monkeypatch.setenv("HUB2LITE_FLEX_RUNTIME_DIR", str(tmp_path))
    venv = flexruntime.runtime_dir()
    assert venv.parent == tmp_path and venv.name.startswith(f"tf-{flexruntime.FLEX_TF_VERSION}-py3.")
    (venv / "bin").mkdir(parents=True)  # a venv without the marker: the build died before the rename
    status = flexruntime.runtime_status()
    assert not status.ready and status.reason == "not set up"
    with pytest.raises(FlexRuntimeError, match="not set up.*setup-flex"):
        flexruntime.ensure_runtime(build=False)


def test_python_newer_than_tf_2_18_supports_is_refused_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("HUB2LITE_FLEX_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setattr(flexruntime, "MAX_PYTHON", (3, 9))
    assert "needs Python <= 3.9" in flexruntime.runtime_status().reason
    with pytest.raises(FlexRuntimeError, match=r"needs Python <= 3\.9 \(TensorFlow 2\.18\.1 has no wheels") as info:
        flexruntime.build_runtime()
    assert "\n" not in str(info.value) and not any(tmp_path.iterdir())  # nothing was created


def test_runtime_python_is_isolated_from_the_callers_packages(flex_runtime):
    out = subprocess.run([flex_runtime.python, "-I", "-c", "import importlib.metadata as m, importlib.util as u; "
                          "print(m.version('tensorflow'), u.find_spec('hub2lite') is None)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == [flexruntime.FLEX_TF_VERSION, "True"]


def test_the_wire_format_round_trips_every_array_kind():
    from hub2lite import _flex_worker as wire

    arrays = {"strided": np.arange(18, dtype=np.float32).reshape(2, 3, 3)[:, ::2],
              "strings": np.array([[b"ab"], [b""]], dtype=object), "empty": np.zeros((0, 3), np.int8),
              "scalar": np.float32(3.5), "ints": np.array([-(2**62), 7], np.int64)}
    index, body = wire.pack_arrays(arrays)
    back = wire.unpack_arrays(index, body)
    assert list(back) == list(arrays)
    for name, value in arrays.items():
        value = np.asarray(value)
        assert back[name].shape == value.shape, name
        expected = value.astype(np.bytes_) if value.dtype == object else value
        np.testing.assert_array_equal(back[name], expected)
