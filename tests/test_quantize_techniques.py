"""hub2lite's int8 techniques on small models built here, with the real converter and interpreter:
calibrate-only + finish, chosen ranges, bias correction, float fallback by the calibrated model's own op
names, the sensitivity search, and the float16 guard."""

from __future__ import annotations

import numpy as np
import pytest

from hub2lite.quantize import flatgraph as fg
from hub2lite.quantize.bias import correct_bias, weight_rounding_error
from hub2lite.quantize.fp16 import guard_float16, unsafe_for_float16
from hub2lite.quantize.ranges import choose_ranges, mse_range, quant_mse, rewrite_ranges
from hub2lite.quantize.search import Prepared, accurate_int8, score_outputs, score_techniques, sensitivity_search


def _conv_net(seed: int = 0):
    """A small conv net with real-looking trouble: a 3x3 depthwise conv whose per-channel weights round badly
    (one large weight per filter) on inputs with a non-zero mean, then conv / pooling / dense / softmax."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.3, (3, 3, 3, 8)).astype(np.float32)
    dw = rng.normal(0, 0.02, (3, 3, 8, 1)).astype(np.float32)
    dw[1, 1] = rng.uniform(1.0, 2.0, (8, 1))  # a large centre tap sets the scale; the others round coarsely
    w2 = rng.normal(0, 0.3, (1, 1, 8, 16)).astype(np.float32)
    wd = rng.normal(0, 0.3, (16, 5)).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32, name="x")])
    def net(x):
        h = tf.nn.relu6(tf.nn.conv2d(x, w1, 1, "SAME") + 0.1)
        h = tf.nn.relu(tf.nn.depthwise_conv2d(h, dw, [1, 1, 1, 1], "SAME") + 0.05)
        h = tf.nn.relu(tf.nn.conv2d(h, w2, 1, "SAME"))
        h = tf.reduce_mean(h, axis=[1, 2])
        return tf.nn.softmax(tf.matmul(h, wd) * 3.0)

    return net.get_concrete_function()


@pytest.fixture(scope="module")
def conv_case():
    import tensorflow as tf

    rng = np.random.default_rng(1)
    cal = rng.uniform(0, 1, (48, 1, 16, 16, 3)).astype(np.float32)
    ev = rng.uniform(0, 1, (32, 1, 16, 16, 3)).astype(np.float32)
    fn = _conv_net()
    make = lambda: tf.lite.TFLiteConverter.from_concrete_functions([fn])  # noqa: E731
    calibrated = fg.calibrate(make(), lambda: ([x] for x in cal))
    acts = fg.collect_activations(calibrated, ([x] for x in cal))
    return make, calibrated, acts, cal, ev


def _run(model: bytes, xs: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    out = []
    (si, zi), (so, zo) = i["quantization"], o["quantization"]
    for x in xs:
        if i["dtype"] == np.int8:  # integer I/O (int8-strict): quantize in, dequantize out
            x = np.clip(np.round(x / si + zi), -128, 127).astype(np.int8)
        it.set_tensor(i["index"], x)
        it.invoke()
        y = it.get_tensor(o["index"])[0].copy()
        out.append((y.astype(np.float32) - zo) * so if o["dtype"] == np.int8 else y)
    return np.asarray(out)


def test_calibrated_graph_names_every_op_and_range(conv_case):
    _, calibrated, acts, cal, _ = conv_case
    g = fg.CalibratedGraph(calibrated)
    ops = [op.op for op in g.ops]
    assert "DEPTHWISE_CONV_2D" in ops and "CONV_2D" in ops and "FULLY_CONNECTED" in ops
    assert len({op.name for op in g.ops}) == len(g.ops)  # op names are unique: they are what the denylist matches
    for i in g.calibrated_tensors():
        if i in acts.samples:  # the calibrator's min/max are the observed float activations
            lo, hi = g.activation_range(i)
            assert acts.minimum[i] == pytest.approx(lo, rel=1e-4, abs=1e-5)
            assert acts.maximum[i] == pytest.approx(hi, rel=1e-4, abs=1e-5)
    assert acts.count == len(cal)


def test_finish_without_changes_equals_the_bare_converter(conv_case):
    import tensorflow as tf

    make, calibrated, _, cal, ev = conv_case
    c = make()
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = lambda: ([x] for x in cal)
    bare = _run(bytes(c.convert()), ev)
    ours = _run(fg.finish(calibrated), ev)
    np.testing.assert_allclose(ours, bare, atol=1e-6)


def test_float_fallback_keeps_exactly_the_named_ops_float(conv_case):
    _, calibrated, _, _, _ = conv_case
    g = fg.CalibratedGraph(calibrated)
    dw = next(op for op in g.ops if op.op == "DEPTHWISE_CONV_2D")
    model = fg.finish(calibrated, float_nodes=[dw.name])
    assert fg.float_ops(model) == [dw.name]
    assert fg.float_ops(fg.finish(calibrated)) == []
    with pytest.raises(fg.QuantizeBug, match="not ops of the calibrated model"):
        fg.finish(calibrated, float_nodes=["no/such/op"])


def test_mse_range_clips_heavy_tails_and_lowers_the_error():
    rng = np.random.default_rng(0)
    v = rng.laplace(0, 1, 200_000).astype(np.float32)  # 8-bit optimum clips a Laplace(1) near 10 (Banner et al.)
    lo, hi = float(v.min()), float(v.max())
    clo, chi = mse_range(v, lo, hi)
    assert 8 < chi < hi and lo < clo < -8
    assert quant_mse(v, clo, chi) < 0.8 * quant_mse(v, lo, hi)
    relu = np.abs(v)
    rlo, rhi = mse_range(relu, 0.0, float(relu.max()))
    assert rlo == 0.0 and rhi < relu.max()  # one-sided ranges stay anchored at 0


def test_rewritten_ranges_reach_the_quantized_model(conv_case):
    _, calibrated, acts, _, _ = conv_case
    g = fg.CalibratedGraph(calibrated)
    ranges = choose_ranges(g, acts, "percentile", percentile=99.0)
    rewritten = fg.CalibratedGraph(rewrite_ranges(calibrated, ranges))
    narrowed = [i for i, (lo, hi) in ranges.items() if hi - lo < np.subtract(*g.activation_range(i)[::-1]) * 0.999]
    assert narrowed
    for i in narrowed:
        assert rewritten.activation_range(i) == pytest.approx(ranges[i], rel=1e-6)
    assert set(g.inputs).isdisjoint(ranges)  # model inputs keep their observed range


def test_bias_correction_removes_the_mean_shift_of_rounded_weights(conv_case):
    make, calibrated, acts, _, ev = conv_case
    w = np.array([[1.0, 0.0113, -0.0041, 0.5]], np.float32)
    err = weight_rounding_error(w, 0)
    assert np.abs(err).max() <= (1.0 / 127) / 2 + 1e-7
    fixed = correct_bias(calibrated, acts)
    assert fixed.layers >= 3 and fixed.max_shift > 0
    ref = _run(bytes(make().convert()), ev)
    plain = _run(fg.finish(calibrated), ev)
    corrected = _run(fg.finish(fixed.model), ev)
    assert np.abs(corrected - ref).mean() < np.abs(plain - ref).mean()


def test_an_op_put_back_in_float_gets_its_original_bias_back(conv_case):
    """Bias correction compensates int8 weight rounding; a float op has none, so it must keep its own bias. With
    every weight layer float the model is float32's again (within float rounding), corrected or not."""
    make, calibrated, acts, _, ev = conv_case
    prep = Prepared.make(calibrated, acts, bias_correction=True)
    graph = fg.CalibratedGraph(calibrated)
    layers = [op for op in graph.compute_ops() if op.op in fg.WEIGHT_OPS and len(op.inputs) > 2 and op.inputs[2] >= 0]
    assert len(layers) >= 3
    floated = layers[0].name
    partly = fg.CalibratedGraph(prep.calibrated([floated]))
    corrected = fg.CalibratedGraph(prep.calibrated())
    for op in layers:
        original = graph.constant(op.inputs[2])
        got = partly.constant(partly.by_name()[op.name].inputs[2])
        if op.name == floated:
            np.testing.assert_array_equal(got, original)
        else:  # still int8: still corrected, as in the all-int8 model
            np.testing.assert_array_equal(got, corrected.constant(corrected.by_name()[op.name].inputs[2]))
            assert not np.array_equal(got, original)
    ref = _run(bytes(make().convert()), ev)
    all_float = prep.quantize([op.name for op in layers])
    assert set(fg.float_ops(all_float)) >= {op.name for op in layers}
    assert np.abs(_run(all_float, ev) - ref).max() < 0.02 * max(1.0, np.abs(ref).max())


