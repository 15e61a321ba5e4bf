"""What a .tflite's metadata says, as plain frozen values (no TensorFlow, no tflite-support).

`ModelMetadata` is what `write_metadata` embeds and `read_metadata` returns:

    ModelMetadata(name, description, version, author, license, provenance={...},
                  inputs=(InputMetadata(name, description, image=ImageInput(...)), ...),
                  outputs=(OutputMetadata(name, kind, description, labels=(...)), ...))

Normalization follows TFLite metadata (and hub2lite's `ImageScaling`): `input = (pixel - mean) / std` per channel,
with pixels in 0..255; one value applies to every channel.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError

__all__ = ["ColorSpace", "OutputKind", "ImageInput", "InputMetadata", "OutputMetadata", "ModelMetadata",
           "OUTPUT_DESCRIPTIONS", "mediapipe_notes"]


class ColorSpace(str, enum.Enum):
    RGB = "rgb"
    GRAYSCALE = "grayscale"


class OutputKind(str, enum.Enum):
    """What an output holds; decides its metadata content and default description."""

    PROBABILITIES = "probabilities"  # class scores (softmax/sigmoid), one column per label
    LOGITS = "logits"  # unnormalised class scores, one column per label
    FEATURE_VECTOR = "feature_vector"  # an embedding
    BOXES = "boxes"  # detection boxes
    SCORES = "scores"  # detection scores
    CLASSES = "classes"  # detection class indices (labels map values, not columns)
    COUNT = "count"  # number of detections
    VALUES = "values"  # anything else


#: Default one-line description per output kind (used when the caller gives none).
OUTPUT_DESCRIPTIONS: dict[OutputKind, str] = {
    OutputKind.PROBABILITIES: "Probability of each class (one score per label).",
    OutputKind.LOGITS: "Unnormalised score (logit) of each class, one per label; apply softmax for probabilities.",
    OutputKind.FEATURE_VECTOR: "Feature vector (embedding) of the input.",
    OutputKind.BOXES: "Bounding boxes of the detected objects.",
    OutputKind.SCORES: "Confidence score of each detected object.",
    OutputKind.CLASSES: "Class index of each detected object (see the labels).",
    OutputKind.COUNT: "Number of detected objects.",
    OutputKind.VALUES: "Model output.",
}
#: Kinds whose labels name the columns of the output (TENSOR_AXIS_LABELS); CLASSES labels name its values.
AXIS_LABEL_KINDS = (OutputKind.PROBABILITIES, OutputKind.LOGITS)


def _floats(values: Sequence[float], what: str) -> tuple[float, ...]:
    out = tuple(float(v) for v in values)
    if not out or not all(math.isfinite(v) for v in out):
        raise ConfigError(f"image {what} {list(values)!r} must be finite numbers", hint="e.g. mean 127.5, std 127.5")
    return out


@dataclass(frozen=True)
class ImageInput:
    """An image input: colour space, size and normalization (`(pixel - mean) / std`, pixels 0..255)."""

    color: ColorSpace
    height: int
    width: int
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (255.0,)

    def __post_init__(self) -> None:
        object.__setattr__(self, "color", ColorSpace(self.color))
        object.__setattr__(self, "mean", _floats(self.mean, "mean"))
        object.__setattr__(self, "std", _floats(self.std, "std"))
        channels = 1 if self.color is ColorSpace.GRAYSCALE else 3
        for what, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, channels):
                raise ConfigError(f"image {what} has {len(values)} values for a {channels}-channel "
                                  f"{self.color.value} input", hint=f"give 1 value or {channels}")
        if any(s == 0 for s in self.std):
            raise ConfigError(f"image std {list(self.std)} contains 0", hint="std values must be non-zero")
        if self.height <= 0 or self.width <= 0:
            raise ConfigError(f"image size {self.height}x{self.width} must be positive")

    @property
    def per_channel(self) -> bool:
        """True when channels are normalized differently (MediaPipe Tasks cannot use that)."""
        return len(set(self.mean)) > 1 or len(set(self.std)) > 1

    def value_range(self) -> tuple[float, float]:
        ends = [(p - m) / s for m, s in zip(self.mean * 3 if len(self.mean) == 1 else self.mean,
                                            self.std * 3 if len(self.std) == 1 else self.std) for p in (0.0, 255.0)]
        return min(ends), max(ends)

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.value_range()
        return {"color": self.color.value, "height": self.height, "width": self.width, "mean": list(self.mean),
                "std": list(self.std), "range": [lo, hi], "per_channel": self.per_channel}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ImageInput:
        return cls(ColorSpace(d["color"]), int(d["height"]), int(d["width"]), tuple(d["mean"]), tuple(d["std"]))


@dataclass(frozen=True)
class InputMetadata:
    """One input, named as in the .tflite's signature (or its subgraph input tensor name)."""

    name: str
    description: str = ""
    image: ImageInput | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "image": None if self.image is None else self.image.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InputMetadata:
        image = d.get("image")
        return cls(d["name"], d.get("description", ""), None if image is None else ImageInput.from_dict(image))


