"""Network faults against a local hub on 127.0.0.1, through tensorflow_hub's real resolver: each ends in a clear
error within seconds, leaves no partial model in the cache, and the next good attempt succeeds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from models_reliability import assert_one_line_error

from hub2lite.errors import LoadError, ResolveError
from hub2lite.localhub import Fault, LocalHub
from hub2lite.resolve import resolve

FAST = {"timeout": 1.0, "retries": 2, "backoff": 0.05}


@pytest.fixture(scope="module")
def hub() -> Iterator[LocalHub]:
    with LocalHub() as h:
        yield h


def cache_entries(cache: Path) -> list[str]:
    """What tensorflow_hub left in the cache: module folders, plus any lock, .tmp or descriptor files."""
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def assert_clean_then_good(hub: LocalHub, name: str, handle: str, cache: Path) -> None:
    """No partial model, lock or temp folder in the cache; with the fault gone, the same handle resolves."""
    assert [e for e in cache_entries(cache) if not e.endswith(".descriptor.txt")] == [], cache_entries(cache)
    hub.clear_faults(name)
    r = resolve(handle, cache_dir=cache, **FAST)
    assert (Path(r.path) / "saved_model.pb").is_file()
    entries = cache_entries(cache)
    assert not [e for e in entries if e.endswith((".lock", ".tmp"))], entries
    assert len([e for e in entries if (cache / e).is_dir()]) == 1


def test_404_is_model_not_found(hub, archive_of, hub_cache, cli):
    handle = hub.url("google/missing-model/1")
    res = cli("inspect", handle, "--cache-dir", hub_cache, "--timeout", "1", "--no-probe")
    line = assert_one_line_error(res, ResolveError.exit_code, "not found", handle)
    assert "spelling" in line
    assert cache_entries(hub_cache) == []
    hub.add("google/missing-model/1", archive_of("simple"))  # published later: the next attempt works
    assert cli("inspect", handle, "--cache-dir", hub_cache, "--no-probe").code == 0


def test_500_is_retried_with_backoff_then_fails_clearly(hub, archive_of, hub_cache):
    name = "google/flaky-500/1"
    handle = hub.add(name, archive_of("simple"))
    hub.fault(name, Fault(status=500, times=None))
    before = len(hub.requests)
    t0 = time.perf_counter()
    with pytest.raises(ResolveError) as info:
        resolve(handle, cache_dir=hub_cache, timeout=1.0, retries=3, backoff=0.2)
    elapsed = time.perf_counter() - t0
    assert len(hub.requests) - before == 4  # 1 try + 3 retries, bounded
    assert elapsed >= 0.2 + 0.4 + 0.8  # exponential backoff between them
    assert "after 4 attempts" in info.value.message and "HTTP 500" in info.value.message and info.value.hint
    assert_clean_then_good(hub, name, handle, hub_cache)


def test_transient_500_recovers_on_retry(hub, archive_of, hub_cache):
    name = "google/blip-500/1"
    handle = hub.add(name, archive_of("simple"))
    hub.fault(name, Fault(status=503, times=2))
    r = resolve(handle, cache_dir=hub_cache, **FAST)
    assert (Path(r.path) / "saved_model.pb").is_file()


def test_connection_reset_is_retried_then_fails_clearly(hub, archive_of, hub_cache):
    name = "google/reset/1"
    handle = hub.add(name, archive_of("simple"))
    hub.fault(name, Fault(reset=True, times=None))
    before = len(hub.requests)
    with pytest.raises(ResolveError, match="connection reset") as info:
        resolve(handle, cache_dir=hub_cache, **FAST)
    assert len(hub.requests) - before == 3 and "after 3 attempts" in info.value.message
    assert_clean_then_good(hub, name, handle, hub_cache)


def test_stalled_server_times_out_instead_of_hanging(hub, archive_of, hub_cache, cli):
    """The server accepts and then says nothing: --timeout bounds each attempt (CLI, 1 s)."""
    name = "google/stall/1"
    handle = hub.add(name, archive_of("simple"))
    hub.fault(name, Fault(stall=30, times=None))
    t0 = time.perf_counter()
    res = cli("inspect", handle, "--cache-dir", hub_cache, "--timeout", "1", "--no-probe")
    elapsed = time.perf_counter() - t0
    assert_one_line_error(res, ResolveError.exit_code, "timed out", "after 4 attempts", "--timeout")
    assert elapsed < 15, f"took {elapsed:.1f} s"  # 4 x 1 s timeouts + 0.5+1+2 s backoff, not 4 x 30 s
    assert_clean_then_good(hub, name, handle, hub_cache)


def test_stall_mid_transfer_times_out(hub, archive_of, hub_cache):
    """Headers and part of the archive arrive, then nothing: the read times out; the half-unpacked temp
    folder is removed."""
    name = "google/stall-mid/1"
    archive = archive_of("simple")
    handle = hub.add(name, archive)
    hub.fault(name, Fault(stall=30, stall_after=archive.stat().st_size // 2, times=None))
    t0 = time.perf_counter()
    with pytest.raises(ResolveError, match="timed out"):
        resolve(handle, cache_dir=hub_cache, **FAST)
    assert time.perf_counter() - t0 < 10
    assert_clean_then_good(hub, name, handle, hub_cache)


def test_trickling_server_is_bounded_by_a_total_deadline(hub, archive_of, hub_cache, monkeypatch):
    """One byte every 0.05 s never trips the 1 s read timeout; HUB2LITE_MAX_DOWNLOAD_SECONDS bounds the whole
    download instead of letting it run for hours. Cache clean afterwards."""
    name = "google/trickle/1"
    handle = hub.add(name, archive_of("simple"))
    hub.fault(name, Fault(trickle=0.05, times=None))
    monkeypatch.setenv("HUB2LITE_MAX_DOWNLOAD_SECONDS", "1.5")
    t0 = time.perf_counter()
    with pytest.raises(ResolveError, match="took longer than 1.5 s in all") as info:
        resolve(handle, cache_dir=hub_cache, **FAST)
    assert "after 3 attempts" in str(info.value)
    assert time.perf_counter() - t0 < 12  # 3 attempts x 1.5 s + backoff, not len(archive) x 0.05 s
    assert_clean_then_good(hub, name, handle, hub_cache)


def test_archive_truncated_mid_transfer(hub, archive_of, hub_cache):
    name = "google/truncated/1"
    archive = archive_of("simple")
    handle = hub.add(name, archive)
    hub.fault(name, Fault(truncate=archive.stat().st_size // 2, times=None))
    with pytest.raises(ResolveError, match="cut short") as info:
        resolve(handle, cache_dir=hub_cache, **FAST)
    assert "after 3 attempts" in info.value.message
    assert_clean_then_good(hub, name, handle, hub_cache)


def test_hub_archive_without_model(hub, tmp_path, hub_cache, cli):
    from models_reliability import file_member, write_tar

    handle = hub.add("google/readme-only/1", write_tar(tmp_path / "r.tar.gz", [file_member("README.md", b"# hi")]))
    res = cli("inspect", handle, "--cache-dir", hub_cache, "--no-probe")
    assert_one_line_error(res, LoadError.exit_code, "holds no model", handle)


def test_timeout_must_be_positive(cli, hub_cache):
    res = cli("inspect", "https://tfhub.dev/google/x/1", "--cache-dir", hub_cache, "--timeout", "0")
    assert_one_line_error(res, ResolveError.exit_code, "timeout must be a positive")


def test_bench_of_a_stalled_hub_handle_times_out(hub, archive_of, hub_cache, cli):
    """`bench HANDLE` resolves in its measuring child: --timeout reaches it too."""
    name = "google/stall-bench/1"
    handle = hub.add(name, archive_of("simple"))
    hub.fault(name, Fault(stall=30, times=None))
    t0 = time.perf_counter()
    res = cli("bench", handle, "--cache-dir", hub_cache, "--timeout", "1", "--runs", "2")
    assert_one_line_error(res, ResolveError.exit_code, "timed out", "after 4 attempts")
    # not 4 x 30 s of stalls; the bound leaves room for the child's TensorFlow import on a loaded machine
    # (it took 42-47 s at load average 8 on 2 cores, on main as well: a 25 s bound was a timing flake)
    assert time.perf_counter() - t0 < 4 * 30
    assert_clean_then_good(hub, name, handle, hub_cache)