def test_search_floats_ops_until_the_target_and_undoes_nothing_useful(conv_case):
    make, calibrated, _, cal, _ = conv_case
    rank = cal[:24]
    ref = _run(bytes(make().convert()), rank)
    evaluate = lambda m: score_outputs("classifier", ref, _run(m, rank))  # noqa: E731
    base = evaluate(fg.finish(calibrated))
    names = [op.name for op in fg.CalibratedGraph(calibrated).compute_ops()]
    result = sensitivity_search(calibrated, evaluate, names, target=1.01, max_float=2, rerank=2)
    assert len(result.float_nodes) <= 2 and not result.reached_target
    assert result.score.loss <= base.loss
    assert [s.node for s in result.steps if s.kept] == list(result.float_nodes)
    assert set(fg.float_ops(result.model)) == set(result.float_nodes)
    assert {n for n, _ in result.ranking} <= set(names)


def test_search_beyond_the_target_keeps_only_steps_that_lower_the_loss_enough(conv_case):
    make, calibrated, _, cal, _ = conv_case
    rank = cal[:24]
    ref = _run(bytes(make().convert()), rank)
    evaluate = lambda m: score_outputs("classifier", ref, _run(m, rank))  # noqa: E731
    names = [op.name for op in fg.CalibratedGraph(calibrated).compute_ops()]
    at_target = sensitivity_search(calibrated, evaluate, names, target=0.0, max_float=3, rerank=2)
    assert at_target.float_nodes == () and at_target.reached_target  # the target alone stops at once
    beyond = sensitivity_search(calibrated, evaluate, names, target=0.0, max_float=3, rerank=2, beyond_target=0.05)
    kept = [s for s in beyond.steps if s.kept]
    assert [s.node for s in kept] == list(beyond.float_nodes) and 1 <= len(kept) <= 3
    losses = [beyond.base.loss] + [s.loss for s in kept]
    assert all(b < a * 0.95 for a, b in zip(losses, losses[1:]))  # every kept step cut the loss by >= 5%
    if len(kept) < 3:  # it stopped because the best next step did not help enough
        assert not beyond.steps[-1].kept


