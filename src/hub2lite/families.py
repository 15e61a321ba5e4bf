"""Recognise which family of hub model a loaded entry point belongs to, and the strategy `convert` takes.

A family is read from what `load` and the op census find, never from the model's name:

* detection       NMS ops (NonMaxSuppressionV*, CombinedNonMaxSuppression, ...) or boxes/scores/classes/count outputs
* text            a tf.string input
* audio           one float waveform input with a variable length, or signal ops (RFFT, STFT, MFCC)
* image-classifier / image-feature-vector   one [batch, H, W, C] image input; told apart by the output
* multi-signature several signatures (each is recognised on its own; `--signature all` exports all of them)
* generic         anything else

`recognise` is cheap once the op census exists (inspect computes it anyway); `convert` calls it to apply
the family's shape defaults, and the plan is recorded in the conversion report. `FAMILY_TABLE` documents
every family and source format for the README ("## Model families"); a test keeps the two in sync.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .specs import SignatureInfo, TensorSpec, is_image_input
from .token_inputs import token_input_names

__all__ = ["Family", "FamilyPlan", "recognise", "recognise_model", "FAMILY_TABLE", "family_table_markdown",
           "NMS_BUILTIN", "NMS_SELECT", "RESOURCE_OPS", "TABLE_OPS", "audio_inputs", "AUDIO_VALIDATION_LENGTHS",
           "distinct_signatures"]


class Family(str, enum.Enum):
    IMAGE_CLASSIFIER = "image-classifier"
    IMAGE_FEATURE_VECTOR = "image-feature-vector"
    TEXT = "text"
    DETECTION = "detection"
    AUDIO = "audio"
    MULTI_SIGNATURE = "multi-signature"
    TEXT_ENCODER = "text-encoder"
    GENERIC = "generic"


#: NMS ops the converter lowers to TFLite builtins (V3 is rewritten to NON_MAX_SUPPRESSION_V4).
NMS_BUILTIN = {"NonMaxSuppressionV3": "NON_MAX_SUPPRESSION_V4", "NonMaxSuppressionV4": "NON_MAX_SUPPRESSION_V4",
               "NonMaxSuppressionV5": "NON_MAX_SUPPRESSION_V5"}
#: NMS ops with no TFLite builtin: they run through Select TF ops.
NMS_SELECT = frozenset({"CombinedNonMaxSuppression", "NonMaxSuppressionWithOverlaps", "NonMaxSuppression",
                        "NonMaxSuppressionV2"})
#: Lookup-table ops (TFLite has HASHTABLE* builtins for static tables).
TABLE_OPS = frozenset({"HashTableV2", "LookupTableFindV2", "LookupTableImportV2", "InitializeTableV2",
                       "LookupTableSizeV2", "MutableHashTableV2", "MutableHashTableOfTensorsV2",
                       "MutableDenseHashTableV2", "LookupTableInsertV2", "LookupTableRemoveV2"})
#: Ops that need the converter's resource-variable support (state written at run time, or tables).
RESOURCE_OPS = TABLE_OPS | {"AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp"}
_SIGNAL_OPS = frozenset({"RFFT", "RFFT2D", "FFT", "ComplexAbs", "AudioSpectrogram", "Mfcc"})
_DETECTION_NAMES = ("boxes", "scores", "classes")
_FEATURE_NAME = re.compile(r"feature|embed|pool|vector|encoding", re.IGNORECASE)
#: Lengths (in samples: 0.5 s, 1 s and 1.5 s at 16 kHz) a dynamic-length audio model is validated at.
AUDIO_VALIDATION_LENGTHS = (8000, 16000, 24000)


@dataclass(frozen=True)
class FamilyPlan:
    """The recognised family of one entry point (or of a whole multi-signature model) and what convert does."""

    family: Family
    signature: str | None
    strategy: str  # one line: what `convert` will do for this family
    evidence: tuple[str, ...] = ()  # what the family was recognised from
    limits: str = ""
    resource_variables: bool = False  # the graph holds tables / assigns variables
    keep_dynamic_inputs: tuple[str, ...] = ()  # inputs whose dynamic dims are kept by default (audio length)
    nms: Mapping[str, str] = field(default_factory=dict)  # NMS op -> "NON_MAX_SUPPRESSION_V5" | "select"
    members: tuple[FamilyPlan, ...] = ()  # per signature, for multi-signature models

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family.value, "signature": self.signature, "strategy": self.strategy,
                "evidence": list(self.evidence), "limits": self.limits,
                "resource_variables": self.resource_variables,
                "keep_dynamic_inputs": list(self.keep_dynamic_inputs), "nms": dict(self.nms),
                "members": [m.to_dict() for m in self.members]}


def audio_inputs(info: SignatureInfo) -> tuple[TensorSpec, ...]:
    """Float inputs shaped like a waveform: [length] or [batch, length], with the length dynamic."""
    return tuple(s for s in info.inputs if s.dtype.startswith("float") and s.shape is not None
                 and 1 <= len(s.shape) <= 2 and s.shape[-1] is None)


def _image_input(info: SignatureInfo) -> TensorSpec | None:
    images = [s for s in info.inputs if is_image_input(s)]
    return images[0] if len(images) == 1 and len(info.inputs) == 1 else None


def recognise(info: SignatureInfo, ops: Mapping[str, int]) -> FamilyPlan:
    """The family of one entry point, from its inputs/outputs and its graph's op census ({op: count})."""
    op_names = set(ops)
    resource = sorted(op_names & RESOURCE_OPS)
    out_names = [o.name.lower() for o in info.outputs]
    nms_ops = sorted(op_names & (set(NMS_BUILTIN) | NMS_SELECT))
    detection_outputs = all(any(k in n for n in out_names) for k in _DETECTION_NAMES)
    if nms_ops or detection_outputs:
        nms = {op: NMS_BUILTIN.get(op, "select") for op in nms_ops}
        mapping = ", ".join(f"{op} -> {'Select TF ops' if to == 'select' else 'builtin ' + to}"
                            for op, to in nms.items()) or "no NMS op in the graph"
        return FamilyPlan(
            Family.DETECTION, info.name,
            f"NMS: {mapping}; outputs {', '.join(o.name for o in info.outputs)} validated one by one",
            evidence=tuple([f"NMS ops {nms_ops}"] if nms_ops else []) + (
                ("outputs named boxes/scores/classes",) if detection_outputs else ()),
            limits="TFLite_Detection_PostProcess custom ops (TF1 Object Detection API exports) are not produced; "
                   "a changed NMS selection between runtimes shows up as a failed output",
            resource_variables=bool(resource), nms=nms)
    strings = [s.name for s in info.inputs if s.dtype == "string"]
    if strings:
        tables = sorted(op_names & TABLE_OPS)
        return FamilyPlan(
            Family.TEXT, info.name,
            "string ops through Select TF ops" + (f"; lookup tables ({', '.join(tables)}) kept through a "
                                                  "SavedModel export as TFLite HASHTABLE builtins" if tables else ""),
            evidence=(f"tf.string input(s) {strings}",) + ((f"table ops {tables}",) if tables else ()),
            limits="ops with no Select TF kernel (SentencePiece, UnicodeScript, ...) cannot be converted: "
                   "run that preprocessing in the app and convert the rest",
            resource_variables=bool(resource))
    tokens = token_input_names(info)
    if tokens:
        return FamilyPlan(
            Family.TEXT_ENCODER, info.name,
            "sequence length fixed by --input-shape or --seq-len N (default 128); synthetic token ids drawn inside "
            "the embedding tables the graph indexes ([CLS] .. [SEP] [PAD], masks with a valid prefix, type ids "
            "within their table); text files as --data/--calibration tokenized with the model's WordPiece "
            "vocabulary (assets/vocab.txt or --vocab); outputs validated by cosine and max |Δ|",
            evidence=(f"integer inputs {list(tokens)} named like word ids / mask / type ids",),
            limits="WordPiece vocabularies only (SentencePiece/BPE models: give token ids as .npz)",
            resource_variables=bool(resource))
    waves = audio_inputs(info)
    signal = sorted(op_names & _SIGNAL_OPS)
    if (waves and len(info.inputs) == 1) or (signal and len(info.inputs) == 1 and info.inputs[0].dtype.startswith("float")):
        names = tuple(s.name for s in waves)
        return FamilyPlan(
            Family.AUDIO, info.name,
            "waveform length fixed with --input-shape, or kept dynamic (the default; also --keep-dynamic); "
            f"dynamic lengths validated at {', '.join(map(str, AUDIO_VALIDATION_LENGTHS))} samples",
            evidence=tuple([f"variable-length float input(s) {list(names)}"] if names else []) + (
                (f"signal ops {signal}",) if signal else ()),
            limits="the sample rate is not checked; frame counts follow the input length",
            resource_variables=bool(resource), keep_dynamic_inputs=names)
    image = _image_input(info)
    if image is not None:
        dims = image.shape or ()
        hw = "dynamic H×W -> 224×224 (TF Hub convention) unless --input-shape; " if (
            len(dims) == 4 and dims[1] is None and dims[2] is None) else ""
        is_vector = len(info.outputs) == 1 and _FEATURE_NAME.search(info.outputs[0].name) is not None
        family = Family.IMAGE_FEATURE_VECTOR if is_vector else Family.IMAGE_CLASSIFIER
        check = "cosine / max |Δ| per feature" if is_vector else "top-1/top-5 agreement and value tolerances"
        return FamilyPlan(
            family, info.name, f"{hw}batch -> 1 (--batch-size); validated by {check}",
            evidence=(f"image input {image.name} {image.shape_str}",) + (
                (f"output {info.outputs[0].name!r} named like a feature vector",) if is_vector else ()),
            limits="inputs are synthetic [0,1] images unless --data gives real ones",
            resource_variables=bool(resource))
    return FamilyPlan(Family.GENERIC, info.name, "builtins first, Select TF ops if the converter asks for them",
                      evidence=(), limits="", resource_variables=bool(resource))


