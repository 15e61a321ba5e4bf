"""int8 of a recurrent model (tests/models.py `tf_keras_lstm`: textgenrnn's shape, two stacked LSTM(128)).

hub2lite's frozen route turns each Keras LSTM into a WHILE loop, on which TensorFlow 2.21's int8 calibrator segfaults
(tensorflow/tensorflow#75140); the fused form's all-int8 UNIDIRECTIONAL_SEQUENCE_LSTM aborts LiteRT
(test_crashguard.py runs it). So hub2lite calibrates loops itself and keeps the recurrent ops float (`--int8-keep-float
lstm`, the default for int8): real converter, real interpreter, real validation against TensorFlow."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hub2lite import errors


@pytest.fixture(scope="module")
def token_files(tmp_path_factory):
    """Calibration and validation token ids (0..19) of the model's 6-token input, disjoint seeds."""
    root = tmp_path_factory.mktemp("lstm_data")
    for name, seed in (("cal", 0), ("data", 1)):
        ids = np.random.default_rng(seed).integers(0, 20, (40, 6)).astype(np.float32)
        np.savez(root / f"{name}.npz", input=ids)
    return root / "cal.npz", root / "data.npz"


def _op_types(model: bytes) -> list[tuple[str, bool]]:
    """(op, computes in float) for every op of the main subgraph."""
    from hub2lite.quantize.flatgraph import CalibratedGraph

    g = CalibratedGraph(model)
    return [(op.op, any(g.tensor_type(t) == 0 for t in op.outputs)) for op in g.ops]


@pytest.mark.parametrize("explicit", [False, True], ids=["default", "--int8-keep-float-lstm"])
def test_int8_of_an_lstm_keeps_its_loops_float_runs_and_validates(cli, model_path, token_files, tmp_path, explicit):
    cal, data = token_files
    out = tmp_path / "q.tflite"
    argv = ["convert", model_path("tf_keras_lstm"), "-o", out, "--quantize", "int8", "--calibration", cal,
            "--data", data, "--json"] + (["--int8-keep-float", "lstm"] if explicit else [])
    r = cli(*argv)
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["validation"]["status"] == "passed"
    assert report["conversion"]["recipe"]["int8_keep_float"] == ["lstm"]
    settings = report["conversion"]["converter_settings"]
    assert settings["int8_keep_float"] == {"lstm": 2}
    assert settings["route_int8"] == "calibrate_from_float+mlir_quantize"
    assert ("int8_keep_float_default" in settings) is not explicit
    assert any("2 recurrent op(s) kept float" in n for n in report["conversion"]["notes"]) is not explicit
    ops = _op_types(out.read_bytes())
    assert [f for op, f in ops if op == "WHILE"] == [True, True]  # the two LSTMs' loops compute in float
    assert [f for op, f in ops if op == "FULLY_CONNECTED"] == [False]  # the rest is int8
    if not explicit:  # the per-layer debugger would int8 the loops (a native crash): refused in one line
        r = cli("validate", model_path("tf_keras_lstm"), out, "--data", data, "--per-layer")
        assert r.code == errors.ConfigError.exit_code, r.err
        assert r.err.count("hub2lite: error: --per-layer cannot measure a model with loops") == 1


