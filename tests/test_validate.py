"""Validation you can trust: real models, real TensorFlow and LiteRT, metrics checked against known answers."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import cached_build
from hub2lite.accuracy import label_indices, load_labels, measure_accuracy
from hub2lite.errors import CalibrationError, ConfigError, OutputError
from hub2lite.pipeline import (ConvertJob, ValidateConfig, ValidateJob, run_convert, run_validate,
                               validation_document)
from hub2lite.specs import QuantMode
from hub2lite.validate import VALIDATE_SCHEMA, Tolerance, compare, default_tolerance, match_outputs

MODELS = Path(__file__).with_name("models_validate.py")
SCHEMA_DOC = Path(__file__).resolve().parent.parent / "docs" / "report-schema.md"


def build(name: str) -> Path:
    from models_validate import BUILDERS

    return cached_build(name, BUILDERS[name], MODELS)


@pytest.fixture(scope="module")
def two_heads(tmp_path_factory):
    """(saved model folder, float .tflite, .tflite with the embedding head's weights perturbed)."""
    from models_validate import perturb_weights

    folder = build("two_heads")
    out = tmp_path_factory.mktemp("heads") / "heads.tflite"
    result = run_convert(ConvertJob(str(folder), str(out)))
    bad = out.with_name("heads-perturbed.tflite")
    bad.write_bytes(perturb_weights(result.conversion.model, (32, 16)))  # FULLY_CONNECTED weights are [out, in]
    return folder, out, bad, result


@pytest.fixture(scope="module")
def digits_int8(tmp_path_factory, digits_model, digits_split):
    """The digits CNN quantized to int8 with 200 calibration images from the training part; the held-out part
    saved as a labeled .npz."""
    x_train, y_train, x_test, y_test = digits_split
    d = tmp_path_factory.mktemp("digits")
    np.savez(d / "train.npz", x=x_train[:200], y=y_train[:200])
    np.savez(d / "test.npz", x=x_test, y=y_test)
    out = d / "digits-int8.tflite"
    from hub2lite.convert import ConvertConfig

    result = run_convert(ConvertJob(str(digits_model), str(out), ConvertConfig(quantize=QuantMode.INT8),
                                    ValidateConfig(samples=len(x_test), data=str(d / "test.npz")),
                                    calibration=str(d / "train.npz")))
    return out, d, result


# --------------------------------------------------------------------------- real models

def test_float_model_passes_with_near_zero_error(two_heads):
    _, _, _, result = two_heads
    v = result.validation
    assert v.passed, v.failures
    assert {o.name: o.kind for o in v.outputs} == {"embedding": "embedding", "probs": "classifier"}
    for o in v.outputs:
        assert o.max_abs < 1e-5 and o.rmse < 1e-6, o
        assert o.cosine > 0.999999 and o.snr_db > 100, o
        assert o.matched_by == "name" and all(c.passed for c in o.checks)
    probs = v.output("probs")
    assert probs.top1_agreement == 1.0 and probs.top5_overlap == 1.0 and probs.kl_divergence < 1e-9
    assert v.runtimes["candidate"] == "ai_edge_litert (XNNPACK)"
    assert result.report["validation"]["schema"] == VALIDATE_SCHEMA


def test_perturbed_weights_fail_naming_the_output_with_every_failed_check(two_heads, tmp_path):
    folder, _, bad, _ = two_heads
    v = run_validate(ValidateJob(str(folder), str(bad), validate=ValidateConfig(outputs_dir=str(tmp_path / "o"))))
    assert not v.passed
    assert [o.name for o in v.outputs if not o.passed] == ["embedding"]  # the perturbed head, and only it
    assert v.output("probs").passed and v.output("probs").max_abs < 1e-5
    emb = v.output("embedding")
    failed = {c.metric for c in emb.checks if not c.passed}
    assert failed == {"max_abs", "cosine", "snr_db"}, emb.checks  # every failing check, not just the first
    assert len(v.failures) == 3 and all(f.startswith("embedding: ") for f in v.failures)
    assert emb.max_abs > 0.1 and emb.cosine < 0.99
    # the outputs of both models were saved with the inputs, and they reproduce the reported error exactly
    saved_ref = np.load(v.artifacts["outputs_original"])["embedding"]
    saved_got = np.load(v.artifacts["outputs_tflite"])["embedding"]
    assert saved_ref.shape == (8, 32)
    assert float(np.abs(saved_got.astype(np.float64) - saved_ref).max()) == pytest.approx(emb.max_abs, rel=1e-12)
    worst = np.abs(saved_got - saved_ref).reshape(8, -1).max(axis=1).argmax()
    assert worst == emb.worst_sample
    again = run_validate(ValidateJob(str(folder), str(bad), validate=ValidateConfig(load_inputs=str(tmp_path / "o"))))
    assert again.output("embedding").max_abs == emb.max_abs


def test_outputs_returned_in_another_order_are_paired_by_shape_then_values():
    folder = build("reordered")
    from hub2lite.runners import LiteRunner

    assert list(LiteRunner(str(folder / "model.tflite")).output_details()) == ["output_0", "output_1", "output_2"]
    v = run_validate(ValidateJob(str(folder / "saved_model"), str(folder / "model.tflite")))
    assert v.passed, v.failures
    pairs = {o.name: (o.tflite_name, o.matched_by) for o in v.outputs}
    # the .tflite returns (embedding, probs, aux); aux and embedding have the same shape [8]
    assert pairs == {"aux": ("output_2", "values"), "embedding": ("output_0", "values"),
                     "probs": ("output_1", "shape")}
    assert all(o.max_abs < 1e-5 for o in v.outputs)
    assert any("by values" in n for n in v.notes)


def test_int8_classifier_accuracy_on_held_out_digits(digits_int8, digits_split):
    _, _, result = digits_int8
    v = result.validation
    a = v.accuracy
    assert v.passed, v.failures
    assert v.mode == "int8" and v.tolerance == default_tolerance("int8")
    assert a.samples == len(digits_split[3]) == 360 and a.classes == 10 and a.output == "output_0"
    assert a.top1_original >= 0.95 and a.top1_tflite >= 0.95
    assert a.top1_drop <= 0.02 and a.top5_tflite >= 0.99
    out = v.output("output_0")
    assert out.kind == "classifier" and out.top1_agreement >= 0.97
    # a quantized softmax rows sum to ~0.996 and tie at 0: KL and top-5 overlap must not read that as error
    assert out.kl_divergence < 0.05 and out.top5_overlap > 0.9
    print(f"int8 digits: top-1 {a.top1_original:.2%} -> {a.top1_tflite:.2%}, top-5 {a.top5_original:.2%} -> "
          f"{a.top5_tflite:.2%}, agreement {out.top1_agreement:.2%}, KL {out.kl_divergence:.4f}, "
          f"SNR {out.snr_db:.1f} dB, cosine {out.cosine:.5f}, max|d| {out.max_abs:.4f}")


def test_image_folder_labels_mapped_by_name_through_a_labels_file(digits_model, digits_split, tmp_path):
    """ImageNet layout class_name/*.png: sorted folder names (eight, five, four, ...) are not the output order; the
    labels file maps them. Without it, folder i is taken as output i and the accuracy collapses -- visibly."""
    from PIL import Image

    _, _, x_test, y_test = digits_split
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    root = tmp_path / "images"
    for i in range(60):
        d = root / names[y_test[i]]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(x_test[i, :, :, 0] * 255).astype(np.uint8), "L").save(d / f"{i}.png")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(names) + "\n")
    tfl = tmp_path / "d.tflite"
    run_convert(ConvertJob(str(digits_model), str(tfl), validate=ValidateConfig(enabled=True, samples=1)))
    v = run_validate(ValidateJob(str(digits_model), str(tfl), validate=ValidateConfig(
        data=str(root), labels=str(labels), samples=100)))
    a = v.accuracy
    assert a.samples == 60 and a.labels_file == str(labels)
    assert a.top1_original >= 0.9 and a.top1_drop == 0
    wrong = run_validate(ValidateJob(str(digits_model), str(tfl), validate=ValidateConfig(data=str(root), samples=100)))
    assert wrong.accuracy.top1_original < 0.5
    assert any("sorted order" in n for n in wrong.accuracy.notes)


