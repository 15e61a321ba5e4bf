"""Sensitivity by effect: which ops to keep in float, chosen by what reverting them does to the model's outputs.

A per-layer error statistic (the debugger's rmse/scale) says where rounding is large, not where it matters:
an early layer with a small error can cost more accuracy than a late one with a large error. So, as NNCF's
accuracy-controlled quantization does, each candidate op is *reverted to float* and the quantized model is
scored on a ranking subset of the calibration data (never the evaluation data):

1. rank: every candidate alone (in `ordering`'s order, the first `max_rank`), by the drop of a continuous loss
   (output distance to the float model; agreement is too coarse to rank by);
2. greedy: add the best-ranked candidate; re-score the next `rerank` candidates on top of what is already
   float and take the best of them (re-ranking after each step); a step that does not lower the loss is undone
   and its candidate dropped;
3. stop as soon as the quality target is met, or at `max_float` ops, or when nothing helps any more.

`base_float` ops stay float in every model the search builds, the base included: a recurrent model's LSTMs, whose
all-int8 form aborts LiteRT (textgenrnn) or cannot be calibrated (WHILE loops), so the search starts from them float.

Every model the search builds comes from one calibrated flatbuffer (`flatgraph.finish`), so candidates are op
names of that flatbuffer and always match. With bias correction, an op put back in float gets its *original*
bias back (`Prepared.calibrated`): the correction compensates int8 weight rounding, which a float op does not have.
Measured on the real MobileNetV1 (nudity, 200 evaluation crops): the first 13 ops float on the bias-corrected
model kept their corrected biases and gave 82% top-1 agreement (all-int8: 97%); with their biases restored, 98%.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .flatgraph import finish
from ..interrupts import reraise_pending

__all__ = ["Score", "SearchStep", "SearchResult", "Prepared", "score_outputs", "sensitivity_search", "KINDS",
           "CLASSIFIER_LOSSES", "ScoredTechniques", "score_techniques"]

log = logging.getLogger(__name__)

KINDS = ("classifier", "tagger", "char", "dense")


@dataclass(frozen=True)
class Score:
    """Quality of quantized outputs against the float reference: `loss` (continuous, lower is better, used to
    rank) and `quality` (the kind's headline metric, higher is better)."""

    loss: float
    quality: float
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"loss": self.loss, "quality": self.quality, **self.metrics}


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a.reshape(len(a), -1).astype(np.float64)
    b = b.reshape(len(b), -1).astype(np.float64)
    num = (a * b).sum(1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.mean(np.where(den > 0, num / np.maximum(den, 1e-30), 1.0)))


def _margin_loss(ref: np.ndarray, out: np.ndarray) -> float:
    """Mean over samples of how much of the reference's top-1 margin (its top class minus the best other class)
    the quantized output lost: 0 when the margin held or grew, above the reference margin when top-1 flipped."""
    idx = ref.argmax(1)
    rows = np.arange(len(ref))

    def margin(p: np.ndarray) -> np.ndarray:
        others = p.copy()
        others[rows, idx] = -np.inf
        return p[rows, idx] - others.max(1)

    return float(np.mean(np.maximum(0.0, margin(ref) - margin(out))))


def _kl_loss(ref: np.ndarray, out: np.ndarray) -> float:
    """Mean KL(reference || quantized) of outputs read as probabilities (rows normalised, clipped at 1e-7)."""
    p = np.clip(ref, 1e-7, None)
    q = np.clip(out, 1e-7, None)
    p, q = p / p.sum(1, keepdims=True), q / q.sum(1, keepdims=True)
    return float(np.mean(np.sum(p * np.log(p / q), axis=1)))


#: Continuous losses a classifier's search can rank by: mean |Δp| (default), KL, lost top-1 margin.
CLASSIFIER_LOSSES = ("mae", "kl", "margin")


