"""What a conversion is asked and what it gives back: `ConvertConfig`, every `Attempt` on the strategy ladder,
the `Conversion` (bytes, ops, recipe, attempts) and its `SignaturePart`s; and how the ladder reads the
converter: its steps, the ops a failed attempt names, the error a failed ladder raises. No TensorFlow."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .custom_ops import CustomOp
from .errors import ConversionError
from .specs import OpsPolicy, QuantMode, SignatureInfo, TensorSpec
from .tflite_file import float_compute_ops

__all__ = ["ConvertConfig", "Attempt", "SignaturePart", "Conversion", "ALL_SIGNATURES", "ladder", "next_step",
           "diagnose", "failure", "check_integer_only"]

#: `--signature all`: export every signature into one .tflite.
ALL_SIGNATURES = "all"


@dataclass(frozen=True)
class ConvertConfig:
    signature: str | None = None
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    keep_dynamic: bool = False
    batch_size: int = 1
    ops_policy: OpsPolicy = OpsPolicy.AUTO
    quantize: QuantMode = QuantMode.FLOAT32
    io_type: str | None = None  # int8 | uint8, with int8-strict
    resource_variables: bool = False
    float_nodes: tuple[str, ...] = ()  # int8 only: op output tensors kept in float (see quantize/debugger.py)
    int8_ranges: str = "minmax"  # int8/int8-strict: activation ranges minmax | percentile | mse (quantize/ranges.py)
    bias_correction: bool = False  # int8/int8-strict: correct biases for int8 weight rounding (quantize/bias.py)
    float16_guard: bool = True  # float16: constants float16 cannot hold stay float32 (quantize/fp16.py)
    # int8: transformer parts kept in float, found by kind in the calibrated graph (quantize/transformer.py)
    int8_keep_float: tuple[str, ...] = ()
    # ops no TFLite runtime has (docs/split.md). The split is made by `prepare` (which then converts the body with
    # `for_body()`); `allow_custom_ops` keeps such ops as named TFLite custom ops instead.
    split_unsupported: bool = False
    body_inputs: tuple[str, ...] = ()
    body_outputs: tuple[str, ...] = ()
    allow_custom_ops: bool = False
    seq_len: int | None = None  # text encoders: --seq-len (default 128 for a dynamic sequence length)
    compact: bool = False  # identical vectors stored once, intermediate tensor names dropped (compact.py)

    @property
    def split_requested(self) -> bool:
        return self.split_unsupported or bool(self.body_inputs) or bool(self.body_outputs)

    def for_mode(self, mode: QuantMode) -> ConvertConfig:
        """This config converting `mode`, with the settings that concern other modes only left out: the
        int8-strict I/O type, the int8 techniques (int8 and int8-strict), the parts kept in float (int8 only:
        int8-strict keeps no op in float). One run of several modes (sweep, batch) converts each with these."""
        int8 = mode in (QuantMode.INT8, QuantMode.INT8_STRICT)
        return replace(self, quantize=mode, io_type=self.io_type if mode is QuantMode.INT8_STRICT else None,
                       int8_ranges=self.int8_ranges if int8 else "minmax", bias_correction=self.bias_correction and int8,
                       int8_keep_float=self.int8_keep_float if mode is QuantMode.INT8 else ())

    def for_body(self) -> ConvertConfig:
        """The config that converts a split model's body: its own inputs (dynamic where the cut is), no split."""
        if not self.split_requested:
            return self
        return replace(self, signature=None, input_shapes={}, keep_dynamic=True, split_unsupported=False,
                       body_inputs=(), body_outputs=())

    def to_dict(self) -> dict[str, Any]:
        return {"signature": self.signature, "input_shapes": {k: list(v) for k, v in self.input_shapes.items()},
                "keep_dynamic": self.keep_dynamic, "batch_size": self.batch_size,
                "ops_policy": self.ops_policy.value, "quantize": self.quantize.value, "io_type": self.io_type,
                "resource_variables": self.resource_variables, "float_nodes": list(self.float_nodes),
                "int8_ranges": self.int8_ranges, "bias_correction": self.bias_correction,
                "float16_guard": self.float16_guard, "int8_keep_float": list(self.int8_keep_float),
                "split_unsupported": self.split_unsupported, "body_inputs": list(self.body_inputs),
                "body_outputs": list(self.body_outputs), "allow_custom_ops": self.allow_custom_ops,
                "seq_len": self.seq_len, "compact": self.compact}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ConvertConfig:
        return cls(signature=d.get("signature"),
                   input_shapes={k: tuple(v) for k, v in (d.get("input_shapes") or {}).items()},
                   keep_dynamic=bool(d.get("keep_dynamic", False)), batch_size=int(d.get("batch_size", 1)),
                   ops_policy=OpsPolicy(d.get("ops_policy", "auto")), quantize=QuantMode(d.get("quantize", "float32")),
                   io_type=d.get("io_type"), resource_variables=bool(d.get("resource_variables", False)),
                   float_nodes=tuple(d.get("float_nodes") or ()), int8_ranges=d.get("int8_ranges", "minmax"),
                   bias_correction=bool(d.get("bias_correction", False)),
                   float16_guard=bool(d.get("float16_guard", True)),
                   int8_keep_float=tuple(d.get("int8_keep_float") or ()),
                   split_unsupported=bool(d.get("split_unsupported", False)),
                   body_inputs=tuple(d.get("body_inputs") or ()), body_outputs=tuple(d.get("body_outputs") or ()),
                   allow_custom_ops=bool(d.get("allow_custom_ops", False)),
                   seq_len=None if d.get("seq_len") is None else int(d["seq_len"]),
                   compact=bool(d.get("compact", False)))


