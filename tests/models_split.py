"""Models with ops nothing in TFLite can run (no builtin, no Select TF kernel), for tests/test_split.py.

Built like the other fixtures (tests/models.py): real TF2 SavedModels, cached per cache key by conftest.cached_build
and served through the loopback hub as hub-format archives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Example sentences in several scripts (Latin, Cyrillic, Greek, Han, Arabic), and the empty string.
TEXTS = ["hello world", "привет мир", "γειά σου κόσμε", "你好，世界", "مرحبا بالعالم", "mixed текст 混合", "",
         "a",
         "Hello World and good morning", "the model reads a text"]


def _tf():
    import tensorflow as tf

    return tf


def text_script_classifier(path: Path) -> None:
    """A character-level text classifier whose preprocessing uses UnicodeScript (no TFLite builtin, no Select TF
    kernel) on the decoded characters: serving_default text string[?] -> {'probabilities': float32[?, 3]}.

    Each character becomes an embedding of its Unicode script plus one of its code point (hashed into 64
    buckets); a sentence is the mean of its characters (empty sentences keep their row), then a dense softmax."""
    tf = _tf()
    rng = np.random.default_rng(15)

    class ScriptClassifier(tf.Module):
        def __init__(self) -> None:
            self.script_emb = tf.Variable(rng.normal(0, 1, (200, 8)).astype(np.float32))
            self.char_emb = tf.Variable(rng.normal(0, 1, (64, 8)).astype(np.float32))
            self.w = tf.Variable(rng.normal(0, 0.5, (8, 3)).astype(np.float32))
            self.b = tf.Variable(np.array([0.1, -0.2, 0.05], np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            chars = tf.strings.unicode_decode(text, "UTF-8")
            scripts = tf.strings.unicode_script(chars.flat_values)
            ids = tf.clip_by_value(scripts, 0, 199)
            buckets = tf.math.floormod(chars.flat_values, 64)
            vectors = tf.gather(self.script_emb, ids) + tf.gather(self.char_emb, buckets)
            rows = tf.cast(chars.value_rowids(), tf.int32)
            n = tf.cast(chars.nrows(), tf.int32)
            sums = tf.math.unsorted_segment_sum(vectors, rows, n)
            counts = tf.math.unsorted_segment_sum(tf.ones_like(rows, tf.float32), rows, n)
            pooled = sums / tf.maximum(counts, 1.0)[:, None]
            return {"probabilities": tf.nn.softmax(tf.matmul(pooled, self.w) + self.b)}

    m = ScriptClassifier()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def calibrated_classifier(path: Path) -> None:
    """A dense classifier whose post-processing calibrates its probabilities with the regularized incomplete beta
    function (Betainc: no TFLite builtin, no Select TF kernel): serving_default features float32[?, 6] ->
    {'probabilities': [?, 4], 'calibrated': [?, 4]}."""
    tf = _tf()
    rng = np.random.default_rng(16)

    class Calibrated(tf.Module):
        def __init__(self) -> None:
            self.w1 = tf.Variable(rng.normal(0, 0.6, (6, 16)).astype(np.float32))
            self.w2 = tf.Variable(rng.normal(0, 0.6, (16, 4)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32, name="features")])
        def serve(self, features):
            probs = tf.nn.softmax(tf.matmul(tf.nn.relu(tf.matmul(features, self.w1)), self.w2))
            a = tf.fill(tf.shape(probs), 2.0)
            b = tf.fill(tf.shape(probs), 3.0)
            return {"probabilities": probs, "calibrated": tf.math.betainc(a, b, probs)}

    m = Calibrated()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def flex_body_calibrated(path: Path) -> None:
    """A body that needs Select TF ops (MatrixDeterminant: no builtin, a Flex kernel) before a Betainc
    post-processing (no kernel anywhere): serving_default m float32[?, 3, 3] -> {'probabilities': [?, 4],
    'calibrated': [?, 4]}. Cut at the softmax, the body .tflite keeps MatrixDeterminant as a Select TF op."""
    tf = _tf()
    rng = np.random.default_rng(17)

    class FlexCalibrated(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(rng.normal(0, 0.6, (4, 4)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 3, 3], tf.float32, name="m")])
        def serve(self, m):
            a = tf.matmul(m, m, transpose_b=True) + tf.eye(3)
            features = tf.concat([tf.linalg.det(a)[:, None] * 0.1, tf.reduce_mean(a, axis=2)], axis=-1)
            probs = tf.nn.softmax(tf.matmul(features, self.w))
            a2 = tf.fill(tf.shape(probs), 2.0)
            b2 = tf.fill(tf.shape(probs), 3.0)
            return {"probabilities": probs, "calibrated": tf.math.betainc(a2, b2, probs)}

    m = FlexCalibrated()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def digamma_middle(path: Path) -> None:
    """x float32[?, 4] -> one op -> Digamma -> five ops -> y: the cheapest cut puts Digamma in a 2-op prefix."""
    tf = _tf()

    class Middle(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(np.linspace(-0.5, 0.5, 16, dtype=np.float32).reshape(4, 4))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            h = tf.math.digamma(tf.abs(x) + 1.0)
            h = tf.tanh(tf.matmul(h, self.w))
            return {"y": tf.reduce_sum(tf.nn.relu(h * 2.0 - 0.1), axis=-1, keepdims=True)}

    m = Middle()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def ngram_vocab_classifier(path: Path) -> None:
    """A word-bigram text classifier: split -> StringNGrams (no TFLite builtin, no Select TF kernel) -> a vocabulary
    lookup table (StaticHashTable, unknown bigrams -> 0) -> embedding mean -> dense. serving_default
    text string[?] -> {'logits': float32[?, 2]}. The table sits after the cut: the body carries it."""
    tf = _tf()
    rng = np.random.default_rng(17)
    vocab = ["<unk>", "hello world", "привет мир", "good morning", "the model", "a text"]

    class Bigrams(tf.Module):
        def __init__(self) -> None:
            init = tf.lookup.KeyValueTensorInitializer(tf.constant(vocab), tf.range(len(vocab), dtype=tf.int64))
            self.table = tf.lookup.StaticHashTable(init, default_value=0)
            self.emb = tf.Variable(rng.normal(0, 1, (len(vocab), 6)).astype(np.float32))
            self.w = tf.Variable(rng.normal(0, 0.5, (6, 2)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            bigrams = tf.strings.ngrams(tf.strings.split(tf.strings.lower(text)), 2)
            vectors = tf.gather(self.emb, self.table.lookup(bigrams.flat_values))
            rows = tf.cast(bigrams.value_rowids(), tf.int32)
            n = tf.cast(bigrams.nrows(), tf.int32)
            sums = tf.math.unsorted_segment_sum(vectors, rows, n)
            counts = tf.math.unsorted_segment_sum(tf.ones_like(rows, tf.float32), rows, n)
            return {"logits": tf.matmul(sums / tf.maximum(counts, 1.0)[:, None], self.w)}

    m = Bigrams()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def script_classifier_calibrated(path: Path) -> None:
    """Both ends: UnicodeScript in the preprocessing and Betainc in the post-processing (a prefix AND a suffix).
    serving_default text string[?] -> {'probabilities': [?, 3], 'calibrated': [?, 3]}."""
    tf = _tf()
    rng = np.random.default_rng(18)

    class Both(tf.Module):
        def __init__(self) -> None:
            self.script_emb = tf.Variable(rng.normal(0, 1, (200, 4)).astype(np.float32))
            self.w = tf.Variable(rng.normal(0, 0.5, (4, 3)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            chars = tf.strings.unicode_decode(text, "UTF-8")
            scripts = tf.clip_by_value(tf.strings.unicode_script(chars.flat_values), 0, 199)
            rows = tf.cast(chars.value_rowids(), tf.int32)
            n = tf.cast(chars.nrows(), tf.int32)
            sums = tf.math.unsorted_segment_sum(tf.gather(self.script_emb, scripts), rows, n)
            probs = tf.nn.softmax(tf.matmul(sums, self.w))
            return {"probabilities": probs, "calibrated": tf.math.betainc(tf.fill(tf.shape(probs), 2.0),
                                                                          tf.fill(tf.shape(probs), 3.0), probs)}

    m = Both()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


def ngram_hash_classifier(path: Path) -> None:
    """Unigrams through StringNGrams (no kernel anywhere), a vocabulary with hashed out-of-vocabulary buckets
    (StringToHashBucketFast: Select TF ops only) and SegmentMean pooling (Select TF ops only): cutting only
    StringNGrams leaves a body that needs Flex. serving_default text string[?] -> {'pooled': float32[?, 4]}."""
    tf = _tf()
    rng = np.random.default_rng(19)
    vocab = ["hello", "world", "мир"]

    class Hashed(tf.Module):
        def __init__(self) -> None:
            init = tf.lookup.KeyValueTensorInitializer(tf.constant(vocab), tf.range(len(vocab), dtype=tf.int64))
            self.table = tf.lookup.StaticVocabularyTable(init, num_oov_buckets=2)
            self.emb = tf.Variable(rng.normal(size=(len(vocab) + 2, 4)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            grams = tf.strings.ngrams(tf.strings.split(text), 1)
            vectors = tf.gather(self.emb, self.table.lookup(grams.flat_values))
            return {"pooled": tf.math.segment_mean(vectors, grams.value_rowids())}

    m = Hashed()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


BUILDERS = {name: globals()[name] for name in (
    "text_script_classifier", "calibrated_classifier", "digamma_middle", "ngram_vocab_classifier",
    "script_classifier_calibrated", "ngram_hash_classifier", "flex_body_calibrated")}
