"""Calibration / validation data: image folders (real digits written as png/jpg/bmp), class-folder labels,
sample checks, and the input range (flags > the model's own leading ops > documented default)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import cached_build
from hub2lite.datasets import DEFAULT_SCALING, ImageScaling, ValueRange, check_samples, load_samples
from hub2lite.errors import CalibrationError, ConfigError
from hub2lite.quantize.calibration import _match, parse_input_range, scaling_from_flags
from hub2lite.specs import TensorSpec
from models_quant import BUILDERS, to_rgb16

MODELS_QUANT = Path(__file__).with_name("models_quant.py")
GRAY = (TensorSpec("image", "float32", (1, 8, 8, 1)),)
FORMATS = ("png", "jpg", "bmp")


def write_digit_folder(root: Path, x: np.ndarray, y: np.ndarray, *, rgb_every: int = 2, corrupt: int = 1) -> Path:
    """ImageNet layout `digit_k/i.{png,jpg,bmp}` of real digits (mixed gray/RGB modes) plus corrupt files."""
    from PIL import Image

    for i in range(len(x)):
        pixels = (x[i, :, :, 0] * 255).round().astype(np.uint8)
        img = Image.fromarray(pixels, "L")
        if i % rgb_every == 0:
            img = img.convert("RGB")
        d = root / f"digit_{y[i]}"
        d.mkdir(parents=True, exist_ok=True)
        img.save(d / f"{i:04d}.{FORMATS[i % 3]}")
    for k in range(corrupt):
        (root / f"digit_{y[k]}" / f"broken{k}.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def test_image_folder_labels_classes_and_seeded_selection(tmp_path, digits_split):
    x, y = digits_split[0][:40], digits_split[1][:40]
    root = write_digit_folder(tmp_path / "imgs", x, y)
    s = load_samples(root, GRAY, seed=0)
    assert len(s) == 40  # 41 files, the corrupt one skipped
    assert s.info["skipped"] == [str(next(root.rglob("broken0.jpg")))]
    assert any("broken0.jpg" in n for n in s.notes)
    assert s.info["classes"] == sorted({f"digit_{k}" for k in y})
    names = [s.info["classes"][k] for k in s.labels]
    assert names == [Path(p).parent.name for p in s.info["selected"]]
    # decoded pixels are the real digits, in [0,1], grayscale; .jpg is lossy, png/bmp exact
    by_file = {Path(p).name: f["image"] for p, f in zip(s.info["selected"], s.feeds)}
    first_png = next(i for i in range(40) if i % 3 == 0)
    assert np.abs(by_file[f"{first_png:04d}.png"][0] - x[first_png]).max() < 1 / 255 + 1e-6
    assert all(f["image"].shape == (1, 8, 8, 1) and f["image"].dtype == np.float32 for f in s.feeds)
    # seeded: the same seed picks the same files, another seed others
    a = load_samples(root, GRAY, limit=10, seed=3)
    b = load_samples(root, GRAY, limit=10, seed=3)
    c = load_samples(root, GRAY, limit=10, seed=4)
    assert len(a) == 10 and a.info["selected"] == b.info["selected"] != c.info["selected"]


def test_image_folder_rgb_resize_uint8_and_no_labels_when_flat(tmp_path, digits_split):
    from PIL import Image

    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(3):
        Image.fromarray((digits_split[0][i, :, :, 0] * 255).astype(np.uint8)).save(flat / f"{i}.png")
    rgb = (TensorSpec("px", "float32", (1, 16, 12, 3)),)
    s = load_samples(flat, rgb, scaling=parse_input_range("-1,1"))
    assert s.labels is None and "classes" not in s.info
    v = s.feeds[0]["px"]
    assert v.shape == (1, 16, 12, 3) and -1.0 <= v.min() and v.max() <= 1.0 and v.min() < -0.9
    assert s.info["scaling"]["source"] == "flag"
    u = load_samples(flat, (TensorSpec("px", "uint8", (1, 8, 8, 3)),))
    assert u.feeds[0]["px"].dtype == np.uint8 and u.feeds[0]["px"].max() > 200  # raw pixels
    with pytest.raises(CalibrationError, match="dynamic height/width"):
        load_samples(flat, (TensorSpec("px", "float32", (1, None, None, 3)),))
    with pytest.raises(CalibrationError, match="single-input image models"):
        load_samples(flat, GRAY + (TensorSpec("other", "float32", (1, 4)),))


def test_folder_with_only_corrupt_images_fails_in_one_line(tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (root / "b.bmp").write_bytes(b"BM nope")
    with pytest.raises(CalibrationError, match="none of its 2 image file") as e:
        load_samples(root, GRAY)
    assert "\n" not in str(e.value)


def test_checks_shape_dtype_and_range():
    spec = (TensorSpec("ids", "int32", (None, 4)),)
    with pytest.raises(CalibrationError, match=r"input 'ids' expects samples of shape \[N,4\], found \[4\]"):
        check_samples({"ids": np.zeros(4, np.int32)}, spec, "f.npy")
    with pytest.raises(CalibrationError, match="expects int32, found float32"):
        check_samples({"ids": np.zeros((2, 4), np.float32)}, spec, "f.npy")
    u8 = (TensorSpec("px", "uint8", (None, 2)),)
    with pytest.raises(CalibrationError, match=r"expects uint8 values in \[0, 255\], found \[0, 300\]"):
        check_samples({"px": np.array([[0, 300]], np.int64)}, u8, "f.npy")
    f = (TensorSpec("x", "float32", (None, 2)),)
    with pytest.raises(CalibrationError, match="NaN or Inf"):
        check_samples({"x": np.array([[np.nan, 1]], np.float32)}, f, "f.npy")
    soft = {"x": ValueRange(-1.0, 1.0, strict=False, why="model")}
    assert check_samples({"x": np.array([[-0.5, 0.9]], np.float32)}, f, "f", expected=soft) == []
    warned = check_samples({"x": np.array([[0.0, 255.0]], np.float32)}, f, "f", expected=soft)
    assert len(warned) == 1 and "mis-scaled" in warned[0]
    narrow = check_samples({"x": np.array([[0.0, 1.0]], np.float32)}, f, "f",
                           expected={"x": ValueRange(0.0, 255.0, why="model")})
    assert narrow and "[0, 1]" in narrow[0]  # 0..1 data for a 0..255 input
    with pytest.raises(CalibrationError, match=r"expects values in \[-1, 1\] \(flag\), found \[0, 2\]"):
        check_samples({"x": np.array([[0.0, 2.0]], np.float32)}, f, "f", expected={"x": ValueRange(-1, 1, True, "flag")})


def test_scaling_flags_and_default():
    assert DEFAULT_SCALING.value_range() == (0.0, 1.0) and DEFAULT_SCALING.source == "default"
    assert parse_input_range("-1,1").value_range() == (-1.0, 1.0)
    assert parse_input_range("0,255").value_range() == (0.0, 255.0)
    ms = scaling_from_flags(mean="127.5", std="127.5")
    assert ms.value_range() == (-1.0, 1.0) and ms.source == "flag"
    imagenet = scaling_from_flags(mean="123.7,116.3,103.5", std="58.4,57.1,57.4")
    px = imagenet.apply(np.full((1, 1, 1, 3), 123.7, np.float32))
    assert abs(float(px[0, 0, 0, 0])) < 1e-6
    for bad in (dict(input_range="1,0"), dict(input_range="a,b"), dict(mean="1"), dict(mean="1", std="0"),
                dict(input_range="0,1", std="2")):
        with pytest.raises(ConfigError):
            scaling_from_flags(**bad)
    assert ImageScaling.from_range(0, 1, "flag", "x").std == (255.0,)


@pytest.mark.parametrize("scale,offset,expected", [
    (1 / 255, 0.0, "[0,255]"),  # Rescaling(1/255)
    (1 / 127.5, -1.0, "[0,255]"),  # Rescaling(1/127.5, offset=-1) (MobileNet/EfficientNet preprocessing)
    (2.0, -1.0, "[0,1]"),  # TF Hub's (x - 0.5) * 2 inside models that take [0,1]
    (1 / 0.25, -0.45 / 0.25, "[0,1]"),  # Normalization adapted on [0,1] images
    (1 / 60.0, -120.0 / 60.0, "[0,255]"),  # Normalization adapted on raw pixels
    (1 / 0.5, 0.0, "[-1,1]"),  # Normalization(mean 0, std 0.5) on [-1,1] data
])
def test_model_range_matching(scale, offset, expected):
    name, *_ = _match(np.array([scale]), np.array([offset]))
    assert name == expected


def test_image_folder_calibration_uses_the_models_own_range(tmp_path, digits_split, cli):
    """RGB 16x16 model whose graph starts with Rescaling(1/255): pixels stay 0..255 and the report says why;
    8x8 png/jpg/bmp files (gray and RGB) are resized to 16x16 RGB; the corrupt file is skipped with a warning
    naming it; int8 keeps the float accuracy on held-out digits."""
    from hub2lite.load import load
    from hub2lite.resolve import resolve
    from hub2lite.runners import LiteRunner, TFRunner

    model = cached_build("digits_rgb_rescaling", BUILDERS["digits_rgb_rescaling"], MODELS_QUANT)
    x_train, y_train, x_test, y_test = digits_split
    root = write_digit_folder(tmp_path / "calib", x_train[:150], y_train[:150])
    out = tmp_path / "rgb.tflite"
    r = cli("convert", model, "-o", out, "--quantize", "int8", "--calibration", root, "--calibration-samples", "120")
    assert r.code == 0, r
    assert "broken0.jpg" in r.err and "skipped" in r.err
    report = json.loads(out.with_suffix(".report.json").read_text())
    cal = report["calibration"]
    assert cal["kind"] == "images" and cal["samples"] == 120 and cal["scaling"]["source"] == "model"
    assert cal["scaling"]["range"] == [0.0, 255.0] and "Mul" in cal["scaling"]["reason"]
    assert "input range pixels: [0, 255] (model: its leading ops (Mul" in r.out
    assert report["validation"]["passed"]

    rgb = to_rgb16(x_test)
    tf_runner = TFRunner(load(resolve(str(model))).choose())
    lite = LiteRunner(out.read_bytes())
    f_acc = np.mean([np.argmax(tf_runner.infer({"pixels": rgb[i:i + 1]})["output_0"]) == y_test[i]
                     for i in range(len(y_test))])
    q_acc = np.mean([np.argmax(next(iter(lite.infer({"pixels": rgb[i:i + 1]}).values()))) == y_test[i]
                     for i in range(len(y_test))])
    assert f_acc > 0.85 and 100 * (f_acc - q_acc) <= 3.0, (f_acc, q_acc)

    # the flag wins over the model, and the report says so
    out2 = tmp_path / "flag.tflite"
    r = cli("convert", model, "-o", out2, "--quantize", "int8", "--calibration", root, "--calibration-samples", "20",
            "--input-range", "0,1")
    assert "input range pixels: [0, 1] (flag: --input-range 0,1)" in r.out
