"""`hub2lite bench` and hub2lite.benchmark on real models: LiteRT (XNNPACK or not), Flex, eager TensorFlow.

Memory is measured in a dedicated child process; the tests show the number follows the model (a 16 MiB
weight matrix adds >= 16 MiB; TensorFlow's runtime dwarfs LiteRT's), not a constant.
"""

from __future__ import annotations

from importlib.metadata import version
import json
from pathlib import Path

import numpy as np
import pytest

from hub2lite import errors
from hub2lite.benchmark import BenchConfig, LatencyStats, benchmark_tflite, summarize_latencies
from models_bench import BIG_DENSE_BYTES, bench_model
from models_reliability import assert_one_line_error

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def digits_tflite(digits_model, tmp_path_factory) -> Path:
    from hub2lite.pipeline import ConvertJob, run_convert

    out = tmp_path_factory.mktemp("bench") / "digits.tflite"
    run_convert(ConvertJob(str(digits_model), str(out)))
    return out


def test_summarize_latencies_percentiles_and_throughput():
    lat = [0.001 * (i + 1) for i in range(100)]  # 1..100 ms
    s = summarize_latencies(lat)
    assert s["min_ms"] == pytest.approx(1.0) and s["max_ms"] == pytest.approx(100.0)
    assert s["p50_ms"] == pytest.approx(50.5) and s["p90_ms"] == pytest.approx(90.1)
    assert s["p99_ms"] == pytest.approx(99.01) and s["mean_ms"] == pytest.approx(50.5)
    assert s["std_ms"] == pytest.approx(float(np.std(np.arange(1, 101), ddof=1)))
    assert s["throughput_per_s"] == pytest.approx(100 / 5.05)  # 100 samples in 5.05 s
    assert summarize_latencies([0.002], batch=4)["throughput_per_s"] == pytest.approx(2000)


def test_bench_tflite_cli_reports_every_statistic(cli, digits_tflite):
    r = cli("bench", digits_tflite, "--runs", "25", "--warmup", "2", "--threads", "1", "--json")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["schema"] == "hub2lite.bench/1" and d["kind"] == "tflite"
    assert d["runtime"] == "ai_edge_litert (XNNPACK)" and d["threads"] == 1 and d["xnnpack"] is True
    samples = d["latencies_ms"]
    assert d["runs"] == 25 and len(samples) == 25 and d["warmup"] == 2
    assert d["min_ms"] <= d["p50_ms"] <= d["p90_ms"] <= d["p99_ms"] <= d["max_ms"]
    assert d["p50_ms"] == pytest.approx(np.percentile(samples, 50), rel=1e-3, abs=1e-4)
    assert d["min_ms"] > 0 and d["first_inference_ms"] > 0 and d["init_ms"] > 0
    assert d["throughput_per_s"] == pytest.approx(1000 / np.mean(samples), rel=0.01)
    assert d["size_bytes"] == digits_tflite.stat().st_size
    assert d["inputs"] == [{"name": "image", "dtype": "float32", "shape": [1, 8, 8, 1]}]
    assert 10 * MiB < d["baseline_rss_bytes"] < d["peak_rss_bytes"] < 400 * MiB
    assert d["model_rss_bytes"] == d["peak_rss_bytes"] - d["baseline_rss_bytes"]

    text = cli("bench", digits_tflite, "--runs", "5", "--no-xnnpack", "--rounds", "2")
    assert text.code == 0, text
    assert "ai_edge_litert (no delegates)" in text.out and "p50" in text.out and "peak RSS" in text.out
    assert "latency over 10 runs" in text.out and "pooled from 2 processes" in text.out


def test_peak_memory_follows_the_model(digits_tflite, tmp_path):
    """Measured, not guessed: 16 MiB of weights show up as >= 16 MiB of added resident memory."""
    from hub2lite.pipeline import ConvertJob, run_convert

    big = tmp_path / "big.tflite"
    run_convert(ConvertJob(str(bench_model("big_dense")), str(big)))
    cfg = BenchConfig(runs=5, warmup=1, threads=1)
    small_stats = benchmark_tflite(digits_tflite, cfg)
    big_stats = benchmark_tflite(big, cfg, feed={"x": np.ones((1, 2048), np.float32)})
    assert big_stats.size_bytes > BIG_DENSE_BYTES
    assert big_stats.model_rss_bytes >= BIG_DENSE_BYTES, big_stats
    assert small_stats.model_rss_bytes < BIG_DENSE_BYTES / 2, small_stats
    assert big_stats.input_source == "given sample"
    round_trip = LatencyStats.from_dict(big_stats.to_dict(with_samples=True))
    assert round_trip.p50_ms == pytest.approx(big_stats.p50_ms, abs=1e-4) and len(round_trip.latencies_ms) == 5