def test_search_size_cap_measures_candidates_as_the_caller_ships_them(conv_case):
    """optimize --compact caps the search at the compacted float16 size: a candidate must be measured compacted
    too, or every step looks too big (the raw flatbuffer carries names and repeated vectors)."""
    from hub2lite.compact import compact_model

    make, calibrated, _, cal, _ = conv_case
    rank = cal[:24]
    ref = _run(bytes(make().convert()), rank)
    evaluate = lambda m: score_outputs("classifier", ref, _run(m, rank))  # noqa: E731
    names = [op.name for op in fg.CalibratedGraph(calibrated).compute_ops()]
    compacted = lambda m: len(compact_model(m).model)  # noqa: E731
    one_float = [fg.finish(calibrated, float_nodes=[n]) for n in names]
    biggest = max(compacted(m) for m in one_float)
    smallest_raw = min(len(m) for m in one_float)
    assert biggest < smallest_raw  # a cap between them: every candidate fits compacted, none raw
    cap = biggest
    raw = sensitivity_search(calibrated, evaluate, names, target=1.01, max_float=1, rerank=len(names), max_size=cap)
    assert raw.float_nodes == () and raw.steps == ()
    shipped = sensitivity_search(calibrated, evaluate, names, target=1.01, max_float=1, rerank=len(names),
                                 max_size=cap, size_of=compacted)
    assert shipped.steps and compacted(shipped.model) <= cap  # measured, not skipped


