"""TFLite metadata: written with tflite-support's real writers, read back with its real displayer, and consumed by
MediaPipe Tasks' ImageClassifier (in its own venv, tests/mediapipe_env.py) on a real photo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import models_photo
from conftest import cached_build
from hub2lite.datasets import load_image_folder
from hub2lite.errors import ConfigError
from hub2lite.metadata import (ColorSpace, ImageInput, InputMetadata, MetadataUnavailableError, ModelMetadata,
                               OutputKind, OutputMetadata, check_python, has_metadata, install_metadata_support,
                               mediapipe_notes, read_metadata, tensor_names, write_metadata)
from hub2lite.metadata.describe import describe_model, find_asset_labels, scaling_from_metadata
from hub2lite.model_card import ModelCard, model_card_path, render_model_card
from hub2lite.runners import LiteRunner
from hub2lite.specs import TensorSpec

PHOTO_PY = Path(models_photo.__file__)
CLASSES = models_photo.CLASSES


@pytest.fixture(scope="session")
def metadata_support() -> None:
    """tflite-support installed the way `hub2lite setup-metadata` does it (a no-op when already there)."""
    if sys.version_info[:2] >= (3, 12):
        pytest.skip("tflite-support 0.4.4 has no wheel for Python 3.12+ (test_check_python_names_the_limit_on_312)")
    result = install_metadata_support()
    assert result.version == "0.4.4"


@pytest.fixture(scope="session")
def photo_model() -> Path:
    return cached_build("photo_classifier", models_photo.photo_classifier, PHOTO_PY)


@pytest.fixture(scope="session")
def photo_tflite(photo_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The photo classifier converted by hub2lite with its real input range (no metadata yet)."""
    import io

    from hub2lite.cli import main

    out = tmp_path_factory.mktemp("photo") / "photo.tflite"
    err = io.StringIO()
    code = main(["convert", str(photo_model), "-o", str(out), "--input-range", "-1,1"], out=io.StringIO(), err=err)
    assert code == 0, err.getvalue()
    return out


def _photo_metadata(**overrides) -> ModelMetadata:
    base = dict(name="photo-classifier", description="Tells four scikit-image photos apart.", version="1",
                author="hub2lite tests", license="BSD-3-Clause", provenance={"source": "tests/models_photo.py"},
                inputs=(InputMetadata("image", "RGB photo, 32x32", ImageInput(ColorSpace.RGB, 32, 32, (127.5,),
                                                                               (127.5,))),),
                outputs=(OutputMetadata("output_0", OutputKind.PROBABILITIES, labels=CLASSES),))
    base.update(overrides)
    return ModelMetadata(**base)


def test_check_python_names_the_limit_on_312() -> None:
    with pytest.raises(MetadataUnavailableError) as info:
        check_python((3, 12))
    err = info.value
    assert err.exit_code == 2
    assert "Python 3.12" in err.message and "3.7-3.11" in err.message and "\n" not in str(err)
    assert err.hint and "Python 3.11" in err.hint
    check_python((3, 11))  # supported: no error


def test_metadata_round_trip_keeps_model_outputs(metadata_support, photo_tflite: Path) -> None:
    model = photo_tflite.read_bytes()
    assert not has_metadata(model)
    assert read_metadata(model) is None
    meta = _photo_metadata()
    written = write_metadata(model, meta)
    assert has_metadata(written)
    assert read_metadata(written) == meta
    # the network is untouched: same outputs, bit for bit
    x = models_photo.to_model_range(np.stack([models_photo.resized(models_photo.photo(n)) for n in CLASSES]))
    before, after = LiteRunner(model), LiteRunner(written)
    for row in x:
        a = before.infer({"image": row[None]})["output_0"]
        b = after.infer({"image": row[None]})["output_0"]
        assert np.array_equal(a, b)
    # writing again replaces the metadata (no duplicate packed files, no growth)
    other = _photo_metadata(name="renamed", outputs=(OutputMetadata("output_0", OutputKind.PROBABILITIES,
                                                                    labels=("a", "b", "c", "d")),))
    again = write_metadata(written, other)
    assert read_metadata(again) == other
    assert abs(len(again) - len(written)) < 64


