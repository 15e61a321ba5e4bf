"""Batch manifests and job keys: parsing, checking before any work, defaults, names (no TensorFlow needed)."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import pytest

from hub2lite.batch.manifest import ModelSpec, derive_name, manifest_keys, parse_manifest, spec_from_options
from hub2lite.batch.model_options import NOT_PER_MODEL, convert_args, model_options, normalize_value
from hub2lite.cli import build_parser
from hub2lite.commands._common import PathArg
from hub2lite.commands.batch import defaults_from_args
from hub2lite.commands.convert import job_from_args
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
         "unsafe_keras": True, "input_names": "a,b", "timeout_per_model": 60, "int8_ranges": "mse",
         "bias_correction": True, "freeze_input": ["is_training=false"], "no_float16_guard": True},
        {"source": "m2.tar.gz", "split_unsupported": True, "body_outputs": ["dense/BiasAdd:0"]},
        {"source": "m1", "name": "custom", "allow_custom_ops": True}])
    specs = parse_manifest(m, {"seed": 3, "modes": "float32,float16", "batch_size": 2})
    first, second, custom = specs
    assert first.name == "first" and first.option("input_shape") == ["images=1,96,96,3"]
    assert first.option("input_range") == "-1,1" and first.modes == (QuantMode.FLOAT32, QuantMode.INT8)
    assert first.option("calibration") == str((folder / "calib.npz").resolve())
    assert first.option("atol") == "0.5" and first.option("min_snr") == "-inf"
    assert first.option("input_names") == "a,b" and first.option("unsafe_keras") and first.timeout_per_model == 60
    assert first.option("seed") == "3" and first.option("batch_size") == "2"  # defaults where the entry is silent
    assert second.modes == (QuantMode.FLOAT32, QuantMode.FLOAT16)
    assert second.option("split_unsupported") and second.option("body_outputs") == "dense/BiasAdd:0"
    assert custom.option("allow_custom_ops")
    assert ModelSpec.from_dict(json.loads(json.dumps(first.to_dict()))) == first
    # what the worker runs: convert's own parse and job, each mode with the flags that concern it
    int8 = convert_args(first.source, "out.tflite", QuantMode.INT8, first.options)
    assert int8.freeze_input == ["is_training=false"] and int8.input_shape == ["images=1,96,96,3"]
    assert int8.atol == 0.5 and int8.min_snr == float("-inf") and int8.seed == 3 and int8.batch_size == 2
    job = job_from_args(int8)
    assert (job.convert.quantize, job.convert.int8_ranges, job.convert.bias_correction) == (QuantMode.INT8, "mse", True)
    assert job.calibration == first.option("calibration")
    f32 = convert_args(first.source, "out.tflite", QuantMode.FLOAT32, first.options)
    job = job_from_args(f32)
    assert (job.calibration, job.convert.int8_ranges, job.convert.bias_correction) == (None, "minmax", False)
    keep = parse_manifest(write(folder, "k.json", [{"source": "m1", "modes": ["float32", "int8"],
                                                     "calibration": "synthetic", "int8_keep_float": ["softmax"]}]))[0]
    for mode, kept in ((QuantMode.INT8, ("softmax",)), (QuantMode.FLOAT32, ())):
        assert job_from_args(convert_args(keep.source, "o.tflite", mode, keep.options)).convert.int8_keep_float == kept
    assert job.convert.float16_guard is False and job.input_range == "-1,1"


def _cli_flags(command: str) -> dict[str, argparse.Action]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a for a in sub.choices[command]._actions if a.option_strings}


def _sample(action: argparse.Action) -> tuple[object, list[str]]:
    """A value of the flag's own kind (the manifest value, and the command-line tokens that say the same)."""
    flag = max(action.option_strings, key=len)
    if action.nargs == 0:
        return True, [flag]
    if action.choices:
        value = list(action.choices)[-1]
    elif action.type is int:
        value = 3
    elif action.type is float:
        value = 0.25
    elif isinstance(action.type, PathArg):
        value = "calib.npz"
    else:
        value = "x=1,2" if isinstance(action, argparse._AppendAction) else "1,2"
    if isinstance(action, argparse._AppendAction):
        return [value], [f"{flag}={value}"]
    return value, [f"{flag}={value}"]


