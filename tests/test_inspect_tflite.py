"""`inspect MODEL.tflite`: signatures, op census, quantization and metadata read from real converted models."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import models_photo
from conftest import cached_build
from hub2lite.inspect_tflite import inspect_tflite, tflite_text
from hub2lite.metadata import (ColorSpace, ImageInput, InputMetadata, ModelMetadata, OutputKind, OutputMetadata,
                               install_metadata_support, write_metadata)

PHOTO_PY = Path(models_photo.__file__)


@pytest.fixture(scope="module")
def photo_variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The photo classifier converted as float32 and as dynamic-range int8 by hub2lite's CLI."""
    from hub2lite.cli import main

    import sys

    if sys.version_info[:2] >= (3, 12):
        pytest.skip("tflite-support 0.4.4 has no wheel for Python 3.12+")
    install_metadata_support()
    src = cached_build("photo_classifier", models_photo.photo_classifier, PHOTO_PY)
    folder = tmp_path_factory.mktemp("variants")
    out = {}
    for mode in ("float32", "dynamic"):
        path = folder / f"{mode}.tflite"
        err = io.StringIO()
        code = main(["convert", str(src), "-o", str(path), "--input-range", "-1,1", "--quantize", mode],
                    out=io.StringIO(), err=err)
        assert code == 0, err.getvalue()
        out[mode] = path
    return out


def test_inspect_reads_signature_ops_quantization(photo_variants: dict[str, Path]) -> None:
    info = inspect_tflite(photo_variants["float32"]).to_dict()
    json.dumps(info)
    sig = info["signatures"][0]
    assert sig["key"] == "serving_default"
    assert [(t["name"], t["dtype"], t["shape"]) for t in sig["inputs"]] == [("image", "float32", [1, 32, 32, 3])]
    assert [(t["name"], t["shape"]) for t in sig["outputs"]] == [("output_0", [1, 4])]
    assert info["ops"] == {"CONV_2D": 2, "FULLY_CONNECTED": 1, "MEAN": 1, "SOFTMAX": 1}
    assert info["flex_ops"] == [] and info["custom_ops"] == []
    assert info["quantization"]["implied_mode"] == "float32" and info["metadata"] is None
    text = tflite_text(info)
    assert "signature 'serving_default'" in text and "CONV_2D" in text and "metadata: none" in text

    dyn = inspect_tflite(photo_variants["dynamic"]).to_dict()
    assert dyn["quantization"]["implied_mode"] == "dynamic"
    assert dyn["quantization"]["weights"].get("int8", 0) >= 1 and dyn["quantization"]["activations"]["float32"] > 0


def test_inspect_shows_metadata(photo_variants: dict[str, Path], tmp_path: Path) -> None:
    meta = ModelMetadata("photo", "Photo classifier.", "2", provenance={"source": "photo"},
                         inputs=(InputMetadata("image", "RGB photo", ImageInput(ColorSpace.RGB, 32, 32, (127.5,),
                                                                               (127.5,))),),
                         outputs=(OutputMetadata("output_0", OutputKind.PROBABILITIES,
                                                 labels=models_photo.CLASSES),))
    path = tmp_path / "md.tflite"
    path.write_bytes(write_metadata(photo_variants["dynamic"].read_bytes(), meta))
    info = inspect_tflite(path).to_dict()
    md = info["metadata"]
    assert md["present"] and md["readable"] and md["name"] == "photo" and md["version"] == "2"
    assert md["inputs"][0]["image"]["mean"] == [127.5] and md["inputs"][0]["image"]["range"] == [-1.0, 1.0]
    assert md["outputs"][0]["labels_count"] == 4 and md["outputs"][0]["first_labels"] == list(models_photo.CLASSES)
    assert md["mediapipe_notes"] == [] and md["provenance"] == {"source": "photo"}
    assert info["quantization"]["implied_mode"] == "dynamic"  # metadata buffers are not mistaken for weights' mode
    text = tflite_text(info)
    assert "metadata: 'photo' version 2" in text
    assert "input  image: rgb 32x32, mean [127.5] std [127.5] -> [-1, 1]" in text
    assert "output output_0: probabilities, 4 labels (astronaut, cat, coffee, rocket)" in text
