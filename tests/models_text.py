"""A BERT-style text encoder built from plain Keras layers, with its own WordPiece vocabulary trained on real
English text (the license and documentation files installed with Python), exported with `model.export` as
TF Hub BERT encoders are laid out: a SavedModel with three int32 inputs `input_word_ids`, `input_mask`,
`input_type_ids` of shape [batch, seq] (seq dynamic), outputs `pooled_output` [batch, H] and
`sequence_output` [batch, seq, H], and `assets/vocab.txt`.

Architecture (as BERT, scaled down): word + position + type embeddings, LayerNorm, `LAYERS` blocks of
multi-head self-attention with the padding mask, exact (erf) GELU feed-forward and post-LayerNorm, then a
tanh pooler on the [CLS] position. Weights come from numpy.random.default_rng(seed).

keras-hub would pull tensorflow-text (tied to one TF minor), hence plain layers.
"""

from __future__ import annotations

import re
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import numpy as np

VOCAB_SIZE = 1000
HIDDEN, HEADS, LAYERS, FFN, MAX_POSITIONS, TYPE_VOCAB = 64, 4, 2, 128, 256, 2
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
INPUTS = ("input_word_ids", "input_mask", "input_type_ids")

#: Python's own text files, used as real English: the first trains the vocabulary, all of them are test text.
_TEXT_FILES = ("LICENSE.txt", "idlelib/NEWS2x.txt", "idlelib/HISTORY.txt", "idlelib/README.txt",
               "idlelib/CREDITS.txt", "idlelib/NEWS.txt")
#: Modules whose docstrings are English prose (always installed with Python, even without idlelib).
_DOC_MODULES = ("argparse", "logging", "subprocess", "threading", "collections", "json", "email", "http.client",
                "unittest", "decimal", "fractions", "tarfile", "zipfile", "configparser", "difflib", "textwrap",
                "shutil", "tempfile", "pathlib", "asyncio", "inspect", "pickle", "random", "statistics")