def test_sweep_has_no_per_model_flag_that_convert_lacks():
    """The manifest keys come from convert's parser alone (the worker runs convert): a per-model flag only sweep
    had would be a setting a batch could not pass on. sweep's own flags are where it writes, its modes and the
    benchmark settings, which batch takes once for the whole run (its --runs, --warmup, --threads, ...)."""
    from hub2lite.commands.bench import add_bench_options

    bench = argparse.ArgumentParser(add_help=False)
    add_bench_options(bench)
    sweep_only = set(_cli_flags("sweep")) - set(_cli_flags("convert")) - {"output_dir", "modes"}
    assert sweep_only <= {a.dest for a in bench._actions}, sweep_only


@pytest.mark.parametrize("command", ["convert", "sweep"])
def test_every_convert_and_sweep_option_is_a_manifest_key_and_a_batch_default(folder, command):
    """Every per-model flag of the command, read from the real CLI: a manifest key that reaches the job the worker
    builds with the value the command line gives it, and a flag of `hub2lite batch` that defaults every entry."""
    convert_flags = set(_cli_flags("convert"))  # sweep's others: test_sweep_has_no_per_model_flag_that_convert_lacks
    flags = {d: a for d, a in _cli_flags(command).items() if d not in NOT_PER_MODEL and d in convert_flags}
    assert {"split_unsupported", "body_inputs", "body_outputs", "allow_custom_ops", "no_flex_runtime"} <= set(flags)
    assert set(flags) <= set(manifest_keys())
    source = str(folder / "m1")
    for dest, action in flags.items():
        value, tokens = _sample(action)
        cli = build_parser().parse_args(["convert", source, "-o", "out.tflite", *tokens])
        option = model_options()[dest]
        via_manifest = convert_args(source, "out.tflite", QuantMode.FLOAT32,
                                    {dest: normalize_value(option, value)}, narrow=False)
        expected = getattr(cli, dest)
        if option.is_path:  # the manifest's paths are the manifest folder's; the command line's the caller's
            expected = [str(folder / v) for v in expected] if isinstance(expected, list) else str(folder / expected)
            via = spec_from_options({"source": "m1", dest: value, "modes": ["int8"], "calibration": "synthetic"}
                                    if dest != "calibration" else {"source": "m1", dest: value, "modes": ["int8"]},
                                    base=folder, where="entry")
            assert via.option(dest) == expected, dest
        else:
            assert getattr(via_manifest, dest) == expected, dest
        batch = build_parser().parse_args(["batch", "m.json", "-o", "out", *tokens])
        assert dest in defaults_from_args(batch), dest


def test_paths_are_the_manifest_folders_in_an_entry_and_the_current_folders_on_the_command_line(folder, tmp_path,
                                                                                                  monkeypatch):
    """One rule (model_options.absolute_paths), two bases: a default from batch's command line names a path of the
    caller's folder, an entry's own a path of the manifest's; keywords ("synthetic") stay words."""
    here = tmp_path / "caller"
    here.mkdir()
    (here / "data.npz").write_bytes(b"x")
    monkeypatch.chdir(here)
    m = write(folder, "m.json", [{"source": "m1"}, {"source": "m1", "name": "own", "data": "calib.npz"},
                                 {"source": "m1", "name": "syn", "calibration": "synthetic", "modes": ["int8"]}])
    args = build_parser().parse_args(["batch", str(m), "-o", "out", "--data", "data.npz", "--calibration", "calib.npz"])
    defaults = defaults_from_args(args)
    assert defaults["data"] == str(here / "data.npz") and defaults["calibration"] == str(here / "calib.npz")
    with pytest.raises(ConfigError, match="calibration '.*calib.npz' does not exist"):  # not in the caller's folder
        parse_manifest(m, defaults)
    del defaults["calibration"]
    first, own, syn = parse_manifest(m, defaults)
    assert first.option("data") == str(here / "data.npz") and own.option("data") == str(folder / "calib.npz")
    assert syn.option("calibration") == "synthetic"