def test_model_without_labels_still_gets_normalization_and_descriptions(metadata_support, photo_tflite: Path) -> None:
    specs_in = (TensorSpec("image", "float32", (1, 32, 32, 3)),)
    specs_out = (TensorSpec("output_0", "float32", (1, 4)),)
    from hub2lite.datasets import ImageScaling

    meta = describe_model(name="photo", inputs=specs_in, outputs=specs_out, family="image-classifier",
                          scalings={"image": ImageScaling.from_range(-1.0, 1.0, "flag", "--input-range -1,1")},
                          provenance={"source": "photo", "hub2lite_version": "0.1.0"})
    back = read_metadata(write_metadata(photo_tflite.read_bytes(), meta))
    assert back is not None and back.labels is None
    image = back.inputs[0].image
    assert image == ImageInput(ColorSpace.RGB, 32, 32, (127.5,), (127.5,))
    assert "[-1, 1]" in back.inputs[0].description and "--input-range -1,1" in back.inputs[0].description
    assert back.outputs[0].kind is OutputKind.PROBABILITIES and "Probability" in back.outputs[0].description
    assert back.description == "Image classifier converted from photo by hub2lite 0.1.0."
    assert back.provenance == {"source": "photo", "hub2lite_version": "0.1.0"}


def test_per_channel_normalization_is_written_and_flagged_for_mediapipe(metadata_support, photo_tflite: Path) -> None:
    image = ImageInput(ColorSpace.RGB, 32, 32, (123.675, 116.28, 103.53), (58.395, 57.12, 57.375))
    meta = _photo_metadata(inputs=(InputMetadata("image", "ImageNet statistics", image),))
    back = read_metadata(write_metadata(photo_tflite.read_bytes(), meta))
    assert back is not None and back.inputs[0].image == image and image.per_channel
    notes = mediapipe_notes(back)
    assert len(notes) == 1 and "per-channel" in notes[0] and "MediaPipe" in notes[0]
    assert mediapipe_notes(_photo_metadata()) == ()


def test_metadata_refuses_names_the_model_lacks(metadata_support, photo_tflite: Path) -> None:
    ins, outs = tensor_names(photo_tflite.read_bytes())
    assert [(n, t) for n, _, t in ins] == [("image", "float32")] and [n for n, _, _ in outs] == ["output_0"]
    meta = _photo_metadata(outputs=(OutputMetadata("scores", OutputKind.PROBABILITIES),))
    with pytest.raises(ConfigError, match=r"'scores'.*outputs are \['output_0'\]"):
        write_metadata(photo_tflite.read_bytes(), meta)


def test_labels_go_to_the_output_they_fit() -> None:
    outs = (TensorSpec("logits", "float32", (1, 4)), TensorSpec("embedding", "float32", (1, 16)))
    meta = describe_model(name="m", inputs=(TensorSpec("x", "float32", (1, 8)),), outputs=outs,
                          labels=CLASSES, validated_kinds={"logits": "classifier", "embedding": "embedding"},
                          probabilities={"logits": False})
    assert meta.output("logits").kind is OutputKind.LOGITS and meta.output("logits").labels == CLASSES
    assert meta.output("embedding").kind is OutputKind.FEATURE_VECTOR and meta.output("embedding").labels is None
    assert meta.inputs[0].image is None and meta.inputs[0].description == "float32 tensor [1,8]."
    with pytest.raises(ConfigError, match="3 names, but no output has that many classes: logits \\(4 classes\\)"):
        describe_model(name="m", inputs=(), outputs=outs, labels=("a", "b", "c"),
                       validated_kinds={"logits": "classifier", "embedding": "embedding"})
    det = describe_model(name="d", inputs=(), family="detection", labels=("cat", "dog"),
                         outputs=(TensorSpec("detection_boxes", "float32", (1, 10, 4)),
                                  TensorSpec("detection_classes", "float32", (1, 10)),
                                  TensorSpec("num_detections", "float32", (1,))))
    assert [o.kind for o in det.outputs] == [OutputKind.BOXES, OutputKind.CLASSES, OutputKind.COUNT]
    assert det.output("detection_classes").labels == ("cat", "dog")


