import hub2lite


def test_public_api_is_explicit_and_importable():
    assert hub2lite.__all__ == sorted(set(hub2lite.__all__), key=hub2lite.__all__.index)  # no duplicates
    for name in hub2lite.__all__:
        assert hasattr(hub2lite, name), name
    public = {n for n in dir(hub2lite) if not n.startswith("_")} - {"annotations"}  # the __future__ import
    modules = {n for n in public if type(getattr(hub2lite, n)).__name__ == "module"}
    assert public - modules <= set(hub2lite.__all__), sorted(public - modules - set(hub2lite.__all__))


def test_readme_python_example_runs(digits_model, tmp_path, monkeypatch, capsys):
    """The README's "Python API" example, executed as written on a real SavedModel folder named `model`."""
    import re
    import shutil
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shutil.copytree(digits_model, tmp_path / "model")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("True model.tflite ")
    assert lines[1].startswith("float16 True ['output_0']")
    assert lines[2] == "refused: 8"


def test_api_raises_typed_errors_and_takes_typed_options(tmp_path):
    from hub2lite.errors import ConfigError

    try:
        hub2lite.convert(str(tmp_path / "m"), str(tmp_path / "o.tflite"), quantize="int8", validate=False)
    except ConfigError as exc:
        assert "--no-validate" in str(exc) and exc.exit_code == 2
    else:
        raise AssertionError("a quantized model without validation must be refused")
    assert hub2lite.api.range_text((-1, 1)) == "-1,1"


# CLI flags with another spelling in the API (the API takes positive booleans, plural collections, a mapping)
_RENAMED = {"input_shape": "input_shapes", "freeze_input": "freeze_inputs", "no_validate": "validate",
            "no_flex_runtime": "flex_runtime", "no_float16_guard": "float16_guard", "no_xnnpack": "xnnpack",
            "no_probe": "probe"}
_TOLERANCES = {"atol", "rtol", "min_cosine", "min_snr", "min_top1_agreement", "min_top5_overlap", "max_kl",
               "max_accuracy_drop", "sample_quantile"}  # the API's `tolerances` mapping
# about the terminal or files of one run, not the model: the API returns objects instead
_CLI_ONLY = {"json", "load_inputs", "save_inputs", "outputs_dir", "per_layer", "tensors"}


def test_every_model_option_of_a_command_is_an_api_keyword():
    """A flag added to a command's option group must reach the Python API too (issue 11's explicit API): each
    convert / validate / sweep / optimize / inspect flag is a keyword of the function of that name."""
    import argparse
    import inspect

    import hub2lite
    from hub2lite.cli import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for command in ("convert", "validate", "sweep", "optimize", "inspect"):
        params = set(inspect.signature(getattr(hub2lite, command)).parameters)
        missing = []
        for action in sub.choices[command]._actions:
            dest = action.dest
            if dest == "help" or dest in _CLI_ONLY:
                continue
            want = "tolerances" if dest in _TOLERANCES else _RENAMED.get(dest, dest)
            if want not in params:
                missing.append(f"--{dest.replace('_', '-')} (API: {want})")
        assert not missing, f"hub2lite.{command} lacks {missing}"
