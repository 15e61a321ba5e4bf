"""Every hub model family and source format: inspect -> convert -> validate through the CLI, on real
TensorFlow, converter and interpreters (fixtures: tests/models_families.py, real on-disk formats)."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import version
import json
from pathlib import Path

import pytest

from conftest import cached_build
from hub2lite.families import FAMILY_TABLE, Family, family_table_markdown, recognise
from hub2lite.specs import SignatureInfo, TensorSpec

SRC = Path(__file__).with_name("models_families.py")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def family_model():
    """family_model('audio') -> path of that fixture model (folder or file), built once per cache key."""
    import models_families as mf

    def get(name: str, file: str | None = None) -> Path:
        if name == "bert_encoder":  # tests/models_text.py: BERT-style encoder with its WordPiece vocabulary
            import models_text

            folder = cached_build("text-bert_encoder", models_text.bert_encoder, Path(models_text.__file__))
        elif name == "hub_keras_layer":
            inner = cached_build("fam-hub_embedder", mf.hub_embedder, SRC)
            folder = cached_build("fam-hub_keras_layer", lambda p: mf.hub_keras_layer(p, inner), SRC)
        else:
            folder = cached_build(f"fam-{name}", mf.BUILDERS[name], SRC)
        file = file if file is not None else mf.FILE_OF.get(name)
        return folder / file if file else folder

    return get


@dataclass(frozen=True)
class Case:
    id: str
    model: str
    rows: tuple[str, ...]  # FAMILY_TABLE rows this case covers
    family: str
    args: tuple[str, ...] = ()
    file: str | None = None
    strategy: str = "builtins"
    ops: tuple[str, ...] = ()  # TFLite ops the .tflite must hold
    inputs: dict[str, list] = field(default_factory=dict)  # converted input shapes
    outputs: tuple[str, ...] = ()  # validated outputs (names as in the report)
    notes: tuple[str, ...] = ()  # substrings of the report's notes
    fmt: str = "saved_model"
    split: bool = False  # convert --split-unsupported: inspect sees no strategy but suggests the split
    body_family: str | None = None  # the family of what converts (a split model's body), when not `family`


CASES = [
    Case("tf1-hub", "tf1_hub", ("TF1 Hub format", "image-classifier"), "image-classifier", fmt="tf1_hub",
         inputs={"images": [1, 8, 8, 3]}, outputs=("default",), ops=("CONV_2D",)),
    Case("frozen-graph", "frozen_graph", ("frozen graph (.pb)",), "generic", fmt="frozen_graph",
         args=("--input-names", "x", "--output-names", "probs,embedding"), outputs=("probs", "embedding"),
         notes=("training switch 'is_training' frozen",), ops=("SOFTMAX",)),
    Case("tf1-checkpoint", "tf1_checkpoint", ("TF1 checkpoint (.meta + .index/.data)",), "generic",
         fmt="tf1_checkpoint", args=("--input-names", "x", "--output-names", "probs", "--freeze-input",
                                     "is_training=false"), outputs=("probs",),
         notes=("'is_training' frozen to False", "_output_shapes")),
    Case("keras3-keras", "keras3_keras", ("Keras file (.keras/.h5)",), "image-classifier", fmt="keras",
         outputs=("output_0",), notes=("Keras 3.", "model.export")),
    Case("keras3-h5", "keras3_h5", ("Keras file (.keras/.h5)",), "image-classifier", fmt="keras",
         outputs=("output_0",), notes=("Keras 3.", "model.export")),
    Case("tf-keras-h5", "tf_keras_h5", ("Keras file (.keras/.h5)", "image-classifier"), "image-classifier",
         fmt="keras", outputs=("probs",), notes=(f"Keras {version('tf-keras').rsplit('.', 1)[0]}", "tf_keras")),
    Case("hub-keras-layer-h5", "hub_keras_layer", ("Keras file (.keras/.h5)",), "generic", fmt="keras",
         outputs=("head",), notes=("hub.KerasLayer",)),
    Case("hub-keras-layer-keras", "hub_keras_layer", ("Keras file (.keras/.h5)",), "generic", fmt="keras",
         file="model.keras", outputs=("head",), notes=("hub.KerasLayer",)),
    Case("feature-vector-224", "image_feature_vector", ("image-feature-vector",), "image-feature-vector",
         inputs={"images": [1, 224, 224, 3]}, outputs=("feature_vector",), notes=("224x224",)),
    Case("feature-vector-96", "image_feature_vector", ("image-feature-vector",), "image-feature-vector",
         args=("--input-shape", "images=1,96,96,3"), inputs={"images": [1, 96, 96, 3]}, outputs=("feature_vector",)),
    Case("text-hash-table", "text_hash", ("text",), "text", strategy="builtins+select",
         ops=("HASHTABLE_FIND", "FlexStringToHashBucketFast", "FlexStringSplitV2"), outputs=("logits",),
         notes=("lookup tables",)),
    Case("text-encoder-bert", "bert_encoder", ("text-encoder",), "text-encoder",
         args=("--signature", "serving_default", "--seq-len", "32"),
         inputs={"input_word_ids": [1, 32], "input_mask": [1, 32], "input_type_ids": [1, 32]},
         ops=("GATHER", "GELU", "SOFTMAX"), outputs=("pooled_output", "sequence_output"),
         notes=("token sequence fixed to 32 (--seq-len",)),
    Case("detection-nms-v5", "detection", ("detection",), "detection", ops=("NON_MAX_SUPPRESSION_V5",),
         outputs=("boxes", "scores", "classes", "count")),
    Case("detection-combined-nms", "detection_combined", ("detection",), "detection", strategy="builtins+select",
         ops=("FlexCombinedNonMaxSuppression",), outputs=("boxes", "scores", "classes", "count")),
    Case("audio-fixed", "audio", ("audio",), "audio", args=("--input-shape", "waveform=16000"),
         inputs={"waveform": [16000]}, ops=("RFFT2D",), outputs=("scores", "embeddings")),
    Case("audio-dynamic", "audio", ("audio",), "audio", inputs={"waveform": [None]}, ops=("RFFT2D",),
         outputs=tuple(f"{o}@{n}" for n in (8000, 16000, 24000) for o in ("scores", "embeddings")),
         notes=("kept dynamic",)),
    Case("multi-signature-all", "multi_signature", ("multi-signature",), "multi-signature", args=("--signature", "all"),
         outputs=("serving_default/probs", "embed/embedding")),
    Case("text-split-unsupported", "text_custom_op", ("ops with no TFLite kernel", "text"), "text", split=True,
         body_family="generic", outputs=("score",), notes=("split: prefix (TensorFlow)",)),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_family_end_to_end(case: Case, family_model, cli, tmp_path):
    src = family_model(case.model, case.file)
    shape_args = tuple(a for i, a in enumerate(case.args) if a.startswith("--input-shape") or (
        i and case.args[i - 1] == "--input-shape"))
    source_args = tuple(a for a in case.args if a not in shape_args)
    signature_args = source_args if "--signature" in source_args else ()
    load_args = tuple(a for a in source_args if a not in signature_args)

    r = cli("inspect", src, "--json", *load_args, *signature_args, *shape_args)
    assert r.code == 0, r
    info = json.loads(r.out)
    assert info["format"] == case.fmt
    assert info["family"]["family"] == case.family, info["family"]
    assert info["family"]["strategy"]
    assert info["strategy"] == (None if case.split else case.strategy), info["probe_error"]
    if case.split:
        assert info["split"]["command"].endswith("--split-unsupported"), info["split"]

    out = tmp_path / "model.tflite"
    r = cli("convert", src, "-o", out, "--json", *case.args, *(("--split-unsupported",) if case.split else ()))
    assert r.code == 0, r
    report = json.loads(r.out)
    conversion, validation = report["conversion"], report["validation"]
    assert conversion["strategy"] == case.strategy
    assert conversion["family"]["family"] == (case.body_family or case.family)
    if case.split:
        assert (tmp_path / "model.pre" / "saved_model.pb").is_file() and report["split"]["body_validation"]["passed"]
    for op in case.ops:
        assert op in conversion["tflite_ops"], conversion["tflite_ops"]
    for name, shape in case.inputs.items():
        assert next(i["shape"] for i in conversion["inputs"] if i["name"] == name) == shape
    notes = " | ".join(conversion["notes"] + report["notes"])
    for text in case.notes:
        assert text in notes, notes
    # validation: every expected output compared, each within float32 tolerances
    assert validation["passed"], validation["failures"]
    metrics = {o["name"]: o for o in validation["outputs"]}
    assert sorted(metrics) == sorted(case.outputs)
    for name, m in metrics.items():
        assert m["passed"], (name, m)
        if m["dtype"].startswith("float"):
            assert m["max_abs"] is not None and m["max_abs"] < 1e-4 and m["cosine"] > 0.9999, (name, m)
        else:  # integer outputs (detection count) must match exactly
            assert m["exact_match"] == 1.0 or m["max_abs"] == 0.0, (name, m)
    assert validation["samples"] >= 8
    if "select" in case.strategy:
        assert "Flex" in json.dumps(validation["runtimes"]), validation["runtimes"]
    if case.family == "multi-signature":
        from hub2lite.runners import LiteRunner

        keys = [p["key"] for p in conversion["signatures"]]
        assert keys == ["serving_default", "embed"]
        lite = LiteRunner(str(out), signature_key="embed")
        assert sorted(lite.input_details()) == ["mask", "x"]


@pytest.mark.slow
def test_unconvertible_text_model_points_to_splitting_preprocessing(family_model, cli, tmp_path):
    src = family_model("text_custom_op")
    r = cli("inspect", src, "--json")
    assert r.code == 0, r
    info = json.loads(r.out)
    assert info["family"]["family"] == "text" and info["strategy"] is None
    assert "UnicodeScript" in info["blocking_ops"]
    assert {o["op"]: o["support"] for o in info["ops"]}["UnicodeScript"] == "unsupported"
    r = cli("convert", src, "-o", tmp_path / "m.tflite")
    assert r.code == 6, r
    assert "UnicodeScript" in r.err and "preprocessing" in r.err and "out of the model" in r.err
    assert not (tmp_path / "m.tflite").exists()


def test_lambda_keras_file_needs_unsafe_flag(family_model, cli, tmp_path):
    src = family_model("keras_lambda")
    r = cli("convert", src, "-o", tmp_path / "m.tflite")
    assert r.code == 5, r
    assert "Lambda" in r.err and "--unsafe-keras" in r.err
    r = cli("convert", src, "-o", tmp_path / "m.tflite", "--unsafe-keras", "--json")
    assert r.code == 0, r
    report = json.loads(r.out)
    assert report["validation"]["passed"] and report["validation"]["outputs"][0]["max_abs"] < 1e-5
    assert any("--unsafe-keras" in n for n in report["notes"])


def test_frozen_graph_training_switch_must_be_frozen(family_model, cli, tmp_path):
    """Exposing the TF1 `is_training` switch as an input keeps its Switch/Merge branch with dropout: the seeded
    inputs switch it on for some samples, and validation catches the random outputs (exit 3). By default
    hub2lite freezes the switch to its default and the same graph validates (the end-to-end case)."""
    src = family_model("frozen_graph")
    r = cli("convert", src, "-o", tmp_path / "m.tflite", "--input-names", "x,is_training", "--output-names", "probs",
            "--json")
    assert r.code == 3, r
    report = json.loads(r.out)
    assert [i["name"] for i in report["conversion"]["inputs"]] == ["x", "is_training"]
    assert not report["validation"]["passed"] and report["validation"]["outputs"][0]["max_abs"] > 0.01


def test_frozen_graph_unknown_tensor_names(family_model, cli, tmp_path):
    r = cli("inspect", family_model("frozen_graph"), "--input-names", "nope", "--no-probe")
    assert r.code == 2 and "nope" in r.err, r


def test_frozen_graph_counts_its_weight_constants_as_parameters(family_model, cli):
    """The fixture's weights are w1 [6,5] and w2 [5,4]: 50 scalars, frozen into constants."""
    r = cli("inspect", family_model("frozen_graph"), "--json", "--no-probe")
    assert r.code == 0, r
    assert json.loads(r.out)["parameters"] == 6 * 5 + 5 * 4