def test_labels_found_in_hub_assets(tmp_path: Path) -> None:
    model = tmp_path / "m"
    (model / "assets").mkdir(parents=True)
    (model / "assets" / "vocab.txt").write_text("a\nb\nc\n")
    assert find_asset_labels(model) is None  # not named like labels, no class count to match
    assert find_asset_labels(model, classes=3) == model / "assets" / "vocab.txt"
    (model / "assets" / "ImageNetLabels.txt").write_text("background\ncat\n")
    assert find_asset_labels(model, classes=3) == model / "assets" / "ImageNetLabels.txt"
    assert find_asset_labels(tmp_path / "missing") is None


def test_embed_takes_labels_from_the_hub_assets(metadata_support, photo_tflite: Path, tmp_path: Path) -> None:
    from hub2lite.datasets import ImageScaling
    from hub2lite.metadata.stage import embed_metadata

    hub_dir = tmp_path / "hub_model"
    (hub_dir / "assets").mkdir(parents=True)
    (hub_dir / "assets" / "labels.txt").write_text("\n".join(CLASSES) + "\n")
    model, result = embed_metadata(photo_tflite.read_bytes(), name="photo", model_dir=hub_dir,
                                   scalings={"image": ImageScaling.from_range(-1.0, 1.0, "flag", "--input-range -1,1")},
                                   family="image-classifier", provenance={"source": "photo"})
    assert result.labels_source == f"hub assets: {hub_dir / 'assets' / 'labels.txt'}" and result.notes == ()
    assert read_metadata(model) == result.metadata and result.metadata.labels == CLASSES
    summary = result.to_dict()
    assert summary["outputs"][0]["labels_count"] == 4 and summary["outputs"][0]["first_labels"] == list(CLASSES)
    # --labels wins over the assets; a count that fits no output is refused with both numbers
    other = tmp_path / "names.txt"
    other.write_text("a\nb\nc\nd\n")
    _, chosen = embed_metadata(photo_tflite.read_bytes(), name="photo", model_dir=hub_dir, labels_file=other)
    assert chosen.metadata.labels == ("a", "b", "c", "d") and chosen.labels_source == f"--labels {other}"
    other.write_text("a\nb\n")
    with pytest.raises(ConfigError, match="2 names, but no output has that many classes: output_0 \\(4 classes\\)"):
        embed_metadata(photo_tflite.read_bytes(), name="photo", labels_file=other, family="image-classifier")


def test_recorded_normalization_feeds_image_folders(metadata_support, photo_tflite: Path, tmp_path: Path) -> None:
    written = write_metadata(photo_tflite.read_bytes(), _photo_metadata())
    scaling = scaling_from_metadata(read_metadata(written))
    assert scaling is not None and scaling.source == "metadata" and scaling.value_range() == (-1.0, 1.0)
    png = models_photo.write_photo(tmp_path / "imgs", "cat")
    samples = load_image_folder(png.parent, LiteRunner(written).input_specs(), scaling=scaling)
    expected = models_photo.to_model_range(models_photo.resized(models_photo.photo("cat")))[None]
    np.testing.assert_allclose(samples.feeds[0]["image"], expected, atol=1e-6)


