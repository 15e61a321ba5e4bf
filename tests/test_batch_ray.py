"""`run_batch --ray`: a real local Ray instance (2 CPUs). Same rows as the local pool; a Ray worker killed
mid-task is retried once by Ray, and a second loss is the model's failed row."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import ray  # the extra hub2lite[ray]; the test extra installs it

from hub2lite.batch import BatchConfig, run_batch

HOOKS = str(Path(__file__).with_name("models_batch.py"))


@pytest.fixture(scope="module")
def ray_local():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def _rows(catalog):
    return [(m["name"], m["status"], m["stage"], [(v["mode"], v["status"], v["size_bytes"], v["select_ops"],
                                                   v["validation"]["verdict"]) for v in m["variants"]])
            for m in catalog["models"]]


def test_ray_gives_the_same_rows_as_the_local_pool(ray_local, model_path, tmp_path):
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps([
        {"source": str(model_path("simple")), "name": "simple", "modes": ["float32", "float16"]},
        {"source": str(model_path("flex_ops")), "name": "flex"},
        {"source": str(model_path("custom_op")), "name": "custom"}]))
    local = run_batch(BatchConfig(str(manifest), str(tmp_path / "local"), workers=2, memory_per_model=3.0))
    on_ray = run_batch(BatchConfig(str(manifest), str(tmp_path / "ray"), ray="local", memory_per_model=3.0))
    assert _rows(on_ray.catalog) == _rows(local.catalog)
    assert [m["status"] for m in on_ray.catalog["models"]] == ["ok", "ok", "failed"]
    # the driver wrote the files the Ray workers sent back
    for v in on_ray.catalog["models"][0]["variants"]:
        assert (tmp_path / "ray" / "models" / "simple" / v["file"]).stat().st_size == v["size_bytes"]
        assert (tmp_path / "ray" / "models" / "simple" / v["report"]).exists()


def _killer(folder: Path, kills: int, release: bool, stop: threading.Event, killed: list[int]) -> None:
    """Kill each new Ray worker pid the hook reports, `kills` times; then create `finish` if `release`."""
    pids = folder / "pids"
    while not stop.is_set():
        seen = [int(p) for p in pids.read_text().split()] if pids.exists() else []
        for pid in seen:
            if pid not in killed and len(killed) < kills:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        if len(killed) == kills and release:
            (folder / "finish").touch()
        time.sleep(0.1)


@pytest.mark.parametrize("kills, status", [(1, "ok"), (2, "failed")])
def test_a_worker_killed_mid_task_is_retried_once(ray_local, tmp_path, kills, status):
    src = tmp_path / "src"
    src.mkdir()
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps([{"source": str(src), "name": "victim"}]))
    stop, killed = threading.Event(), []
    thread = threading.Thread(target=_killer, args=(src, kills, status == "ok", stop, killed), daemon=True)
    thread.start()
    try:
        result = run_batch(BatchConfig(str(manifest), str(tmp_path / "out"), ray="local", memory_per_model=1.0),
                           worker_runner=f"{HOOKS}:hook_ray_pid")
    finally:
        stop.set()
        thread.join()
    row = result.catalog["models"][0]
    assert len(killed) == kills
    pids = [int(p) for p in (src / "pids").read_text().split()]
    assert len(pids) == kills + (status == "ok")  # one attempt per kill, plus the one that finished
    assert row["status"] == status
    if status == "failed":
        assert row["stage"] == "worker" and "lost 2 times" in row["error"]
    assert (tmp_path / "out" / "state.json").exists()