def test_score_techniques_scores_every_variant_and_keeps_the_lowest_loss(conv_case):
    """The one technique loop of accurate_int8 and optimize: each (ranges x bias) variant quantized once with the
    kept-float ops float, scored, handed to the caller's callback (the model it scored), the lowest loss chosen;
    with no `evaluate` (optimize's split model) the variants are still built and handed over, none is scored."""
    make, calibrated, acts, cal, _ = conv_case
    rank = cal[:24]
    ref = _run(bytes(make().convert()), rank)
    scored_models: list[bytes] = []

    def evaluate(model: bytes):
        scored_models.append(model)
        return score_outputs("classifier", ref, _run(model, rank))

    kept = fg.CalibratedGraph(calibrated).compute_ops()[0].name
    handed: list[tuple[str, bytes]] = []
    said: list[str] = []
    result = score_techniques(calibrated, acts, evaluate, keep_float=(kept,),
                              on_model=lambda prep, model: handed.append((prep.name, model)), progress=said.append)
    names = ["minmax", "minmax+bias", "mse", "mse+bias"]
    assert list(result.prepared) == names and [t.name for t in result.techniques] == names
    assert [n for n, _ in handed] == names and [m for _, m in handed] == scored_models  # once each, as scored
    assert all(kept in fg.float_ops(m) for m in scored_models)
    assert [t.size_bytes for t in result.techniques] == [len(m) for m in scored_models]
    assert result.chosen is not None and result.chosen.score.loss == min(t.score.loss for t in result.techniques)
    assert result.model == dict(handed)[result.chosen.name]
    assert result.prepared[result.chosen.name].name == result.chosen.name
    assert said == [f"int8 {t.name}: loss {t.score.loss:.4g}, quality {t.score.quality:.4f}" for t in result.techniques]
    handed.clear()
    unscored = score_techniques(calibrated, acts, None, ranges=("minmax",),
                                on_model=lambda prep, model: handed.append((prep.name, model)))
    assert unscored.techniques == () and unscored.chosen is None and unscored.model is None
    assert [n for n, _ in handed] == ["minmax", "minmax+bias"] and all(kept not in fg.float_ops(m) for _, m in handed)


def test_accurate_int8_tries_techniques_before_floating_anything(conv_case):
    make, calibrated, acts, cal, _ = conv_case
    rank = cal[:24]
    ref = _run(bytes(make().convert()), rank)
    evaluate = lambda m: score_outputs("classifier", ref, _run(m, rank))  # noqa: E731
    easy = accurate_int8(calibrated, acts, evaluate, target=0.0)
    assert easy.search is None and easy.float_nodes == ()
    assert {t.name for t in easy.techniques} == {"minmax", "minmax+bias", "mse", "mse+bias"}
    assert easy.chosen.score.loss == min(t.score.loss for t in easy.techniques)
    strict = accurate_int8(calibrated, acts, evaluate, target=2.0, integer_only=True)
    assert strict.search is None  # int8-strict never floats an op
    assert fg.float_ops(strict.model) == []