@dataclass(frozen=True)
class Attempt:
    strategy: str  # "builtins" | "builtins+select"
    ok: bool
    seconds: float
    flex_ops: tuple[str, ...] = ()  # ops the converter said need Select TF ops
    custom_ops: tuple[str, ...] = ()  # ops with neither a builtin nor a Select TF kernel
    error: str | None = None
    route: str = "frozen"  # "frozen" (variables folded in-process) | "saved_model" (exported first)

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "ok": self.ok, "seconds": round(self.seconds, 3),
                "flex_ops": list(self.flex_ops), "custom_ops": list(self.custom_ops), "error": self.error,
                "route": self.route}


@dataclass(frozen=True)
class SignaturePart:
    """One signature of a multi-signature .tflite (`--signature all`)."""

    key: str  # the .tflite signature key
    signature: SignatureInfo
    inputs: tuple[TensorSpec, ...]
    input_names: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "signature": self.signature.to_dict(), "inputs": [s.to_dict() for s in self.inputs],
                "input_names": dict(self.input_names)}


@dataclass(frozen=True)
class Conversion:
    model: bytes = field(repr=False)
    signature: SignatureInfo  # the source entry point as the model declares it
    inputs: tuple[TensorSpec, ...]  # inputs as converted (fixed shapes), original names
    input_names: Mapping[str, str]  # TFLite signature input name -> original input name
    strategy: str
    attempts: tuple[Attempt, ...]
    tflite_ops: Mapping[str, int]
    recipe: Mapping[str, Any]
    converter_settings: Mapping[str, Any]
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    family: Mapping[str, Any] = field(default_factory=dict)  # families.FamilyPlan.to_dict()
    parts: tuple[SignaturePart, ...] = ()  # every exported signature (`--signature all`); empty otherwise
    custom_ops: tuple[CustomOp, ...] = ()  # ops kept as TFLite custom ops (--allow-custom-ops)

    @property
    def size_bytes(self) -> int:
        return len(self.model)

    @property
    def flex_ops(self) -> tuple[str, ...]:
        """The ops that forced Select TF ops (empty for a builtins-only model)."""
        return next((a.flex_ops for a in self.attempts if not a.ok and a.flex_ops), ())

    def to_dict(self) -> dict[str, Any]:
        return {"signature": self.signature.to_dict(), "inputs": [s.to_dict() for s in self.inputs],
                "input_names": dict(self.input_names), "strategy": self.strategy,
                "attempts": [a.to_dict() for a in self.attempts], "forced_select_by": list(self.flex_ops),
                "tflite_ops": dict(self.tflite_ops), "recipe": dict(self.recipe),
                "converter_settings": dict(self.converter_settings), "notes": list(self.notes),
                "size_bytes": self.size_bytes, "seconds": round(self.seconds, 3), "family": dict(self.family),
                "signatures": [p.to_dict() for p in self.parts], "custom_ops": [c.to_dict() for c in self.custom_ops]}