def _english_texts() -> Iterator[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in _TEXT_FILES:
        p = stdlib / name
        if p.is_file():
            yield p.read_text(encoding="utf-8", errors="replace")
    import importlib
    import inspect

    for mod in _DOC_MODULES:
        module = importlib.import_module(mod)
        for _, obj in sorted(vars(module).items()):
            doc = inspect.getdoc(obj) if (inspect.isclass(obj) or inspect.isfunction(obj)) else None
            if doc:
                yield doc


def english_sentences() -> list[str]:
    """Real English sentences (deduplicated, in a fixed order) from the text files and docstrings of the
    Python installation: 4..60 words, mostly letters."""
    seen: dict[str, None] = {}
    for text in _english_texts():
        for para in re.split(r"\n\s*\n", text):
            flat = " ".join(para.split())
            for sent in re.split(r"(?<=[.!?])\s+(?=[A-Z])", flat):
                words = sent.split()
                letters = sum(c.isalpha() for c in sent)
                if 4 <= len(words) <= 60 and letters >= 0.7 * len(sent.replace(" ", "")):
                    seen.setdefault(sent, None)
    return list(seen)


def write_sentences(path: Path, count: int, *, pairs: bool = False, offset: int = 0) -> Path:
    """A text file of `count` real sentences (one per line; with `pairs`, two sentences joined by a tab)."""
    sents = english_sentences()
    step = 2 if pairs else 1
    need = count * step
    chosen = [sents[(offset + i) % len(sents)] for i in range(need)]
    lines = (["\t".join(chosen[i:i + 2]) for i in range(0, need, 2)] if pairs else chosen)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def train_vocab(size: int = VOCAB_SIZE) -> list[str]:
    """A lowercase WordPiece vocabulary of `size` tokens trained on the sentences (specials first, as BERT's)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=size, special_tokens=list(SPECIALS), min_frequency=2,
                                        show_progress=False)
    tok.train_from_iterator(english_sentences(), trainer=trainer)
    vocab = tok.get_vocab()
    return [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]


def _layers():
    import keras

    @keras.saving.register_keras_serializable("hub2lite_tests")
    class PositionEmbedding(keras.layers.Layer):
        """Adds the first `seq` rows of a learned [MAX_POSITIONS, H] table (seq = the input's length)."""

        def __init__(self, max_positions: int, **kw):
            super().__init__(**kw)
            self.max_positions = max_positions

        def build(self, input_shape):
            self.table = self.add_weight(shape=(self.max_positions, input_shape[-1]), name="table")

        def call(self, x):
            seq = keras.ops.shape(x)[1]
            return x + keras.ops.expand_dims(self.table[:seq], 0)

    @keras.saving.register_keras_serializable("hub2lite_tests")
    class AttentionMask(keras.layers.Layer):
        """[batch, seq] 0/1 padding mask -> [batch, seq, seq] boolean attention mask (keys that are real tokens)."""

        def call(self, mask):
            keys = keras.ops.expand_dims(keras.ops.cast(mask, "bool"), 1)
            return keras.ops.broadcast_to(keys, (keras.ops.shape(mask)[0], keras.ops.shape(mask)[1],
                                                 keras.ops.shape(mask)[1]))

    @keras.saving.register_keras_serializable("hub2lite_tests")
    class FirstToken(keras.layers.Layer):
        def call(self, x):
            return x[:, 0]

    return PositionEmbedding, AttentionMask, FirstToken


def build_encoder(vocab_size: int, seed: int = 0):
    """The Keras 3 model (weights from the seeded rng)."""
    import keras

    PositionEmbedding, AttentionMask, FirstToken = _layers()
    L = keras.layers
    inputs = {name: keras.Input((None,), dtype="int32", name=name) for name in INPUTS}
    x = L.Embedding(vocab_size, HIDDEN, name="word_embeddings")(inputs["input_word_ids"])
    x = PositionEmbedding(MAX_POSITIONS, name="position_embeddings")(x)
    x = L.Add(name="add_types")([x, L.Embedding(TYPE_VOCAB, HIDDEN, name="type_embeddings")(inputs["input_type_ids"])])
    x = L.LayerNormalization(epsilon=1e-12, name="embeddings_norm")(x)
    mask = AttentionMask(name="attention_mask")(inputs["input_mask"])
    for i in range(LAYERS):
        att = L.MultiHeadAttention(HEADS, HIDDEN // HEADS, name=f"layer_{i}_attention")(x, x, attention_mask=mask)
        x = L.LayerNormalization(epsilon=1e-12, name=f"layer_{i}_attention_norm")(L.Add()([x, att]))
        h = L.Dense(FFN, activation=lambda t: keras.activations.gelu(t, approximate=False), name=f"layer_{i}_ffn_in")(x)
        h = L.Dense(HIDDEN, name=f"layer_{i}_ffn_out")(h)
        x = L.LayerNormalization(epsilon=1e-12, name=f"layer_{i}_output_norm")(L.Add()([x, h]))
    pooled = L.Dense(HIDDEN, activation="tanh", name="pooler")(FirstToken(name="cls_token")(x))
    model = keras.Model(inputs, {"pooled_output": pooled, "sequence_output": x}, name="tiny_bert")
    rng = np.random.default_rng(seed)
    weights = []
    for w in model.weights:
        path = w.path
        if path.endswith("gamma"):
            weights.append(1.0 + rng.normal(0, 0.1, w.shape))
        elif path.endswith(("beta", "bias")):
            weights.append(rng.normal(0, 0.05, w.shape))
        elif "embeddings" in path or path.endswith("table"):
            weights.append(rng.normal(0, 0.5, w.shape))
        else:  # kernels: variance-preserving
            fan_in = int(np.prod(w.shape[:-1])) if len(w.shape) > 1 else 1
            if "attention" in path and path.endswith("kernel") and len(w.shape) == 3 and "output" not in path:
                fan_in = w.shape[0]
            weights.append(rng.normal(0, 1.0 / np.sqrt(fan_in), w.shape))
    model.set_weights([np.asarray(v, np.float32) for v in weights])
    return model


def bert_encoder(path: Path) -> None:
    """Write the hub-layout SavedModel: `model.export` + assets/vocab.txt."""
    vocab = train_vocab()
    model = build_encoder(len(vocab))
    model.export(str(path), verbose=False)
    (path / "assets").mkdir(exist_ok=True)
    (path / "assets" / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")


BUILDERS = {"bert_encoder": bert_encoder}
