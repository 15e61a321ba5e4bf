"""Real text as model input: a text file tokenized with the model's own WordPiece vocabulary, as BERT expects.

The text file holds one example per line, or a pair of texts separated by one tab (sentence pairs: the second
text is segment 1). Empty lines are skipped. Each example becomes

    word ids   [CLS] a1 .. an [SEP] (b1 .. bm [SEP]) [PAD] ..
    mask       1 over the tokens, 0 over the padding
    type ids   0 for [CLS], a and its [SEP]; 1 for b and its [SEP]; 0 on padding

truncated (longest text first) to the sequence length. The vocabulary is the model's `assets/vocab.txt`
(TF Hub BERT, ALBERT-WordPiece, ELECTRA, MobileBERT exports ship it) or a file given with `--vocab`; it is
uncased (lowercased, accents stripped) when it holds no uppercase token, as BERT's uncased vocabularies.

The tokenizer is Hugging Face `tokenizers` (its WordPiece model, BERT normalizer and pre-tokenizer): a
compiled wheel with no TensorFlow dependency, so it works next to any TensorFlow (tensorflow-text is built
for exactly one TensorFlow minor, which would pin hub2lite's stack and its separate Flex runtime alike), and
the tokenization happens outside the model, so it adds no op to the converted graph (tensorflow-text ops in
a graph would need Select TF ops or custom ops). Its batch encoder is compiled and multi-threaded.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CalibrationError, ConfigError
from .token_feeds import SpecialIds

__all__ = ["Vocab", "TextExample", "TokenizedText", "find_vocab", "load_vocab", "read_text_examples",
           "tokenize_examples", "load_text_data", "is_text_file", "TEXT_SUFFIXES", "VOCAB_ASSETS"]

TEXT_SUFFIXES = (".txt", ".tsv", ".text")
#: Where TF Hub text encoders keep their vocabulary, relative to the SavedModel folder.
VOCAB_ASSETS = ("assets/vocab.txt", "assets/vocab.txt.orig", "assets/bert_vocab.txt")
_SPECIAL = re.compile(r"^\[[A-Za-z_0-9]+\]$")
_REQUIRED = ("[CLS]", "[SEP]", "[PAD]", "[UNK]")


@dataclass(frozen=True)
class Vocab:
    path: str
    size: int
    lowercase: bool
    cls_id: int
    sep_id: int
    pad_id: int
    unk_id: int
    regular: tuple[int, int] | None  # [low, high) of ordinary tokens (after the special/[unused] block)
    tokens: tuple[str, ...] = field(repr=False, compare=False, default=())

    def special_ids(self) -> SpecialIds:
        return SpecialIds(self.cls_id, self.sep_id, self.pad_id, self.regular, source=f"vocabulary {self.path}")

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "lowercase": self.lowercase, "cls": self.cls_id,
                "sep": self.sep_id, "pad": self.pad_id, "unk": self.unk_id,
                "regular": None if self.regular is None else list(self.regular)}


@dataclass(frozen=True)
class TextExample:
    line: int  # 1-based line number in the file
    text: str
    pair: str | None = None


@dataclass(frozen=True)
class TokenizedText:
    """Token arrays [examples, seq_len] by input name, plus what the tokenization did."""

    arrays: Mapping[str, np.ndarray]
    lengths: np.ndarray  # tokens per example, [CLS]/[SEP] included
    truncated: int  # examples cut to fit seq_len
    unknown: int  # [UNK] tokens produced
    tokens: int  # real tokens in all
    pairs: int
    seconds: float
    vocab: Vocab
    source: str = ""

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def feeds(self, batch: int = 1) -> list[dict[str, np.ndarray]]:
        """Per-sample feeds ({input name: [batch, seq_len]}), in file order."""
        n = len(self)
        return [{k: v[i:i + batch] for k, v in self.arrays.items()} for i in range(0, n - n % batch, batch)]

    def summary(self) -> str:
        return (f"{len(self)} examples ({self.pairs} pairs) from {self.source}, tokenized with {self.vocab.path} "
                f"({self.vocab.size} tokens, {'uncased' if self.vocab.lowercase else 'cased'}): "
                f"{self.tokens} tokens, {self.unknown} [UNK], {self.truncated} truncated, in {self.seconds:.3f} s")

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "examples": len(self), "pairs": self.pairs, "truncated": self.truncated,
                "unknown_tokens": self.unknown, "tokens": self.tokens, "seconds": self.seconds,
                "mean_length": float(self.lengths.mean()) if len(self) else 0.0, "vocab": self.vocab.to_dict()}


def is_text_file(path: str | Path) -> bool:
    """A file to be read as text examples (one per line): a .txt, .tsv or .text file."""
    p = Path(path)
    return p.is_file() and p.suffix.lower() in TEXT_SUFFIXES


def find_vocab(model_dir: str | Path | None, vocab: str | Path | None = None) -> Path | None:
    """`vocab` when given (it must exist), else the model's own assets/vocab.txt, else None."""
    if vocab is not None:
        p = Path(vocab)
        if not p.is_file():
            raise ConfigError(f"vocabulary file {str(p)!r} does not exist", hint="give --vocab a vocab.txt file")
        return p
    if model_dir is None:
        return None
    root = Path(model_dir)
    for rel in VOCAB_ASSETS:
        if (root / rel).is_file():
            return root / rel
    return None


