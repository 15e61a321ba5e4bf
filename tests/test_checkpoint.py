"""TF1 checkpoints (.meta + .index/.data) frozen by hub2lite.checkpoint, on a small TF1 training graph built here
(gradient nodes carrying `_output_shapes`, a bool is_training Placeholder with no default switching dropout
and batch statistics)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hub2lite.checkpoint import find_meta, freeze_checkpoint, is_checkpoint, parse_freeze_input
from hub2lite.errors import ConfigError, LoadError


def _build(path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """A trained-for-3-steps TF1 tagger checkpoint; returns (.meta, a batch, its eval-mode outputs)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x_val = rng.normal(0, 1, (4, 10, 6)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(0)
        x = tf.compat.v1.placeholder(tf.float32, [None, 10, 6], name="model/Placeholder")
        training = tf.compat.v1.placeholder(tf.bool, name="model/is_training")
        v1 = tf.compat.v1
        w1 = v1.get_variable("dense/kernel", [60, 16], initializer=v1.glorot_uniform_initializer(seed=1))
        w2 = v1.get_variable("out/kernel", [16, 5], initializer=v1.glorot_uniform_initializer(seed=2))
        moving = v1.get_variable("bn/moving_mean", [16], initializer=v1.constant_initializer(0.3), trainable=False)
        h = tf.nn.relu(tf.matmul(tf.reshape(x, [-1, 60]), w1))
        t = tf.cast(training, tf.float32)  # the switch, as arithmetic (no v2 control-flow functions)
        h = t * (h - tf.reduce_mean(h, 0)) + (1 - t) * (h - moving)  # batch vs moving statistics
        h = h * (t * tf.nn.dropout(tf.ones_like(h), rate=0.5) + (1 - t))  # dropout only while training
        out = tf.nn.sigmoid(tf.matmul(h, w2), name="model/Sigmoid")
        loss = tf.reduce_mean(out)
        step = tf.compat.v1.train.AdamOptimizer(0.01).minimize(loss)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for _ in range(3):
                sess.run(step, {x: x_val, training: True})
            expected = sess.run(out, {x: x_val, training: False})
            tf.compat.v1.train.Saver().save(sess, str(path / "model"))
    # old checkpoints carry _output_shapes on every node (what newer TensorFlow trips over on gradient nodes)
    meta = path / "model.meta"
    mg = tf.compat.v1.MetaGraphDef()
    mg.ParseFromString(meta.read_bytes())
    for node in mg.graph_def.node:
        node.attr["_output_shapes"].list.shape.add().unknown_rank = True
    meta.write_bytes(mg.SerializeToString())
    return meta, x_val, expected


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("ckpt"))


def _run_frozen(graph_def: bytes, feeds: dict[str, np.ndarray], output: str) -> np.ndarray:
    import tensorflow as tf

    gdef = tf.compat.v1.GraphDef()
    gdef.ParseFromString(graph_def)
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.import_graph_def(gdef, name="")
        with tf.compat.v1.Session(graph=g) as sess:
            return sess.run(output + ":0", {k + ":0": v for k, v in feeds.items()})


def test_checkpoint_freezes_with_is_training_constant(ckpt):
    meta, x, expected = ckpt
    assert is_checkpoint(meta) and is_checkpoint(meta.parent) and find_meta(meta.parent) == meta
    g = freeze_checkpoint(meta.parent, input_names=["model/Placeholder"], output_names=["model/Sigmoid:0"],
                          freeze_inputs={"model/is_training": "false"})
    assert g.frozen_inputs == {"model/is_training": False} and g.variables > 0
    assert any("_output_shapes" in n for n in g.notes)
    got = _run_frozen(g.graph_def, {"model/Placeholder": x}, "model/Sigmoid")
    np.testing.assert_allclose(got, expected, atol=1e-6)  # eval mode: no dropout, moving statistics
    again = _run_frozen(g.graph_def, {"model/Placeholder": x}, "model/Sigmoid")
    np.testing.assert_array_equal(got, again)  # deterministic: dropout is off


def test_checkpoint_converts_and_matches(ckpt, tmp_path):
    import tensorflow as tf

    from hub2lite.load import load
    from hub2lite.resolve import resolve
    from hub2lite.convert import ConvertConfig, convert
    from hub2lite.load import LoadOptions

    meta, x, expected = ckpt
    g = freeze_checkpoint(meta, input_names=["model/Placeholder"], output_names=["model/Sigmoid"],
                          freeze_inputs={"model/is_training": "0"})
    pb = tmp_path / "frozen.pb"
    pb.write_bytes(g.graph_def)
    loaded = load(resolve(str(pb)), options=LoadOptions(input_names=g.inputs, output_names=g.outputs))
    conv = convert(loaded, ConvertConfig(input_shapes={"model/Placeholder": (4, 10, 6)}))
    interp = tf.lite.Interpreter(model_content=conv.model)
    runner = interp.get_signature_runner()
    (name,) = runner.get_input_details()
    (out,) = runner(**{name: x}).values()
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_checkpoint_errors_name_the_fix(ckpt, tmp_path):
    meta, _, _ = ckpt
    with pytest.raises(ConfigError, match="neither inputs nor frozen"):
        freeze_checkpoint(meta, input_names=["model/Placeholder"], output_names=["model/Sigmoid"])
    with pytest.raises(ConfigError, match="name the outputs"):
        freeze_checkpoint(meta, input_names=["model/Placeholder"])
    with pytest.raises(ConfigError, match="not in the checkpoint's graph"):
        freeze_checkpoint(meta, output_names=["model/Nope"])
    with pytest.raises(ConfigError, match="bool input"):
        freeze_checkpoint(meta, input_names=["model/Placeholder"], output_names=["model/Sigmoid"],
                          freeze_inputs={"model/is_training": "maybe"})
    with pytest.raises(LoadError, match="no single TF1 checkpoint"):
        freeze_checkpoint(tmp_path, output_names=["x"])
    lonely = tmp_path / "lonely.meta"
    lonely.write_bytes(meta.read_bytes())
    with pytest.raises(LoadError, match="lonely.index is missing"):
        freeze_checkpoint(lonely, output_names=["model/Sigmoid"])
    assert parse_freeze_input("model/is_training:0=false") == ("model/is_training", "false")
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        parse_freeze_input("is_training")