def score_outputs(kind: str, reference: np.ndarray, got: np.ndarray, *, loss: str = "mae") -> Score:
    """Metrics per kind: classifier/char = top-1 agreement; tagger = share of tag decisions (at 0.5) that agree,
    plus cosine; dense = cosine and SNR (dB). The loss is the mean absolute output difference (dense: relative
    mean squared error); a classifier can rank by `loss` "kl" or "margin" instead (CLASSIFIER_LOSSES)."""
    ref = np.asarray(reference, np.float64)
    out = np.asarray(got, np.float64)
    diff = float(np.mean(np.abs(out - ref)))
    if kind in ("classifier", "char"):
        r2, o2 = ref.reshape(len(ref), -1), out.reshape(len(out), -1)
        agree = float(np.mean(o2.argmax(1) == r2.argmax(1)))
        metrics = {"agreement": agree, "mean_abs_diff": diff}
        if loss == "mae":
            return Score(diff, agree, metrics)
        if loss == "kl":
            value = _kl_loss(r2, o2)
        elif loss == "margin":
            value = _margin_loss(r2, o2)
        else:
            raise ValueError(f"unknown classifier loss {loss!r}; use one of {CLASSIFIER_LOSSES}")
        return Score(value, agree, {**metrics, loss: value})
    if kind == "tagger":
        agree = float(np.mean((out > 0.5) == (ref > 0.5)))
        return Score(diff, agree, {"tag_agreement": agree, "cosine": _cosine(ref, out), "mean_abs_diff": diff})
    if kind == "dense":
        noise = float(np.mean((out - ref) ** 2))
        power = float(np.mean(ref ** 2))
        snr = 10 * np.log10(power / noise) if noise > 0 else 99.0
        cos = _cosine(ref, out)
        return Score(noise / max(power, 1e-30), cos, {"cosine": cos, "snr_db": float(snr), "mean_abs_diff": diff})
    raise ValueError(f"unknown output kind {kind!r}")


@dataclass(frozen=True)
class SearchStep:
    node: str
    loss: float
    quality: float
    kept: bool

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "loss": self.loss, "quality": self.quality, "kept": self.kept}


@dataclass(frozen=True)
class SearchResult:
    model: bytes
    float_nodes: tuple[str, ...]  # every op the model keeps float: `base_float` first, then the search's steps
    score: Score
    base: Score
    ranking: tuple[tuple[str, float], ...]  # candidate -> loss when reverted alone
    steps: tuple[SearchStep, ...]
    evaluations: int
    reached_target: bool
    base_float: tuple[str, ...] = ()

    @property
    def searched(self) -> tuple[str, ...]:
        """The ops the search floated, in order (`float_nodes` without `base_float`)."""
        return self.float_nodes[len(self.base_float):]

    def to_dict(self) -> dict[str, Any]:
        return {"float_nodes": list(self.float_nodes), "base_float": list(self.base_float),
                "score": self.score.to_dict(), "base": self.base.to_dict(),
                "ranking": [[n, l] for n, l in self.ranking], "steps": [s.to_dict() for s in self.steps],
                "evaluations": self.evaluations, "reached_target": self.reached_target,
                "size_bytes": len(self.model)}