def test_score_outputs_per_kind():
    ref = np.array([[0.9, 0.1], [0.4, 0.6]])
    assert score_outputs("classifier", ref, np.array([[0.8, 0.2], [0.7, 0.3]])).quality == 0.5
    tags = score_outputs("tagger", np.array([[0.9, 0.1, 0.6]]), np.array([[0.8, 0.2, 0.4]]))
    assert tags.quality == pytest.approx(2 / 3) and 0 < tags.metrics["cosine"] <= 1
    # continuous classifier losses: the lost top-1 margin (0 where it held) and KL
    got = np.array([[0.8, 0.2], [0.7, 0.3]])
    margin = score_outputs("classifier", ref, got, loss="margin")
    assert margin.loss == pytest.approx(((0.8 - 0.6) + (0.2 - (-0.4))) / 2)
    assert score_outputs("classifier", ref, ref, loss="margin").loss == 0.0
    assert score_outputs("classifier", ref, got, loss="kl").loss > score_outputs("classifier", ref, ref, loss="kl").loss
    with pytest.raises(ValueError, match="unknown classifier loss"):
        score_outputs("classifier", ref, got, loss="nope")
    dense = score_outputs("dense", np.ones((2, 4, 4)), np.ones((2, 4, 4)) * 1.1)
    assert dense.metrics["snr_db"] == pytest.approx(20.0, abs=0.01) and dense.quality == pytest.approx(1.0)


def test_float16_guard_keeps_an_epsilon_float16_cannot_hold():
    import tensorflow as tf

    assert unsafe_for_float16(np.array([1e-10], np.float32))[0] == "underflows to 0"
    assert unsafe_for_float16(np.array([1e6], np.float32))[0] == "overflows"
    assert unsafe_for_float16(np.array([0.5, -2.0, 0.0], np.float32)) is None
    # a flushed value below the rounding error of the tensor's largest one is harmless (real conv kernels have them)
    assert unsafe_for_float16(np.array([0.1, -0.05, 1e-30, 5e-9], np.float32)) is None
    assert unsafe_for_float16(np.array([1e-10, 2e-9], np.float32))[0] == "underflows to 0"
    # mostly-subnormal weights beside a normal one keep an absolute error below that one's rounding error
    assert unsafe_for_float16(np.array([0.1, 3e-5, -4e-5, 2e-5, 1e-5], np.float32)) is None
    assert unsafe_for_float16(np.array([3e-5, -4e-5, 2e-5], np.float32))[0] == "subnormal"
    eps = np.full((1, 64), 1e-10, np.float32)
    w = np.random.default_rng(0).normal(0, 1, (64, 512)).astype(np.float32)  # weights dominate the size

    @tf.function(input_signature=[tf.TensorSpec([1, 64], tf.float32)])
    def logspec(x):
        return tf.matmul(tf.math.log(x * x + eps), w)

    fn = logspec.get_concrete_function()
    f32 = bytes(tf.lite.TFLiteConverter.from_concrete_functions([fn]).convert())
    c = tf.lite.TFLiteConverter.from_concrete_functions([fn])
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.target_spec.supported_types = [tf.float16]
    f16 = bytes(c.convert())
    guard = guard_float16(f32, f16)
    assert [k.reason for k in guard.kept_float32] == ["underflows to 0"]
    x = np.zeros((1, 1, 64), np.float32)  # silence: log(0 + eps) needs the epsilon
    ref, broken, fixed = _run(f32, x), _run(f16, x), _run(guard.model, x)
    scale = np.abs(ref).max()
    assert not np.all(np.abs(broken - ref) < 0.01 * scale)  # log(0) without the epsilon: -inf
    assert np.abs(fixed - ref).max() < 0.01 * scale  # only float16 weight rounding left
    assert len(guard.model) < 0.6 * len(f32)