def test_text_encoder_keys_per_entry_and_from_the_command_line(folder):
    """--seq-len / --vocab (the shared option group) reach every model of a batch, as manifest keys too."""
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n")
    m = write(folder, "m.json", [{"source": "m1", "seq_len": 64, "vocab": "vocab.txt"}, "m2.tar.gz"])
    args = build_parser().parse_args(["batch", str(m), "-o", str(folder / "out"), "--seq-len", "32"])
    first, second = parse_manifest(m, defaults_from_args(args))
    assert first.option("seq_len") == "64" and first.option("vocab") == str((folder / "vocab.txt").resolve())
    assert second.option("seq_len") == "32" and second.option("vocab") is None
    assert ModelSpec.from_dict(json.loads(json.dumps(first.to_dict()))) == first


@pytest.mark.parametrize("entries, needle", [
    ([{"source": "m1", "input_shap": {"x": [1]}}], "entry 1 (m1): unknown key 'input_shap'"),
    ([{"source": "m1", "Int8-Ranges": "mse"}], "unknown key 'Int8-Ranges' (did you mean 'int8_ranges'?)"),
    ([{"source": "m1"}, {"source": "nope"}], "entry 2 (nope): source 'nope' does not exist"),
    ([{"source": "m1", "modes": ["float32", "int4"]}], "entry 1 (m1): modes: unknown mode 'int4'"),
    ([{"source": "m1", "modes": ["int8"]}], "entry 1 (m1): modes ['int8'] need calibration data"),
    ([{"source": "m1", "input_shape": {"x": [1, 0]}}], "entry 1 (m1): input_shape 'x=1,0' has a non-positive"),
    ([{"source": "m1", "name": "a"}, {"source": "m2.tar.gz", "name": "a"}], "entry 2 (a): name 'a' is already used"),
    ([{"source": "m1", "name": "../up"}], "name: '../up' is not a usable folder name"),
    ([{"source": "m1", "data": "missing.npz"}], "entry 1 (m1): data 'missing.npz' does not exist"),
    ([{"source": "m1", "batch_size": 0}], "entry 1 (m1): batch_size must be at least 1, not 0"),
    ([{"source": "m1", "batch_size": "two"}], "entry 1 (m1): argument batch_size: invalid int value: 'two'"),
    ([{"source": "m1", "int8_ranges": "best"}], "entry 1 (m1): argument int8_ranges: invalid choice: 'best'"),
    ([{"source": "m1", "bias_correction": True}], "entry 1 (m1): int8_ranges/bias_correction need"),
    ([{"source": "m1", "split_unsupported": True, "allow_custom_ops": True}], "allow_custom_ops cannot be"),
    ([{"source": "m1", "split_unsupported": "yes"}], "entry 1 (m1): split_unsupported: must be true or false"),
    ([{"source": "m1", "io_type": "int8"}], "entry 1 (m1): io_type applies only to int8-strict"),
    ([{"source": "m1", "sample_quantile": 0.7}], "entry 1 (m1): sample_quantile must be in [0, 0.5)"),
    ([{"source": "m1", "no_validate": True, "modes": ["float16"]}], "no_validate cannot be used with"),
    ([{"source": "m1", "seq_len": 1}], "entry 1 (m1): seq_len 1 is too short"),
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
    assert job_key(replace(spec, timeout_per_model=5, memory_per_model=1.0)) == key
    assert job_key(replace(spec, modes=(QuantMode.FLOAT16,))) != key
    assert job_key(replace(spec, options={"input_range": "-1,1"})) != key
    assert job_key(replace(spec, options={"cache_dir": "/c", "timeout": "5"})) == key
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