def test_model_card_renders_every_section(metadata_support, photo_tflite: Path) -> None:
    meta = _photo_metadata()
    card = ModelCard(name="photo", model_path=str(photo_tflite), size_bytes=24284, sha256="ab" * 32,
                     source={"source": "photo", "kind": "folder", "provenance": {"local_path": "/x/photo"}},
                     signature="serving_default", inputs=(TensorSpec("image", "float32", (1, 32, 32, 3)),),
                     outputs=(TensorSpec("output_0", "float32", (1, 4)),), family="image-classifier",
                     recipe={"name": "float32", "description": "no quantization"},
                     converter_settings={"supported_ops": ["TFLITE_BUILTINS"]}, ops={"CONV_2D": 2, "SOFTMAX": 1},
                     validation={"passed": True, "mode": "float32", "samples": 8, "inputs": {"source": "synthetic"},
                                 "runtimes": {"original": "tensorflow"},
                                 "outputs": [{"name": "output_0", "kind": "classifier", "max_abs": 1.2e-10,
                                              "cosine": 1.0, "snr_db": 202.5, "top1_agreement": 1.0,
                                              "passed": True}]},
                     accuracy={"output": "output_0", "samples": 40, "classes": 4, "k": 4, "top1_original": 1.0,
                               "top1_tflite": 0.975, "top1_drop": 0.025, "top5_original": 1.0, "top5_tflite": 1.0},
                     latency={"p50_ms": 0.0123, "p90_ms": 0.02, "mean_ms": 0.015, "runs": 50, "threads": 1,
                              "runtime": "ai_edge_litert"},
                     metadata=meta, metadata_notes=mediapipe_notes(meta), versions={"tensorflow": "2.18.1"},
                     command="hub2lite convert photo -o photo.tflite --input-range -1,1 --metadata")
    text = render_model_card(card)
    for needle in ("# photo", "## Source", "local path: `/x/photo`", "## Signature", "| input | `image` | float32 |"
                   " [1,32,32,3] | RGB photo, 32x32 |", "## Metadata", "mean [127.5] std [127.5] → [-1, 1]",
                   "4 labels (astronaut, cat, coffee, rocket)", "## Recipe", "CONV_2D ×2", "## Validation",
                   "**PASS**", "| `output_0` | classifier | 1.2e-10 | 1.000000 | 202.5 | 100.0% | yes |",
                   "## Labeled accuracy", "top-1 100.0% original → 97.5% .tflite (drop 2.5%)",
                   "p50 0.012 ms", "## Reproduce", "--input-range -1,1 --metadata"):
        assert needle in text, needle
    assert model_card_path(photo_tflite) == photo_tflite.with_suffix(".md")
    bare = render_model_card(ModelCard(name="x", model_path="x.tflite", size_bytes=10))
    assert "No TFLite metadata embedded" in bare and "Not validated" in bare and "not measured here" in bare


