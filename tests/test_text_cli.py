"""Text encoders through the CLI, on the BERT-style fixture served as a hub archive from 127.0.0.1 (the real
hub.resolve path): inspect names the family, the sequence length and the vocabulary; convert validates on
synthetic ids drawn inside the tables; validate runs on real English text (lines and tab pairs); a model that
rejects its inputs is a data error (exit 7), never an internal error; sweep measures every variant on text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import models_text
from conftest import cached_build
from hub2lite.localhub import pack_hub_archive

SEQ = "32"


@pytest.fixture(scope="module")
def handle(local_hub, tmp_path_factory) -> str:
    folder = cached_build("text-bert_encoder", models_text.bert_encoder, Path(models_text.__file__))
    archive = pack_hub_archive(folder, tmp_path_factory.mktemp("hub") / "tiny-bert.tar.gz")
    return local_hub.add("google/tiny-bert/1", archive)


@pytest.fixture(scope="module")
def converted(handle, tmp_path_factory):
    """convert HANDLE --seq-len 32: (the .tflite, the report, the hub cache)."""
    import io

    from hub2lite.cli import main

    work = tmp_path_factory.mktemp("convert")
    out, err = io.StringIO(), io.StringIO()
    code = main(["convert", handle, "-o", str(work / "bert.tflite"), "--seq-len", SEQ, "--cache-dir",
                 str(work / "cache"), "--json"], out=out, err=err)
    assert code == 0, err.getvalue()
    return work / "bert.tflite", json.loads(out.getvalue()), work / "cache"


def test_convert_validates_on_synthetic_ids_drawn_inside_the_tables(converted):
    _, report, _ = converted
    conversion, validation = report["conversion"], report["validation"]
    assert {i["name"]: i["shape"] for i in conversion["inputs"]} == {
        "input_word_ids": [1, 32], "input_mask": [1, 32], "input_type_ids": [1, 32]}
    assert conversion["family"]["family"] == "text-encoder"
    assert validation["passed"] and validation["samples"] == 8
    draws = validation["inputs"]["draws"]  # the report says how each input was drawn
    assert "[CLS]=2 first" in draws["input_word_ids"] and "1000 rows" not in draws["input_mask"]
    assert "type_embeddings/embeddings [2×64]" in draws["input_type_ids"]
    pooled = next(o for o in validation["outputs"] if o["name"] == "pooled_output")
    assert pooled["cosine"] > 0.9999 and pooled["max_abs"] < 1e-4


def test_validate_on_real_english_text(converted, cli, tmp_path):
    tflite, _, cache = converted
    model_dir = next(p for p in cache.iterdir() if p.is_dir() and (p / "saved_model.pb").exists())
    lines = models_text.write_sentences(tmp_path / "text.txt", 40)
    r = cli("validate", model_dir, tflite, "--data", lines, "--json")
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert doc["passed"] and doc["samples"] == 40
    assert doc["inputs"]["kind"] == "text" and doc["inputs"]["text"]["examples"] == 40
    assert doc["inputs"]["text"]["vocab"]["size"] == 1000
    pairs = models_text.write_sentences(tmp_path / "pairs.tsv", 12, pairs=True)
    r = cli("validate", model_dir, tflite, "--data", pairs, "--json", "--samples", "5")
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert doc["samples"] == 5 and doc["inputs"]["text"]["pairs"] == 12


def test_inputs_the_model_rejects_are_a_data_error(converted, cli, tmp_path):
    tflite, _, cache = converted
    model_dir = next(p for p in cache.iterdir() if p.is_dir() and (p / "saved_model.pb").exists())
    rng = np.random.default_rng(0)
    bad = tmp_path / "bad.npz"
    np.savez(bad, input_word_ids=rng.integers(0, 100, (2, 32)).astype(np.int32),
             input_mask=np.ones((2, 32), np.int32), input_type_ids=rng.integers(0, 100, (2, 32)).astype(np.int32))
    r = cli("validate", model_dir, tflite, "--data", bad)
    assert r.code == 7, r
    assert "rejected the inputs" in r.err and "is not in [0, 2)" in r.err and "type_embeddings" in r.err
    assert "internal error" not in r.err and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1
    r = cli("validate", model_dir, tflite, "--data", tmp_path / "none.txt", "--vocab", tmp_path / "missing.txt")
    assert r.code == 2 and "missing.txt" in r.err, r


def test_inspect_names_family_sequence_length_and_vocabulary(handle, cli, tmp_path):
    r = cli("inspect", handle, "--cache-dir", tmp_path / "cache", "--signature", "serving_default", "--no-probe",
            "--seq-len", "64")
    assert r.code == 0, r
    assert "family: text-encoder" in r.out
    assert "sequence length: 64 tokens" in r.out
    assert "assets/vocab.txt (1000 tokens, uncased; from the model's assets)" in r.out
    assert "input_type_ids: type-ids, table of 2 rows" in r.out


@pytest.mark.slow
def test_sweep_on_real_text(handle, cli, tmp_path):
    cal = models_text.write_sentences(tmp_path / "cal.txt", 40, offset=300)
    data = models_text.write_sentences(tmp_path / "val.txt", 30)
    r = cli("sweep", handle, "--cache-dir", tmp_path / "cache", "--seq-len", SEQ, "--calibration", cal,
            "--data", data, "--samples", "30", "--modes", "float32,float16,dynamic,int8", "-o", tmp_path / "sweep",
            "--runs", "3", "--warmup", "1", "--rounds", "1", "--int8-keep-float", "softmax", "--json")
    assert r.code == 0, r
    report = json.loads(r.out)
    rows = {v["mode"]: v for v in report["variants"]}
    assert set(rows) == {"float32", "float16", "dynamic", "int8"}
    for mode, row in rows.items():
        pooled = next(o for o in row["validation"]["outputs"] if o["name"] == "pooled_output")
        assert pooled["cosine_mean"] > (0.999 if mode in ("float32", "float16", "dynamic") else 0.99), (mode, pooled)
        assert row["conversion"]["recipe"].get("int8_keep_float") == (["softmax"] if mode == "int8" else None)
    assert report["validation_data"]["text"]["examples"] == 30 and report["calibration"]["kind"] == "text"


@pytest.mark.slow
def test_int8_calibrates_on_a_text_file(handle, cli, tmp_path):
    """--calibration takes the same text files; the report says what calibrated and how validation was drawn."""
    cal = models_text.write_sentences(tmp_path / "cal.txt", 30, offset=600)
    out = tmp_path / "int8.tflite"
    r = cli("convert", handle, "-o", out, "--cache-dir", tmp_path / "cache", "--seq-len", SEQ, "--quantize", "int8",
            "--calibration", cal, "--calibration-samples", "20", "--json")
    # plain int8 loses the attention scores of this encoder (README, "Text encoders"): a failed validation, exit 3
    assert r.code == 3, r
    report = json.loads(r.out)
    assert not report["validation"]["passed"] and out.exists()
    assert report["calibration"]["kind"] == "text" and report["calibration"]["samples"] == 20
    assert report["calibration"]["text"]["examples"] == 30 and report["calibration"]["text"]["selected"] == 20
    assert "input_word_ids" in report["validation"]["inputs"]["draws"]
    pooled = next(o for o in report["validation"]["outputs"] if o["name"] == "pooled_output")
    assert 0.9 < pooled["cosine_mean"] < 0.999


def test_bench_of_the_tflite_alone_draws_ids_inside_its_tables(converted, cli):
    """No original to plan from: the .tflite's own GATHER tables bound the synthetic ids (the generic draw puts
    type ids up to 99 into a 2-row table)."""
    from hub2lite.benchmark import token_feed_for_tflite
    from hub2lite.token_inputs import analyze_tflite

    tflite, _, _ = converted
    model = tflite.read_bytes()
    tokens = analyze_tflite(model)
    assert {t.name: (t.role.value, t.rows) for t in tokens.inputs} == {
        "input_word_ids": ("word-ids", 1000), "input_mask": ("mask", None), "input_type_ids": ("type-ids", 2)}
    feed = token_feed_for_tflite(model, None, seed=0)
    assert feed["input_type_ids"].max() <= 1 and feed["input_word_ids"].max() < 1000
    r = cli("bench", tflite, "--runs", "3", "--warmup", "1", "--json")
    assert r.code == 0, r
    assert json.loads(r.out)["input_source"].startswith("synthetic token ids inside the model's tables")


@pytest.mark.slow
def test_int8_keep_float_softmax_passes_where_plain_int8_fails(handle, cli, tmp_path):
    """--int8-keep-float softmax: the same int8 conversion as the test above, with the attention softmax path in
    float, passes validation on real text; the recipe records it."""
    cal = models_text.write_sentences(tmp_path / "cal.txt", 30, offset=600)
    data = models_text.write_sentences(tmp_path / "val.txt", 30)
    out = tmp_path / "int8.tflite"
    r = cli("convert", handle, "-o", out, "--cache-dir", tmp_path / "cache", "--seq-len", SEQ, "--quantize", "int8",
            "--calibration", cal, "--calibration-samples", "20", "--int8-keep-float", "softmax", "--data", data,
            "--json")
    assert r.code == 0, r
    report = json.loads(r.out)
    assert report["conversion"]["recipe"]["int8_keep_float"] == ["softmax"]
    assert report["conversion"]["converter_settings"]["int8_keep_float"] == {"softmax": 3 * models_text.LAYERS}
    pooled = next(o for o in report["validation"]["outputs"] if o["name"] == "pooled_output")
    assert pooled["cosine_mean"] > 0.99


@pytest.mark.parametrize("argv, needle", [
    (["--quantize", "int8", "--calibration", "synthetic", "--int8-keep-float", "attention"],
     "--int8-keep-float: unknown part 'attention'"),
    (["--quantize", "dynamic", "--int8-keep-float", "softmax"], "--int8-keep-float needs --quantize int8"),
])
def test_int8_keep_float_usage_errors(cli, tmp_path, argv, needle):
    r = cli("convert", tmp_path / "missing", "-o", tmp_path / "m.tflite", *argv)
    assert r.code == 2 and needle in r.err and not (tmp_path / "m.tflite").exists(), r


@pytest.mark.slow
def test_optimize_keeps_the_softmax_path_float_before_floating_layers(handle, cli, tmp_path):
    """optimize on a text encoder: plain int8 (and int8 with bias correction) misses a 0.2-point cosine budget;
    int8 with the softmax path in float is measured before the per-layer search and meets it, so the search never
    runs. (At 32 tokens dynamic range is the smaller file here and wins on size.)"""
    cal = models_text.write_sentences(tmp_path / "cal.txt", 40, offset=600)
    data = models_text.write_sentences(tmp_path / "val.txt", 30)
    out = tmp_path / "best.tflite"
    r = cli("optimize", handle, "--cache-dir", tmp_path / "cache", "--seq-len", SEQ, "--calibration", cal,
            "--data", data, "--metric", "cosine", "--max-drop", "0.2", "--runs", "3", "-o", out, "--json")
    assert r.code == 0, r
    report = json.loads((tmp_path / "best.optimize.json").read_text())
    cands = {c["name"]: c for c in report["candidates"]}
    assert not cands["int8"]["in_budget"]
    kept = cands["int8-float-softmax"]
    assert kept["in_budget"] and kept["stage"] == "technique" and kept["float_layers"] == 3 * models_text.LAYERS
    assert kept["value"] > cands["int8-mse-bias"]["value"] + 1 and not report["search"]["ran"]
    assert report["winner"] in {c["name"] for c in report["candidates"] if c["in_budget"]}
    assert out.stat().st_size == cands[report["winner"]]["size_bytes"]
