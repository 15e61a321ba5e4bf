"""text_encoder: sequence-length planning, the text plan of the BERT-style fixture (roles, tables, vocabulary),
synthetic and real-text feeds that the real model and its real .tflite both run on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import models_text
from conftest import cached_build
from hub2lite.errors import CalibrationError, ConfigError
from hub2lite.specs import SignatureInfo, TensorSpec
from hub2lite.prepare import text_plan_for
from hub2lite.text_encoder import (DEFAULT_SEQ_LEN, TextOptions, synthetic_text_feeds, text_data_feeds,
                                   text_input_shapes, token_input_names)

SRC = Path(models_text.__file__)


def _info(*names, shape=(None, None), dtype="int32"):
    return SignatureInfo("serving_default", tuple(TensorSpec(n, dtype, shape) for n in names), ())


def test_signature_recognition_and_shapes():
    hub = _info("input_word_ids", "input_mask", "input_type_ids")
    assert token_input_names(hub) == ("input_word_ids", "input_mask", "input_type_ids")
    assert token_input_names(_info("input_ids", "attention_mask")) == ("input_ids", "attention_mask")
    assert token_input_names(_info("x", "input_mask")) == ()  # no word ids: not a text encoder
    assert token_input_names(_info("input_ids", dtype="float32")) == ()
    assert text_input_shapes(hub, None, {}) == {n: (1, DEFAULT_SEQ_LEN) for n in token_input_names(hub)}
    assert text_input_shapes(hub, 64, {"input_mask": (1, 64)}, batch=2) == {"input_word_ids": (2, 64),
                                                                            "input_type_ids": (2, 64)}
    fixed = _info("input_ids", "attention_mask", shape=(None, 32))
    assert text_input_shapes(fixed, None, {}) == {}  # the batch is planned like any other input's
    assert text_input_shapes(_info("x", "y"), 16, {}) == {"x": (1, 16), "y": (1, 16)}  # --seq-len: integer inputs
    with pytest.raises(ConfigError, match="no integer token inputs"):
        text_input_shapes(_info("x", dtype="float32"), 16, {})
    with pytest.raises(ConfigError, match="--seq-len 64 contradicts input 'input_ids'"):
        text_input_shapes(fixed, 64, {})
    with pytest.raises(ConfigError, match="too short"):
        text_input_shapes(hub, 1, {})


@pytest.fixture(scope="module")
def bert():
    from hub2lite.convert import ConvertConfig, plan_input_specs
    from hub2lite.load import load
    from hub2lite.resolve import resolve

    folder = cached_build("text-bert_encoder", models_text.bert_encoder, SRC)
    loaded = load(resolve(str(folder)))
    entry = loaded.choose(None)
    shapes = text_input_shapes(entry.info, 24, {})
    specs, _ = plan_input_specs(entry.info, ConvertConfig(input_shapes=shapes))
    return folder, loaded, entry, specs


def test_plan_of_the_fixture(bert, tmp_path):
    folder, _, entry, specs = bert
    plan = text_plan_for(entry, specs, folder)
    assert plan.seq_len == 24 and plan.names() == {"word-ids": "input_word_ids", "mask": "input_mask",
                                                   "type-ids": "input_type_ids"}
    assert plan.vocab is not None and plan.vocab.size == 1000 and "from the model's assets" in plan.vocab_note
    assert plan.to_dict()["draws"]["input_word_ids"].startswith("token ids in [5, 1000)")
    assert text_plan_for(entry, specs, None).vocab is None  # no folder, no --vocab: synthetic ids still planned
    small = tmp_path / "small.txt"
    small.write_text("\n".join(models_text.SPECIALS) + "\n")
    assert text_plan_for(entry, specs, folder, TextOptions(vocab=str(small))).vocab.size == 5
    big = tmp_path / "big.txt"
    big.write_text("\n".join(list(models_text.SPECIALS) + [f"w{i}" for i in range(2000)]) + "\n")
    with pytest.raises(ConfigError, match="2005 tokens but the word table has 1000 rows"):
        text_plan_for(entry, specs, folder, TextOptions(vocab=str(big)))


def test_feeds_run_on_the_model_and_its_tflite(bert, tmp_path):
    """Synthetic and real-text feeds: the original and a real conversion agree on both."""
    from hub2lite.convert import ConvertConfig, convert
    from hub2lite.runners import LiteRunner, TFRunner

    folder, loaded, entry, specs = bert
    plan = text_plan_for(entry, specs, folder)
    conversion = convert(loaded, ConvertConfig(input_shapes={s.name: s.shape for s in specs}))
    tf_runner, lite = TFRunner(entry, specs), LiteRunner(conversion.model)
    text = models_text.write_sentences(tmp_path / "text.txt", 30, pairs=False)
    real, info = text_data_feeds(text, specs, plan, limit=12, seed=0)
    assert len(real) == 12 and info["selected"] == 12 and info["examples"] == 30 and info["unknown_tokens"] >= 0
    synthetic = synthetic_text_feeds(specs, plan, 3, 0, other=lambda s, n, seed: [{} for _ in range(n)])
    for feed in real + synthetic:
        a, b = tf_runner.infer(feed), lite.infer(feed)
        cos = float(np.dot(a["pooled_output"].ravel(), b["pooled_output"].ravel())
                    / np.linalg.norm(a["pooled_output"]) / np.linalg.norm(b["pooled_output"]))
        assert cos > 0.9999 and np.abs(a["sequence_output"] - b["sequence_output"]).max() < 1e-3
    # the same seed selects the same examples
    again, _ = text_data_feeds(text, specs, plan, limit=12, seed=0)
    assert all((x[k] == y[k]).all() for x, y in zip(real, again) for k in x)


def test_text_data_refusals(bert, tmp_path):
    folder, _, entry, specs = bert
    no_vocab = text_plan_for(entry, specs, None)
    text = models_text.write_sentences(tmp_path / "t.txt", 3)
    with pytest.raises(CalibrationError, match="--vocab") as e:
        text_data_feeds(text, specs, no_vocab, limit=None, seed=0)
    assert e.value.exit_code == 7
