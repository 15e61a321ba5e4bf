"""`hub2lite batch` on the command line: one-line errors before any work, exit 9 when a model failed, catalog
files, plain progress lines off a terminal, resume, and Ctrl-C keeping what finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from models_reliability import assert_one_line_error, env_without_tf_noise


def _manifest(tmp_path: Path, entries: list) -> Path:
    m = tmp_path / "models.json"
    m.write_text(json.dumps(entries))
    return m


@pytest.mark.parametrize("entries, needles", [
    ([{"source": "nowhere"}], ("entry 1 (nowhere)", "does not exist")),
    ([{"source": "."}, {"source": ".", "modes": "float32,int8"}], ("entry 2", "need calibration data")),
    ([{"source": ".", "input_shape": "x=1,a"}], ("entry 1", "input_shape")),
])
def test_bad_manifest_fails_before_any_work(cli, tmp_path, entries, needles):
    res = cli("batch", _manifest(tmp_path, entries), "-o", tmp_path / "out")
    assert_one_line_error(res, 2, *needles)
    assert not (tmp_path / "out").exists()


def test_bad_flags(cli, tmp_path, capsys):
    m = _manifest(tmp_path, [{"source": "."}])
    assert_one_line_error(cli("batch", m, "-o", tmp_path / "out", "--workers", "0"), 2, "--workers")
    res = cli("batch", m, "-o", tmp_path / "out", "--save-inputs", "x")  # one model's inputs: not a batch flag
    assert res.code == 2 and "unrecognized arguments: --save-inputs" in capsys.readouterr().err, res
    res = cli("batch", m, "-o", tmp_path / "out", "--int8-ranges", "best")  # convert's own flags, checked as it does
    assert res.code == 2 and "--int8-ranges: invalid choice: 'best'" in capsys.readouterr().err, res
    assert_one_line_error(cli("batch", m, "-o", tmp_path / "out", "--bias-correction"), 2, "entry 1",
                          "bias_correction need")
    assert_one_line_error(cli("batch", m, "-o", tmp_path / "out", "--modes", "float32,int3"), 2, "unknown mode 'int3'")
    assert not (tmp_path / "out").exists()


def test_batch_cli_writes_catalog_and_exits_9_when_a_model_failed(cli, model_path, tmp_path):
    m = _manifest(tmp_path, [{"source": str(model_path("simple")), "name": "simple"},
                             {"source": str(model_path("custom_op")), "name": "custom"}])
    out = tmp_path / "out"
    res = cli("batch", m, "-o", out, "--workers", "2", "--modes", "float32,float16", "--runs", "5", "--threads", "1")
    assert res.code == 9, res
    assert "2 models: 1 ok, 1 failed" in res.out and "| simple | float16 | builtins |" in res.out
    assert "| custom | float32 | failed | convert: ops ['Digamma']" in res.out
    lines = [ln for ln in res.err.splitlines() if ln.startswith("hub2lite: batch [")]
    assert any("simple: ok" in ln for ln in lines) and any("custom: FAILED at convert" in ln for ln in lines)
    catalog = json.loads((out / "catalog.json").read_text())
    assert catalog["summary"]["failed"] == 1 and catalog["config"]["defaults"]["modes"] == "float32,float16"
    md = (out / "catalog.md").read_text()
    assert "| simple | float32 | builtins |" in md and "Digamma" in md
    html = (out / "catalog.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "Digamma" in html
    assert "http://" not in html and "https://" not in html and "<script src" not in html  # self-contained
    assert (out / "models" / "simple" / "float16.tflite").exists()

    again = cli("batch", m, "-o", out, "--workers", "2", "--modes", "float32,float16", "--runs", "5", "--threads", "1")
    assert again.code == 9 and "0 of 2 models to run (2 finished before)" in again.err


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_keeps_what_finished(model_path, tmp_path, sig, code, word):
    """SIGINT (SIGTERM) while the second model converts: exit 130 (143), the first model's row and files stay, the
    second is 'skipped', no worker process is left behind."""
    from conftest import cached_build
    from models_reliability import BUILDERS

    slow = cached_build("deep_slow", BUILDERS["deep_slow"], Path(__file__).with_name("models_reliability.py"))
    m = _manifest(tmp_path, [{"source": str(model_path("simple")), "name": "first"},
                             {"source": str(slow), "name": "slow"}])
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "hub2lite", "batch", str(m), "-o", str(out), "--workers", "1",
                             "--no-bench"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env_without_tf_noise(), preexec_fn=_default_sigint)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = out / "state.json"
        if state.exists() and json.loads(state.read_text())["models"] and (out / ".work").exists() \
                and any((out / ".work").iterdir()):
            break
        time.sleep(0.2)
    time.sleep(1.0)
    workers = [int(p) for p in os.listdir("/proc") if p.isdigit() and _is_worker_of(int(p), out)]
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"batch {word}; the models that finished are kept" in err
    catalog = json.loads((out / "catalog.json").read_text())
    assert [(x["name"], x["status"]) for x in catalog["models"]] == [("first", "ok"), ("slow", "skipped")]
    assert catalog["interrupted"] is True
    assert (out / "models" / "first" / "float32.tflite").exists()
    time.sleep(0.5)
    assert workers and not [p for p in workers if os.path.exists(f"/proc/{p}") and _alive(p)]


def _default_sigint() -> None:
    """A shell starts background jobs with SIGINT ignored, and Python then keeps ignoring it: give the child the
    default disposition, as a terminal's foreground process has."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _is_worker_of(pid: int, out: Path) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"hub2lite.batch" in cmd and any(str(out).encode() in c for c in cmd)


def _alive(pid: int) -> bool:
    try:
        state = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ln.startswith("State:"))
    except (OSError, StopIteration):
        return False
    return "Z" not in state