@dataclass(frozen=True)
class Prepared:
    """A calibrated flatbuffer after a technique (activation ranges x bias correction), ready to quantize with
    any set of ops left float. Bias correction is applied per set: every int8 layer corrected, every float one
    with its original bias. `convert`, `optimize` and the search all quantize through `build`."""

    ranges: str
    bias_correction: bool
    ranged: bytes  # the calibrated flatbuffer with the chosen ranges, biases as calibrated
    acts: Any = field(default=None, repr=False)  # calibration activations (channel means), for bias correction
    corrected: bytes | None = field(default=None, repr=False)  # every layer corrected (no op float)

    @classmethod
    def make(cls, ranged: bytes, acts: Any, *, ranges: str = "minmax", bias_correction: bool = False) -> Prepared:
        from .bias import correct_bias

        corrected = correct_bias(ranged, acts).model if bias_correction else None
        return cls(ranges, bias_correction, ranged, acts, corrected)

    @property
    def name(self) -> str:
        return self.ranges + ("+bias" if self.bias_correction else "")

    def _calibrated(self, float_nodes: Sequence[str]) -> tuple[bytes, dict[str, Any]]:
        from .bias import correct_bias

        if not self.bias_correction:
            return self.ranged, {}
        if not float_nodes and self.corrected is not None:
            return self.corrected, {}
        done = correct_bias(self.ranged, self.acts, skip=set(float_nodes))
        return done.model, {"bias_corrected_layers": done.layers}

    def calibrated(self, float_nodes: Sequence[str] = ()) -> bytes:
        """The calibrated flatbuffer to quantize with `float_nodes` float (bias-corrected where int8)."""
        return self._calibrated(float_nodes)[0]

    def build(self, float_nodes: Sequence[str] = (), *, integer_only: bool = False) -> tuple[bytes, dict[str, Any]]:
        """The quantized model with `float_nodes` float, and what the technique did to it (for the report)."""
        calibrated, info = self._calibrated(float_nodes)
        return finish(calibrated, float_nodes=float_nodes, integer_only=integer_only), info

    def quantize(self, float_nodes: Sequence[str] = (), *, integer_only: bool = False) -> bytes:
        return self.build(float_nodes, integer_only=integer_only)[0]


def sensitivity_search(calibrated: bytes | Prepared, evaluate: Callable[[bytes], Score], candidates: Sequence[str], *,
                       target: float, max_float: int = 8, max_rank: int = 64, rerank: int = 4,
                       max_size: int | None = None, integer_only: bool = False, beyond_target: float | None = None,
                       base_float: Sequence[str] = (), size_of: Callable[[bytes], int] = len,
                       progress: Callable[[str], None] | None = None) -> SearchResult:
    """Greedy float fallback on `calibrated` (a `Prepared` technique, or a calibrated flatbuffer as it is) until `evaluate`'s quality
    reaches `target`. `candidates` are op names of `calibrated`, in a first ordering (e.g. the debugger's).

    With `beyond_target` (a fraction, e.g. 0.05), the search goes on after the target is met while a step lowers
    the loss by at least that fraction (and `max_float` / `max_size` allow): a small ranking subset says "target
    met" too early (measured on MobileNetV1: 100% agreement on the ranking crops with one float op, 98% on other
    photos), and the caller measures every step on its own evaluation data. `size_of` gives a candidate's size
    as `max_size` means it (the caller's `--compact` file size: the raw flatbuffer is larger)."""
    say = progress or (lambda _m: None)
    prep = calibrated if isinstance(calibrated, Prepared) else Prepared("minmax", False, calibrated)
    fixed = tuple(dict.fromkeys(base_float))
    if fixed and integer_only:
        raise ValueError("an integer-only search cannot keep base_float ops float")
    base_model = prep.quantize(fixed, integer_only=integer_only)
    base = evaluate(base_model)
    evaluations = 1
    candidates = [c for c in candidates if c not in fixed]
    if (base.quality >= target and beyond_target is None) or not candidates:
        return SearchResult(base_model, fixed, base, base, (), (), evaluations, base.quality >= target, fixed)
    ranking: dict[str, float] = {}
    for node in list(candidates)[:max_rank]:
        try:
            model = prep.quantize([*fixed, node], integer_only=integer_only)
        except Exception as exc:  # noqa: BLE001 - a candidate the quantizer cannot keep float is skipped, logged
            reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
            log.info("candidate %s skipped: %s", node, exc)
            continue
        ranking[node] = evaluate(model).loss
        evaluations += 1
    order = sorted(ranking, key=lambda n: ranking[n])
    say(f"ranked {len(order)} ops by reverting each to float (base loss {base.loss:.4g})")
    chosen: list[str] = []
    current, current_model = base, base_model
    steps: list[SearchStep] = []
    gains = {n: base.loss - ranking[n] for n in order}
    remaining = [n for n in order if gains[n] > 0]

    def wanted(s: Score) -> bool:  # does a step to `s` help enough to keep?
        if current.quality < target:
            return s.loss < current.loss
        return beyond_target is not None and s.loss < current.loss * (1.0 - beyond_target)

    while remaining and len(chosen) < max_float and (current.quality < target or beyond_target is not None):
        remaining.sort(key=lambda n: -gains[n])
        trial: list[tuple[Score, str, bytes]] = []
        for node in remaining[:max(1, rerank)]:
            model = prep.quantize([*fixed, *chosen, node], integer_only=integer_only)
            if max_size is not None and size_of(model) > max_size:
                gains[node] = -1.0
                continue
            s = evaluate(model)
            evaluations += 1
            gains[node] = current.loss - s.loss  # re-ranked on top of what is float already
            trial.append((s, node, model))
        if not trial:
            remaining = [n for n in remaining if gains[n] > 0]
            continue
        s, node, model = min(trial, key=lambda t: t[0].loss)
        if wanted(s):
            chosen.append(node)
            current, current_model = s, model
            steps.append(SearchStep(node, s.loss, s.quality, True))
            say(f"float {node[:60]}: loss {s.loss:.4g}, quality {s.quality:.4f}")
        else:
            steps.append(SearchStep(node, s.loss, s.quality, False))
            say(f"undo {node[:60]}: loss {s.loss:.4g} does not improve on {current.loss:.4g} enough")
            gains[node] = -1.0
            if current.quality >= target:  # past the target the best remaining step did not help: stop
                break
        remaining = [n for n in remaining if n not in chosen and gains[n] > 0]
    return SearchResult(current_model, (*fixed, *chosen), current, base, tuple((n, ranking[n]) for n in order),
                        tuple(steps), evaluations, current.quality >= target, fixed)


