"""Synthetic inputs for token-id models that are valid by construction.

Each sample row gets one valid length L (the first row of the first sample uses the whole sequence, the
rest draw L uniformly), and every token input follows it, as a tokenizer would fill them:

    word ids   [CLS] t1 .. t(L-2) [SEP] [PAD] ..   (tokens drawn inside the word table, and among the
                                                    vocabulary's ordinary tokens when the vocabulary is known)
    mask       1 .. 1 0 ..                          (the valid prefix)
    type ids   0 .. 0 1 .. 1 0 ..                   (a second segment in about half the rows, when the type
                                                    table has 2 rows or more; all 0 otherwise)
    ids        uniform inside their table on the prefix, 0 after
    length     L

`plan_token_draws` says how each input will be drawn (`InputDraw.how`, one line for the report);
`draw_token_feeds` draws `count` feeds from a seeded `numpy.random.default_rng`. Only the inputs with a
token role are drawn here; the caller draws the others (floats, unrecognised integers) as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigError
from .specs import TensorSpec
from .token_inputs import TokenInput, TokenInputs, TokenRole

__all__ = ["SpecialIds", "InputDraw", "TokenDrawPlan", "plan_token_draws", "draw_token_feeds",
           "DEFAULT_ID_RANGE"]

#: Ids of an input named like token ids whose table could not be found: the generic draw's range.
DEFAULT_ID_RANGE = 100


@dataclass(frozen=True)
class SpecialIds:
    """What a vocabulary tells the synthetic draw: the [CLS]/[SEP]/[PAD] ids and the ordinary tokens' range."""

    cls: int | None = None
    sep: int | None = None
    pad: int = 0
    regular: tuple[int, int] | None = None  # [low, high) of ordinary (non-special, non-[unused]) tokens
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"cls": self.cls, "sep": self.sep, "pad": self.pad,
                "regular": None if self.regular is None else list(self.regular), "source": self.source}


@dataclass(frozen=True)
class InputDraw:
    name: str
    role: TokenRole
    low: int  # values drawn in [low, high)
    high: int
    how: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role.value, "low": self.low, "high": self.high, "how": self.how}


@dataclass(frozen=True)
class TokenDrawPlan:
    draws: tuple[InputDraw, ...]
    min_length: int  # shortest valid prefix drawn
    cls: int | None = None
    sep: int | None = None
    pad: int = 0

    def get(self, name: str) -> InputDraw | None:
        return next((d for d in self.draws if d.name == name), None)

    def describe(self) -> dict[str, str]:
        return {d.name: d.how for d in self.draws}

    def to_dict(self) -> dict[str, Any]:
        return {"draws": [d.to_dict() for d in self.draws], "min_length": self.min_length, "cls": self.cls,
                "sep": self.sep, "pad": self.pad}


def _seq_len(spec: TensorSpec) -> int:
    if spec.shape is None or not spec.shape or any(d is None for d in spec.shape):
        raise ConfigError(f"token input {spec.name!r} has dynamic dims {spec.shape_str}",
                          hint=f"fix the sequence length with --seq-len N or --input-shape {spec.name}=1,N")
    return int(spec.shape[-1])


def _table_text(t: TokenInput) -> str:
    return t.tables[0].describe() if t.tables else "no table found"