def load_vocab(path: str | Path) -> Vocab:
    """Read a WordPiece vocab.txt (one token per line, line i = id i). Raises CalibrationError if unusable."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CalibrationError(f"vocabulary {str(p)!r} is not UTF-8 text (byte {exc.start})",
                               hint="give --vocab the model's vocab.txt (one WordPiece token per line)") from exc
    except OSError as exc:
        raise CalibrationError(f"cannot read vocabulary {str(p)!r}: {exc.strerror}", hint="check the path") from exc
    tokens = text.split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    tokens = [t.rstrip("\r") for t in tokens]
    if not tokens:
        raise CalibrationError(f"vocabulary {str(p)!r} is empty", hint="give --vocab the model's vocab.txt")
    ids: dict[str, int] = {}
    for i, tok in enumerate(tokens):
        ids.setdefault(tok, i)
    missing = [t for t in _REQUIRED if t not in ids]
    if missing:
        raise CalibrationError(f"vocabulary {str(p)!r} has no {', '.join(missing)} token(s): not a BERT WordPiece "
                               "vocabulary", hint="give --vocab the model's vocab.txt (SentencePiece models "
                                                  "need their own tokenizer: pass token ids as .npz)")
    lowercase = not any(any(c.isupper() for c in t) for t in tokens if not _SPECIAL.match(t))
    last_special = max((i for i, t in enumerate(tokens) if _SPECIAL.match(t)), default=-1)
    regular = (last_special + 1, len(tokens)) if last_special + 1 < len(tokens) else None
    return Vocab(str(p), len(tokens), lowercase, ids["[CLS]"], ids["[SEP]"], ids["[PAD]"], ids["[UNK]"],
                 regular, tuple(tokens))


def read_text_examples(path: str | Path, *, limit: int | None = None) -> tuple[TextExample, ...]:
    """One example per non-empty line; `a<TAB>b` is a pair. Raises CalibrationError naming a bad line."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise CalibrationError(f"cannot read {str(p)!r}: {exc.strerror}", hint="check the path") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CalibrationError(f"{str(p)!r} is not UTF-8 text (line {line})",
                               hint="save the text file as UTF-8, one example per line") from exc
    examples: list[TextExample] = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) > 2:
            raise CalibrationError(f"{str(p)!r} line {i} has {len(parts) - 1} tabs",
                                   hint="one example per line, or two texts separated by one tab")
        a = parts[0].strip()
        b = parts[1].strip() if len(parts) == 2 else None
        if not a or b == "":
            raise CalibrationError(f"{str(p)!r} line {i} has an empty text beside a tab",
                                   hint="write TEXT or TEXT<TAB>TEXT on each line")
        examples.append(TextExample(i, a, b))
        if limit is not None and len(examples) >= limit:
            break
    if not examples:
        raise CalibrationError(f"{str(p)!r} holds no text examples", hint="one example per line")
    return tuple(examples)