@pytest.mark.slow
def test_setup_installs_tflite_support_without_its_pins(metadata_support, tmp_path: Path) -> None:
    """The installer's real path into a fresh environment: the cached wheel, pip --no-deps, then an import probe."""
    venv = tmp_path / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "flatbuffers", "numpy<2.1"],
                   check=True)
    first = install_metadata_support(python)
    assert not first.already_installed and first.version == "0.4.4" and first.wheel.endswith(".whl")
    assert first.python_version == f"{sys.version_info[0]}.{sys.version_info[1]}"
    frozen = subprocess.run([python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                            check=True).stdout
    assert "tflite-support==0.4.4" in frozen and "protobuf" not in frozen  # its protobuf<4 pin was not followed
    assert install_metadata_support(python).already_installed


@pytest.mark.slow
def test_mediapipe_image_classifier_reads_the_metadata(photo_cli: Path, photo_tflite: Path, tmp_path: Path) -> None:
    """MediaPipe Tasks' ImageClassifier, given only the .tflite `convert --metadata` wrote, names the same top class
    with the same score as hub2lite's own run of that model on the same photo; without metadata MediaPipe refuses
    the model."""
    from mediapipe_env import classify

    model = photo_cli
    plain = tmp_path / "photo_plain.tflite"
    plain.write_bytes(photo_tflite.read_bytes())
    photos = [models_photo.write_photo(tmp_path / name, name) for name in ("cat", "coffee")]

    meta = read_metadata(model.read_bytes())
    runner = LiteRunner(model.read_bytes())
    ours = {}
    for png in photos:
        feed = load_image_folder(png.parent, runner.input_specs(), scaling=scaling_from_metadata(meta)).feeds[0]
        scores = runner.infer(feed)["output_0"][0]
        top = int(np.argmax(scores))
        ours[png.stem] = (meta.labels[top], float(scores[top]))

    theirs = classify(model, photos)
    for png in photos:
        best = theirs[str(png)][0]
        name, score = ours[png.stem]
        print(f"{png.stem}: MediaPipe {best['category_name']} {best['score']:.6f} | hub2lite {name} {score:.6f}")
        assert best["category_name"] == name == png.stem
        assert best["score"] == pytest.approx(score, abs=1e-5)
    assert ours["coffee"][1] < 0.999  # a score that would move if the normalization were misread

    with pytest.raises(RuntimeError, match="requires specifying NormalizationOptions metadata"):
        classify(plain, photos[:1])


# --- through the CLI -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def photo_cli(metadata_support, photo_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`hub2lite convert --metadata --labels` on the photo classifier: the model an app would ship."""
    import io

    from hub2lite.cli import main

    folder = tmp_path_factory.mktemp("photo_cli")
    (folder / "labels.txt").write_text("\n".join(CLASSES) + "\n")
    out = folder / "photo.tflite"
    err = io.StringIO()
    code = main(["convert", str(photo_model), "-o", str(out), "--input-range", "-1,1", "--metadata",
                 "--labels", str(folder / "labels.txt")], out=io.StringIO(), err=err)
    assert code == 0, err.getvalue()
    return out


def test_convert_metadata_writes_model_card_report_and_metadata(photo_cli: Path, photo_model: Path, cli) -> None:
    import json

    report = json.loads(photo_cli.with_name("photo.report.json").read_text())
    md = report["output"]["metadata"]
    assert md["labels_source"].startswith("--labels ") and md["outputs"][0]["labels_count"] == 4
    assert md["inputs"][0]["image"]["mean"] == [127.5] and md["notes"] == []
    meta = read_metadata(photo_cli.read_bytes())
    assert meta.labels == CLASSES and meta.provenance["source"] == str(photo_model)
    assert meta.provenance["hub2lite_version"] and meta.provenance["signature"] == "serving_default"
    assert meta.name == photo_model.name and "Image classifier converted from" in meta.description
    card = photo_cli.with_name("photo.md").read_text()
    assert report["output"]["model_card"] == str(photo_cli.with_name("photo.md"))
    assert "## Metadata" in card and "4 labels (astronaut, cat, coffee, rocket)" in card and "**PASS**" in card
    assert "--metadata" in card and "--input-range -1,1" in card
    r = cli("inspect", photo_cli, "--json")
    assert r.code == 0, r
    data = json.loads(r.out)
    assert data["metadata"]["outputs"][0]["first_labels"] == list(CLASSES)
    assert data["quantization"]["implied_mode"] == "float32"
    r = cli("inspect", photo_cli)
    assert "metadata: " in r.out and "4 labels (astronaut, cat, coffee, rocket)" in r.out


def test_validate_reads_normalization_from_the_tflite(photo_cli: Path, photo_model: Path, tmp_path: Path,
                                                      cli) -> None:
    import json

    data = tmp_path / "photos"
    for name in CLASSES:
        models_photo.write_photo(data / name, name)
    r = cli("validate", photo_model, photo_cli, "--data", data, "--labels", photo_cli.with_name("labels.txt"),
            "--json")
    assert r.code == 0, r
    report = json.loads(r.out)
    scaling = report["inputs"]["scaling"]
    assert scaling["source"] == "metadata" and scaling["mean"] == [127.5] and scaling["std"] == [127.5]
    assert report["accuracy"]["top1_original"] == 1.0 and report["accuracy"]["top1_tflite"] == 1.0
    # --normalization-from names the .tflite explicitly; it is refused together with --input-range
    r = cli("validate", photo_model, photo_cli, "--data", data, "--input-range", "-1,1",
            "--normalization-from", photo_cli)
    assert r.code == 2 and "--normalization-from cannot be combined" in r.err


def test_setup_metadata_command_reports_the_install(metadata_support, cli) -> None:
    import json

    r = cli("setup-metadata", "--json")
    assert r.code == 0, r
    assert json.loads(r.out)["version"] == "0.4.4"
    r = cli("setup-metadata")
    assert r.code == 0 and "tflite-support 0.4.4 is already installed" in r.out


def test_per_channel_normalization_is_reported_by_convert(metadata_support, photo_model: Path, tmp_path: Path,
                                                          cli) -> None:
    import json

    out = tmp_path / "imagenet_stats.tflite"
    r = cli("convert", photo_model, "-o", out, "--mean", "123.675,116.28,103.53", "--std", "58.395,57.12,57.375",
            "--metadata")
    assert r.code == 0, r
    notes = json.loads(out.with_name("imagenet_stats.report.json").read_text())["output"]["metadata"]["notes"]
    assert any("per-channel normalization" in n and "MediaPipe Tasks cannot use it" in n for n in notes), notes
    assert any(n.startswith("no labels") for n in notes)
    assert "metadata note: input 'image': per-channel normalization" in r.out
    assert "metadata: embedded (image: rgb 32x32, mean [123.675, 116.28, 103.53]" in r.out
    assert "per-channel normalization" in out.with_name("imagenet_stats.md").read_text()
    image = read_metadata(out.read_bytes()).inputs[0].image
    assert image.mean == (123.675, 116.28, 103.53) and image.std == (58.395, 57.12, 57.375)
