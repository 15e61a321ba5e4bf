"""Turn what hub2lite knows about a conversion into `ModelMetadata`, and read normalization back out of it.

`describe_model` takes plain values (tensor specs, the input scaling used, labels, the recognised family, the kinds
validation saw, provenance facts) and decides each output's kind and which output the labels belong to.
`find_asset_labels` finds a labels file shipped in a hub model's `assets/`. `scaling_from_metadata` gives the
`ImageScaling` a .tflite's metadata records, for commands that read image folders when the user gave none.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..datasets import ImageScaling
from ..errors import ConfigError
from ..specs import TensorSpec, is_image_input
from .support import MetadataUnavailableError
from .spec import ColorSpace, ImageInput, InputMetadata, ModelMetadata, OutputKind, OutputMetadata

__all__ = ["describe_model", "output_kind_of", "find_asset_labels", "scaling_from_metadata", "image_input_of",
           "recorded_scaling"]

log = logging.getLogger(__name__)

_DETECTION = (("box", OutputKind.BOXES), ("score", OutputKind.SCORES), ("class", OutputKind.CLASSES),
              ("num", OutputKind.COUNT), ("count", OutputKind.COUNT))
_FEATURE = re.compile(r"feature|embed|pool|vector|encod", re.IGNORECASE)
_LABEL_FILE = re.compile(r"label|class|categor|synset", re.IGNORECASE)


def output_kind_of(spec: TensorSpec, *, family: str | None = None, validated: str | None = None,
                   probabilities: bool | None = None) -> OutputKind:
    """The kind of one output, from the recognised family, the name, validation's kind ('classifier',
    'embedding', 'tensor', 'exact') and whether its values were seen to be probabilities (rows summing to 1)."""
    low = spec.name.lower()
    if family == "detection":
        for hint, kind in _DETECTION:
            if hint in low:
                return kind
        return OutputKind.VALUES
    rank2 = spec.shape is not None and len(spec.shape) == 2
    floating = spec.dtype.startswith("float")
    if validated == "embedding" or (family == "image-feature-vector" and rank2) or (
            floating and rank2 and validated is None and _FEATURE.search(low)):
        return OutputKind.FEATURE_VECTOR
    classifier = validated == "classifier" or (validated is None and family == "image-classifier" and rank2 and floating)
    if classifier:
        if probabilities is None:
            probabilities = any(h in low for h in ("prob", "softmax", "sigmoid")) or not any(
                h in low for h in ("logit",))
        return OutputKind.PROBABILITIES if probabilities else OutputKind.LOGITS
    return OutputKind.VALUES


def image_input_of(spec: TensorSpec, scaling: ImageScaling | None) -> ImageInput | None:
    """Image properties of an NHWC input with 1 or 3 channels and a fixed size, else None."""
    shape = spec.shape
    if not is_image_input(spec) or shape is None or shape[3] not in (1, 3) or shape[1] is None or shape[2] is None:
        return None
    color = ColorSpace.GRAYSCALE if shape[3] == 1 else ColorSpace.RGB
    if spec.dtype == "uint8" and scaling is None:
        mean, std = (0.0,), (1.0,)
    else:
        mean, std = ((0.0,), (255.0,)) if scaling is None else (scaling.mean, scaling.std)
    return ImageInput(color, int(shape[1]), int(shape[2]), tuple(mean), tuple(std))


def _input_description(spec: TensorSpec, image: ImageInput | None, scaling: ImageScaling | None) -> str:
    if image is None:
        return f"{spec.dtype} tensor {spec.shape_str}."
    lo, hi = image.value_range()
    how = f" ({scaling.source}: {scaling.reason})" if scaling is not None else ""
    return (f"{image.color.value.upper() if image.color is ColorSpace.RGB else 'Grayscale'} image, "
            f"{image.height}x{image.width}, {spec.dtype}; pixels 0..255 become (pixel - {_fmt(image.mean)}) / "
            f"{_fmt(image.std)}, i.e. [{lo:.4g}, {hi:.4g}]{how}.")


def _fmt(values: Sequence[float]) -> str:
    text = ", ".join(f"{v:g}" for v in values)
    return text if len(values) == 1 else f"[{text}]"


def _classes(spec: TensorSpec) -> int | None:
    return int(spec.shape[-1]) if spec.shape and spec.shape[-1] is not None else None


def describe_model(*, name: str, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec],
                   scalings: Mapping[str, ImageScaling] | None = None, labels: Sequence[str] | None = None,
                   family: str | None = None, validated_kinds: Mapping[str, str] | None = None,
                   probabilities: Mapping[str, bool] | None = None, description: str = "", version: str = "",
                   author: str = "", license: str = "", provenance: Mapping[str, Any] | None = None) -> ModelMetadata:
    """Metadata for one converted signature. `labels` go to the one classifier output whose class count they fit
    (detection: to the classes output); a count that fits no output is a ConfigError naming both."""
    scalings = dict(scalings or {})
    ins = []
    for spec in inputs:
        scaling = scalings.get(spec.name)
        image = image_input_of(spec, scaling)
        ins.append(InputMetadata(spec.name, _input_description(spec, image, scaling), image))
    kinds = {o.name: output_kind_of(o, family=family, validated=(validated_kinds or {}).get(o.name),
                                    probabilities=(probabilities or {}).get(o.name)) for o in outputs}
    if labels and not any(k in (OutputKind.PROBABILITIES, OutputKind.LOGITS, OutputKind.CLASSES)
                          for k in kinds.values()):
        # labels name the classes of the one plain rank-2 float output they fit
        fitting = [o for o in outputs if kinds[o.name] is OutputKind.VALUES and o.dtype.startswith("float")
                   and o.shape is not None and len(o.shape) == 2 and _classes(o) == len(labels)]
        if len(fitting) == 1:
            kinds[fitting[0].name] = output_kind_of(fitting[0], validated="classifier",
                                                    probabilities=(probabilities or {}).get(fitting[0].name))
    owner = _label_owner(outputs, kinds, labels)
    outs = tuple(OutputMetadata(o.name, kinds[o.name], "", tuple(labels) if o.name == owner and labels else None)
                 for o in outputs)
    facts = {k: str(v) for k, v in (provenance or {}).items() if v not in (None, "")}
    text = description or _default_description(family, facts)
    return ModelMetadata(name, text, version, author, license, facts, tuple(ins), outs)


def _label_owner(outputs: Sequence[TensorSpec], kinds: Mapping[str, OutputKind],
                 labels: Sequence[str] | None) -> str | None:
    if not labels:
        return None
    detection = [o.name for o in outputs if kinds[o.name] is OutputKind.CLASSES]
    if detection:
        return detection[0]
    classifiers = [o for o in outputs if kinds[o.name] in (OutputKind.PROBABILITIES, OutputKind.LOGITS)]
    fits = [o.name for o in classifiers if _classes(o) in (len(labels), None)]
    if len(fits) >= 1:
        return fits[0]
    shown = ", ".join(f"{o.name} ({_classes(o)} classes)" for o in classifiers) or "none is a classifier output"
    raise ConfigError(f"the labels hold {len(labels)} names, but no output has that many classes: {shown}",
                      hint="give a labels file with one name per class (line i = output index i)")


def _default_description(family: str | None, facts: Mapping[str, str]) -> str:
    what = {"image-classifier": "Image classifier", "image-feature-vector": "Image feature vector",
            "detection": "Object detector", "text": "Text model", "audio": "Audio model"}.get(family or "", "Model")
    source = facts.get("source")
    via = f" converted from {source}" if source else ""
    by = f" by hub2lite {facts['hub2lite_version']}" if facts.get("hub2lite_version") else " by hub2lite"
    recipe = f" ({facts['recipe']})" if facts.get("recipe") else ""
    return f"{what}{via}{by}{recipe}."


def find_asset_labels(model_dir: str | Path | None, classes: int | None = None) -> Path | None:
    """A labels file shipped in a SavedModel's assets/ (or assets.extra/): the one .txt named like labels,
    else the one .txt whose line count equals `classes`. None when there is none or it is ambiguous."""
    if model_dir is None:
        return None
    root = Path(model_dir)
    found = [p for sub in ("assets", "assets.extra") if (root / sub).is_dir()
             for p in sorted((root / sub).rglob("*.txt")) if p.is_file()]
    named = [p for p in found if _LABEL_FILE.search(p.name)]
    if len(named) == 1:
        return named[0]
    pool = named or found
    if classes is not None:
        fitting = [p for p in pool if _line_count(p) == classes]
        if len(fitting) == 1:
            return fitting[0]
    return None


def _line_count(path: Path) -> int:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return -1
    while lines and not lines[-1].strip():
        lines.pop()
    return len(lines)


def scaling_from_metadata(meta: ModelMetadata | None, input_name: str | None = None) -> ImageScaling | None:
    """The normalization a .tflite's metadata records for `input_name` (default: its one image input), as the
    ImageScaling image-folder data is read with; None when the metadata records none."""
    if meta is None:
        return None
    images = [i for i in meta.inputs if i.image is not None and (input_name is None or i.name == input_name)]
    if len(images) != 1:
        return None
    image = images[0].image
    assert image is not None
    return ImageScaling(image.mean, image.std, "metadata",
                        "the .tflite's TFLite metadata (NormalizationOptions)")


def recorded_scaling(model: bytes, *, where: str = "the .tflite", required: bool = False) -> ImageScaling | None:
    """The image normalization `model`'s metadata records, or None (no metadata, no image input, or - unless
    `required` - metadata that cannot be read here). `required`: raise ConfigError naming what is missing."""
    from .writer import has_metadata, read_metadata

    if not has_metadata(model):
        if required:
            raise ConfigError(f"{where} has no TFLite metadata to take the input normalization from",
                              hint="give --input-range or --mean/--std instead")
        return None
    try:
        meta = read_metadata(model)
    except MetadataUnavailableError as exc:
        if required:
            raise
        log.warning("%s carries TFLite metadata, but it cannot be read here (%s); its normalization is not used",
                    where, exc.message)
        return None
    scaling = scaling_from_metadata(meta)
    if scaling is None and required:
        raise ConfigError(f"{where}'s metadata records no image normalization",
                          hint="give --input-range or --mean/--std instead")
    if scaling is not None:
        scaling = ImageScaling(scaling.mean, scaling.std, "metadata", f"the TFLite metadata of {where}")
    return scaling