def test_save_and_load_inputs_round_trip_gives_the_same_metrics(two_heads, tmp_path):
    folder, tfl, _, _ = two_heads
    saved = tmp_path / "inputs"
    first = run_validate(ValidateJob(str(folder), str(tfl), validate=ValidateConfig(samples=5, seed=7,
                                                                                   save_inputs=str(saved))))
    manifest = json.loads((saved / "inputs.json").read_text())
    assert manifest["schema"] == "hub2lite.inputs/1" and manifest["batch_sizes"] == [1] * 5
    assert manifest["inputs"] == [{"name": "x", "dtype": "float32", "shape": [16]}]
    assert manifest["source"] == {"source": "synthetic", "seed": 7, "samples": 5}
    assert first.passed and "outputs_original" not in first.artifacts  # outputs are saved on failure only
    # a different seed would make different inputs: --load-inputs must ignore it and reproduce the run exactly
    second = run_validate(ValidateJob(str(folder), str(tfl), validate=ValidateConfig(samples=3, seed=99,
                                                                                    load_inputs=str(saved))))
    assert second.samples == 5 and second.inputs["source"] == "saved"
    assert [o.to_dict() for o in second.outputs] == [o.to_dict() for o in first.outputs]
    other = run_validate(ValidateJob(str(folder), str(tfl), validate=ValidateConfig(samples=5, seed=99)))
    assert [o.max_abs for o in other.outputs] != [o.max_abs for o in first.outputs]
    # overwriting needs force; a modified inputs.npz is refused
    with pytest.raises(OutputError, match="already exists"):
        run_validate(ValidateJob(str(folder), str(tfl), validate=ValidateConfig(save_inputs=str(saved))))
    data = bytearray((saved / "inputs.npz").read_bytes())
    data[-200] ^= 1
    (saved / "inputs.npz").write_bytes(bytes(data))
    with pytest.raises(CalibrationError, match="sha256"):
        run_validate(ValidateJob(str(folder), str(tfl), validate=ValidateConfig(load_inputs=str(saved))))