def diagnose(exc: BaseException) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(ops needing Select TF ops, ops needing custom implementations, one-line summary) of a converter error."""
    flex: set[str] = set()
    custom: set[str] = set()
    for err in getattr(exc, "errors", None) or []:
        op = getattr(getattr(err, "operator", None), "name", "") or ""
        op = op[3:] if op.startswith("tf.") else op
        code = getattr(err, "error_code", 0)
        if op and code == 1:  # ERROR_NEEDS_FLEX_OPS
            flex.add(op)
        elif op and code == 2:  # ERROR_NEEDS_CUSTOM_OPS
            custom.add(op)
    text = str(exc)
    if not flex and not custom:
        for m in re.finditer(r"^\s*(TF Select ops|Flex ops|Custom ops):\s*(.+)$", text, re.MULTILINE):
            names = {n.strip().removeprefix("Flex") for n in m.group(2).split(",") if n.strip()}
            (custom if m.group(1) == "Custom ops" else flex).update(names)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(("<unknown>", "loc("))]
    summary = next((ln for ln in lines if "error:" in ln), lines[0] if lines else type(exc).__name__)
    summary = re.sub(r"^.*?error:\s*", "", summary)[:300]
    return tuple(sorted(flex)), tuple(sorted(custom)), summary


def check_integer_only(model: bytes, mode: QuantMode, attempts: list[Attempt]) -> None:
    """int8-strict promises integer-only compute, but the converter keeps an op with no int8 kernel in float
    (wrapped in DEQUANTIZE/QUANTIZE) instead of failing: refuse such a model rather than mislabel it."""
    if mode is not QuantMode.INT8_STRICT:
        return
    floats = float_compute_ops(model)
    if floats:
        raise ConversionError(f"--quantize int8-strict: ops {list(floats)} have no int8 kernel and would run in float",
                              hint="use --quantize int8 (float fallback for those ops), or remove them from the model",
                              attempts=tuple(attempts))


def ladder(policy: OpsPolicy, allow_custom: bool = False) -> list[tuple[str, bool, bool]]:
    """(strategy, Select TF ops, custom ops) in the order tried. The custom-ops step is only reached when the
    converter names ops with no kernel anywhere and `--allow-custom-ops` asked to keep them."""
    steps = [("builtins", False, False)]
    if policy is OpsPolicy.AUTO:
        steps.append(("builtins+select", True, False))
    if allow_custom:
        steps.append(("builtins+select+custom" if policy is OpsPolicy.AUTO else "builtins+custom",
                      policy is OpsPolicy.AUTO, True))
    return steps


def next_step(steps: list[tuple[str, bool, bool]], index: int, last: Attempt) -> int | None:
    """Which step of `steps` to try after `last` failed at `index` (None: nothing can help)."""
    if last.custom_ops:
        return next((i for i, s in enumerate(steps) if i > index and s[2]), None)
    if last.flex_ops:
        return next((i for i, s in enumerate(steps) if i > index and s[1]), None)
    return None


def failure(attempts: list[Attempt], config: ConvertConfig) -> ConversionError:
    last = attempts[-1]
    custom = sorted({op for a in attempts for op in a.custom_ops})
    flex = sorted({op for a in attempts for op in a.flex_ops})
    if custom:
        msg = f"ops {custom} have neither a TFLite builtin nor a Select TF kernel"
        hint = ("move the preprocessing that uses them out of the model: --split-unsupported does it (the rest "
                "becomes the .tflite, those ops a TensorFlow SavedModel beside it; `hub2lite inspect` shows the cut), "
                "or keep them as TFLite custom ops with --allow-custom-ops")
    elif flex and config.ops_policy is OpsPolicy.BUILTINS:
        msg = f"ops {flex} are not TFLite builtins and --no-flex forbids Select TF ops"
        hint = "drop --no-flex to run them through the Flex delegate (bigger runtime), or remove these ops"
    elif "control flow v1" in (last.error or "").lower() or "functionalize" in (last.error or "").lower():
        msg = f"the graph uses TF1 control flow (Switch/Merge): {last.error}"
        hint = "freeze training switches to their defaults (placeholder_with_default) before converting"
    else:
        msg = f"conversion failed: {last.error}"
        hint = "fix dynamic shapes with --input-shape, try --resource-variables, or --debug for the converter log"
    return ConversionError(msg, hint=hint, attempts=tuple(attempts))
