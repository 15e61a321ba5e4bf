from __future__ import annotations

from pathlib import Path

import pytest

from hub2lite.errors import ResolveError
from hub2lite.resolve import normalize_handle, resolve


def test_local_folder(model_path):
    r = resolve(str(model_path("simple")))
    assert r.kind == "folder"
    assert (Path(r.path) / "saved_model.pb").exists()


@pytest.mark.parametrize("suffix", [".tar.gz", ".tgz"])
def test_local_archive_unpacks_into_cache(archive_of, tmp_path, suffix):
    src = tmp_path / f"model{suffix}"
    src.write_bytes(archive_of("simple").read_bytes())
    r = resolve(str(src), cache_dir=tmp_path / "cache")
    assert r.kind == "archive"
    assert (Path(r.path) / "saved_model.pb").exists()
    assert Path(r.path).is_relative_to(tmp_path / "cache")
    assert len(r.provenance["sha256"]) == 64
    again = resolve(str(src), cache_dir=tmp_path / "cache")  # cached: same folder
    assert again.path == r.path


def test_http_handle_goes_through_tensorflow_hub(local_hub, archive_of, hub_cache):
    handle = local_hub.add("google/simple/1", archive_of("simple"))
    before = len(local_hub.requests)
    r = resolve(handle, cache_dir=hub_cache)
    assert r.kind == "hub" and r.handle == handle
    assert (Path(r.path) / "saved_model.pb").exists()
    assert Path(r.path).is_relative_to(hub_cache)
    new = local_hub.requests[before:]
    assert new == ["/google/simple/1?tf-hub-format=compressed"]
    # second resolve is served from tensorflow_hub's cache: no new request
    assert resolve(handle, cache_dir=hub_cache).path == r.path
    assert len(local_hub.requests) == before + 1
    assert r.provenance["resolver"] == "tensorflow_hub.resolve"


def test_http_404_is_a_clear_not_found(local_hub, hub_cache):
    handle = local_hub.url("google/missing/1")
    with pytest.raises(ResolveError, match="not found"):
        resolve(handle, cache_dir=hub_cache)


@pytest.mark.parametrize("text, url", [
    ("https://tfhub.dev/google/imagenet/mobilenet_v2_035_224/classification/5",
     "https://tfhub.dev/google/imagenet/mobilenet_v2_035_224/classification/5"),
    ("tfhub.dev/google/imagenet/mobilenet_v2_035_224/classification/5",
     "https://tfhub.dev/google/imagenet/mobilenet_v2_035_224/classification/5"),
    ("www.kaggle.com/models/google/mobilenet-v2/tensorFlow2/035-224-classification/2",
     "https://www.kaggle.com/models/google/mobilenet-v2/tensorFlow2/035-224-classification/2"),
    ("google/mobilenet-v2/tensorFlow2/035-224-classification/2",
     "https://www.kaggle.com/models/google/mobilenet-v2/frameworks/tensorFlow2/variations/035-224-classification/versions/2"),
    ("some/local/folder", None),
    ("model.tar.gz", None),
])
def test_normalize_handle(text, url):
    assert normalize_handle(text) == url


def test_missing_path_names_the_problem_and_fix(tmp_path):
    with pytest.raises(ResolveError) as info:
        resolve(str(tmp_path / "nope"))
    assert "does not exist" in info.value.message and info.value.hint
