"""The split engine (split.py, split_run.py) and the custom-op report (custom_ops.py), on real models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hub2lite.convert import ConvertConfig, build_function, convert
from hub2lite.custom_ops import custom_op_names, custom_ops
from hub2lite.errors import ConfigError, OutputError
from hub2lite.load import load
from hub2lite.resolve import resolve
from hub2lite.runners import LiteRunner, TFRunner
from hub2lite.specs import QuantMode
from hub2lite.split import freeze, list_tensors, plan_auto, plan_manual, probe_unconvertible
from hub2lite.split_run import (body_feeds, convert_split, prepare_split, stage_paths, suggest_split, validate_split,
                                write_stages)
from hub2lite.validate import default_tolerance



def _texts():
    from models_split import TEXTS

    return [{"text": np.array([t], dtype=object)} for t in TEXTS] + [{"text": np.array(TEXTS[:3], dtype=object)}]


def _floats(name, cols, n=5):
    rng = np.random.default_rng(7)
    return [{name: rng.normal(size=(3, cols)).astype(np.float32)} for _ in range(n)]


def _entry_fn(loaded):
    entry = loaded.choose()
    concrete, names = build_function(entry, entry.info.inputs)  # the model's own (dynamic) shapes
    return entry, concrete, names


def _convert_body(split, quantize=QuantMode.FLOAT32, calibration=None):
    body = load(resolve(split.body_dir))
    return convert(body, ConvertConfig(keep_dynamic=True, quantize=quantize), calibration=calibration)


def test_probe_separates_ops_without_any_kernel_from_select_ops():
    import tensorflow as tf

    def probe(fn, spec, allow_select=True):
        concrete = tf.function(fn, input_signature=[spec]).get_concrete_function()
        return probe_unconvertible(concrete, allow_select=allow_select)

    text = tf.TensorSpec([2], tf.string)
    script = lambda t: tf.strings.unicode_script(tf.strings.unicode_decode(t, "UTF-8").flat_values)  # noqa: E731
    assert probe(script, text) == (("UnicodeScript",), ())
    assert probe(script, text, allow_select=False) == (("UnicodeScript",), ("UnicodeDecode",))
    regex = lambda t: tf.strings.regex_replace(t, "a+", "b")  # noqa: E731
    assert probe(regex, text) == ((), ())  # RegexReplace has a Select TF kernel
    assert probe(regex, text, allow_select=False) == ((), ("StaticRegexReplace",))
    custom, flex = probe(lambda t: tf.strings.ngrams(tf.strings.split(t), 2).flat_values, text)
    assert custom == ("StringNGrams",)
    assert probe(lambda x: tf.nn.relu(x), tf.TensorSpec([2, 3], tf.float32)) == ((), ())


def test_text_classifier_prefix_split_through_the_loopback_hub(split_model, local_hub, hub_cache, tmp_path):
    from hub2lite.localhub import pack_hub_archive

    folder = split_model("text_script_classifier")
    archive = tmp_path / "script.tar.gz"
    pack_hub_archive(folder, archive)
    handle = local_hub.add("test/script-classifier/1", archive)
    loaded = load(resolve(handle, cache_dir=hub_cache))
    assert loaded.resolved.kind == "hub"
    entry, concrete, names = _entry_fn(loaded)
    split = prepare_split(concrete, names)
    try:
        plan = split.plan
        assert plan.cut_ops == ("UnicodeScript",)
        assert plan.has_prefix and not plan.has_suffix
        assert plan.prefix_ops == {"Reshape": 1, "UnicodeDecode": 1, "UnicodeScript": 1}
        assert "UnicodeScript" not in plan.body_ops and "UnicodeDecode" not in plan.body_ops
        # the ragged characters cross the cut as their dense components, each named
        crossing = {t.name: t.dtype for t in plan.body_inputs}
        assert crossing == {"UnicodeDecode_row_splits": "int64", "UnicodeDecode_char_values": "int32",
                            "UnicodeScript": "int32"}
        assert plan.output_stage == {"probabilities": "body"}

        conversion = _convert_body(split)
        assert conversion.strategy == "builtins" and not conversion.flex_ops
        body = LiteRunner(conversion.model, input_names=conversion.input_names)
        assert body.runtime.startswith("ai_edge_litert")  # no Flex delegate needed
        assert set(body.input_details()) == set(crossing)

        result = validate_split(split, TFRunner(entry), body, _texts(), default_tolerance())
        assert result.passed, (result.end_to_end.failures, result.body.failures)
        assert result.end_to_end.output("probabilities").max_abs < 1e-5
        assert result.body.output("probabilities").max_abs < 1e-5
        assert result.end_to_end.runtimes["candidate"].startswith("prefix (TensorFlow) -> body (ai_edge_litert")

        # MODEL.pre/ is a SavedModel whose outputs are named exactly as the body's inputs
        written = write_stages(split, tmp_path / "script.tflite")
        assert list(written) == ["prefix"] and written["prefix"]["path"] == str(tmp_path / "script.pre")
        assert written["prefix"]["size_bytes"] > 1000
        assert not (tmp_path / "script.post").exists()
        _check_prefix_savedmodel(tmp_path / "script.pre", body, entry)
        with pytest.raises(OutputError, match="already exists"):
            write_stages(split, tmp_path / "script.tflite")
    finally:
        split.close()
    assert not Path(split.body_dir).exists()


def _check_prefix_savedmodel(path, body, entry):
    import tensorflow as tf

    from models_split import TEXTS

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    assert set(serve.structured_outputs) == set(body.input_details())
    assert list(serve.structured_input_signature[1]) == ["text"]
    text = tf.constant(TEXTS)
    middle = {k: v.numpy() for k, v in serve(text=text).items()}
    got = body.infer(middle)["probabilities"]
    want = entry({"text": text})["probabilities"].numpy()
    assert got.shape == want.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_lookup_table_after_the_cut_travels_with_the_body(split_model, tmp_path):
    import tensorflow as tf

    loaded = load(resolve(str(split_model("ngram_vocab_classifier"))))
    entry, concrete, names = _entry_fn(loaded)
    split = prepare_split(concrete, names, owner=loaded.obj)
    try:
        plan = split.plan
        assert plan.cut_ops == ("StringNGrams",) and "StringNGrams" in plan.prefix_ops
        assert "LookupTableFindV2" in plan.body_ops
        assert {t.name: t.dtype for t in plan.body_inputs} == {"StringNGrams_ngrams": "string",
                                                               "StringNGrams_ngrams_splits": "int64"}
        conversion = _convert_body(split)
        assert "HASHTABLE_FIND" in conversion.tflite_ops and conversion.strategy == "builtins"
        body = LiteRunner(conversion.model, input_names=conversion.input_names)
        assert body.runtime.startswith("ai_edge_litert")
        result = validate_split(split, TFRunner(entry), body, _texts(), default_tolerance())
        assert result.passed, (result.end_to_end.failures, result.body.failures, result.end_to_end.problems)
        assert result.end_to_end.output("logits").max_abs < 1e-5
        written = write_stages(split, tmp_path / "bi.tflite")["prefix"]["path"]
        pre = tf.saved_model.load(written).signatures["serving_default"]
        out = pre(text=tf.constant(["Hello World again"]))
        assert [b.decode() for b in out["StringNGrams_ngrams"].numpy()] == ["hello world", "world again"]
    finally:
        split.close()


def test_postprocessing_op_goes_to_a_suffix(split_model, tmp_path):
    loaded = load(resolve(str(split_model("calibrated_classifier"))))
    entry, concrete, names = _entry_fn(loaded)
    split = prepare_split(concrete, names)
    try:
        plan = split.plan
        assert plan.cut_ops == ("Betainc",) and not plan.has_prefix and plan.has_suffix
        assert plan.suffix_ops == {"Betainc": 1}
        assert plan.output_stage == {"calibrated": "suffix", "probabilities": "body"}
        assert {t.name for t in plan.suffix_inputs} <= {t.name for t in plan.body_outputs}
        assert [t.name for t in plan.body_inputs] == ["features"]
        feeds = _floats("features", 6)
        for mode, limit in ((QuantMode.FLOAT32, 1e-5), (QuantMode.FLOAT16, 5e-3)):
            conversion = _convert_body(split, mode)
            body = LiteRunner(conversion.model, input_names=conversion.input_names)
            assert body.runtime.startswith("ai_edge_litert")
            result = validate_split(split, TFRunner(entry), body, feeds, default_tolerance(mode))
            assert result.passed, (mode, result.end_to_end.failures, result.body.failures)
            assert result.end_to_end.output("calibrated").max_abs < limit
        written = write_stages(split, tmp_path / "cal.tflite")
        assert list(written) == ["suffix"] and written["suffix"]["path"] == str(tmp_path / "cal.post")
        import tensorflow as tf

        post = tf.saved_model.load(written["suffix"]["path"]).signatures["serving_default"]
        assert set(post.structured_input_signature[1]) == {t.name for t in plan.suffix_inputs}
        assert set(post.structured_outputs) == {"calibrated"}
    finally:
        split.close()


def test_ops_at_both_ends_give_a_prefix_and_a_suffix(split_model, tmp_path):
    loaded = load(resolve(str(split_model("script_classifier_calibrated"))))
    entry, concrete, names = _entry_fn(loaded)
    split = prepare_split(concrete, names)
    try:
        plan = split.plan
        assert plan.cut_ops == ("Betainc", "UnicodeScript")
        assert "UnicodeScript" in plan.prefix_ops and plan.suffix_ops == {"Betainc": 1}
        assert plan.output_stage == {"calibrated": "suffix", "probabilities": "body"}
        conversion = _convert_body(split)
        body = LiteRunner(conversion.model, input_names=conversion.input_names)
        assert body.runtime.startswith("ai_edge_litert")
        result = validate_split(split, TFRunner(entry), body, _texts(), default_tolerance())
        assert result.passed, (result.end_to_end.failures, result.body.failures, result.end_to_end.problems)
        assert result.end_to_end.runtimes["candidate"].endswith("-> suffix (TensorFlow)")
        assert sorted(write_stages(split, tmp_path / "both.tflite")) == ["prefix", "suffix"]
    finally:
        split.close()


def test_int8_body_is_calibrated_on_the_prefix_outputs(split_model):
    loaded = load(resolve(str(split_model("digamma_middle"))))
    entry, concrete, names = _entry_fn(loaded)
    split = prepare_split(concrete, names)
    try:
        feeds = _floats("x", 4, n=20)
        conversion = _convert_body(split, QuantMode.INT8, calibration=body_feeds(split, feeds))
        assert "FULLY_CONNECTED" in conversion.tflite_ops
        body = LiteRunner(conversion.model, input_names=conversion.input_names)
        result = validate_split(split, TFRunner(entry), body, feeds, default_tolerance(QuantMode.INT8))
        assert result.end_to_end.output("y").max_abs < 0.05
        assert result.passed, (result.end_to_end.failures, result.body.failures)
    finally:
        split.close()


def test_cheapest_cut_keeps_the_op_in_the_middle_out_with_its_few_inputs(split_model):
    loaded = load(resolve(str(split_model("digamma_middle"))))
    _, concrete, names = _entry_fn(loaded)
    graph = freeze(concrete, names)
    plan = plan_auto(graph, ["Digamma"])
    # prefix: Abs, AddV2, Digamma (3 ops) beats a suffix of Digamma and the six ops after it
    assert plan.prefix_ops == {"Abs": 1, "AddV2": 1, "Digamma": 1} and not plan.has_suffix
    assert plan.outside_ops == 3 and [t.name for t in plan.body_inputs] == ["Digamma"]


def test_manual_cut_at_chosen_tensors(split_model):
    loaded = load(resolve(str(split_model("text_script_classifier"))))
    _, concrete, names = _entry_fn(loaded)
    graph = freeze(concrete, names)
    tensors = {t.name: t for t in list_tensors(graph)}
    assert tensors["UnicodeScript:0"].op == "UnicodeScript" and tensors["UnicodeScript:0"].dtype == "int32"
    assert tensors["text:0"].op == "Placeholder"
    chosen = ["UnicodeDecode/UnicodeDecode:0", "UnicodeDecode/UnicodeDecode:1", "UnicodeScript:0"]
    manual = plan_manual(graph, chosen)
    auto = plan_auto(graph, ["UnicodeScript"])
    assert manual.mode == "manual"
    assert manual.prefix_ops == auto.prefix_ops and manual.body_ops == auto.body_ops
    assert [t.name for t in manual.body_inputs] == [t.name for t in auto.body_inputs]
    with pytest.raises(ConfigError, match=r"also needs tensor.*UnicodeDecode/UnicodeDecode:0") as info:
        plan_manual(graph, chosen[1:])
    assert "--body-inputs" in info.value.hint
    with pytest.raises(ConfigError, match="unknown tensor 'nope:0'") as info:
        plan_manual(graph, ["nope:0"])
    assert "inspect" in info.value.hint


def test_manual_body_outputs_put_the_rest_in_a_suffix(split_model):
    loaded = load(resolve(str(split_model("calibrated_classifier"))))
    entry, concrete, names = _entry_fn(loaded)
    split = prepare_split(concrete, names, body_outputs=["Softmax:0"])
    try:
        plan = split.plan
        assert plan.mode == "manual" and plan.has_suffix and "Betainc" in plan.suffix_ops
        assert [t.name for t in plan.body_outputs] == ["Softmax"]
        conversion = _convert_body(split)
        body = LiteRunner(conversion.model, input_names=conversion.input_names)
        result = validate_split(split, TFRunner(entry), body, _floats("features", 6), default_tolerance())
        assert result.passed, (result.end_to_end.failures, result.body.failures)
    finally:
        split.close()


def test_a_model_that_converts_has_nothing_to_split(model_path):
    loaded = load(resolve(str(model_path("simple"))))
    _, concrete, names = _entry_fn(loaded)
    with pytest.raises(ConfigError, match="nothing to cut out"):
        prepare_split(concrete, names)


def test_stage_paths_sit_beside_the_model(tmp_path):
    assert stage_paths(tmp_path / "m.tflite") == (tmp_path / "m.pre", tmp_path / "m.post")


def test_custom_op_report_lists_inputs_outputs_and_attributes(split_model):
    import tensorflow as tf

    loaded = load(resolve(str(split_model("calibrated_classifier"))))
    _, concrete, _ = _entry_fn(loaded)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    converter.allow_custom_ops = True
    model = converter.convert()
    assert custom_op_names(model) == ("Betainc",)
    (op,) = custom_ops(model)
    assert [s.dtype for s in op.inputs] == ["float32"] * 3 and op.outputs[0].shape == (None, 4)
    assert op.attributes == {"T": "float32"}
    assert op.to_dict()["name"] == "Betainc"
    with pytest.raises(RuntimeError, match="Betainc"):  # no kernel: LiteRT refuses to prepare it
        from ai_edge_litert.interpreter import Interpreter

        Interpreter(model_content=model).allocate_tensors()


def test_convert_split_quantizes_the_body_and_validates_end_to_end(split_model):
    from hub2lite.convert import plan_input_specs
    from hub2lite.feeds import synthetic_feeds

    loaded = load(resolve(str(split_model("calibrated_classifier"))))
    entry = loaded.choose()
    config = ConvertConfig(quantize=QuantMode.DYNAMIC)
    specs, _ = plan_input_specs(entry.info, config)
    result = convert_split(entry, specs, config, owner=loaded.obj, validation_feeds=synthetic_feeds(specs, 4),
                           tolerance=default_tolerance(QuantMode.DYNAMIC))
    try:
        assert result.conversion.recipe["mode"] == "dynamic" and result.body_runtime.startswith("ai_edge_litert")
        assert result.validation.passed
        d = result.to_dict()
        assert d["cut_ops"] == ["Betainc"] and d["body_validation"]["passed"] and d["suffix"]["ops"] == {"Betainc": 1}
    finally:
        result.split.close()


def test_inspect_suggestion_names_the_cut_and_the_command(split_model):
    loaded = load(resolve(str(split_model("text_script_classifier"))))
    entry = loaded.choose()
    s = suggest_split(entry, entry.info.inputs, ["UnicodeScript"], "hub/script/1", owner=loaded.obj)
    assert s["command"] == "hub2lite convert hub/script/1 -o model.tflite --split-unsupported"
    assert s["plan"].startswith("prefix (TensorFlow): 3 op(s) incl. UnicodeScript -> body (.tflite): ")
    assert s["suffix_ops"] == {} and s["body_op_count"] > 10


def test_select_ops_left_in_the_body_are_cut_out_too_when_that_frees_it_from_flex(split_model):
    from hub2lite.convert import plan_input_specs

    loaded = load(resolve(str(split_model("ngram_hash_classifier"))))
    entry = loaded.choose()
    config = ConvertConfig(keep_dynamic=True)
    specs, _ = plan_input_specs(entry.info, config)
    feeds = [{"text": np.array(["hello world", "мир foo bar"], dtype=object)},
             {"text": np.array(["world"], dtype=object)}]
    result = convert_split(entry, specs, config, owner=loaded.obj, validation_feeds=feeds,
                           tolerance=default_tolerance())
    try:
        plan = result.split.plan
        assert plan.cut_ops == ("SegmentMean", "StringNGrams", "StringToHashBucketFast")
        assert plan.suffix_ops == {"SegmentMean": 1} and "StringToHashBucketFast" in plan.prefix_ops
        assert result.conversion.strategy == "builtins" and result.body_runtime.startswith("ai_edge_litert")
        notes = result.split.notes
        assert "without the Flex delegate" in notes[0] and "SegmentMean" in notes[0], notes
        assert result.to_dict()["notes"] == list(notes)
        assert result.validation.passed, (result.validation.end_to_end.failures, result.validation.body.failures)
    finally:
        result.split.close()