@dataclass(frozen=True)
class OutputMetadata:
    """One output: its kind, a description (default: by kind) and optional labels."""

    name: str
    kind: OutputKind = OutputKind.VALUES
    description: str = ""
    labels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", OutputKind(self.kind))
        if not self.description:
            object.__setattr__(self, "description", OUTPUT_DESCRIPTIONS[self.kind])
        if self.labels is not None:
            labels = tuple(str(x) for x in self.labels)
            if any("\n" in x or "\r" in x for x in labels):
                raise ConfigError("a label contains a line break", hint="one class name per line, no line breaks")
            object.__setattr__(self, "labels", labels)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind.value, "description": self.description,
                "labels": None if self.labels is None else list(self.labels)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OutputMetadata:
        labels = d.get("labels")
        return cls(d["name"], OutputKind(d.get("kind", "values")), d.get("description", ""),
                   None if labels is None else tuple(labels))


@dataclass(frozen=True)
class ModelMetadata:
    """Model-level metadata plus one entry per input and output.

    `provenance` is free-form string facts (source, resolved URL, hub2lite/TensorFlow versions, recipe ...); it is
    stored in the model as an associated JSON file and summarised in the description.
    """

    name: str
    description: str = ""
    version: str = ""
    author: str = ""
    license: str = ""
    provenance: Mapping[str, str] = field(default_factory=dict)
    inputs: tuple[InputMetadata, ...] = ()
    outputs: tuple[OutputMetadata, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "provenance", {str(k): str(v) for k, v in self.provenance.items()})
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        for what, items in (("input", self.inputs), ("output", self.outputs)):
            names = [i.name for i in items]
            if len(set(names)) != len(names):
                raise ConfigError(f"metadata names an {what} twice: {names}")

    def output(self, name: str) -> OutputMetadata | None:
        return next((o for o in self.outputs if o.name == name), None)

    def input(self, name: str) -> InputMetadata | None:
        return next((i for i in self.inputs if i.name == name), None)

    @property
    def labels(self) -> tuple[str, ...] | None:
        """The labels of the first output that has them."""
        return next((o.labels for o in self.outputs if o.labels is not None), None)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "version": self.version, "author": self.author,
                "license": self.license, "provenance": dict(self.provenance),
                "inputs": [i.to_dict() for i in self.inputs], "outputs": [o.to_dict() for o in self.outputs]}

    def summary(self, first: int = 5) -> dict[str, Any]:
        """`to_dict()` with each output's labels shortened to a count and the first names (for reports)."""
        data = self.to_dict()
        for out in data["outputs"]:
            labels = out.pop("labels")
            out["labels_count"] = 0 if labels is None else len(labels)
            out["first_labels"] = [] if labels is None else labels[:first]
        return data

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelMetadata:
        return cls(d["name"], d.get("description", ""), d.get("version", ""), d.get("author", ""),
                   d.get("license", ""), dict(d.get("provenance") or {}),
                   tuple(InputMetadata.from_dict(i) for i in d.get("inputs", ())),
                   tuple(OutputMetadata.from_dict(o) for o in d.get("outputs", ())))


def mediapipe_notes(meta: ModelMetadata, input_dtypes: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """What MediaPipe Tasks (0.10) cannot use in this metadata, one sentence each (empty: nothing).

    MediaPipe's image tasks take one RGB image input of uint8 or float32, and one mean/std for all channels.
    """
    notes = []
    dtypes = dict(input_dtypes or {})
    images = [i for i in meta.inputs if i.image is not None]
    for inp in images:
        image = inp.image
        assert image is not None
        if image.per_channel:
            notes.append(f"input {inp.name!r}: per-channel normalization (mean {list(image.mean)}, std "
                         f"{list(image.std)}) is written, but MediaPipe Tasks cannot use it (it needs one mean/std "
                         "for all channels: 'Per-channel image normalization is not available'); the TFLite Task "
                         "Library and apps reading the metadata themselves can")
        if image.color is ColorSpace.GRAYSCALE:
            notes.append(f"input {inp.name!r} is grayscale: MediaPipe Tasks' image tasks take RGB images only")
        dtype = dtypes.get(inp.name)
        if dtype is not None and dtype not in ("float32", "uint8"):
            notes.append(f"input {inp.name!r} is {dtype}: MediaPipe Tasks' image tasks take uint8 or float32 inputs")
    if images and len(meta.inputs) > 1:
        notes.append(f"the model has {len(meta.inputs)} inputs: MediaPipe Tasks' image tasks take one image input")
    return tuple(notes)