def distinct_signatures(entries: Mapping[str, Any]) -> list[str]:
    """Signature names, leaving out aliases of the same function (Keras 3 exports 'serve' = 'serving_default')."""
    seen: dict[int, str] = {}
    for name, entry in entries.items():
        seen.setdefault(id(getattr(entry, "fn", entry)), name)
    return list(seen.values())


def recognise_model(loaded: Any, signature: str | None, op_counts_of: Any) -> FamilyPlan:
    """The plan for `loaded` with `signature` chosen ("all": every signature). `op_counts_of(entry)` gives the
    op census of one entry point."""
    names = distinct_signatures(loaded.entries)
    if signature == "all" or (signature is None and len(names) > 1):
        members = tuple(recognise(loaded.entries[n].info, op_counts_of(loaded.entries[n])) for n in names)
        listing = ", ".join(f"{m.signature} ({m.family.value})" for m in members)
        if signature == "all":
            strategy = f"all {len(members)} signatures exported into one .tflite, each validated through its signature runner"
        else:
            strategy = (f"converts {loaded.choose(None).info.name!r} (the default); --signature all exports all "
                        f"{len(members)} into one .tflite")
        return FamilyPlan(Family.MULTI_SIGNATURE, signature, strategy, evidence=(f"signatures {listing}",),
                          limits="inputs fixed by --input-shape apply to every signature with that input name",
                          resource_variables=any(m.resource_variables for m in members),
                          members=members)
    entry = loaded.choose(signature)
    return recognise(entry.info, op_counts_of(entry))


