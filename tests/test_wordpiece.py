"""wordpiece: vocabularies, text files (lines and tab pairs) and BERT's token arrays, checked against a plain
reimplementation of BERT's reference tokenizer (basic tokenizer + greedy longest-match-first WordPiece)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pytest

import models_text
from hub2lite.errors import CalibrationError, ConfigError
from hub2lite.wordpiece import (find_vocab, load_text_data, load_vocab, read_text_examples, tokenize_examples)

NAMES = {"word_ids": "input_word_ids", "mask": "input_mask", "type_ids": "input_type_ids"}


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    p.write_text("\n".join(models_text.train_vocab()) + "\n", encoding="utf-8")
    return p


def _reference(text: str, tokens: list[str]) -> list[str]:
    """BERT's reference (uncased): lowercase, strip accents, split on whitespace and punctuation, then greedy
    longest-match-first WordPiece with '##' continuations; a word with no split is [UNK]."""
    vocab = set(tokens)
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    words: list[str] = []
    for chunk in text.split():
        cur = ""
        for c in chunk:
            cp = ord(c)
            punct = (33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126
                     or unicodedata.category(c).startswith("P"))
            if punct:
                if cur:
                    words.append(cur)
                words.append(c)
                cur = ""
            else:
                cur += c
        if cur:
            words.append(cur)
    out: list[str] = []
    for w in words:
        start, pieces = 0, []
        while start < len(w):
            end = len(w)
            while end > start and ((w[start:end] if start == 0 else "##" + w[start:end]) not in vocab):
                end -= 1
            if end == start:
                pieces = ["[UNK]"]
                break
            pieces.append(w[start:end] if start == 0 else "##" + w[start:end])
            start = end
        out.extend(pieces)
    return out


def test_vocab_facts(vocab_file, tmp_path):
    v = load_vocab(vocab_file)
    assert (v.size, v.lowercase, v.pad_id, v.unk_id, v.cls_id, v.sep_id) == (1000, True, 0, 1, 2, 3)
    assert v.regular == (5, 1000) and v.special_ids().cls == 2
    cased = tmp_path / "cased.txt"
    cased.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nThe\nthe\n", encoding="utf-8")
    assert load_vocab(cased).lowercase is False
    bad = tmp_path / "sp.txt"
    bad.write_text("<pad>\n<unk>\n▁the\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"no \[CLS\], \[SEP\], \[PAD\], \[UNK\]") as e:
        load_vocab(bad)
    assert e.value.exit_code == 7
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"[PAD]\n\xff\xfe\n")
    with pytest.raises(CalibrationError, match="not UTF-8"):
        load_vocab(binary)


def test_find_vocab(tmp_path, vocab_file):
    (tmp_path / "assets").mkdir()
    assert find_vocab(tmp_path) is None
    (tmp_path / "assets" / "vocab.txt").write_text("x\n")
    assert find_vocab(tmp_path) == tmp_path / "assets" / "vocab.txt"
    assert find_vocab(tmp_path, vocab_file) == vocab_file  # --vocab wins
    with pytest.raises(ConfigError, match="does not exist"):
        find_vocab(tmp_path, tmp_path / "missing.txt")


def test_text_files(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("\ufeffFirst line.\n\n  \nA question?\tAn answer.\n", encoding="utf-8")
    ex = read_text_examples(p)
    assert [(e.line, e.text, e.pair) for e in ex] == [(1, "First line.", None), (4, "A question?", "An answer.")]
    p.write_text("ok\na\tb\tc\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match="line 2 has 2 tabs"):
        read_text_examples(p)
    p.write_text("ok\n\tb\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match="line 2 has an empty text"):
        read_text_examples(p)
    p.write_bytes(b"fine\nstill fine\nbad \xff byte\n")
    with pytest.raises(CalibrationError, match=r"not UTF-8 text \(line 3\)"):
        read_text_examples(p)
    p.write_text("\n\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match="no text examples"):
        read_text_examples(p)


def test_tokens_match_bert_reference_on_real_english(vocab_file, tmp_path):
    v = load_vocab(vocab_file)
    sentences = models_text.english_sentences()[:60]  # real English, some longer than 32 tokens
    text = models_text.write_sentences(tmp_path / "s.txt", len(sentences))
    out = load_text_data(text, vocab_file, 32, **NAMES, word_rows=1000)
    assert out.arrays["input_word_ids"].shape == (len(sentences), 32) and out.arrays["input_word_ids"].dtype == np.int32
    checked = truncated = 0
    for i, sent in enumerate(sentences):
        ref = ["[CLS]"] + _reference(sent, list(v.tokens))[:30] + ["[SEP]"]
        ids = out.arrays["input_word_ids"][i]
        L = int(out.arrays["input_mask"][i].sum())
        assert [v.tokens[t] for t in ids[:L]] == ref, sent
        assert (ids[L:] == v.pad_id).all() and (out.arrays["input_mask"][i][L:] == 0).all()
        assert (out.arrays["input_type_ids"][i] == 0).all()
        checked += 1
        truncated += len(_reference(sent, list(v.tokens))) > 30
    assert checked == len(sentences) and out.truncated == truncated > 0
    assert "60 examples (0 pairs)" in out.summary()


def test_pairs_segments_and_refusals(vocab_file, tmp_path):
    v = load_vocab(vocab_file)
    p = models_text.write_sentences(tmp_path / "pairs.txt", 5, pairs=True)
    out = load_text_data(p, vocab_file, 64, **NAMES, type_rows=2)
    assert out.pairs == 5
    for i, ex in enumerate(read_text_examples(p)):
        ids, types = out.arrays["input_word_ids"][i], out.arrays["input_type_ids"][i]
        seps = np.flatnonzero(ids == v.sep_id)
        assert len(seps) == 2 and ids[0] == v.cls_id
        assert (types[:seps[0] + 1] == 0).all() and (types[seps[0] + 1:seps[1] + 1] == 1).all()
        assert (types[seps[1] + 1:] == 0).all()
    with pytest.raises(CalibrationError, match="1 segment type"):
        load_text_data(p, vocab_file, 64, **NAMES, type_rows=1)
    with pytest.raises(CalibrationError, match="no type-ids input"):
        load_text_data(p, vocab_file, 64, word_ids="ids")
    with pytest.raises(CalibrationError, match="1000 tokens but the model's word table has 500 rows") as e:
        tokenize_examples(read_text_examples(p), v, 64, **NAMES, word_rows=500)
    assert "--vocab" in str(e.value)
    with pytest.raises(ConfigError, match="no room"):
        tokenize_examples(read_text_examples(p), v, 1, **NAMES)