@dataclass(frozen=True)
class Technique:
    """One way of preparing the calibrated model before quantizing (ranges x bias correction), as scored."""

    name: str  # e.g. "minmax", "mse+bias"
    ranges: str
    bias_correction: bool
    score: Score
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ranges": self.ranges, "bias_correction": self.bias_correction,
                "score": self.score.to_dict(), "size_bytes": self.size_bytes}


@dataclass(frozen=True)
class Int8Choice:
    """What `accurate_int8` tried and chose: the techniques (all scored on the ranking subset), the one kept,
    and the float-fallback search run on top of it (None when the technique alone met the target)."""

    model: bytes
    techniques: tuple[Technique, ...]
    chosen: Technique
    prepared: Prepared  # the chosen technique (what the search quantizes)
    search: SearchResult | None
    base_float: tuple[str, ...] = ()  # ops every variant kept float (accurate_int8's base_float)

    @property
    def float_nodes(self) -> tuple[str, ...]:
        return self.search.float_nodes if self.search else self.base_float

    @property
    def score(self) -> Score:
        return self.search.score if self.search else self.chosen.score

    def to_dict(self) -> dict[str, Any]:
        return {"techniques": [t.to_dict() for t in self.techniques], "chosen": self.chosen.name,
                "search": self.search.to_dict() if self.search else None, "float_nodes": list(self.float_nodes),
                "size_bytes": len(self.model)}


def prepare_variants(calibrated: bytes, acts: Any, *, ranges: Sequence[str] = ("minmax", "mse"),
                     bias: Sequence[bool] = (False, True)) -> dict[str, Prepared]:
    """{name ("minmax", "mse+bias", ...): the prepared technique} for each range method x bias correction."""
    from .flatgraph import CalibratedGraph
    from .ranges import choose_ranges, rewrite_ranges

    graph = CalibratedGraph(calibrated)
    out: dict[str, Prepared] = {}
    for method in ranges:
        ranged = calibrated if method == "minmax" else rewrite_ranges(calibrated, choose_ranges(graph, acts, method))
        for b in bias:
            prep = Prepared.make(ranged, acts, ranges=method, bias_correction=b)
            out[prep.name] = prep
    return out