# --- the README table ------------------------------------------------------------------------------------

#: (row, what hub2lite does, limits). Rows are the families and the source formats; the README's
#: "## Model families" table is generated from this and tests/test_families.py covers every row.
FAMILY_TABLE: tuple[tuple[str, str, str], ...] = (
    ("image-classifier", "dynamic batch -> 1; dynamic H×W -> 224×224 with a note (or `--input-shape`); builtins; "
                         "validated with top-1/top-5 agreement and value tolerances",
     "synthetic [0,1] inputs unless `--data`"),
    ("image-feature-vector", "as image-classifier; validated by cosine similarity and max |Δ| per feature",
     "synthetic [0,1] inputs unless `--data`"),
    ("text", "tf.string inputs: string ops through Select TF ops, static lookup tables as TFLite HASHTABLE builtins "
             "(resource variables on); validated in the Flex runtime",
     "ops with no Select TF kernel (SentencePiece, UnicodeScript) need `--split-unsupported` (next row)"),
    ("ops with no TFLite kernel", "`--split-unsupported` cuts out ops with neither a builtin nor a Select TF kernel "
                                  "(UnicodeScript, StringNGrams, Betainc, ...) with the fewest ops outside: the body "
                                  "becomes the .tflite, the ops before/after it TensorFlow SavedModels MODEL.pre/ and "
                                  "MODEL.post/ whose signatures connect by name; validated end to end and at the cut "
                                  "(`--body-inputs/--body-outputs` cut by hand; `--allow-custom-ops` keeps them as "
                                  "custom ops)",
     "the prefix/suffix run in TensorFlow (or your port); a custom-op model cannot be validated here (exit 11)"),
    ("text-encoder", "int32 word ids / mask / type ids (BERT, ALBERT, ELECTRA, MobileBERT; or input_ids / "
                     "attention_mask / token_type_ids): sequence length `--seq-len N` (default 128); synthetic ids "
                     "inside the embedding tables read from the graph; text files (`--data`, `--calibration`) "
                     "tokenized with the model's `assets/vocab.txt` or `--vocab`; outputs validated by cosine and "
                     "max |Δ|; int8 loses most in the masked attention scores: `--int8-keep-float softmax` keeps "
                     "that path float (`bench/bench_text.py`)",
     "WordPiece vocabularies only (SentencePiece: token ids as `.npz`)"),
    ("detection", "NonMaxSuppressionV3/V4/V5 -> builtin NON_MAX_SUPPRESSION_V4/V5; CombinedNonMaxSuppression -> "
                  "Select TF ops; boxes/scores/classes/count validated output by output",
     "no TFLite_Detection_PostProcess rewrite"),
    ("audio", "variable-length waveform (tf.signal stft/frame): length fixed with `--input-shape` or kept dynamic "
              "(default); dynamic models validated at 8000/16000/24000 samples",
     "sample rate not checked"),
    ("multi-signature", "`--signature all` exports every signature into one .tflite; each is validated through "
                        "the interpreter's signature runner",
     "`--input-shape NAME=...` applies to every signature with that input"),
    ("TF1 Hub format", "`tfhub_module.pb` detected; loaded with the empty tag set and the `default` signature",
     "other tag sets (e.g. `train`) only with `--tags`"),
    ("frozen graph (.pb)", "wrapped with `tf.compat.v1.wrap_function` and pruned to `--input-names`/"
                           "`--output-names` (default: Placeholders / unconsumed nodes); training switches "
                           "(placeholder_with_default) frozen to their defaults",
     "graphs with variables must be frozen first"),
    ("TF1 checkpoint (.meta + .index/.data)", "`.meta` graph imported (its `_output_shapes` hints dropped), "
                                              "weights restored and frozen, pruned to `--output-names`; "
                                              "`--freeze-input NAME=VALUE` feeds a placeholder a constant "
                                              "(training switches)",
     "`--output-names` required; every placeholder the outputs need is an input or frozen"),
    ("Keras file (.keras/.h5)", "the file's keras_version picks Keras 3 (exported with `model.export`) or tf_keras "
                                "(with `hub.KerasLayer` as custom object)",
     "Lambda layers refused unless `--unsafe-keras`; custom layers need their code"),
)


def family_table_markdown(rows: Iterable[tuple[str, str, str]] = FAMILY_TABLE) -> str:
    lines = ["| family / format | what hub2lite does | limits |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)
