"""Tiny models of every hub model family, in the real on-disk formats (see tests/test_families.py).

Each builder writes into an empty folder `path`. Single-file formats (.keras, .h5, frozen .pb) are written
as `path/model.<ext>`; `FILE_OF` names that file. Weights come from numpy.random.default_rng(seed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

#: builder name -> file inside the built folder (None: the folder itself is the model)
FILE_OF: dict[str, str | None] = {}


def _tf():
    import tensorflow as tf

    return tf


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- TF1 Hub format -------------------------------------------------------------------------------------

def _tf1_image_module(is_training: bool):
    """The module_fn of a TF1 hub image classifier: images float32[?,8,8,3] -> logits [?,10].

    As with hub.create_module_spec, the graph is built once per tag set, and `is_training` is a Python bool:
    the inference graph ({} tags) has no training switch left in it.
    """
    tf = _tf()
    v1 = tf.compat.v1
    rng = _rng(1)
    images = v1.placeholder(tf.float32, [None, 8, 8, 3], name="images")
    kernel = v1.get_variable("conv/kernel", initializer=rng.normal(0, 0.3, (3, 3, 3, 6)).astype(np.float32))
    bias = v1.get_variable("conv/bias", initializer=rng.normal(0, 0.1, (6,)).astype(np.float32))
    h = tf.nn.relu(tf.nn.conv2d(images, kernel, strides=1, padding="SAME") + bias)
    h = tf.reduce_mean(h, axis=[1, 2])
    if is_training:
        h = tf.nn.dropout(h, rate=0.5)
    dense = v1.get_variable("dense/kernel", initializer=rng.normal(0, 0.5, (6, 10)).astype(np.float32))
    logits = tf.identity(tf.matmul(h, dense), name="logits")
    return images, logits


def tf1_hub(path: Path) -> None:
    """TF1 Hub format: saved_model.pb with tag sets {} and {'train'}, tfhub_module.pb, a 'default' signature."""
    tf = _tf()
    v1 = tf.compat.v1
    builder = v1.saved_model.Builder(str(path))
    for tags in ([], ["train"]):
        with tf.Graph().as_default(), v1.Session() as sess:
            images, logits = _tf1_image_module(is_training=bool(tags))
            sess.run(v1.global_variables_initializer())
            signature = v1.saved_model.predict_signature_def({"images": images}, {"default": logits})
            if not tags:
                builder.add_meta_graph_and_variables(sess, tags, signature_def_map={"default": signature})
            else:
                builder.add_meta_graph(tags, signature_def_map={"default": signature})
    builder.save()
    # tensorflow_hub's ModuleDef proto: field 1 (format) = FORMAT_V3 (3)
    (path / "tfhub_module.pb").write_bytes(b"\x08\x03")


FILE_OF["tf1_hub"] = None


# --- TF1 frozen GraphDef -----------------------------------------------------------------------------------

@contextlib.contextmanager
def _v1_control_flow() -> Iterator[None]:
    """Build tf.compat.v1.cond as Switch/Merge, as TF1 did (restored afterwards)."""
    from tensorflow.python.ops import control_flow_util

    old = control_flow_util.ENABLE_CONTROL_FLOW_V2
    control_flow_util.ENABLE_CONTROL_FLOW_V2 = False
    try:
        yield
    finally:
        control_flow_util.ENABLE_CONTROL_FLOW_V2 = old


def frozen_graph(path: Path) -> None:
    """A frozen TF1 GraphDef: input 'x' float32[?,6] -> 'probs' [?,4], 'embedding' [?,5]; with a TF1
    `is_training` placeholder_with_default(False) switching dropout through v1 control flow (Switch/Merge)."""
    tf = _tf()
    v1 = tf.compat.v1
    rng = _rng(2)
    with _v1_control_flow(), tf.Graph().as_default(), v1.Session() as sess:
        x = v1.placeholder(tf.float32, [None, 6], name="x")
        is_training = v1.placeholder_with_default(False, [], name="is_training")
        w1 = v1.get_variable("w1", initializer=rng.normal(0, 0.5, (6, 5)).astype(np.float32))
        w2 = v1.get_variable("w2", initializer=rng.normal(0, 0.5, (5, 4)).astype(np.float32))
        h = tf.tanh(tf.matmul(x, w1))
        h = v1.cond(is_training, lambda: tf.nn.dropout(h, rate=0.5), lambda: h)
        tf.identity(h, name="embedding")
        tf.nn.softmax(tf.matmul(h, w2), name="probs")
        sess.run(v1.global_variables_initializer())
        frozen = v1.graph_util.convert_variables_to_constants(sess, sess.graph.as_graph_def(), ["probs", "embedding"])
    (path / "model.pb").write_bytes(frozen.SerializeToString())


FILE_OF["frozen_graph"] = "model.pb"


def tf1_checkpoint(path: Path) -> None:
    """A TF1 training checkpoint (model.meta + model.index/.data): 'x' float32[?,6] -> 'probs' [?,4], with a bool
    `is_training` Placeholder that has no default (dropout through v1 control flow), an Adam optimizer's
    gradient nodes, and `_output_shapes` on every node as old checkpoints have."""
    tf = _tf()
    v1 = tf.compat.v1
    rng = _rng(3)
    with _v1_control_flow(), tf.Graph().as_default(), v1.Session() as sess:
        x = v1.placeholder(tf.float32, [None, 6], name="x")
        is_training = v1.placeholder(tf.bool, [], name="is_training")
        w1 = v1.get_variable("w1", initializer=rng.normal(0, 0.5, (6, 5)).astype(np.float32))
        w2 = v1.get_variable("w2", initializer=rng.normal(0, 0.5, (5, 4)).astype(np.float32))
        h = tf.tanh(tf.matmul(x, w1))
        h = v1.cond(is_training, lambda: tf.nn.dropout(h, rate=0.5), lambda: h)
        probs = tf.nn.softmax(tf.matmul(h, w2), name="probs")
        step = v1.train.AdamOptimizer(0.01).minimize(tf.reduce_mean(probs[:, 0]))
        sess.run(v1.global_variables_initializer())
        sess.run(step, {x: rng.normal(0, 1, (8, 6)).astype(np.float32), is_training: True})
        v1.train.Saver().save(sess, str(path / "model"))
    mg = v1.MetaGraphDef()
    mg.ParseFromString((path / "model.meta").read_bytes())
    for node in mg.graph_def.node:
        node.attr["_output_shapes"].list.shape.add().unknown_rank = True
    (path / "model.meta").write_bytes(mg.SerializeToString())


FILE_OF["tf1_checkpoint"] = None


# --- Keras files ------------------------------------------------------------------------------------------

def _classifier_weights(seed: int) -> list[np.ndarray]:
    rng = _rng(seed)
    return [rng.normal(0, 0.4, (3, 3, 1, 4)).astype(np.float32), np.zeros(4, np.float32),
            rng.normal(0, 0.4, (4, 10)).astype(np.float32), rng.normal(0, 0.1, (10,)).astype(np.float32)]


def _keras_classifier(keras):
    """Same architecture under Keras 3 or tf_keras: image [?,8,8,1] -> softmax [?,10]."""
    inputs = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    out = keras.layers.Dense(10, activation="softmax", name="probs")(h)
    model = keras.Model(inputs, out)
    model.set_weights(_classifier_weights(3))
    return model


def keras3_keras(path: Path) -> None:
    """Keras 3 native .keras zip."""
    import keras

    _keras_classifier(keras).save(path / "model.keras")


def keras3_h5(path: Path) -> None:
    """Keras 3 legacy .h5 (keras_version 3.x: tf_keras cannot read it)."""
    import keras

    _keras_classifier(keras).save(path / "model.h5")


def tf_keras_h5(path: Path) -> None:
    """Keras 2 (tf_keras) .h5."""
    import tf_keras

    _keras_classifier(tf_keras).save(path / "model.h5")


def keras_lambda(path: Path) -> None:
    """Keras 3 .keras holding a Lambda layer (Python bytecode: unsafe to deserialize)."""
    import keras

    inputs = keras.Input((4,), name="x")
    out = keras.layers.Lambda(lambda t: t * 2.0 + 1.0, name="affine")(inputs)
    keras.Model(inputs, out).save(path / "model.keras")


FILE_OF.update({"keras3_keras": "model.keras", "keras3_h5": "model.h5", "tf_keras_h5": "model.h5",
                "keras_lambda": "model.keras"})


def hub_embedder(path: Path) -> None:
    """TF2 SavedModel to be wrapped by hub.KerasLayer: x float32[?,6] -> [?,4] (with a trainable variable)."""
    tf = _tf()
    rng = _rng(4)

    class Embedder(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(rng.normal(0, 0.5, (6, 4)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32)])
        def __call__(self, x):
            return tf.tanh(tf.matmul(x, self.w))

    m = Embedder()
    tf.saved_model.save(m, str(path))


FILE_OF["hub_embedder"] = None


def hub_keras_layer(path: Path, handle: Path) -> None:
    """tf_keras .h5 and .keras of a model with hub.KerasLayer(handle) followed by a Dense head."""
    import tensorflow_hub as hub
    import tf_keras

    inputs = tf_keras.Input((6,), name="x")
    h = hub.KerasLayer(str(handle), trainable=False, name="embedder")(inputs)
    out = tf_keras.layers.Dense(3, name="head")(h)
    model = tf_keras.Model(inputs, out)
    rng = _rng(5)
    model.get_layer("head").set_weights([rng.normal(0, 0.5, (4, 3)).astype(np.float32), np.zeros(3, np.float32)])
    model.save(path / "model.h5")
    model.save(path / "model.keras")


FILE_OF["hub_keras_layer"] = "model.h5"


# --- TF2 SavedModels of the other families ------------------------------------------------------------------

def image_feature_vector(path: Path) -> None:
    """Image feature vector with dynamic batch and H×W: images float32[?,?,?,3] -> feature_vector [?,16]."""
    tf = _tf()
    rng = _rng(6)

    class FeatureVector(tf.Module):
        def __init__(self) -> None:
            self.k = tf.Variable(rng.normal(0, 0.3, (3, 3, 3, 8)).astype(np.float32))
            self.w = tf.Variable(rng.normal(0, 0.3, (8, 16)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
        def serve(self, images):
            h = tf.nn.relu(tf.nn.conv2d(images, self.k, strides=2, padding="SAME"))
            return {"feature_vector": tf.matmul(tf.reduce_mean(h, axis=[1, 2]), self.w)}

    m = FeatureVector()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


VOCAB = ["the", "model", "hub", "lite", "quick", "fox"]


def text_hash(path: Path) -> None:
    """Text classifier on tf.string sentences: split, vocabulary lookup table with hash-bucket OOV ids
    (StaticVocabularyTable), a hash-bucket feature (to_hash_bucket_fast), embedding mean -> logits [?,3]."""
    tf = _tf()
    rng = _rng(7)

    class Text(tf.Module):
        def __init__(self) -> None:
            init = tf.lookup.KeyValueTensorInitializer(tf.constant(VOCAB), tf.range(len(VOCAB), dtype=tf.int64))
            self.table = tf.lookup.StaticVocabularyTable(init, num_oov_buckets=4)
            self.emb = tf.Variable(rng.normal(0, 1, (len(VOCAB) + 4, 5)).astype(np.float32))
            self.hash_emb = tf.Variable(rng.normal(0, 1, (16, 5)).astype(np.float32))
            self.w = tf.Variable(rng.normal(0, 0.5, (5, 3)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            tokens = tf.strings.split(tf.strings.lower(text))
            ids = self.table.lookup(tokens.flat_values)
            hashed = tf.strings.to_hash_bucket_fast(tokens.flat_values, 16)
            vectors = tf.gather(self.emb, ids) + tf.gather(self.hash_emb, hashed)
            pooled = tf.math.segment_mean(vectors, tokens.value_rowids())
            return {"logits": tf.matmul(pooled, self.w)}

    m = Text()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def text_custom_op(path: Path) -> None:
    """Text model whose preprocessing uses an op with neither a TFLite builtin nor a Select TF kernel
    (UnicodeScript, like SentencePiece in real models): not convertible as a whole."""
    tf = _tf()

    class Script(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(np.linspace(-1, 1, 3, dtype=np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            chars = tf.strings.unicode_decode(text, "UTF-8")
            scripts = tf.strings.unicode_script(chars.flat_values)
            counts = tf.math.segment_sum(tf.cast(scripts, tf.float32), chars.value_rowids())
            return {"score": counts[:, None] * self.w}

    m = Script()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def _detector(nms: str):
    """A tiny single-shot detector on image float32[1,16,16,3]: 16 anchors, 3 classes, then NMS.

    nms='v5': tf.image.non_max_suppression_padded-style NonMaxSuppressionV5 (maps to a TFLite builtin);
    nms='combined': tf.image.combined_non_max_suppression (multi-class, as in the TF2 Object Detection API:
    CombinedNonMaxSuppression has no TFLite builtin and runs through Select TF ops)."""
    tf = _tf()
    rng = _rng(8)
    anchors = np.stack(np.meshgrid(np.linspace(0.1, 0.7, 4), np.linspace(0.1, 0.7, 4)), -1).reshape(16, 2)
    anchors = np.concatenate([anchors, anchors + 0.3], -1).astype(np.float32)

    class Detector(tf.Module):
        def __init__(self) -> None:
            self.k = tf.Variable(rng.normal(0, 0.5, (4, 4, 3, 7)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32, name="image")])
        def serve(self, image):
            h = tf.nn.conv2d(image, self.k, strides=4, padding="VALID")  # [1,4,4,7]
            h = tf.reshape(h, [16, 7])
            boxes = tf.constant(anchors) + 0.05 * tf.tanh(h[:, :4])
            class_scores = tf.nn.sigmoid(h[:, 4:])
            scores = tf.reduce_max(class_scores, axis=-1)
            classes = tf.cast(tf.argmax(class_scores, axis=-1), tf.float32)
            if nms == "v5":
                idx, _, count = tf.raw_ops.NonMaxSuppressionV5(
                    boxes=boxes, scores=scores, max_output_size=8, iou_threshold=0.5, score_threshold=0.3,
                    soft_nms_sigma=0.0, pad_to_max_output_size=True)
                valid = tf.cast(tf.range(8) < count, tf.float32)
                return {"boxes": tf.gather(boxes, idx)[None] * valid[None, :, None],
                        "scores": (tf.gather(scores, idx) * valid)[None],
                        "classes": (tf.gather(classes, idx) * valid)[None], "count": tf.reshape(count, [1])}
            nmsed = tf.image.combined_non_max_suppression(
                boxes[None, :, None, :], class_scores[None], max_output_size_per_class=4, max_total_size=8,
                iou_threshold=0.5, score_threshold=0.3)
            return {"boxes": nmsed.nmsed_boxes, "scores": nmsed.nmsed_scores, "classes": nmsed.nmsed_classes,
                    "count": nmsed.valid_detections}

    return Detector()


def detection(path: Path) -> None:
    """Detector with NonMaxSuppressionV5 (padded): outputs boxes [1,8,4], scores/classes [1,8], count [1]."""
    tf = _tf()
    m = _detector("v5")
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def detection_combined(path: Path) -> None:
    """Detector with tf.image.combined_non_max_suppression: boxes [1,8,4], scores/classes [1,8], count [1]."""
    tf = _tf()
    m = _detector("combined")
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def audio(path: Path) -> None:
    """YAMNet-like audio model: waveform float32[?] (16 kHz, any length) -> tf.signal.stft frames ->
    log magnitude -> per-frame scores [?,5] and embeddings [?,8]."""
    tf = _tf()
    rng = _rng(9)

    class Audio(tf.Module):
        def __init__(self) -> None:
            self.mel = tf.Variable(np.abs(rng.normal(0, 0.1, (129, 8))).astype(np.float32))
            self.w = tf.Variable(rng.normal(0, 0.5, (8, 5)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="waveform")])
        def serve(self, waveform):
            spec = tf.abs(tf.signal.stft(waveform, frame_length=256, frame_step=128, fft_length=256))
            emb = tf.math.log(tf.matmul(spec, self.mel) + 1e-3)
            return {"scores": tf.nn.sigmoid(tf.matmul(emb, self.w)), "embeddings": emb}

    m = Audio()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def multi_signature(path: Path) -> None:
    """Three signatures sharing weights: serving_default/classify (x [?,6]) and embed (x, mask)."""
    tf = _tf()
    rng = _rng(10)

    class Multi(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(rng.normal(0, 0.5, (6, 4)).astype(np.float32))
            self.head = tf.Variable(rng.normal(0, 0.5, (4, 3)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32, name="x")])
        def classify(self, x):
            return {"probs": tf.nn.softmax(tf.matmul(tf.tanh(tf.matmul(x, self.w)), self.head))}

        @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32, name="x"),
                                      tf.TensorSpec([None, 6], tf.float32, name="mask")])
        def embed(self, x, mask):
            return {"embedding": tf.math.l2_normalize(tf.matmul(x * mask, self.w), axis=-1)}

    m = Multi()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.classify, "embed": m.embed})


for _name in ("image_feature_vector", "text_hash", "text_custom_op", "detection", "detection_combined", "audio",
              "multi_signature"):
    FILE_OF[_name] = None

BUILDERS = {name: globals()[name] for name in FILE_OF if name != "hub_keras_layer"}