@dataclass(frozen=True)
class ScoredTechniques:
    """What `score_techniques` built: every technique by name (in `prepare_variants`' order), the rows it scored
    (empty without `evaluate`), the one with the lowest ranking loss and its model (None without `evaluate`)."""

    prepared: dict[str, Prepared]
    techniques: tuple[Technique, ...]
    chosen: Technique | None
    model: bytes | None = field(default=None, repr=False)


def score_techniques(calibrated: bytes, acts: Any, evaluate: Callable[[bytes], Score] | None, *,
                     ranges: Sequence[str] = ("minmax", "mse"), bias: Sequence[bool] = (False, True),
                     keep_float: Sequence[str] = (), integer_only: bool = False,
                     on_model: Callable[[Prepared, bytes], None] | None = None,
                     progress: Callable[[str], None] | None = None) -> ScoredTechniques:
    """Each technique (range method x bias correction) of one calibration quantized with `keep_float` ops float,
    scored by `evaluate` on the ranking subset, then handed with its model to `on_model` (optimize measures it on
    its evaluation data there); the lowest ranking loss is chosen. `evaluate` None scores nothing (a split model,
    whose body's outputs the final score does not read): every model is still built and handed to `on_model`."""
    say = progress or (lambda _m: None)
    prepared = prepare_variants(calibrated, acts, ranges=ranges, bias=bias)
    techniques: list[Technique] = []
    best: tuple[Technique, bytes] | None = None
    for name, prep in prepared.items():
        model = prep.quantize(keep_float, integer_only=integer_only)
        if evaluate is not None:
            s = evaluate(model)
            row = Technique(name, prep.ranges, prep.bias_correction, s, len(model))
            techniques.append(row)
            if best is None or s.loss < best[0].score.loss:  # the first of equal losses, as min() keeps
                best = (row, model)
            say(f"int8 {name}: loss {s.loss:.4g}, quality {s.quality:.4f}")
        if on_model is not None:
            on_model(prep, model)
    return ScoredTechniques(prepared, tuple(techniques), *(best if best is not None else (None, None)))


def accurate_int8(calibrated: bytes, acts: Any, evaluate: Callable[[bytes], Score], *, target: float,
                  ranges: Sequence[str] = ("minmax", "mse"), bias: Sequence[bool] = (False, True),
                  max_float: int = 8, max_rank: int = 64, max_size: int | None = None,
                  integer_only: bool = False, beyond_target: float | None = None, base_float: Sequence[str] = (),
                  progress: Callable[[str], None] | None = None) -> Int8Choice:
    """Range methods and bias correction first (scored on the ranking subset, the lowest loss kept); only if
    the best of them misses `target`, the sensitivity search floats ops on top of it (never with
    `integer_only`, whose contract is integer-only compute). `base_float` ops stay float in every variant (a
    recurrent model's LSTMs: `CalibratedInt8.keep_float`); the all-int8 base is then never built."""
    from .flatgraph import CalibratedGraph

    fixed = tuple(dict.fromkeys(base_float))
    if fixed and integer_only:
        raise ValueError("an integer-only int8 cannot keep base_float ops float")
    scored = score_techniques(calibrated, acts, evaluate, ranges=ranges, bias=bias, keep_float=fixed,
                              integer_only=integer_only, progress=progress)
    chosen, model = scored.chosen, scored.model
    assert chosen is not None and model is not None  # scored with `evaluate`
    prepared = scored.prepared[chosen.name]
    if (chosen.score.quality >= target and beyond_target is None) or integer_only:
        return Int8Choice(model, scored.techniques, chosen, prepared, None, fixed)
    candidates = [op.name for op in CalibratedGraph(prepared.ranged).compute_ops()]
    result = sensitivity_search(prepared, evaluate, candidates, target=target, max_float=max_float,
                                max_rank=max_rank, max_size=max_size, beyond_target=beyond_target,
                                base_float=fixed, progress=progress)
    return Int8Choice(result.model, scored.techniques, chosen, prepared, result, fixed)