def test_convert_cli_records_int8_techniques(digits_model, digits_split, tmp_path, cli):
    """`convert --quantize int8 --int8-ranges mse --bias-correction`: the calibrated-flatbuffer route, recorded in
    the report's recipe; int8-strict stays integer-only; the flags without int8 are refused before any work."""
    import json

    x_train = digits_split[0]
    calib = tmp_path / "calib.npy"
    np.save(calib, x_train[:64])
    out = tmp_path / "d.tflite"
    r = cli("convert", digits_model, "-o", out, "--quantize", "int8", "--calibration", calib,
            "--int8-ranges", "mse", "--bias-correction")
    assert r.code == 0, r
    report = json.loads(out.with_suffix(".report.json").read_text()) if out.with_suffix(".report.json").exists() \
        else json.loads(next(tmp_path.glob("*.report.json")).read_text())
    text = json.dumps(report)
    assert '"int8_ranges": "mse"' in text and '"bias_correction": true' in text
    strict = tmp_path / "s.tflite"
    r = cli("convert", digits_model, "-o", strict, "--quantize", "int8-strict", "--calibration", calib,
            "--bias-correction")
    assert r.code == 0, r
    g = fg.CalibratedGraph(strict.read_bytes())
    assert fg.float_ops(strict.read_bytes()) == [] and g.tensor_type(g.inputs[0]) == 9  # int8 input
    r = cli("convert", digits_model, "-o", tmp_path / "f.tflite", "--bias-correction")
    assert r.code == 2 and "need --quantize int8" in r.err


def test_convert_float16_keeps_constants_float16_cannot_hold(tmp_path, cli):
    """`convert --quantize float16` on a log-spectrogram-like model with a 1e-10 epsilon: the epsilon stays float32
    (listed in the report) and the float16 model validates; `--no-float16-guard` reproduces the broken model."""
    import json

    import tensorflow as tf

    w = np.random.default_rng(0).normal(0, 1, (64, 256)).astype(np.float32)

    class Spec(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(w)
            self.eps = tf.constant(np.full((1, 64), 1e-10, np.float32))

        # autograph=False: no Python control flow to convert, and autograph's process-wide state, left behind by
        # an earlier test of the full suite, once failed this trace ("either caller_fn_scope or options ...")
        @tf.function(input_signature=[tf.TensorSpec([1, 64], tf.float32, name="power")], autograph=False)
        def serve(self, power):
            return {"logmel": tf.matmul(tf.math.log(power * power + self.eps), self.w)}

    m = Spec()
    src = tmp_path / "spec"
    tf.saved_model.save(m, str(src), signatures={"serving_default": m.serve})
    data = tmp_path / "x.npy"
    x = np.random.default_rng(1).uniform(0, 1, (8, 64)).astype(np.float32)
    x[:, :8] = 0.0  # silent bins: only the epsilon keeps log() finite
    np.save(data, x)
    out = tmp_path / "f16.tflite"
    r = cli("convert", src, "-o", out, "--quantize", "float16", "--data", str(data), "--json")
    assert r.code == 0, r
    report = json.loads(r.out)
    kept = report["conversion"]["converter_settings"]["float16_kept_float32"]
    assert [k["reason"] for k in kept] == ["underflows to 0"]
    assert report["validation"]["passed"]
    r = cli("convert", src, "-o", tmp_path / "raw.tflite", "--quantize", "float16", "--data", str(data),
            "--no-float16-guard", "--json")
    assert r.code != 0 or not json.loads(r.out)["validation"]["passed"]


def test_bias_study_sequential_empirical_correction_removes_the_measured_shift(conv_case):
    """bench/int8_bias_study.py's sequential empirical bias correction (measured on nudity and fer, not adopted):
    every conv/dense layer corrected in op order, after which the last layer's int8 output mean matches float."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import int8_bias_study as study

    _, calibrated, acts, cal, _ = conv_case
    xs = cal[:, 0]  # the study feeds one sample at a time
    g = fg.CalibratedGraph(calibrated)
    layers = [op for op in g.ops if op.op in fg.WEIGHT_OPS and len(op.inputs) > 2 and op.inputs[2] >= 0]
    corrected, calls, _ = study.sequential_empirical(calibrated, calibrated, acts, xs)
    assert calls == len(layers) >= 3
    last = layers[-1]

    def shift(model: bytes) -> float:
        mean = study.int8_output_means(fg.finish(model), xs, last.name)
        return float(np.abs(mean - acts.channel_mean[last.outputs[0]]).mean())

    assert shift(corrected) < shift(calibrated)
    assert fg.float_ops(fg.finish(corrected)) == []