def test_bench_original_savedmodel_in_tensorflow(cli, digits_model, digits_tflite):
    r = cli("bench", digits_model, "--runs", "10", "--warmup", "1", "--threads", "1", "--json")
    assert r.code == 0, r
    tf_stats = json.loads(r.out)
    assert tf_stats["kind"] == "tensorflow" and tf_stats["runtime"].startswith(f"tensorflow {version('tensorflow')}")
    assert tf_stats["xnnpack"] is None and tf_stats["runs"] == 10 and tf_stats["p50_ms"] > 0
    assert tf_stats["size_bytes"] == sum(p.stat().st_size for p in Path(digits_model).rglob("*") if p.is_file())
    assert tf_stats["inputs"] == [{"name": "image", "dtype": "float32", "shape": [1, 8, 8, 1]}]
    lite = benchmark_tflite(digits_tflite, BenchConfig(runs=5, warmup=1, threads=1))
    # TensorFlow's runtime is measured in the hundreds of MiB, LiteRT's in tens
    assert tf_stats["baseline_rss_bytes"] > 3 * lite.baseline_rss_bytes
    assert tf_stats["peak_rss_bytes"] > lite.peak_rss_bytes + 100 * MiB


@pytest.mark.slow
def test_bench_flex_model_runs_in_the_flex_runtime(cli, model_path, tmp_path):
    """Select-TF-ops models are timed inside the Flex runtime's worker (TensorFlow 2.18.1), whose memory is
    reported; --no-flex-runtime refuses them with exit 10."""
    from hub2lite.pipeline import ConvertJob, run_convert

    out = tmp_path / "flex.tflite"
    run_convert(ConvertJob(str(model_path("flex_ops")), str(out)))
    r = cli("bench", out, "--runs", "5", "--warmup", "1", "--json")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["runtime"] == "flex-runtime: tf.lite.Interpreter (TensorFlow 2.18.1, with Flex delegate)"
    assert d["xnnpack"] is False and d["runs"] == 5 and d["p50_ms"] > 0
    assert "Flex runtime's worker" in d["memory_method"] and d["peak_rss_bytes"] > d["baseline_rss_bytes"] > 0
    r = cli("bench", out, "--runs", "5", "--no-flex-runtime")
    assert_one_line_error(r, errors.EXIT_FLEX_UNAVAILABLE, "Flex runtime is disabled", "setup-flex")


def test_bench_errors_are_one_line_with_exit_codes(cli, digits_tflite, tmp_path):
    missing = cli("bench", tmp_path / "nope.tflite")
    assert missing.code == errors.LoadError.exit_code and "does not exist" in missing.err
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer at all")
    r = cli("bench", junk)
    assert r.code == errors.LoadError.exit_code and "not a TFLite flatbuffer" in r.err
    r = cli("bench", digits_tflite, "--runs", "0")
    assert r.code == errors.ConfigError.exit_code and "--runs" in r.err
    # raised in the measuring child process, re-raised in the parent with its class, message and hint
    r = cli("bench", digits_tflite, "--signature", "nope", "--runs", "2")
    assert r.code == errors.ConfigError.exit_code, r
    assert "no signature 'nope'" in r.err and r.err.count("\n") == 1 and "Traceback" not in r.err


def test_bench_kernels_script_times_every_model_per_thread_count_and_kernel_family(digits_tflite):
    """bench/bench_kernels.py (the int8-vs-float32 kernel speed of the machine, docs/quantization.md) runs the
    real interpreter: one row per threads x kernels, each model's p50 as a ratio to the first's."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "bench" / "bench_kernels.py"
    proc = subprocess.run([sys.executable, str(script), str(digits_tflite), str(digits_tflite), "--rounds", "1",
                           "--runs", "3", "--warmup", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| 1 |") or line.startswith("| 2 |")]
    assert [r.split("|")[1:3] for r in rows] == [[" 1 ", " XNNPACK "], [" 1 ", " builtin "], [" 2 ", " XNNPACK "],
                                                  [" 2 ", " builtin "]]
    for row in rows:
        first, second = row.split("|")[3:5]
        assert first.strip().endswith("(1.00x)") and " ms (" in second
    assert proc.stdout.startswith("CPU: ")
