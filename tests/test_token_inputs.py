"""token_inputs: which integer inputs are token ids / masks / type ids, and the table each id input indexes,
read from real TensorFlow graphs (Keras 3 export, tf.function graphs with variables, constants, one-hot,
nested calls and tf.cond)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import cached_build
from hub2lite.specs import TensorSpec
from hub2lite.token_inputs import TokenRole, analyze_function, assign_roles

SRC = Path(__file__).with_name("models_text.py")


@pytest.fixture(scope="session")
def bert_dir() -> Path:
    import models_text

    return cached_build("text-bert_encoder", models_text.bert_encoder, SRC)


def _fn(fn, *specs):
    import tensorflow as tf

    return tf.function(fn, input_signature=list(specs), autograph=False).get_concrete_function()


def _spec(name, shape=(2, 6), dtype="int32"):
    import tensorflow as tf

    return tf.TensorSpec(shape, getattr(tf, dtype), name=name)


def test_keras_bert_export_roles_and_tables(bert_dir):
    from hub2lite.convert import ConvertConfig, build_function, plan_input_specs
    from hub2lite.load import load
    from hub2lite.resolve import resolve

    loaded = load(resolve(str(bert_dir)))  # keeps the variables alive
    entry = loaded.choose(None)
    specs, _ = plan_input_specs(entry.info, ConvertConfig(input_shapes={s.name: (1, 16) for s in entry.info.inputs}))
    fn, names = build_function(entry, specs)
    for found in (analyze_function(fn, names, specs), analyze_function(entry.fn)):  # planned wrapper, signature
        word, mask, types = (found.get(n) for n in ("input_word_ids", "input_mask", "input_type_ids"))
        assert (word.role, word.rows) == (TokenRole.WORD_IDS, 1000)
        assert word.tables[0].table == "word_embeddings/embeddings" and word.tables[0].shape == (1000, 64)
        assert (types.role, types.rows) == (TokenRole.TYPE_IDS, 2)
        assert (mask.role, mask.rows, mask.tables) == (TokenRole.MASK, None, ())
        assert "Cast to bool" in mask.evidence
        assert found.is_text_encoder


def test_roles_from_the_graph_when_names_say_nothing():
    """Unnamed inputs: the largest table holds words, a one-hot of depth 3 the types, a cast-to-float input of
    the same shape is the mask; ids cast int64 -> int32 and reshaped on the way are followed."""
    import tensorflow as tf

    words = tf.Variable(np.ones((50, 4), np.float32))
    types = tf.Variable(np.ones((3, 4), np.float32))

    def model(a, b, c):
        ids = tf.reshape(tf.cast(a, tf.int32), [-1])
        emb = tf.reshape(tf.nn.embedding_lookup(words, ids), [2, 6, 4])
        emb += tf.matmul(tf.one_hot(b, depth=3), types)
        return emb * tf.cast(c, tf.float32)[..., None]

    found = analyze_function(_fn(model, _spec("a", dtype="int64"), _spec("b"), _spec("c")))
    roles = {t.name: (t.role, t.rows) for t in found.inputs}
    assert roles == {"a": (TokenRole.WORD_IDS, 50), "b": (TokenRole.TYPE_IDS, 3), "c": (TokenRole.MASK, None)}
    assert found.get("a").tables[0].op == "ResourceGather"
    assert found.get("b").tables[0].op == "OneHot"


def test_constant_tables_axis_nested_calls_and_cond():
    import tensorflow as tf

    table = tf.constant(np.zeros((4, 9), np.float32))
    other = tf.Variable(np.zeros((30, 2), np.float32))

    @tf.function(autograph=False)
    def inner(ids):
        return tf.gather(table, ids, axis=1)  # rows along axis 1: 9

    def model(x, y, flag):
        a = inner(tf.identity(x))
        b = tf.cond(flag, lambda: tf.gather(other, y), lambda: tf.gather(other, y + 1))
        return a, b

    fn = _fn(model, _spec("x"), _spec("y"), tf.TensorSpec((), tf.bool, name="flag"))
    found = analyze_function(fn)
    assert found.get("x").rows == 9 and found.get("x").tables[0].shape == (4, 9)
    assert found.get("y").rows == 30 and len(found.get("y").tables) == 2  # both branches of the If
    assert found.get("flag") is None  # not an integer input
    # the larger table holds the words; a 9-row table beside it is taken for segment types
    assert {t.name: t.role for t in found.inputs} == {"x": TokenRole.TYPE_IDS, "y": TokenRole.WORD_IDS}


def test_integers_used_as_numbers_index_nothing():
    import tensorflow as tf

    def model(n, ids):
        table = tf.constant(np.zeros((12, 3), np.float32))
        return tf.gather(table, ids) * tf.cast(n, tf.float32)[..., None]

    found = analyze_function(_fn(model, _spec("n", shape=(2, 1)), _spec("ids")))
    assert (found.get("n").role, found.get("n").rows) == (TokenRole.OTHER, None)
    assert found.get("ids").role is TokenRole.WORD_IDS and found.get("ids").rows == 12


@pytest.mark.parametrize("names", [("input_word_ids", "input_mask", "input_type_ids"),
                                   ("input_ids", "attention_mask", "token_type_ids"),
                                   ("token_ids", "padding_mask", "segment_ids")])
def test_roles_by_hub_and_hugging_face_names(names):
    class Hits:
        tables = ()
        casts = ()
        unfollowed = ()

    specs = {n: TensorSpec(n, "int32", (1, 8)) for n in names}
    found = assign_roles(specs, {n: Hits() for n in names})
    assert [t.role for t in found.inputs] == [TokenRole.WORD_IDS, TokenRole.MASK, TokenRole.TYPE_IDS]
    assert found.to_dict()["inputs"][0]["role"] == "word-ids"
