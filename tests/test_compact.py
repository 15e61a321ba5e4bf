"""`--compact` (compact.py): the same network in fewer bytes, with the real converter and interpreter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hub2lite.compact import compact_model


def _int8_model() -> tuple[bytes, np.ndarray]:
    """A small conv net (three conv layers with the same channel count, a dense head) quantized to int8 by the
    converter itself, and inputs to run it on."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    ws = [rng.normal(0, 0.3, (3, 3, c, 16)).astype(np.float32) for c in (3, 16, 16)]
    wd = rng.normal(0, 0.3, (16, 10)).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, 12, 12, 3], tf.float32, name="image")])
    def net(x):
        for w in ws:
            x = tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME") + 0.1)
        return tf.nn.softmax(tf.matmul(tf.reduce_mean(x, axis=[1, 2]), wd))

    cal = rng.uniform(0, 1, (16, 1, 12, 12, 3)).astype(np.float32)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([net.get_concrete_function()], net)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x] for x in cal)
    return bytes(conv.convert()), rng.uniform(0, 1, (8, 1, 12, 12, 3)).astype(np.float32)


def _outputs(model: bytes, xs: np.ndarray) -> tuple[np.ndarray, list[str]]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    outs = []
    for x in xs:
        it.set_tensor(i, x)
        it.invoke()
        outs.append(it.get_tensor(o).copy())
    names = [d["name"] for d in (*it.get_input_details(), *it.get_output_details())]
    return np.stack(outs), names


def test_compacting_shares_repeated_vectors_drops_inner_names_and_keeps_the_network_bit_identical():
    from tensorflow.lite.tools import flatbuffer_utils as fu

    model, xs = _int8_model()
    done = compact_model(model)
    assert done.bytes_before == len(model) and len(done.model) < len(model)
    assert done.shared_vectors > 0 and done.names_dropped > 0
    before, io_names = _outputs(model, xs)
    after, io_names_after = _outputs(done.model, xs)
    np.testing.assert_array_equal(after, before)  # the same network, bit for bit
    assert io_names_after == io_names  # inputs and outputs keep their names
    obj = fu.read_model_from_bytearray(bytearray(done.model))
    sg = obj.subgraphs[0]
    io = {int(i) for i in (*sg.inputs, *sg.outputs)}
    assert not any(t.name for i, t in enumerate(sg.tensors) if i not in io)
    # the three conv layers' 16 zero points are one vector in the file now
    zero_points = [t.quantization.zeroPoint for t in sg.tensors
                   if t.quantization is not None and t.quantization.zeroPoint is not None
                   and len(t.quantization.zeroPoint) == 16]
    assert len(zero_points) >= 3
    again = compact_model(done.model)
    assert again.model == done.model and again.bytes_saved == 0  # compacting twice changes nothing


@pytest.mark.slow
def test_convert_compact_writes_the_smaller_file_records_it_and_validates(digits_model: Path, digits_split, tmp_path,
                                                                          cli):
    x_train = digits_split[0]
    cal = tmp_path / "cal.npy"
    np.save(cal, x_train[:64])
    sizes = {}
    for flag in ([], ["--compact"]):
        out = tmp_path / f"m{len(flag)}.tflite"
        r = cli("convert", digits_model, "-o", out, "--quantize", "int8", "--calibration", cal, "--json", *flag)
        assert r.code == 0, r
        report = json.loads(out.with_suffix(".report.json").read_text())
        assert report["validation"]["passed"]
        sizes[bool(flag)] = out.stat().st_size
    settings = report["conversion"]["converter_settings"]["compact"]
    assert settings["bytes_before"] == sizes[False] and settings["bytes_after"] == sizes[True] < sizes[False]
    assert any(n.startswith("--compact:") for n in report["conversion"]["notes"])
