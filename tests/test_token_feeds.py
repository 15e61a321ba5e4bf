"""token_feeds: synthetic token inputs valid by construction (seeded), and the real BERT-style fixture running
on them where the generic integer draw makes TensorFlow raise."""

from __future__ import annotations

import numpy as np
import pytest

from hub2lite.errors import ConfigError
from hub2lite.specs import TensorSpec
from hub2lite.token_feeds import DEFAULT_ID_RANGE, SpecialIds, draw_token_feeds, plan_token_draws
from hub2lite.token_inputs import TableUse, TokenInput, TokenInputs, TokenRole

SEQ = 32
SPECS = (TensorSpec("input_word_ids", "int32", (2, SEQ)), TensorSpec("input_mask", "int32", (2, SEQ)),
         TensorSpec("input_type_ids", "int64", (2, SEQ)), TensorSpec("lengths", "int32", (2,)))


def _tokens(word_rows=1000, type_rows=2):
    table = lambda name, rows: (TableUse("GatherV2", name, (rows, 8), rows),) if rows else ()  # noqa: E731
    return TokenInputs((
        TokenInput("input_word_ids", "int32", TokenRole.WORD_IDS, word_rows, table("words", word_rows)),
        TokenInput("input_mask", "int32", TokenRole.MASK, None),
        TokenInput("input_type_ids", "int64", TokenRole.TYPE_IDS, type_rows, table("types", type_rows)),
        TokenInput("lengths", "int32", TokenRole.LENGTH, None),
    ))


def test_draws_are_valid_and_consistent_across_inputs():
    special = SpecialIds(cls=2, sep=3, pad=0, regular=(5, 1000), source="vocabulary v.txt")
    plan = plan_token_draws(SPECS, _tokens(), special)
    how = plan.describe()
    assert "[CLS]=2 first" in how["input_word_ids"] and "in [5, 1000)" in how["input_word_ids"]
    assert "words [1000×8]" in how["input_word_ids"] and "2 rows" in how["input_type_ids"]
    feeds = draw_token_feeds(SPECS, plan, 20, seed=0)
    assert feeds[0]["input_mask"][0].sum() == SEQ  # the first row uses the whole sequence
    seen_second_segment = False
    for feed in feeds:
        assert feed["input_word_ids"].dtype == np.int32 and feed["input_type_ids"].dtype == np.int64
        for r in range(2):
            ids, mask, types = (feed[k][r] for k in ("input_word_ids", "input_mask", "input_type_ids"))
            L = int(mask.sum())
            assert 3 <= L <= SEQ and (mask[:L] == 1).all() and (mask[L:] == 0).all()  # a valid prefix
            assert ids[0] == 2 and ids[L - 1] == 3 and (ids[L:] == 0).all()
            assert ((ids[1:L - 1] >= 5) & (ids[1:L - 1] < 1000)).all()
            assert set(np.unique(types)) <= {0, 1} and (types[L:] == 0).all() and types[0] == 0
            seen_second_segment |= bool(types.any())
            assert feed["lengths"][r] == L
    assert seen_second_segment


def test_seeded_and_deterministic():
    plan = plan_token_draws(SPECS, _tokens())
    a, b, c = (draw_token_feeds(SPECS, plan, 3, seed=s) for s in (7, 7, 8))
    assert all((x[k] == y[k]).all() for x, y in zip(a, b) for k in x)
    assert any((x[k] != y[k]).any() for x, y in zip(a, c) for k in x)


def test_without_vocabulary_and_small_or_missing_tables():
    plan = plan_token_draws(SPECS, _tokens(word_rows=None, type_rows=1))
    assert plan.get("input_word_ids").high == DEFAULT_ID_RANGE and "no table found" in plan.get("input_word_ids").how
    assert plan.get("input_type_ids").how.startswith("all 0")
    feed = draw_token_feeds(SPECS, plan, 1, seed=0)[0]
    assert (feed["input_type_ids"] == 0).all() and feed["input_word_ids"].max() < DEFAULT_ID_RANGE
    assert plan.min_length == 1  # no [CLS]/[SEP] to place


def test_special_ids_outside_the_table_are_not_used():
    plan = plan_token_draws(SPECS, _tokens(word_rows=50), SpecialIds(cls=101, sep=102, pad=0, regular=(999, 30522)))
    assert plan.cls is None and plan.sep is None
    feed = draw_token_feeds(SPECS, plan, 2, seed=0)[0]
    assert feed["input_word_ids"].max() < 50


def test_dynamic_sequence_is_a_config_error():
    specs = (TensorSpec("input_word_ids", "int32", (1, None)),)
    tokens = TokenInputs((TokenInput("input_word_ids", "int32", TokenRole.WORD_IDS, 10),))
    with pytest.raises(ConfigError, match="--seq-len"):
        plan_token_draws(specs, tokens)


def test_the_bert_fixture_runs_on_them(tmp_path):
    """The real encoder: the generic draw (integers in [0, 100)) makes TensorFlow raise on the 2-row type table;
    the planned draws run, and padding changes nothing where the mask is 0."""
    from conftest import cached_build
    from pathlib import Path

    import models_text
    import tensorflow as tf

    from hub2lite.convert import ConvertConfig, build_function, plan_input_specs
    from hub2lite.feeds import synthetic_feeds
    from hub2lite.load import load
    from hub2lite.resolve import resolve
    from hub2lite.token_inputs import analyze_function
    from hub2lite.wordpiece import load_vocab

    folder = cached_build("text-bert_encoder", models_text.bert_encoder, Path(models_text.__file__))
    loaded = load(resolve(str(folder)))
    entry = loaded.choose(None)
    specs, _ = plan_input_specs(entry.info, ConvertConfig(input_shapes={s.name: (1, 24) for s in entry.info.inputs}))
    fn, names = build_function(entry, specs)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"not in \[0, 2\)"):
        entry(synthetic_feeds(specs, 1, seed=0)[0])
    plan = plan_token_draws(specs, analyze_function(fn, names, specs),
                            load_vocab(folder / "assets" / "vocab.txt").special_ids())
    for feed in draw_token_feeds(specs, plan, 4, seed=0):
        out = entry(feed)
        assert np.isfinite(out["pooled_output"].numpy()).all()
        L = int(feed["input_mask"].sum())
        if L < 24:  # changing padded tokens does not change the pooled output
            other = dict(feed, input_word_ids=feed["input_word_ids"].copy())
            other["input_word_ids"][0, L:] = 7
            np.testing.assert_allclose(entry(other)["pooled_output"], out["pooled_output"], atol=1e-5)