def plan_token_draws(specs: Sequence[TensorSpec], tokens: TokenInputs,
                     special: SpecialIds | None = None) -> TokenDrawPlan:
    """How each token input of `specs` (planned, static shapes) will be drawn."""
    by_name = {s.name: s for s in specs}
    seqs = [_seq_len(by_name[t.name]) for t in tokens.inputs
            if t.name in by_name and t.role in (TokenRole.WORD_IDS, TokenRole.MASK, TokenRole.TYPE_IDS, TokenRole.IDS)]
    seq = min(seqs) if seqs else None
    word = tokens.by_role(TokenRole.WORD_IDS)
    rows = word.rows if word is not None else None
    special = special or SpecialIds()
    valid = (lambda i: i is not None and 0 <= i < (rows if rows is not None else i + 1))
    cls = special.cls if valid(special.cls) else None
    sep = special.sep if valid(special.sep) else None
    pad = special.pad if valid(special.pad) else 0
    min_len = min(seq, 1 + (cls is not None) + (sep is not None)) if seq else 1
    span = f"a valid prefix of {min_len}..{seq} tokens" if seq else "a valid prefix"
    draws: list[InputDraw] = []
    for t in tokens.inputs:
        if t.name not in by_name or t.role is TokenRole.OTHER:
            continue
        if t.role is TokenRole.WORD_IDS:
            high = t.rows if t.rows is not None else DEFAULT_ID_RANGE
            low = 0
            if special.regular is not None:
                low, reg_high = special.regular
                high = min(high, reg_high)
                if low >= high:
                    low, high = 0, t.rows if t.rows is not None else reg_high
            ends = "".join([f"[CLS]={cls} first, " if cls is not None else "",
                            f"[SEP]={sep} last, " if sep is not None else ""])
            source = f" ({special.source})" if special.source else ""
            how = (f"token ids in [{low}, {high}) ({_table_text(t)}){source}; {ends}[PAD]={pad} after "
                   f"{span}")
            draws.append(InputDraw(t.name, t.role, low, high, how))
        elif t.role is TokenRole.MASK:
            draws.append(InputDraw(t.name, t.role, 0, 2, f"1 over {span}, 0 after"))
        elif t.role is TokenRole.TYPE_IDS:
            if t.rows is not None and t.rows >= 2:
                how = (f"0 for the first segment, 1 for a second segment in about half the rows "
                       f"({_table_text(t)}: {t.rows} rows), 0 on padding")
                draws.append(InputDraw(t.name, t.role, 0, 2, how))
            else:
                how = f"all 0 ({_table_text(t)}" + (f": {t.rows} row)" if t.rows is not None else ")")
                draws.append(InputDraw(t.name, t.role, 0, 1, how))
        elif t.role is TokenRole.IDS:
            high = t.rows if t.rows is not None else DEFAULT_ID_RANGE
            draws.append(InputDraw(t.name, t.role, 0, high, f"uniform in [0, {high}) on {span} "
                                                            f"({_table_text(t)}), 0 after"))
        elif t.role is TokenRole.LENGTH:
            hi = seq if seq is not None else DEFAULT_ID_RANGE
            draws.append(InputDraw(t.name, t.role, min_len, hi + 1,
                                   f"the valid-prefix length of each row, in [{min_len}, {hi}]"))
    return TokenDrawPlan(tuple(draws), min_len, cls, sep, pad)


def _rows_and_seq(spec: TensorSpec) -> tuple[int, int]:
    shape = spec.shape or ()
    return (int(shape[0]) if len(shape) >= 2 else 1), _seq_len(spec)


def draw_token_feeds(specs: Sequence[TensorSpec], plan: TokenDrawPlan, count: int, seed: int) -> list[dict[str, np.ndarray]]:
    """`count` feeds ({input name: array}) of the planned token inputs, drawn from `default_rng(seed)`."""
    rng = np.random.default_rng(seed)
    by_name: Mapping[str, TensorSpec] = {s.name: s for s in specs}
    seq_inputs = [d for d in plan.draws if d.role is not TokenRole.LENGTH]
    lengths_of = [d for d in plan.draws if d.role is TokenRole.LENGTH]
    if seq_inputs:
        batch, seq = _rows_and_seq(by_name[seq_inputs[0].name])
    else:
        shape = by_name[lengths_of[0].name].shape or ()
        batch, seq = (int(shape[0]) if shape else 1), lengths_of[0].high - 1
    feeds = []
    for k in range(count):
        lengths = rng.integers(plan.min_length, seq + 1, size=batch)
        if k == 0:
            lengths[0] = seq
        second = rng.random(batch) < 0.5
        split = np.array([rng.integers(1, max(2, L)) for L in lengths])  # start of the second segment
        feed: dict[str, np.ndarray] = {}
        for d in plan.draws:
            spec = by_name[d.name]
            if d.role is TokenRole.LENGTH:
                feed[d.name] = np.asarray(lengths, dtype=spec.dtype).reshape(spec.shape or ())
                continue
            rows, width = _rows_and_seq(spec)
            out = np.zeros((rows, width), dtype=np.int64)
            for r in range(rows):
                L = int(min(lengths[r % batch], width))
                if d.role is TokenRole.WORD_IDS:
                    out[r, :L] = rng.integers(d.low, d.high, L)
                    if plan.cls is not None:
                        out[r, 0] = plan.cls
                    if plan.sep is not None and L >= 2:
                        out[r, L - 1] = plan.sep
                    out[r, L:] = plan.pad
                elif d.role is TokenRole.MASK:
                    out[r, :L] = 1
                elif d.role is TokenRole.TYPE_IDS:
                    if d.high >= 2 and second[r % batch] and L >= 2:
                        out[r, int(min(split[r % batch], L - 1)):L] = 1
                elif d.role is TokenRole.IDS:
                    out[r, :L] = rng.integers(d.low, d.high, L)
            feed[d.name] = out.reshape(spec.shape or (width,)).astype(spec.dtype)
        feeds.append(feed)
    return feeds
