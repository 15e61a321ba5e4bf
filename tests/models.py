"""Tiny models in real hub on-disk formats, built by the tests (see conftest.py for the disk cache).

Each builder writes into an empty folder `path` and returns nothing. Keep them small: the whole
suite builds each once per cache key (the hash of this file and the TensorFlow version).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _tf():
    import tensorflow as tf

    return tf


def simple(path: Path, seed: int = 0) -> None:
    """TF2 SavedModel, serving_default: x float32[?,4] -> {'y': [?,3], 'score': [?]}."""
    tf = _tf()
    rng = np.random.default_rng(seed)

    class Simple(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(rng.normal(size=(4, 3)).astype(np.float32))
            self.b = tf.Variable(rng.normal(size=(3,)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            y = tf.nn.relu(tf.matmul(x, self.w) + self.b)
            return {"y": y, "score": tf.reduce_sum(y, axis=-1)}

    m = Simple()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def simple_other_weights(path: Path) -> None:
    """Same signature as `simple`, different weights: a deliberately mismatched original."""
    simple(path, seed=1)


def two_signatures(path: Path) -> None:
    """Two signatures, neither called serving_default: 'classify' and 'embed'."""
    tf = _tf()

    class Two(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(np.linspace(-1, 1, 24, dtype=np.float32).reshape(6, 4))

        @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32, name="features")])
        def classify(self, features):
            return {"logits": tf.matmul(features, self.w)}

        @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32, name="features"),
                                      tf.TensorSpec([None, 6], tf.float32, name="mask")])
        def embed(self, features, mask):
            return {"embedding": tf.math.l2_normalize(tf.matmul(features * mask, self.w), axis=-1)}

    m = Two()
    tf.saved_model.save(m, str(path), signatures={"classify": m.classify, "embed": m.embed})


def no_signature(path: Path) -> None:
    """No serving signature at all: only a traced __call__ (x float32[?,5] -> tensor)."""
    tf = _tf()

    class Bare(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(np.arange(10, dtype=np.float32).reshape(5, 2) / 10)

        @tf.function
        def __call__(self, x):
            return tf.tanh(tf.matmul(x, self.w))

    m = Bare()
    m.__call__.get_concrete_function(tf.TensorSpec([None, 5], tf.float32, name="x"))
    tf.saved_model.save(m, str(path))


def dynamic_image(path: Path) -> None:
    """Image model with dynamic batch, height and width: images float32[?,?,?,3] -> {'features': [?,8]}."""
    tf = _tf()
    rng = np.random.default_rng(2)

    class Conv(tf.Module):
        def __init__(self) -> None:
            self.k = tf.Variable(rng.normal(size=(3, 3, 3, 8)).astype(np.float32) * 0.3)

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
        def serve(self, images):
            x = tf.nn.relu(tf.nn.conv2d(images, self.k, strides=2, padding="SAME"))
            return {"features": tf.reduce_mean(x, axis=[1, 2])}

    m = Conv()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def flex_ops(path: Path) -> None:
    """Uses MatrixDeterminant and Erf, which TFLite only runs through Select TF ops."""
    tf = _tf()

    class Flex(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(np.eye(3, dtype=np.float32) * 2.0)

        @tf.function(input_signature=[tf.TensorSpec([None, 3, 3], tf.float32, name="m")])
        def serve(self, m):
            a = tf.matmul(m, self.w) + tf.eye(3)
            return {"det": tf.linalg.det(a), "erf": tf.math.erf(tf.reduce_mean(a, axis=-1))}

    m = Flex()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def custom_op(path: Path) -> None:
    """Uses Digamma: neither a TFLite builtin nor a Select TF op."""
    tf = _tf()

    class Custom(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            return {"y": tf.math.digamma(x + 1.0)}

    m = Custom()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def float_only_op(path: Path) -> None:
    """A dense layer followed by Sin: SIN has no int8 kernel in TFLite."""
    tf = _tf()

    class Sine(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(np.linspace(-1, 1, 16, dtype=np.float32).reshape(4, 4))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            return {"y": tf.math.sin(tf.matmul(x, self.w))}

    m = Sine()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def tf_keras_lstm(path: Path) -> None:
    """A tf_keras char model of textgenrnn's shape, small: Embedding, two stacked LSTM(128) whose sequences are
    concatenated with the embedding, averaged, and a peaked softmax; input `input` float32[1,6] (token ids as
    floats), output `next` [1,20]; saved with tf.saved_model.save.

    hub2lite's frozen route makes its LSTMs WHILE loops, on which TensorFlow 2.21's int8 calibrator segfaults
    (tensorflow/tensorflow#75140): hub2lite calibrates them itself and keeps them float. Beside the SavedModel,
    `int8_fused.tflite` is the bare converter's int8 of the *fused* form (converted with the trackable: two
    UNIDIRECTIONAL_SEQUENCE_LSTM ops, all int8): LiteRT corrupts its heap running it (glibc aborts, SIGABRT; LSTM(128)
    needed, 8-32 units run) — the real native crash tests/test_crashguard.py needs."""
    tf = _tf()
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    inp = keras.Input(shape=(6,), name="input")
    emb = keras.layers.Embedding(20, 8, embeddings_initializer=keras.initializers.RandomUniform(-2.0, 2.0))(inp)
    r1 = keras.layers.LSTM(128, return_sequences=True)(emb)
    r2 = keras.layers.LSTM(128, return_sequences=True)(r1)
    avg = keras.layers.GlobalAveragePooling1D()(keras.layers.concatenate([emb, r1, r2]))
    out = keras.layers.Dense(20, activation="softmax",
                             kernel_initializer=keras.initializers.RandomNormal(stddev=0.5))(avg)
    model = keras.Model(inp, out)

    @tf.function(input_signature=[tf.TensorSpec([1, 6], tf.float32, name="input")])
    def serve(input):  # noqa: A002 - the signature's input name
        return {"next": model(input, training=False)}

    tf.saved_model.save(model, str(path), signatures={"serving_default": serve})
    concrete = serve.get_concrete_function()
    holder = tf.Module()
    holder.fn, holder.variables_ = concrete, list(concrete.variables)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    converter.representative_dataset = lambda: ([rng.integers(0, 20, (1, 6)).astype(np.float32)] for _ in range(8))
    (path / "int8_fused.tflite").write_bytes(converter.convert())


BUILDERS = {
    "tf_keras_lstm": tf_keras_lstm,
    "simple": simple,
    "simple_other_weights": simple_other_weights,
    "two_signatures": two_signatures,
    "no_signature": no_signature,
    "dynamic_image": dynamic_image,
    "flex_ops": flex_ops,
    "custom_op": custom_op,
    "float_only_op": float_only_op,
}
