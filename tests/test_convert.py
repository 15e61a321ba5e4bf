from __future__ import annotations

import numpy as np
import pytest

from hub2lite.convert import ConvertConfig, convert, parse_input_shape
from hub2lite.errors import ConfigError, ConversionError
from hub2lite.feeds import synthetic_feeds
from hub2lite.load import load
from hub2lite.resolve import resolve
from hub2lite.runners import LiteRunner, TFRunner, open_lite_runner
from hub2lite.specs import OpsPolicy, QuantMode
from hub2lite.validate import validate


def _load(model_path, name):
    return load(resolve(str(model_path(name))))


def _check(loaded, conversion, signature=None, samples=3):
    entry = loaded.choose(signature)
    lite = open_lite_runner(conversion.model, input_names=conversion.input_names)
    report = validate(TFRunner(entry), lite, synthetic_feeds(conversion.inputs, samples))
    assert report.passed, report.failures
    return report, lite


def test_simple_model_converts_with_builtins_and_validates(model_path):
    loaded = _load(model_path, "simple")
    c = convert(loaded)
    assert c.strategy == "builtins" and c.flex_ops == ()
    assert [a.strategy for a in c.attempts] == ["builtins"]
    assert c.inputs[0].shape == (1, 4)  # dynamic batch fixed to 1
    assert "FULLY_CONNECTED" in c.tflite_ops or "BATCH_MATMUL" in c.tflite_ops
    report, lite = _check(loaded, c)
    assert {o.name for o in report.outputs} == {"y", "score"}
    assert report.output("y").max_abs < 1e-5
    assert lite.runtime.startswith("ai_edge_litert")


def test_two_signatures_need_a_choice(model_path):
    loaded = _load(model_path, "two_signatures")
    with pytest.raises(ConfigError, match="classify.*embed|embed.*classify"):
        convert(loaded)
    c = convert(loaded, ConvertConfig(signature="embed"))
    assert [s.name for s in c.inputs] == ["features", "mask"]
    report, _ = _check(loaded, c, "embed")
    assert report.output("embedding").cosine > 0.9999
    with pytest.raises(ConfigError, match="unknown signature 'nope'"):
        convert(loaded, ConvertConfig(signature="nope"))


def test_model_without_signature_converts_through_traced_call(model_path):
    loaded = _load(model_path, "no_signature")
    assert [s.name for s in loaded.signatures] == ["__call__"]
    assert loaded.signatures[0].kind == "call"
    c = convert(loaded)
    assert c.inputs[0].shape == (1, 5)
    report, _ = _check(loaded, c)
    assert report.outputs[0].name == "output_0"


def test_dynamic_image_fixed_shape(model_path):
    loaded = _load(model_path, "dynamic_image")
    c = convert(loaded, ConvertConfig(input_shapes={"images": (2, 32, 48, 3)}))
    lite = LiteRunner(c.model, input_names=c.input_names)
    assert lite.input_specs()[0].shape == (2, 32, 48, 3)
    _check(loaded, c)


def test_dynamic_image_default_is_batch1_224_with_note(model_path):
    loaded = _load(model_path, "dynamic_image")
    c = convert(loaded)
    assert c.inputs[0].shape == (1, 224, 224, 3)
    assert any("224x224" in n for n in c.notes)


def test_dynamic_image_keep_dynamic(model_path):
    loaded = _load(model_path, "dynamic_image")
    c = convert(loaded, ConvertConfig(keep_dynamic=True))
    lite = LiteRunner(c.model, input_names=c.input_names)
    assert lite.input_specs()[0].shape == (None, None, None, 3)
    entry = loaded.choose()
    for shape in [(1, 16, 16, 3), (3, 40, 24, 3)]:  # really runs at several sizes
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
        got = lite.infer({"images": x})["features"]
        ref = TFRunner(entry).infer({"images": x})["features"]
        assert got.shape == (shape[0], 8)
        np.testing.assert_allclose(got, ref, atol=1e-5)