def test_labeled_inputs_round_trip_with_their_labels(digits_int8, digits_model, tmp_path):
    tfl, d, result = digits_int8
    job = ValidateJob(str(digits_model), str(tfl), mode=QuantMode.INT8,
                      validate=ValidateConfig(data=str(d / "test.npz"), samples=50, save_inputs=str(tmp_path / "s")))
    first = run_validate(job)
    second = run_validate(ValidateJob(str(digits_model), str(tfl), mode=QuantMode.INT8,
                                      validate=ValidateConfig(load_inputs=str(tmp_path / "s"))))
    assert first.accuracy.samples == second.accuracy.samples == 50
    assert first.accuracy.to_dict() == second.accuracy.to_dict()
    # the saved inputs.npz (x + labels y) works as --data too
    third = run_validate(ValidateJob(str(digits_model), str(tfl), mode=QuantMode.INT8,
                                     validate=ValidateConfig(data=str(tmp_path / "s" / "inputs.npz"), samples=50)))
    assert third.accuracy.top1_tflite == first.accuracy.top1_tflite


# --------------------------------------------------------------------------- the report schema

def _schema_rows() -> list[tuple[str, set[str], str]]:
    rows = []
    in_table = False
    for line in SCHEMA_DOC.read_text().splitlines():
        if line.startswith("| field |"):
            in_table = True
            continue
        if in_table and not line.startswith("|"):
            break
        if in_table and not line.startswith("|---"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows.append((cells[0].strip("`"), set(cells[1].replace("\\|", "|").split("|")), cells[2]))
    return rows


_TYPES = {"string": str, "object": dict, "array": list, "boolean": bool, "null": type(None)}


def _type_ok(value: object, types: set[str]) -> bool:
    for t in types:
        if t == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if t == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if t in _TYPES and isinstance(value, _TYPES[t]):
            return True
    return False


def _values(doc: object, path: str) -> list[tuple[bool, object]]:
    """(present, value) for every place `path` ('a[].b') reaches in doc; parents that are null are skipped."""
    nodes: list[object] = [doc]
    parts = path.split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        many = part.endswith("[]")
        key = part[:-2] if many else part
        nxt: list[object] = []
        for n in nodes:
            if n is None:
                continue
            assert isinstance(n, dict), (path, n)
            if key not in n:
                if last:
                    return [(False, None)]
                continue
            v = n[key]
            if many and not last:
                nxt.extend(v)
            elif many:
                nxt.extend(v)
            else:
                nxt.append(v)
        nodes = nxt
    return [(True, v) for v in nodes]


def check_against_schema(doc: dict, *, standalone: bool) -> int:
    rows = _schema_rows()
    assert len(rows) > 60
    checked = 0
    for path, types, required in rows:
        must = required == "yes" or (required == "standalone" and standalone)
        for present, value in _values(doc, path):
            if not present:
                assert not must, f"required field {path!r} missing"
                continue
            if path.endswith("[]"):
                continue
            assert _type_ok(value, types), f"{path} = {value!r} is not {types}"
            checked += 1
    json.loads(json.dumps(doc, allow_nan=False))  # strict JSON: no NaN / Infinity anywhere
    return checked


def test_report_schema_is_documented_versioned_and_honoured(two_heads, digits_int8, tmp_path):
    folder, _, bad, _ = two_heads
    failing = validation_document(run_validate(ValidateJob(str(folder), str(bad), validate=ValidateConfig(
        save_inputs=str(tmp_path / "s")))))
    doc = json.loads(json.dumps(failing))
    assert doc["schema"] == "hub2lite.validate/1" and doc["passed"] is False
    assert set(doc["artifacts"]) == {"inputs", "manifest", "outputs_original", "outputs_tflite"}
    assert check_against_schema(doc, standalone=True) > 60
    # every field the code writes is documented (a new field needs a line in the table)
    documented = {p for p, _, _ in _schema_rows()}
    for key in doc:
        assert key in documented, key
    for key in doc["outputs"][0]:
        assert f"outputs[].{key}" in documented, key
    _, _, converted = digits_int8
    report = json.loads(Path(converted.report_path).read_text())
    embedded = report["validation"]
    assert embedded["accuracy"] is not None and embedded["mode"] == "int8"
    assert check_against_schema(embedded, standalone=False) > 60
    for key in embedded["accuracy"]:
        assert f"accuracy.{key}" in documented, key
    assert report["schema"] == "hub2lite.convert/1" and report["passed"] is True


# --------------------------------------------------------------------------- metrics on known arrays

def _samples(arrays: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    n = len(next(iter(arrays.values())))
    return [{k: v[i:i + 1] for k, v in arrays.items()} for i in range(n)]


def test_every_failing_output_and_problem_is_collected():
    rng = np.random.default_rng(0)
    ref = {"a": rng.normal(size=(4, 6)).astype(np.float32), "b": rng.normal(size=(4, 3)).astype(np.float32),
           "c": rng.normal(size=(4, 2)).astype(np.float32), "ids": np.arange(4).reshape(4, 1)}
    got = {"a": ref["a"] + 1.0, "b": ref["b"].copy(), "ids": np.array([[0], [1], [7], [3]]),
           "extra": np.zeros((4, 1), np.float32)}
    got["b"][2, 1] = np.nan
    v = compare(_samples(ref), _samples(got), Tolerance())
    assert not v.passed
    assert "c: output missing from the .tflite model" in v.problems[0]
    assert any(p.startswith("extra: unexpected extra output") for p in v.problems)
    assert {o.name for o in v.outputs if not o.passed} == {"a", "b", "ids"}
    assert "b: the .tflite output has NaN/Inf" in " ".join(v.failures)
    assert v.output("ids").kind == "exact" and v.output("ids").exact_match == 0.75


def test_shape_mismatch_is_a_problem_and_other_outputs_still_compared():
    ref = {"y": np.ones((2, 4), np.float32), "z": np.ones((2, 3), np.float32)}
    got = {"y": np.ones((2, 5), np.float32), "z": np.ones((2, 3), np.float32)}
    v = compare(_samples(ref), _samples(got))
    assert v.problems == ("y: shape [5] in the .tflite model (output 'y'), [4] in the original",)
    assert [o.name for o in v.outputs] == ["z"] and v.output("z").passed and not v.passed


def test_quantized_softmax_is_not_mistaken_for_error():
    """int8 softmax outputs are multiples of 1/256 and rows sum to ~0.996: KL and top-5 must read them fairly."""
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(50, 10)) * 4
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    q = np.round(p * 256) / 256  # what an int8 softmax (scale 1/256) dequantizes to
    v = compare(_samples({"probs": p.astype(np.float32)}), _samples({"probs": q.astype(np.float32)}),
                default_tolerance("int8"))
    o = v.output("probs")
    assert o.kind == "classifier" and o.kl_divergence < 0.05 and o.top5_overlap > 0.97, o
    assert v.passed, v.failures


def test_snr_cosine_and_kl_values_match_their_definitions():
    rng = np.random.default_rng(2)
    r = rng.normal(size=(20, 12))
    noise = rng.normal(size=r.shape) * 0.1
    v = compare(_samples({"logits": r}), _samples({"logits": r + noise}), Tolerance(min_snr_db=None, max_kl=None,
                                                                                   min_cosine=0, atol=1))
    o = v.output("logits")
    assert o.snr_db == pytest.approx(10 * np.log10(np.mean(r**2) / np.mean(noise**2)))
    cos = np.sum(r * (r + noise), 1) / np.linalg.norm(r, axis=1) / np.linalg.norm(r + noise, axis=1)
    assert o.cosine == pytest.approx(cos.min()) and o.cosine_mean == pytest.approx(cos.mean())
    sp = np.exp(r) / np.exp(r).sum(-1, keepdims=True)
    sq = np.exp(r + noise) / np.exp(r + noise).sum(-1, keepdims=True)
    assert o.kl_divergence == pytest.approx(np.mean(np.sum(sp * np.log(sp / sq), -1)))
    assert o.top1_agreement == pytest.approx(np.mean(r.argmax(1) == (r + noise).argmax(1)))
    same = compare(_samples({"logits": r}), _samples({"logits": r})).output("logits")
    assert same.snr_db == 999.0 and same.max_abs == 0 and same.passed


def test_changed_top1_predictions_are_counted_with_the_originals_margin_on_them():
    """A flip on a near-tie (0.51 vs 0.49) and one on a confident sample (0.90): the report gives the count and
    the largest margin the original had on a changed sample, so a user sees whether only near-ties flipped."""
    from hub2lite.report import validation_text

    ref = np.array([[0.51, 0.49], [0.90, 0.10], [0.70, 0.30], [0.2, 0.8]], np.float32)
    got = np.array([[0.49, 0.51], [0.40, 0.60], [0.69, 0.31], [0.2, 0.8]], np.float32)
    tol = Tolerance(min_top1_agreement=0.0, atol=1, min_cosine=0, min_snr_db=None, max_kl=None)
    o = compare(_samples({"probs": ref}), _samples({"probs": got}), tol).output("probs")
    assert o.top1_changed == 2 and o.top1_changed_max_margin == pytest.approx(0.80, abs=1e-6)
    near = compare(_samples({"probs": ref[[0, 2]]}), _samples({"probs": got[[0, 2]]}), tol).output("probs")
    assert near.top1_changed == 1 and near.top1_changed_max_margin == pytest.approx(0.02, abs=1e-6)
    v = compare(_samples({"probs": ref}), _samples({"probs": ref}), tol)
    assert v.output("probs").top1_changed == 0 and v.output("probs").top1_changed_max_margin is None
    assert not any("top-1 changed" in line for line in validation_text(v.to_dict()))
    text = validation_text(compare(_samples({"probs": ref}), _samples({"probs": got}), tol).to_dict())
    assert "  probs: top-1 changed on 2 of 4 samples; the original's margin between its top two classes was at most " \
           "0.800 (probability) on them" in text


def test_output_kind_and_task_override():
    rng = np.random.default_rng(3)
    e = rng.normal(size=(4, 64)).astype(np.float32)
    assert compare(_samples({"feature_vector": e}), _samples({"feature_vector": e})).output("feature_vector").kind \
        == "embedding"
    assert compare(_samples({"out": e}), _samples({"out": e})).output("out").kind == "classifier"
    assert compare(_samples({"out": e}), _samples({"out": e}), task="embedding").output("out").kind == "embedding"
    assert compare(_samples({"out": e}), _samples({"out": e}), task="other").output("out").top1_agreement is None


def test_match_outputs_by_normalized_name_then_shape_then_values():
    rng = np.random.default_rng(4)
    a, b, c = rng.normal(size=(3, 5, 4))
    ref = {"Identity:0": a, "scores": c[:, :2], "x": b}
    got = {"identity": a, "out_1": b + 1e-6, "out_2": c[:, :2], "out_3": a * 5}
    pairs, missing, extra = match_outputs(ref, got)
    assert pairs == [("Identity:0", "identity", "normalized name"), ("scores", "out_2", "shape"),
                     ("x", "out_1", "values")]
    assert missing == [] and extra == ["out_3"]


# --------------------------------------------------------------------------- labels

def test_labels_files_in_every_documented_form(tmp_path):
    (tmp_path / "a.txt").write_text("background\ntench\ngoldfish\n\n")
    assert load_labels(tmp_path / "a.txt") == ("background", "tench", "goldfish")
    (tmp_path / "b.json").write_text(json.dumps(["cat", "dog"]))
    (tmp_path / "c.json").write_text(json.dumps({"1": "dog", "0": "cat"}))
    (tmp_path / "d.json").write_text(json.dumps({"dog": 1, "cat": 0}))
    for n in "bcd":
        assert load_labels(tmp_path / f"{n}.json") == ("cat", "dog")
    (tmp_path / "e.json").write_text("{oops")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_labels(tmp_path / "e.json")
    y, notes = label_indices(np.array([0, 1, 0]), class_names=("great white shark", "Tench"),
                             folder_classes=["tench", "great_white-shark"])
    assert y.tolist() == [1, 0, 1] and notes == ()
    with pytest.raises(ConfigError, match="'koi' of the data is not in the labels file"):
        label_indices(np.array(["koi"]), class_names=("tench",))


def test_accuracy_counts_and_a_labels_file_of_the_wrong_length():
    scores = np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1], [0.3, 0.3, 0.4]])
    other = np.array([[0.1, 0.7, 0.2], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    a = measure_accuracy(scores, other, np.array([1, 0, 0]), output="p", max_drop=0.1, class_names=("a", "b", "c"))
    assert (a.top1_original, a.top1_tflite, a.k) == (pytest.approx(2 / 3), pytest.approx(1 / 3), 3)
    assert a.top5_original == a.top5_tflite == 1.0
    assert not a.passed and "top-1 dropped 33.3%" in a.failures[0]
    assert a.disagreements == ({"sample": 1, "label": "a", "original": "a", "tflite": "b"},)
    with pytest.raises(ConfigError, match="2 names but output 'p' has 3 classes"):
        measure_accuracy(scores, other, np.array([1, 0, 0]), output="p", max_drop=None, class_names=("a", "b"))


def test_npz_writer_handles_any_input_name(tmp_path):
    from hub2lite.inputs_io import _npz_bytes

    arrays = {"file": np.arange(3), "a/b:0": np.ones(2), "y": np.array([b"x", b"yz"])}
    with np.load(io.BytesIO(_npz_bytes(arrays)), allow_pickle=False) as z:
        assert sorted(z.files) == sorted(arrays) and z["file"].tolist() == [0, 1, 2]


def test_a_tflite_that_cannot_run_is_a_failed_validation_not_a_crash():
    """e.g. a mutable hash table whose contents do not survive conversion raises at run time."""
    import numpy as np

    from hub2lite.validate import Tolerance, validate

    class Original:
        runtime = "tensorflow"

        def infer(self, feed):
            return {"y": feed["x"] * 2}

    class Broken:
        runtime = "ai_edge_litert"

        def infer(self, feed):
            raise RuntimeError("Tensor 'Placeholder' has dtype resource\nmore detail")

    feeds = [{"x": np.ones((1, 3), np.float32)}]
    report = validate(Original(), Broken(), feeds, Tolerance())
    assert report.passed is False
    assert report.problems == ("the .tflite model failed to run on sample 0 (ai_edge_litert): RuntimeError: "
                               "Tensor 'Placeholder' has dtype resource",)
    assert report.to_dict()["passed"] is False
