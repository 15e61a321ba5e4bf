import hub2lite


def test_public_api_is_explicit_and_importable():
    assert hub2lite.__all__ == sorted(set(hub2lite.__all__), key=hub2lite.__all__.index)  # no duplicates
    for name in hub2lite.__all__:
        assert hasattr(hub2lite, name), name
    public = {n for n in dir(hub2lite) if not n.startswith("_")} - {"annotations"}  # the __future__ import
    modules = {n for n in public if type(getattr(hub2lite, n)).__name__ == "module"}
    assert public - modules <= set(hub2lite.__all__), sorted(public - modules - set(hub2lite.__all__))
