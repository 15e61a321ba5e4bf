"""quantize/transformer: LayerNorm / Softmax (with its masking) / GELU found in a real conversion of the
BERT-style fixture, and an int8 model with them kept in float measured against plain int8 on real text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import models_text
from conftest import cached_build
from hub2lite.quantize.transformer import float_nodes_for, fragile_ops

SEQ = 32


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    from hub2lite.convert import ConvertConfig, convert, plan_input_specs
    from hub2lite.load import load
    from hub2lite.resolve import resolve
    from hub2lite.prepare import text_plan_for
    from hub2lite.text_encoder import text_data_feeds, text_input_shapes

    folder = cached_build("text-bert_encoder", models_text.bert_encoder, Path(models_text.__file__))
    loaded = load(resolve(str(folder)))
    entry = loaded.choose(None)
    shapes = text_input_shapes(entry.info, SEQ, {})
    specs, _ = plan_input_specs(entry.info, ConvertConfig(input_shapes=shapes))
    plan = text_plan_for(entry, specs, folder)
    tmp = tmp_path_factory.mktemp("text")
    cal, _ = text_data_feeds(models_text.write_sentences(tmp / "cal.txt", 60, offset=100), specs, plan,
                             limit=None, seed=0)
    val, _ = text_data_feeds(models_text.write_sentences(tmp / "val.txt", 40), specs, plan, limit=None, seed=0)
    return loaded, entry, specs, shapes, convert(loaded, ConvertConfig(input_shapes=shapes)).model, cal, val


def test_parts_found_in_the_converted_graph(bert):
    model = bert[4]
    parts = fragile_ops(model)
    assert len(parts["gelu"]) == models_text.LAYERS
    # per layer: SOFTMAX, the SELECT_V2 masking and the MUL scaling the scores
    assert len(parts["softmax"]) == 3 * models_text.LAYERS
    assert sum("Softmax" in n for n in parts["softmax"]) == models_text.LAYERS
    assert sum("SelectV2" in n for n in parts["softmax"]) == models_text.LAYERS
    norms = 1 + 2 * models_text.LAYERS  # embeddings + two per layer
    assert len(parts["layernorm"]) == 10 * norms  # mean, sq diff, variance, +eps, rsqrt, 3 mul, 2 add
    # every op is inside a LayerNormalization layer (the last one writes the model output, named Identity_1)
    assert all("_norm_1/" in n or n.startswith("Identity") for n in parts["layernorm"])
    assert len(float_nodes_for(model)) == len(set(parts["layernorm"]) | set(parts["softmax"]) | set(parts["gelu"]))
    with pytest.raises(ValueError, match="unknown transformer parts"):
        fragile_ops(model, ("attention",))


def test_int8_keep_float_holds_on_real_text_and_is_recorded(bert):
    """ConvertConfig.int8_keep_float (--int8-keep-float) finds the parts by kind in the calibrated flatbuffer
    itself: the attention softmax path in float turns a failing int8 encoder into one that holds on real text."""
    from hub2lite.convert import ConvertConfig, convert
    from hub2lite.errors import ConfigError
    from hub2lite.runners import LiteRunner, TFRunner
    from hub2lite.specs import QuantMode

    loaded, entry, specs, shapes, model, cal, val = bert
    ref = np.concatenate([TFRunner(entry, specs).infer(f)["pooled_output"] for f in val])

    def int8(**kw):
        c = convert(loaded, ConvertConfig(input_shapes=shapes, quantize=QuantMode.INT8, **kw), calibration=cal)
        runner = LiteRunner(c.model)
        got = np.concatenate([runner.infer(f)["pooled_output"] for f in val])
        cos = (ref * got).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(got, axis=1)
        return c, float(np.mean(cos))

    _, plain = int8()
    conv, kept = int8(int8_keep_float=("softmax",))
    assert kept > 0.99 and kept > plain + 0.005, (plain, kept)
    assert conv.recipe["int8_keep_float"] == ["softmax"]
    settings = conv.converter_settings
    assert settings["int8_keep_float"] == {"softmax": 3 * models_text.LAYERS}  # SOFTMAX, its masking, the scaling
    assert settings["route_int8"] == "calibrate_only+mlir_quantize"
    kept_ops = set(settings["int8_keep_float_nodes"])
    assert {n for n in float_nodes_for(model, ("softmax",))} == kept_ops  # the same ops as in the float model
    with pytest.raises(ConfigError, match="needs --quantize int8"):
        convert(loaded, ConvertConfig(input_shapes=shapes, quantize=QuantMode.DYNAMIC, int8_keep_float=("gelu",)))
    with pytest.raises(ConfigError, match="unknown part 'attention'"):
        convert(loaded, ConvertConfig(input_shapes=shapes, quantize=QuantMode.INT8, int8_keep_float=("attention",)),
                calibration=cal)


def test_int8_keep_float_refuses_a_part_the_model_lacks(tmp_path):
    """A model with no GELU: one line naming the part, exit 2 (ConfigError), nothing written."""
    import tensorflow as tf

    from hub2lite.convert import ConvertConfig, convert
    from hub2lite.errors import ConfigError
    from hub2lite.load import load
    from hub2lite.resolve import resolve
    from hub2lite.specs import QuantMode

    model = tf.keras.Sequential([tf.keras.Input((8,)), tf.keras.layers.Dense(4), tf.keras.layers.Softmax()])
    model.export(str(tmp_path / "m"), verbose=False)
    loaded = load(resolve(str(tmp_path / "m")))
    cal = [{loaded.choose(None).info.inputs[0].name: np.random.default_rng(i).normal(size=(1, 8)).astype(np.float32)}
           for i in range(8)]
    with pytest.raises(ConfigError, match="--int8-keep-float gelu: this model has no such ops"):
        convert(loaded, ConvertConfig(quantize=QuantMode.INT8, int8_keep_float=("gelu",)), calibration=cal)
    from hub2lite.quantize.transformer import has_attention

    assert not has_attention(convert(loaded, ConvertConfig()).model)  # a classifier's last softmax is no attention


def test_the_encoder_has_attention(bert):
    from hub2lite.quantize.transformer import has_attention

    assert has_attention(bert[4])