def test_select_tf_ops_step_is_taken_and_recorded(model_path):
    loaded = _load(model_path, "flex_ops")
    c = convert(loaded)
    assert c.strategy == "builtins+select"
    assert c.flex_ops == ("Erf", "MatrixDeterminant")
    assert c.attempts[0].ok is False and c.attempts[0].flex_ops == ("Erf", "MatrixDeterminant")
    assert any(op.startswith("Flex") for op in c.tflite_ops)
    report, lite = _check(loaded, c)  # really executed through the Flex delegate, in the Flex runtime
    assert lite.runtime.startswith("flex-runtime:") and "Flex delegate" in lite.runtime
    with pytest.raises(ConfigError, match="Select TF ops.*ai-edge-litert cannot run"):
        LiteRunner(c.model)  # this process's interpreters cannot run it
    assert report.output("det").max_abs < 1e-3


def test_no_flex_fails_naming_the_ops(model_path):
    loaded = _load(model_path, "flex_ops")
    with pytest.raises(ConversionError) as info:
        convert(loaded, ConvertConfig(ops_policy=OpsPolicy.BUILTINS))
    msg = str(info.value)
    assert "Erf" in msg and "MatrixDeterminant" in msg and "--no-flex" in msg
    assert len(info.value.attempts) == 1


def test_unconvertible_op_fails_with_next_steps(model_path):
    loaded = _load(model_path, "custom_op")
    with pytest.raises(ConversionError) as info:
        convert(loaded)
    assert "Digamma" in str(info.value)
    assert "preprocessing" in info.value.hint


@pytest.mark.parametrize("text, parsed", [
    ("images=1,224,224,3", ("images", (1, 224, 224, 3))),
    ("x = 1x8", ("x", (1, 8))),
    ("serving_default_input:0=2,3", ("serving_default_input:0", (2, 3))),
])
def test_parse_input_shape(text, parsed):
    assert parse_input_shape(text) == parsed


@pytest.mark.parametrize("text", ["images", "=1,2", "x=1,,2", "x=0,3", "x=-1,3", "x=a,b"])
def test_parse_input_shape_rejects(text):
    with pytest.raises(ConfigError):
        parse_input_shape(text)


def test_for_mode_keeps_each_setting_for_the_modes_it_concerns():
    """One rule for every run of several modes (sweep's variants, batch's modes, a lone convert): the int8-strict
    I/O type, the int8 techniques (int8 and int8-strict) and the parts kept in float (int8 only)."""
    given = ConvertConfig(io_type="uint8", int8_ranges="mse", bias_correction=True, int8_keep_float=("softmax",),
                          batch_size=2, float16_guard=False)
    settings = {m: given.for_mode(m) for m in QuantMode}
    for mode, c in settings.items():
        assert c.quantize is mode and c.batch_size == 2 and c.float16_guard is False  # the rest is kept
        int8 = mode in (QuantMode.INT8, QuantMode.INT8_STRICT)
        assert (c.int8_ranges, c.bias_correction) == (("mse", True) if int8 else ("minmax", False)), mode
        assert c.io_type == ("uint8" if mode is QuantMode.INT8_STRICT else None), mode
        assert c.int8_keep_float == (("softmax",) if mode is QuantMode.INT8 else ()), mode
        assert c.for_mode(mode) == c


def test_input_shape_errors_name_the_input(model_path):
    loaded = _load(model_path, "dynamic_image")
    with pytest.raises(ConfigError, match="unknown input"):
        convert(loaded, ConvertConfig(input_shapes={"pixels": (1, 8, 8, 3)}))
    with pytest.raises(ConfigError, match="rank 3"):
        convert(loaded, ConvertConfig(input_shapes={"images": (1, 8, 8)}))
    with pytest.raises(ConfigError, match="contradicts"):
        convert(loaded, ConvertConfig(input_shapes={"images": (1, 8, 8, 4)}))