@pytest.mark.parametrize("mode", ["int8-strict", "int16x8"])
def test_other_calibrated_modes_refuse_loops_in_one_line_before_calibrating(cli, model_path, token_files, tmp_path,
                                                                            mode):
    """int8-strict cannot keep the loops float; int16x8 would calibrate with TensorFlow's calibrator (a segfault)."""
    cal, _ = token_files
    r = cli("convert", model_path("tf_keras_lstm"), "-o", tmp_path / "s.tflite", "--quantize", mode,
            "--calibration", cal)
    assert r.code == errors.ConversionError.exit_code, r.err
    lines = [line for line in r.err.splitlines() if line.startswith("hub2lite: error:")]
    assert len(lines) == 1 and f"--quantize {mode}: this model has recurrent loops" in lines[0]
    assert "#75140" in lines[0] and "use --quantize int8" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_finish_keeps_the_named_ops_float_whatever_the_quantizer_renames(model_path):
    """The fused form (converted with the trackable) has two UNIDIRECTIONAL_SEQUENCE_LSTM ops; the quantizer renames
    the second's output (`...lstm1` -> `...lstm11`), so finish checks the ops it kept float by position."""
    from hub2lite.convert import ConvertConfig, build_function, make_converter, plan_input_specs
    from hub2lite.load import load
    from hub2lite.quantize import flatgraph
    from hub2lite.resolve import resolve

    loaded = load(resolve(str(model_path("tf_keras_lstm"))))
    entry = loaded.choose(None)
    specs, _ = plan_input_specs(entry.info, ConvertConfig())
    concrete, _ = build_function(entry, specs)
    rng = np.random.default_rng(0)
    feeds = [{"input": rng.integers(0, 20, (1, 6)).astype(np.float32)} for _ in range(8)]
    calibrated = flatgraph.calibrate(make_converter(concrete, "saved_model"), lambda: iter(feeds))
    lstms = [op.name for op in flatgraph.recurrent_ops(calibrated)]
    assert len(lstms) == 2 and lstms[1] == lstms[0] + "1"
    model = flatgraph.finish(calibrated, float_nodes=lstms)  # raised QuantizeBug before (name-based check)
    assert [f for op, f in _op_types(model) if op == "UNIDIRECTIONAL_SEQUENCE_LSTM"] == [True, True]
    renamed = [op.name for op in flatgraph.CalibratedGraph(model).ops if op.op == "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert renamed != lstms  # the rename the old check tripped on is still there
    with pytest.raises(flatgraph.QuantizeBug, match="not ops of the calibrated model"):
        flatgraph.finish(calibrated, float_nodes=["no such op"])


def test_the_int8_search_starts_from_the_lstms_float(model_path):
    """calibrate_int8 (what `optimize` calibrates with) names the recurrent ops; accurate_int8 keeps them float in
    every model it scores (the all-int8 base is never built) and the sensitivity search floats other ops on top."""
    from ai_edge_litert.interpreter import Interpreter

    from hub2lite.convert import ConvertConfig, calibrate_int8
    from hub2lite.load import load
    from hub2lite.quantize.search import accurate_int8, score_outputs
    from hub2lite.resolve import resolve
    from hub2lite.specs import QuantMode

    loaded = load(resolve(str(model_path("tf_keras_lstm"))))
    rng = np.random.default_rng(0)
    feeds = [{"input": rng.integers(0, 20, (1, 6)).astype(np.float32)} for _ in range(12)]
    cal = calibrate_int8(loaded, ConvertConfig(quantize=QuantMode.INT8), feeds[:8])
    assert len(cal.keep_float) == 2

    def run(model: bytes) -> np.ndarray:
        it = Interpreter(model_content=model)
        it.allocate_tensors()
        i, o = it.get_input_details()[0], it.get_output_details()[0]
        out = []
        for f in feeds[8:]:
            it.set_tensor(i["index"], f["input"])
            it.invoke()
            out.append(it.get_tensor(o["index"]).copy())
        return np.concatenate(out)

    reference = run(cal.calibrated)  # the calibrated model computes in float
    scored: list[list[bool]] = []

    def evaluate(model: bytes):
        scored.append([f for op, f in _op_types(model) if op == "WHILE"])
        return score_outputs("classifier", reference, run(model))

    choice = accurate_int8(cal.calibrated, cal.activations, evaluate, target=2.0, max_float=1, max_rank=2,
                           base_float=cal.keep_float)
    assert scored and all(whiles == [True, True] for whiles in scored)  # never an int8 loop
    assert choice.search is not None and choice.float_nodes[:2] == cal.keep_float
    assert len(choice.search.searched) <= 1 and choice.score.quality >= 0.75
