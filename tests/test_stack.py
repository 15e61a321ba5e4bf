"""The stack hub2lite runs on: the current TensorFlow converts current exports, and installing hub2lite
keeps a user's TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _keras3_gelu_export(path: Path) -> None:
    """A BERT-style block with exact GELU (TF 2.21's tf.nn.gelu traces it through Erfc), exported the Keras-3
    way (`model.export`)."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 8), name="tokens")
    x = keras.layers.Dense(16)(inputs)
    x = keras.layers.Activation(lambda t: keras.activations.gelu(t, approximate=False), name="gelu")(x)
    x = keras.layers.LayerNormalization()(keras.layers.Dense(8)(x) + inputs)
    keras.Model(inputs, x).export(str(path), verbose=False)


def test_keras3_exact_gelu_export_converts_with_builtins_only(cli, tmp_path):
    saved = tmp_path / "gelu"
    _keras3_gelu_export(saved)
    out = tmp_path / "gelu.tflite"
    r = cli("convert", saved, "-o", out, "--no-flex", "--json")
    assert r.code == 0, r
    doc = json.loads(r.out)
    ops = doc["conversion"]["tflite_ops"]
    assert not any(op.startswith("Flex") for op in ops), ops
    assert doc["validation"]["passed"] is True
    for o in doc["validation"]["outputs"]:
        assert o["max_abs"] < 1e-4, o


def test_installing_hub2lite_keeps_the_current_tensorflow(tmp_path):
    """pip's resolver, asked to install this checkout into the test venv (which has the current TensorFlow),
    plans no change to TensorFlow, its Keras stack, numpy or protobuf (a dry run: nothing is installed)."""
    installed = {n: metadata.version(n) for n in ("tensorflow", "tf-keras", "keras", "tensorflow-hub", "numpy",
                                                  "protobuf", "ai-edge-litert")}
    assert int(installed["tensorflow"].split(".")[1]) >= 21, installed
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report),
                    "--disable-pip-version-check", str(ROOT)], check=True, capture_output=True, timeout=600)
    planned = {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"]
               for i in json.loads(report.read_text())["install"]}
    assert "hub2lite" in planned  # the resolver did run on this project
    changed = {n: (installed[n], planned[n]) for n in installed if n in planned}
    assert not changed, f"installing hub2lite would change {changed}"

