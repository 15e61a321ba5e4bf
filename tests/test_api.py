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