def test_tf1_hub_loads_with_empty_tags_and_train_graph_on_request(family_model):
    from hub2lite.load import load
    from hub2lite.resolve import resolve

    src = str(family_model("tf1_hub"))
    loaded = load(resolve(src))
    assert loaded.format.value == "tf1_hub" and loaded.tags == ()
    assert [s.name for s in loaded.signatures] == ["default"]
    train = load(resolve(src), tags=("train",))
    assert train.tags == ("train",) and [s.name for s in train.signatures] == ["default"]


def test_recognise_from_specs_alone():
    f32 = "float32"
    det = SignatureInfo("s", (TensorSpec("image", f32, (1, 64, 64, 3)),),
                        (TensorSpec("detection_boxes", f32, (1, 10, 4)), TensorSpec("detection_scores", f32, (1, 10)),
                         TensorSpec("detection_classes", f32, (1, 10)), TensorSpec("num_detections", f32, (1,))))
    assert recognise(det, {}).family is Family.DETECTION
    assert recognise(det, {"NonMaxSuppressionV5": 1}).nms == {"NonMaxSuppressionV5": "NON_MAX_SUPPRESSION_V5"}
    assert recognise(det, {"CombinedNonMaxSuppression": 1}).nms == {"CombinedNonMaxSuppression": "select"}
    img = SignatureInfo("s", (TensorSpec("images", f32, (None, None, None, 3)),), (TensorSpec("logits", f32, (None, 1001)),))
    assert recognise(img, {}).family is Family.IMAGE_CLASSIFIER and "224" in recognise(img, {}).strategy
    wav = SignatureInfo("s", (TensorSpec("waveform", f32, (None,)),), (TensorSpec("scores", f32, (None, 521)),))
    assert recognise(wav, {}).keep_dynamic_inputs == ("waveform",)
    txt = SignatureInfo("s", (TensorSpec("text", "string", (None,)),), (TensorSpec("out", f32, (None, 2)),))
    plan = recognise(txt, {"HashTableV2": 1, "LookupTableFindV2": 1})
    assert plan.family is Family.TEXT and plan.resource_variables
    plain = SignatureInfo("s", (TensorSpec("x", f32, (None, 4)),), (TensorSpec("y", f32, (None, 2)),))
    assert recognise(plain, {}).family is Family.GENERIC


def test_readme_family_table_is_generated_and_covered():
    readme = (ROOT / "README.md").read_text()
    assert "## Model families" in readme
    assert family_table_markdown() in readme, "regenerate the README table with hub2lite.families.family_table_markdown()"
    covered = {row for c in CASES for row in c.rows}
    assert covered == {row for row, _, _ in FAMILY_TABLE}
