"""Describe a loaded model: signatures, dynamic dims, parameters, and an op census in which each
op is marked as lowering to TFLite builtins, needing Select TF ops, or not convertible at all.

The support marks come from the real converter (a probe conversion of the chosen signature), not
from a hand-kept op table that would drift from the installed TensorFlow.
"""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass, field, replace
from typing import Any

from ._converter import PLUMBING_OPS, build_function, graph_op_counts
from .convert import ALL_SIGNATURES, ConvertConfig, convert, family_plan, plan_input_specs
from .errors import ConfigError, ConversionError
from .load import LoadedModel
from .specs import OpSupport, SignatureInfo
from .text_encoder import TextOptions, plan_text

__all__ = ["OpInfo", "ModelInfo", "inspect_model", "graph_op_counts", "PLUMBING_OPS"]

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class OpInfo:
    op: str
    count: int
    support: OpSupport

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "count": self.count, "support": self.support.value}


@dataclass(frozen=True)
class ModelInfo:
    source: str
    path: str
    format: str
    signatures: tuple[SignatureInfo, ...]
    chosen: str | None
    parameters: int
    ops: tuple[OpInfo, ...]
    strategy: str | None  # what `convert` will do: "builtins", "builtins+select", or None if it cannot
    blocking_ops: tuple[str, ...] = ()
    probe_error: str | None = None
    suggested_command: str = ""
    notes: tuple[str, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)
    family: dict[str, Any] = field(default_factory=dict)  # families.FamilyPlan.to_dict(): family + convert strategy
    split: dict[str, Any] | None = None  # ops no kernel runs: the cheapest split and its command (split_run)
    tensors: tuple[Any, ...] = ()  # --tensors: split.GraphTensor of the frozen graph (names for --body-inputs)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "hub2lite.inspect/1", "source": self.source, "path": self.path, "format": self.format,
                "signatures": [s.to_dict() for s in self.signatures], "chosen_signature": self.chosen,
                "parameters": self.parameters, "ops": [o.to_dict() for o in self.ops], "strategy": self.strategy,
                "blocking_ops": list(self.blocking_ops), "probe_error": self.probe_error,
                "suggested_command": self.suggested_command, "notes": list(self.notes),
                "provenance": dict(self.provenance), "family": dict(self.family), "split": self.split,
                "tensors": [t.to_dict() for t in self.tensors]}


def _suggest(source: str, loaded: LoadedModel, chosen: SignatureInfo, config: ConvertConfig) -> tuple[str, tuple[str, ...]]:
    stem = "model"
    parts = ["hub2lite", "convert", source, "-o", f"{stem}.tflite"]
    if len(loaded.entries) > 1 and chosen.name not in ("serving_default", "default"):
        parts += ["--signature", chosen.name]
    notes: list[str] = []
    try:
        keep = family_plan(loaded, loaded.entries[chosen.name]).keep_dynamic_inputs if chosen.name in loaded.entries else ()
        specs, plan_notes = plan_input_specs(chosen, config, keep_dynamic_inputs=keep)
        notes.extend(plan_notes)
        for planned, orig in zip(specs, chosen.inputs):
            if orig.shape is not None and orig.shape[1:] != planned.shape[1:]:
                parts += ["--input-shape", f"{planned.name}=" + ",".join(str(d) for d in planned.shape)]
    except ConfigError as exc:
        notes.append(str(exc))
        for spec in chosen.inputs:
            if spec.is_dynamic and spec.shape is not None:
                dims = ["1" if i == 0 and d is None else ("N" if d is None else str(d)) for i, d in enumerate(spec.shape)]
                parts += ["--input-shape", f"{spec.name}={','.join(dims)}"]
    return " ".join(shlex.quote(p) if p not in ("N",) else p for p in parts), tuple(notes)


def _probe(loaded: LoadedModel, config: ConvertConfig, specs: Any
           ) -> tuple[str | None, str | None, set[str], set[str], bool]:
    """Run the converter ladder once: (strategy, error, ops needing Select TF ops, ops with no kernel, converted)."""
    try:
        conversion = convert(loaded, replace(config, keep_dynamic=config.keep_dynamic or any(
            s.is_dynamic for s in specs)))
        attempts, strategy, error, succeeded = conversion.attempts, conversion.strategy, None, True
    except ConversionError as exc:
        attempts, strategy, error, succeeded = exc.attempts, None, str(exc), False
    except ConfigError as exc:
        attempts, strategy, error, succeeded = (), None, str(exc), False
    flex = {op for a in attempts for op in a.flex_ops}
    custom = {op for a in attempts for op in a.custom_ops}
    return strategy, error, flex, custom, succeeded


