"""The text-encoder family (BERT, ALBERT, ELECTRA, MobileBERT ...): its sequence length, its vocabulary, and
its inputs — synthetic token ids valid by construction, or real text tokenized with the model's vocabulary.

    text_input_shapes(info, seq_len, given, batch)   -> shapes of the token inputs (--seq-len, default 128)
    plan_text(fn, names, specs, model_dir, TextOptions) -> TextPlan | None  (roles, tables, draws, vocabulary)
    synthetic_text_feeds(specs, plan, count, seed, other)   -> feeds
    text_data_feeds(path, specs, plan, limit, seed)  -> (feeds, info)   (a text file, one example per line)

`prepare` calls these; they take plain values (specs, paths, an entry point) and return plain values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CalibrationError, ConfigError
from .specs import SignatureInfo, TensorSpec
from .token_feeds import TokenDrawPlan, draw_token_feeds, plan_token_draws
from .token_inputs import INTEGER_DTYPES, TokenInputs, TokenRole, token_input_names
from .wordpiece import Vocab, find_vocab, is_text_file, load_text_data, load_vocab

__all__ = ["DEFAULT_SEQ_LEN", "TextOptions", "TextPlan", "token_input_names", "text_input_shapes", "plan_text",
           "synthetic_text_feeds", "text_data_feeds", "is_text_file"]

log = logging.getLogger(__name__)

#: Sequence length of a text encoder whose length is dynamic (BERT's usual fine-tuning length).
DEFAULT_SEQ_LEN = 128
Feeds = list[dict[str, np.ndarray]]


@dataclass(frozen=True)
class TextOptions:
    vocab: str | None = None  # --vocab FILE; None: the model's assets/vocab.txt

    def to_dict(self) -> dict[str, Any]:
        return {"vocab": self.vocab}


@dataclass(frozen=True)
class TextPlan:
    tokens: TokenInputs
    draws: TokenDrawPlan
    seq_len: int
    vocab: Vocab | None
    vocab_note: str

    def names(self) -> dict[str, str | None]:
        """{role: input name} for word ids, mask and type ids (None when the model has no such input)."""
        return {r.value: (t.name if (t := self.tokens.by_role(r)) else None)
                for r in (TokenRole.WORD_IDS, TokenRole.MASK, TokenRole.TYPE_IDS)}

    def to_dict(self) -> dict[str, Any]:
        return {"seq_len": self.seq_len, "inputs": self.tokens.to_dict()["inputs"], "draws": self.draws.describe(),
                "vocab": None if self.vocab is None else self.vocab.to_dict(), "vocab_note": self.vocab_note}


def text_input_shapes(info: SignatureInfo, seq_len: int | None, given: Mapping[str, Sequence[int]],
                      batch: int = 1) -> dict[str, tuple[int, ...]]:
    """Shapes for the token inputs that `given` (--input-shape) leaves open: [batch, seq_len] (seq_len default
    128). A --seq-len that contradicts a fixed sequence dim, or names no token input, is refused."""
    names = token_input_names(info)
    if seq_len is not None and seq_len < 2:
        raise ConfigError(f"--seq-len {seq_len} is too short", hint="give at least 2 ([CLS] and [SEP]); BERT uses 128")
    if not names and seq_len is not None:  # not named like BERT's: every integer sequence input
        names = tuple(s.name for s in info.inputs if s.dtype in INTEGER_DTYPES and s.shape is not None
                      and 1 <= len(s.shape) <= 2)
        if not names:
            raise ConfigError(f"--seq-len {seq_len}: {info.name!r} has no integer token inputs "
                              f"(inputs {[s.name for s in info.inputs]})", hint="drop --seq-len, or use --input-shape")
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in info.inputs:
        if spec.name not in names or spec.name in given or spec.shape is None:
            continue
        dims = list(spec.shape)
        if seq_len is not None and dims[-1] is not None and dims[-1] != seq_len:
            raise ConfigError(f"--seq-len {seq_len} contradicts input {spec.name!r}, fixed at {spec.shape_str}",
                              hint=f"drop --seq-len (the model takes {dims[-1]} tokens)")
        if dims[-1] is not None:
            continue
        dims[-1] = seq_len or DEFAULT_SEQ_LEN
        if len(dims) == 2 and dims[0] is None:
            dims[0] = batch
        shapes[spec.name] = tuple(int(d) for d in dims)  # type: ignore[arg-type]
    return shapes


def plan_text(concrete_fn: Any, input_names: Mapping[str, str], specs: Sequence[TensorSpec],
              model_dir: str | Path | None, options: TextOptions = TextOptions()) -> TextPlan | None:
    """Roles and tables of the token inputs (from the graph of `concrete_fn`, the entry point traced at `specs`;
    `input_names` maps its placeholders to input names), their synthetic draws, and the vocabulary; None when no
    input holds word ids (not a text encoder)."""
    from .token_inputs import analyze_function

    if not any(s.dtype in INTEGER_DTYPES for s in specs):
        return None
    if options.vocab is not None:
        find_vocab(None, options.vocab)  # a missing --vocab file is an error even for a model that is not text
    tokens = analyze_function(concrete_fn, input_names, specs)
    if not tokens.is_text_encoder:
        return None
    word = tokens.by_role(TokenRole.WORD_IDS)
    assert word is not None
    spec = next(s for s in specs if s.name == word.name)
    if spec.shape is None or any(d is None for d in spec.shape):
        return None  # kept dynamic (--keep-dynamic): no sequence length to draw or tokenize to
    seq = int(spec.shape[-1])
    vocab: Vocab | None = None
    path = find_vocab(model_dir, options.vocab)
    if path is None:
        note = "no vocabulary found (the model has no assets/vocab.txt): pass --vocab FILE to feed text with --data"
    else:
        try:
            vocab = load_vocab(path)
        except CalibrationError as exc:
            if options.vocab is not None:
                raise
            note = f"the model's {path.name} is not usable: {exc.message}"
        else:
            if word.rows is not None and vocab.size > word.rows:
                msg = (f"vocabulary {str(path)!r} has {vocab.size} tokens but the word table has {word.rows} rows")
                if options.vocab is not None:
                    raise ConfigError(msg, hint="give --vocab the vocab.txt the model was trained with")
                note, vocab = f"{msg}: not used", None
            else:
                where = "--vocab" if options.vocab is not None else "the model's assets"
                note = (f"{path} ({vocab.size} tokens, {'uncased' if vocab.lowercase else 'cased'}; from {where})")
    draws = plan_token_draws(specs, tokens, vocab.special_ids() if vocab is not None else None)
    return TextPlan(tokens, draws, seq, vocab, note)


def synthetic_text_feeds(specs: Sequence[TensorSpec], plan: TextPlan, count: int, seed: int,
                         other: Callable[[Sequence[TensorSpec], int, int], Feeds]) -> Feeds:
    """Token inputs drawn by the plan; every other input by `other(specs, count, seed)` (the generic draw)."""
    feeds = draw_token_feeds(specs, plan.draws, count, seed)
    rest = [s for s in specs if plan.draws.get(s.name) is None]
    if rest:
        for feed, extra in zip(feeds, other(rest, count, seed)):
            feed.update(extra)
    return [{s.name: f[s.name] for s in specs} for f in feeds]


def text_data_feeds(path: str | Path, specs: Sequence[TensorSpec], plan: TextPlan, *, limit: int | None,
                    seed: int) -> tuple[Feeds, dict[str, Any]]:
    """Feeds from a text file tokenized with the plan's vocabulary (one example per sample; a seeded selection
    of `limit` examples, in file order, when the file holds more)."""
    if plan.vocab is None:
        raise CalibrationError(f"cannot tokenize {str(path)!r}: {plan.vocab_note}",
                               hint="pass --vocab FILE (the model's WordPiece vocab.txt), or token ids as .npz")
    names = plan.names()
    word = names["word-ids"]
    assert word is not None
    others = [t.name for t in plan.tokens.inputs if t.name not in names.values()]
    missing = [s.name for s in specs if s.name not in names.values()]
    if missing:
        raise CalibrationError(f"a text file feeds only the token inputs; the model also has {missing}"
                               + (f" ({others})" if others else ""), hint="give all inputs as an .npz keyed by name")
    by_name = {s.name: s for s in specs}
    type_input = plan.tokens.by_role(TokenRole.TYPE_IDS)
    text = load_text_data(path, plan.vocab.path, plan.seq_len, word_ids=word, mask=names["mask"],
                          type_ids=names["type-ids"], dtypes={n: by_name[n].dtype for n in names.values() if n},
                          word_rows=plan.tokens.by_role(TokenRole.WORD_IDS).rows,  # type: ignore[union-attr]
                          type_rows=type_input.rows if type_input is not None else None)
    n = len(text)
    chosen = np.arange(n)
    if limit is not None and n > limit:
        chosen = np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
    feeds: Feeds = []
    batch = int(by_name[word].shape[0]) if by_name[word].shape and len(by_name[word].shape) == 2 else 1
    for i in range(0, len(chosen) - len(chosen) % batch, batch):
        rows = chosen[i:i + batch]
        feeds.append({name: text.arrays[name][rows].reshape(by_name[name].shape or (-1,))
                      for name in text.arrays})
    if not feeds:
        raise CalibrationError(f"{str(path)!r} holds {n} examples, fewer than the batch of {batch}",
                               hint="give more lines, or --batch-size 1")
    info = dict(text.to_dict(), selected=len(chosen), seed=seed, summary=text.summary())
    if text.truncated:
        log.warning("%d of %d examples in %s were longer than %d tokens and were truncated", text.truncated, n,
                    path, plan.seq_len)
    return feeds, info