def _tokenizer(vocab: Vocab, seq_len: int) -> Any:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.WordPiece({t: i for i, t in reversed(list(enumerate(vocab.tokens)))},
                                     unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=vocab.lowercase, lowercase=vocab.lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab.cls_id), ("[SEP]", vocab.sep_id)])
    tok.enable_truncation(max_length=seq_len, strategy="longest_first")
    tok.enable_padding(length=seq_len, pad_id=vocab.pad_id, pad_token="[PAD]", pad_type_id=0)
    return tok


def tokenize_examples(examples: Sequence[TextExample], vocab: Vocab, seq_len: int, *, word_ids: str,
                      mask: str | None = None, type_ids: str | None = None,
                      dtypes: Mapping[str, str] | None = None, word_rows: int | None = None,
                      type_rows: int | None = None, source: str = "") -> TokenizedText:
    """Tokenize `examples` into arrays named after the model's inputs (`word_ids`, `mask`, `type_ids`).

    `word_rows` / `type_rows` are the sizes of the tables those inputs index (from the graph): a vocabulary
    larger than the word table, or pairs for a model with one segment type, is refused."""
    if seq_len < 2:
        raise ConfigError(f"sequence length {seq_len} leaves no room for [CLS] and [SEP]", hint="use --seq-len 8 or more")
    if word_rows is not None and vocab.size > word_rows:
        raise CalibrationError(f"vocabulary {vocab.path!r} has {vocab.size} tokens but the model's word table has "
                               f"{word_rows} rows: it is not this model's vocabulary",
                               hint="give --vocab the vocab.txt the model was trained with")
    pairs = sum(e.pair is not None for e in examples)
    if pairs and (type_ids is None or (type_rows is not None and type_rows < 2)):
        raise CalibrationError(f"the text has {pairs} tab-separated pairs but the model has "
                               + ("no type-ids input" if type_ids is None else f"{type_rows} segment type"),
                               hint="give one text per line")
    start = time.perf_counter()
    tok = _tokenizer(vocab, seq_len)
    batch = [(e.text, e.pair) if e.pair is not None else e.text for e in examples]
    encodings = tok.encode_batch(batch)
    ids = np.array([e.ids for e in encodings], dtype=np.int64).reshape(len(encodings), seq_len)
    attention = np.array([e.attention_mask for e in encodings], dtype=np.int64).reshape(ids.shape)
    types = np.array([e.type_ids for e in encodings], dtype=np.int64).reshape(ids.shape)
    seconds = time.perf_counter() - start
    dtypes = dtypes or {}
    arrays = {word_ids: ids.astype(dtypes.get(word_ids, "int32"))}
    if mask is not None:
        arrays[mask] = attention.astype(dtypes.get(mask, "int32"))
    if type_ids is not None:
        arrays[type_ids] = types.astype(dtypes.get(type_ids, "int32"))
    lengths = attention.sum(axis=1)
    truncated = sum(bool(e.overflowing) for e in encodings)
    return TokenizedText(arrays, lengths, truncated, int((ids == vocab.unk_id).sum()), int(lengths.sum()), pairs,
                         seconds, vocab, source)


def load_text_data(path: str | Path, vocab_path: str | Path, seq_len: int, *, word_ids: str,
                   mask: str | None = None, type_ids: str | None = None, dtypes: Mapping[str, str] | None = None,
                   word_rows: int | None = None, type_rows: int | None = None,
                   limit: int | None = None) -> TokenizedText:
    """Read and tokenize a text file in one call (see `read_text_examples`, `tokenize_examples`)."""
    start = time.perf_counter()
    examples = read_text_examples(path, limit=limit)
    vocab = load_vocab(vocab_path)
    out = tokenize_examples(examples, vocab, seq_len, word_ids=word_ids, mask=mask, type_ids=type_ids,
                            dtypes=dtypes, word_rows=word_rows, type_rows=type_rows, source=str(path))
    return TokenizedText(out.arrays, out.lengths, out.truncated, out.unknown, out.tokens, out.pairs,
                         time.perf_counter() - start, out.vocab, out.source)