def inspect_model(loaded: LoadedModel, signature: str | None = None, *, probe: bool = True,
                  config: ConvertConfig | None = None, tensors: bool = False,
                  vocab: str | None = None) -> ModelInfo:
    """Describe `loaded`. With `probe`, run the converter ladder once to mark op support truthfully; ops with no
    kernel anywhere get the cheapest split suggested. `tensors` lists the frozen graph's tensors."""
    config = replace(config or ConvertConfig(), signature=signature)
    notes = list(loaded.notes)
    chosen = None
    ops: tuple[OpInfo, ...] = ()
    strategy = None
    blocking: tuple[str, ...] = ()
    probe_error = None
    suggested = ""
    split: dict[str, Any] | None = None
    graph_tensors: tuple[Any, ...] = ()
    try:
        entry = loaded.choose(None if signature == ALL_SIGNATURES else signature)
        chosen = entry.info
    except ConfigError as exc:
        notes.append(str(exc))
        entry = None
    text = None
    if entry is not None:
        try:
            specs, _ = plan_input_specs(entry.info, config)
        except ConfigError:
            specs, _ = plan_input_specs(entry.info, replace(config, keep_dynamic=True))
        concrete, names = build_function(entry, specs)
        counts = graph_op_counts(concrete)
        try:
            text = plan_text(concrete, names, specs, loaded.resolved.path, TextOptions(vocab))
        except ConfigError as exc:
            text = None
            notes.append(str(exc))
        flex: set[str] = set()
        custom: set[str] = set()
        succeeded = False
        if probe:
            strategy, probe_error, flex, custom, succeeded = _probe(loaded, config, specs)
            blocking = tuple(sorted(flex | custom))

        def support(op: str) -> OpSupport:
            if op in custom:
                return OpSupport.UNSUPPORTED
            if op in flex:
                return OpSupport.SELECT
            return OpSupport.BUILTIN if succeeded or (probe and (flex or custom)) else OpSupport.UNKNOWN

        ops = tuple(OpInfo(op, n, support(op)) for op, n in sorted(counts.items()))
        suggested, sugg_notes = _suggest(loaded.resolved.source, loaded, entry.info, config)
        notes.extend(sugg_notes)
        if custom and not succeeded:
            split, why = _split_suggestion(loaded, entry, specs, sorted(custom), suggested)
            if split is not None:
                suggested = split["command"]
            elif why:
                notes.append(why)
        if tensors:
            graph_tensors, why = _graph_tensors(loaded, entry, specs)
            if why:
                notes.append(why)
    try:
        family = family_plan(loaded, signature=signature).to_dict()
        if text is not None:
            family["text"] = text.to_dict()  # sequence length, vocabulary, token roles and how they are drawn
    except ConfigError as exc:
        family = {}
        notes.append(str(exc))
    return ModelInfo(source=loaded.resolved.source, path=loaded.resolved.path, format=loaded.format.value,
                     signatures=loaded.signatures, chosen=chosen.name if chosen else None,
                     parameters=loaded.parameter_count(), ops=ops, strategy=strategy, blocking_ops=blocking,
                     probe_error=probe_error, suggested_command=suggested, notes=tuple(dict.fromkeys(notes)),
                     provenance=loaded.resolved.to_dict(), family=family, split=split, tensors=graph_tensors)


def _split_suggestion(loaded: LoadedModel, entry: Any, specs: Any, custom: list[str],
                      suggested: str) -> tuple[dict[str, Any] | None, str | None]:
    """The split `convert --split-unsupported` would make, with the suggested command extended by the flag."""
    from .split_run import suggest_split

    try:
        split = suggest_split(entry, specs, custom, loaded.resolved.source, owner=loaded.obj)
    except ConversionError as exc:
        return None, f"no automatic split: {exc}"
    if suggested:
        split["command"] = f"{suggested} --split-unsupported"
    return split, None


def _graph_tensors(loaded: LoadedModel, entry: Any, specs: Any) -> tuple[tuple[Any, ...], str | None]:
    from .split import freeze, list_tensors

    concrete, names = build_function(entry, specs)
    try:
        return list_tensors(freeze(concrete, names, owner=loaded.obj)), None
    except ConversionError as exc:
        return (), f"no tensor list: {exc}"
