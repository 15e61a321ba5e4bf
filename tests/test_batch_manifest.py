"""Batch manifests and job keys: parsing, checking before any work, defaults, names (no TensorFlow needed)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from hub2lite.batch.manifest import ModelSpec, derive_name, parse_manifest
from hub2lite.batch.state import STATE_SCHEMA, BatchState, job_key
from hub2lite.errors import ConfigError, OutputError
from hub2lite.specs import QuantMode


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    (tmp_path / "m1").mkdir()
    (tmp_path / "m1" / "saved_model.pb").write_bytes(b"x")
    (tmp_path / "m2.tar.gz").write_bytes(b"x")
    (tmp_path / "calib.npz").write_bytes(b"x")
    return tmp_path


def write(folder: Path, name: str, content: object) -> Path:
    p = folder / name
    p.write_text(content if isinstance(content, str) else json.dumps(content))
    return p


def test_text_manifest_one_source_per_line_with_comments(folder):
    m = write(folder, "list.txt", "# my catalog\nm1   # a folder\n\nm2.tar.gz\n"
                                  "https://tfhub.dev/google/imagenet/mobilenet_v2_035_224/classification/5\n")
    specs = parse_manifest(m)
    assert [s.name for s in specs] == ["m1", "m2", "mobilenet_v2_035_224-classification"]
    assert specs[0].source == str((folder / "m1").resolve())  # relative to the manifest's folder
    assert specs[2].source.startswith("https://tfhub.dev/")
    assert all(s.modes == (QuantMode.FLOAT32,) for s in specs)


def test_json_manifest_takes_every_option_and_cli_defaults(folder):
    m = write(folder, "m.json", [
        {"source": "m1", "name": "first", "input_shape": {"images": [1, 96, 96, 3]}, "input_range": [-1, 1],
         "modes": ["float32", "int8"], "calibration": "calib.npz", "atol": 0.5, "min_snr": "-inf",
         "unsafe_keras": True, "input_names": "a,b", "timeout_per_model": 60},
        "m2.tar.gz"])
    specs = parse_manifest(m, {"seed": 3, "modes": "float32,float16", "batch_size": 2})
    first, second = specs
    assert first.name == "first" and first.input_shape == {"images": (1, 96, 96, 3)}
    assert first.input_range == "-1,1" and first.modes == (QuantMode.FLOAT32, QuantMode.INT8)
    assert first.calibration == str((folder / "calib.npz").resolve())
    assert first.tolerances == {"atol": 0.5, "min_snr": float("-inf")}
    assert first.input_names == ("a", "b") and first.unsafe_keras and first.timeout_per_model == 60
    assert first.seed == 3 and first.batch_size == 2  # defaults apply where the entry says nothing
    assert second.modes == (QuantMode.FLOAT32, QuantMode.FLOAT16)
    assert ModelSpec.from_dict(json.loads(json.dumps(first.to_dict()))) == first


def test_text_encoder_keys_per_entry_and_from_the_command_line(folder):
    """--seq-len / --vocab (the shared option group) reach every model of a batch, as manifest keys too."""
    from hub2lite.cli import build_parser
    from hub2lite.commands.batch import defaults_from_args

    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n")
    m = write(folder, "m.json", [{"source": "m1", "seq_len": 64, "vocab": "vocab.txt"}, "m2.tar.gz"])
    args = build_parser().parse_args(["batch", str(m), "-o", str(folder / "out"), "--seq-len", "32"])
    first, second = parse_manifest(m, defaults_from_args(args))
    assert first.seq_len == 64 and first.vocab == str((folder / "vocab.txt").resolve())
    assert second.seq_len == 32 and second.vocab is None
    assert ModelSpec.from_dict(json.loads(json.dumps(first.to_dict()))) == first


@pytest.mark.parametrize("entries, needle", [
    ([{"source": "m1", "input_shap": {"x": [1]}}], "entry 1 (m1): unknown key 'input_shap'"),
    ([{"source": "m1"}, {"source": "nope"}], "entry 2 (nope): source 'nope' does not exist"),
    ([{"source": "m1", "modes": ["float32", "int4"]}], "entry 1 (m1): modes: unknown mode 'int4'"),
    ([{"source": "m1", "modes": ["int8"]}], "entry 1 (m1): modes ['int8'] need calibration data"),
    ([{"source": "m1", "input_shape": {"x": [1, 0]}}], "entry 1 (m1): input_shape: dims of 'x'"),
    ([{"source": "m1", "name": "a"}, {"source": "m2.tar.gz", "name": "a"}], "entry 2 (a): name 'a' is already used"),
    ([{"source": "m1", "name": "../up"}], "name: '../up' is not a usable folder name"),
    ([{"source": "m1", "data": "missing.npz"}], "entry 1 (m1): data 'missing.npz' does not exist"),
    ([{"source": "m1", "batch_size": 0}], "entry 1 (m1): batch_size: must be an integer >= 1"),
    ([{"source": "m1", "no_validate": True, "modes": ["float16"]}], "no_validate with quantized modes"),
    ([{"source": "m1", "seq_len": 1}], "entry 1 (m1): seq_len: must be an integer >= 2"),
    ([{"source": "m1", "vocab": "nope.txt"}], "entry 1 (m1): vocab 'nope.txt' does not exist"),
    ([{"name": "x"}], "entry 1 (x): no \"source\""),
    ([7], "entry 1: must be an object or a source string"),
])
def test_bad_entries_fail_before_any_work_naming_the_entry(folder, entries, needle):
    with pytest.raises(ConfigError) as info:
        parse_manifest(write(folder, "bad.json", entries))
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_files(folder):
    with pytest.raises(ConfigError, match="does not exist"):
        parse_manifest(folder / "none.txt")
    with pytest.raises(ConfigError, match="not valid JSON: .* line 1"):
        parse_manifest(write(folder, "broken.json", "[{\"source\": }"))
    with pytest.raises(ConfigError, match="lists no models"):
        parse_manifest(write(folder, "empty.txt", "# nothing\n"))
    with pytest.raises(ConfigError, match="line 2 \\(missing\\): source 'missing' does not exist"):
        parse_manifest(write(folder, "list.txt", "m1\nmissing\n"))
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        parse_manifest(write(folder, "list.txt", "m1\n"), {"colour": 1})


def test_derived_names_are_made_unique(folder):
    (folder / "a").mkdir()
    (folder / "a" / "m1").mkdir()
    specs = parse_manifest(write(folder, "m.json", [{"source": "m1"}, {"source": "a/m1"}, {"source": "m2.tar.gz",
                                                                                          "name": "m1-2"}]))
    assert [s.name for s in specs] == ["m1", "m1-3", "m1-2"]
    assert derive_name("google/mobilenet-v2/tensorFlow2/035-224-classification/2") == \
        "tensorFlow2-035-224-classification"


def test_job_key_changes_with_options_and_version_not_with_limits(folder):
    spec = parse_manifest(write(folder, "list.txt", "m1\n"))[0]
    key = job_key(spec)
    assert job_key(replace(spec, timeout_per_model=5, memory_per_model=1.0, cache_dir="/c")) == key
    assert job_key(replace(spec, modes=(QuantMode.FLOAT16,))) != key
    assert job_key(replace(spec, input_range="-1,1")) != key
    assert job_key(spec, version="99.0") != key


def test_state_file_round_trip_and_foreign_files(tmp_path):
    state = BatchState(tmp_path)
    state.put("k1", {"name": "a", "status": "ok"})
    again = BatchState(tmp_path)
    assert again.get("k1") == {"name": "a", "status": "ok"}
    assert json.loads((tmp_path / "state.json").read_text())["schema"] == STATE_SCHEMA
    (tmp_path / "state.json").write_text("{\"schema\": \"other\"}")
    with pytest.raises(OutputError, match="is not a hub2lite batch state"):
        BatchState(tmp_path)
