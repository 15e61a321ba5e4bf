"""Latency, start-up and memory of one model, measured in a fresh child process.

    benchmark_tflite(path, BenchConfig)   -> LatencyStats   (ai-edge-litert; the Flex runtime for Flex models)
    benchmark_source(source, BenchConfig) -> LatencyStats   (the original TF model, eager TensorFlow)

Every measurement runs in its own child process (`python -m hub2lite.benchmark SPEC.json`) so that

* the peak resident memory is the child's own, kept by the kernel: `VmHWM` of `/proc/self/status`, read
  by the child after its last inference, with the RSS just before the model was loaded (runtime imported)
  as the baseline, so `model_rss_bytes` is what loading and running the model added. (`ru_maxrss` of the
  child from `os.wait4`/RUSAGE_CHILDREN is not used on Linux: it also counts the parent's pages at fork
  time, measured here as 830 MB for a 9 MB child of an 800 MB parent; it is the fallback where /proc is
  missing);
* a .tflite run does not carry TensorFlow in its address space (only ai-edge-litert is imported); a model
  with Select TF (Flex) ops is timed inside the Flex runtime's worker (TensorFlow 2.18.1's interpreter, a
  process of its own), and that worker's memory is reported;
* init and first-inference times are cold, as an app would see them.

Timing: one timed first inference, `warmup` untimed runs, then `runs` timed runs of the runtime's call
with inputs prepared beforehand (a .tflite signature runner call; for TensorFlow the signature call plus
fetching every output to numpy, which forces the computation). Throughput is samples per second of the
timed runs (batch x runs / total time), single stream. With `rounds` > 1 the whole measurement is repeated
in that many fresh processes and the timed runs are pooled (`merge_rounds`), so a burst of load from other
processes on a shared machine lands in a fraction of the samples instead of all of them.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import errors as _errors
from .errors import ConfigError, Hub2LiteError, LoadError

__all__ = ["BenchConfig", "LatencyStats", "benchmark_tflite", "benchmark_source", "summarize_latencies",
           "merge_rounds", "default_threads", "time_calls", "BENCH_SCHEMA"]

log = logging.getLogger(__name__)

BENCH_SCHEMA = "hub2lite.bench/1"
_WORKER_TIMEOUT_S = 1800.0


def default_threads() -> int:
    """The thread count used when none is given: every CPU this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class BenchConfig:
    runs: int = 50
    warmup: int = 5
    threads: int | None = None  # None: default_threads(), the same for every runtime
    xnnpack: bool = True  # .tflite only: XNNPACK delegate (as on device); False = builtin kernels only
    seed: int = 0  # synthetic inputs when no feed is given
    rounds: int = 1  # fresh processes per model; their timed runs are pooled (robust to drift on a busy machine)
    timeout_s: float = _WORKER_TIMEOUT_S
    flex_runtime: bool = True  # Select-TF-ops models: time them in the Flex runtime (False: FlexRuntimeError, exit 10)

    def __post_init__(self) -> None:
        if self.runs < 1:
            raise ConfigError(f"--runs must be at least 1, not {self.runs}")
        if self.warmup < 0:
            raise ConfigError(f"--warmup must be 0 or more, not {self.warmup}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"--threads must be at least 1, not {self.threads}")
        if self.rounds < 1:
            raise ConfigError(f"--rounds must be at least 1, not {self.rounds}")

    @property
    def effective_threads(self) -> int:
        return self.threads or default_threads()

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "warmup": self.warmup, "threads": self.effective_threads,
                "xnnpack": self.xnnpack, "seed": self.seed, "rounds": self.rounds, "flex_runtime": self.flex_runtime}


@dataclass(frozen=True)
class LatencyStats:
    """One benchmark: latency per inference in milliseconds, start-up, throughput, size and memory."""

    target: str
    kind: str  # "tflite" | "tensorflow"
    runtime: str
    threads: int
    xnnpack: bool | None  # None for TensorFlow
    runs: int  # timed runs in total (every round)
    warmup: int
    batch: int
    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    std_ms: float
    max_ms: float
    first_inference_ms: float
    init_ms: float  # .tflite: interpreter creation + tensor allocation; TF: resolving + loading the SavedModel
    throughput_per_s: float  # samples per second over the timed runs
    size_bytes: int  # the .tflite file, or every file of the SavedModel folder
    peak_rss_bytes: int  # the benchmark process's peak resident memory (VmHWM)
    baseline_rss_bytes: int  # the child's resident memory with the runtime imported, before loading the model
    memory_method: str
    inputs: tuple[dict[str, Any], ...] = ()
    input_source: str = ""
    rounds: int = 1  # processes whose timed runs were pooled; init / first inference are their medians
    latencies_ms: tuple[float, ...] = field(default=(), repr=False)

    @property
    def model_rss_bytes(self) -> int:
        """Resident memory that loading and running the model added to the process."""
        return max(0, self.peak_rss_bytes - self.baseline_rss_bytes)

    def to_dict(self, *, with_samples: bool = False) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "latencies_ms"}
        d["schema"] = BENCH_SCHEMA
        d["inputs"] = [dict(i) for i in self.inputs]
        d["model_rss_bytes"] = self.model_rss_bytes
        for k in ("min_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "max_ms", "first_inference_ms",
                  "init_ms"):
            d[k] = round(d[k], 4)
        d["throughput_per_s"] = round(self.throughput_per_s, 2)
        if with_samples:
            d["latencies_ms"] = [round(x, 4) for x in self.latencies_ms]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LatencyStats:
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        kw["inputs"] = tuple(d.get("inputs") or ())
        kw["latencies_ms"] = tuple(d.get("latencies_ms") or ())
        return cls(**kw)


def merge_rounds(rounds: Sequence[LatencyStats]) -> LatencyStats:
    """Pool the timed runs of several rounds (fresh processes) of one model: latency statistics over every
    sample, median init and first-inference time, the highest peak memory (with that round's baseline)."""
    if not rounds:
        raise ValueError("no rounds to merge")
    if len(rounds) == 1:
        return rounds[0]
    samples = [x for r in rounds for x in r.latencies_ms]
    stats = summarize_latencies([x / 1e3 for x in samples], batch=rounds[0].batch)
    peak = max(rounds, key=lambda r: r.peak_rss_bytes)
    return replace(rounds[0], **stats, runs=len(samples), rounds=sum(r.rounds for r in rounds),
                   first_inference_ms=float(np.median([r.first_inference_ms for r in rounds])),
                   init_ms=float(np.median([r.init_ms for r in rounds])),
                   peak_rss_bytes=peak.peak_rss_bytes, baseline_rss_bytes=peak.baseline_rss_bytes,
                   latencies_ms=tuple(samples))


def summarize_latencies(latencies_s: Sequence[float], *, batch: int = 1) -> dict[str, float]:
    """min / p50 / p90 / p99 / mean / std (sample) / max in milliseconds, and samples per second."""
    ms = np.asarray(latencies_s, dtype=np.float64) * 1e3
    if ms.size == 0:
        raise ValueError("no latencies to summarize")
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    total_s = float(ms.sum()) / 1e3
    return {"min_ms": float(ms.min()), "p50_ms": float(p50), "p90_ms": float(p90), "p99_ms": float(p99),
            "mean_ms": float(ms.mean()), "std_ms": float(ms.std(ddof=1)) if ms.size > 1 else 0.0,
            "max_ms": float(ms.max()),
            "throughput_per_s": batch * ms.size / total_s if total_s > 0 else float("inf")}


# --------------------------------------------------------------------------------------------- parent side

def benchmark_tflite(model: str | os.PathLike[str], config: BenchConfig = BenchConfig(), *,
                     signature: str | None = None, feed: Mapping[str, np.ndarray] | None = None,
                     input_names: Mapping[str, str] | None = None) -> LatencyStats:
    """Benchmark a .tflite file. `feed` is keyed by the caller's input names; `input_names` maps the
    .tflite signature's input names to those (as `Conversion.input_names` does). Default: seeded
    synthetic inputs matching the model's input tensors."""
    path = Path(model)
    if not path.is_file():
        raise LoadError(f"TFLite model {str(path)!r} does not exist", hint="check the path")
    if path.read_bytes()[4:8] != b"TFL3":
        raise LoadError(f"{str(path)!r} is not a TFLite flatbuffer (no 'TFL3' identifier)",
                        hint="give a .tflite file, or a SavedModel folder / hub handle to benchmark the original")
    from .tflite_file import check_flatbuffer

    check_flatbuffer(path.read_bytes(), str(path))  # truncated/corrupt: a clear error, not a child traceback
    from .custom_ops import require_kernels

    require_kernels(path.read_bytes(), repr(str(path)))  # --allow-custom-ops models: one line, exit 11
    spec = {"kind": "tflite", "model": str(path.resolve()), "signature": signature,
            "input_names": dict(input_names) if input_names else None}
    if feed is None and input_names is None:
        feed = token_feed_for_tflite(path.read_bytes(), signature, config.seed)
        if feed is not None:
            spec["feed_source"] = f"synthetic token ids inside the model's tables (seed {config.seed})"
    return _run_worker(spec, config, feed)


def benchmark_source(source: str, config: BenchConfig = BenchConfig(), *, signature: str | None = None,
                     input_shapes: Mapping[str, Sequence[int]] | None = None, batch_size: int = 1,
                     feed: Mapping[str, np.ndarray] | None = None, cache_dir: str | None = None,
                     tags: Sequence[str] | None = None, timeout: float | None = None,
                     seq_len: int | None = None) -> LatencyStats:
    """Benchmark the original model (SavedModel folder, archive, model file or hub handle) in eager TensorFlow.
    Dynamic dims are fixed the way `convert` fixes them (batch `batch_size`, images 224x224, token sequences
    `seq_len` (default 128), `input_shapes`)."""
    if config.xnnpack is False:
        log.info("--no-xnnpack applies to .tflite models only; TensorFlow runs its own kernels")
    spec = {"kind": "tensorflow", "model": source, "signature": signature,
            "input_shapes": {k: list(v) for k, v in (input_shapes or {}).items()}, "batch_size": batch_size,
            "cache_dir": cache_dir, "tags": None if tags is None else list(tags), "timeout": timeout,
            "seq_len": seq_len}
    return _run_worker(spec, config, feed)


def _wait_with_rusage(proc: subprocess.Popen[bytes], timeout_s: float) -> Any:
    """Reap `proc` with os.wait4 and return its resource usage (ru_maxrss is that child's own peak)."""
    deadline = time.monotonic() + timeout_s
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return rusage
        if time.monotonic() > deadline:
            proc.kill()
            _, status, rusage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            raise Hub2LiteError(f"the benchmark did not finish within {timeout_s:.0f} s",
                                hint="lower --runs, or check the model runs at all with hub2lite validate")
        time.sleep(0.02)


def _run_worker(spec: dict[str, Any], config: BenchConfig, feed: Mapping[str, np.ndarray] | None) -> LatencyStats:
    return merge_rounds([_run_once(spec, config, feed) for _ in range(config.rounds)])


def _run_once(spec: dict[str, Any], config: BenchConfig, feed: Mapping[str, np.ndarray] | None) -> LatencyStats:
    with tempfile.TemporaryDirectory(prefix="hub2lite-bench-") as tmp:
        work = Path(tmp)
        if feed is not None:
            np.savez(work / "feed.npz", **{k: _storable(v) for k, v in feed.items()})
            spec = {**spec, "feed": str(work / "feed.npz")}
        spec = {**spec, "config": config.to_dict(), "result": str(work / "result.json")}
        (work / "spec.json").write_text(json.dumps(spec))
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        with open(work / "stdout", "wb") as out, open(work / "stderr", "wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "hub2lite.benchmark", str(work / "spec.json")],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=tmp)
            try:
                rusage = _wait_with_rusage(proc, config.timeout_s)
            except BaseException:
                if proc.returncode is None:
                    proc.kill()
                    os.wait4(proc.pid, 0)
                    proc.returncode = -9
                raise
        result_file = work / "result.json"
        if not result_file.exists():
            tail = (work / "stderr").read_text(errors="replace").strip().splitlines()[-5:]
            raise Hub2LiteError(f"the benchmark process exited with code {proc.returncode} without a result: "
                                + " | ".join(tail), hint="rerun with --debug; check the model loads with inspect")
        result = json.loads(result_file.read_text())
    if "error" in result:
        cls = getattr(_errors, result["error"]["type"], Hub2LiteError)
        if not (isinstance(cls, type) and issubclass(cls, Hub2LiteError)):
            cls = Hub2LiteError
        raise cls(result["error"]["message"], hint=result["error"].get("hint"))
    hwm = int(result.pop("vm_hwm_bytes", 0) or 0)
    if hwm:
        result["peak_rss_bytes"] = hwm
    else:  # no /proc: the OS's own account of the child, an upper bound (see the module docstring)
        result["peak_rss_bytes"] = int(rusage.ru_maxrss) * (1 if sys.platform == "darwin" else 1024)
        result["memory_method"] = "ru_maxrss of the benchmark process (os.wait4); may include the parent's pages"
    return LatencyStats.from_dict(result)


# ---------------------------------------------------------------------------------------------- child side

def _proc_status_bytes(field: str) -> int | None:
    """A memory line of /proc/self/status (e.g. VmRSS, VmHWM) in bytes; None where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _rss_bytes() -> int:
    """Current resident memory of this process (falls back to its peak where /proc is missing)."""
    rss = _proc_status_bytes("VmRSS")
    if rss is not None:
        return rss
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _vm_hwm_bytes() -> int:
    return _proc_status_bytes("VmHWM") or 0


def time_calls(fn: Callable[[], Any], warmup: int, runs: int) -> tuple[float, list[float]]:
    """The timing of every measurement (module docstring): seconds of the first call, then of each of `runs`
    timed calls after `warmup` untimed ones."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    for _ in range(warmup):
        fn()
    lat = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - t0)
    return first, lat


def _storable(value: Any) -> np.ndarray:
    """A feed array np.load reads without pickle: text (object arrays of str/bytes) as fixed-width bytes."""
    arr = np.asarray(value)
    if arr.dtype == object:
        return np.asarray([v.encode() if isinstance(v, str) else bytes(v) for v in arr.ravel()]).reshape(arr.shape)
    return arr


def _load_feed(spec: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
    if not spec.get("feed"):
        return None
    with np.load(spec["feed"], allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _bench_tflite_child(spec: Mapping[str, Any], cfg: Mapping[str, Any]) -> dict[str, Any]:
    from .feeds import synthetic_feeds
    from .runners import lite_inputs, make_interpreter, signature_runner
    from .specs import TensorSpec
    from .tflite_file import flex_ops

    path = spec["model"]
    data = Path(path).read_bytes()
    threads = int(cfg["threads"])
    if flex_ops(data):
        return _bench_flex_child(spec, cfg, data)
    import ai_edge_litert.interpreter  # noqa: F401 - imported before the baseline: only the model's memory is "added"

    baseline = _rss_bytes()
    t0 = time.perf_counter()
    interpreter, runtime = make_interpreter(path, threads=threads, xnnpack=bool(cfg["xnnpack"]))
    _, runner = signature_runner(interpreter, spec.get("signature"))  # allocates tensors
    init = time.perf_counter() - t0
    details = runner.get_input_details()
    names = spec.get("input_names") or {n: n for n in details}
    tspecs = []
    for tname, d in details.items():
        shape = tuple(int(x) for x in d["shape"])
        tspecs.append(TensorSpec(names.get(tname, tname), "string" if d["dtype"] is np.object_ else np.dtype(d["dtype"]).name,
                                 shape))
    given = _load_feed(spec)
    source = spec.get("feed_source", "given sample") if given is not None else f"synthetic (seed {cfg['seed']})"
    feed = given if given is not None else synthetic_feeds(tspecs, 1, seed=int(cfg["seed"]))[0]
    kwargs = lite_inputs(details, names, feed)  # prepared once, outside the timed calls
    first, lat = time_calls(lambda: runner(**kwargs), int(cfg["warmup"]), int(cfg["runs"]))
    batch = int(next(iter(kwargs.values())).shape[0]) if kwargs and np.ndim(next(iter(kwargs.values()))) else 1
    return {"target": path, "kind": "tflite", "runtime": runtime, "threads": threads,
            "xnnpack": bool(cfg["xnnpack"]), "batch": batch, "init_s": init, "first_s": first,
            "latencies_s": lat, "size_bytes": len(data), "baseline_rss_bytes": baseline,
            "inputs": [t.to_dict() for t in tspecs], "input_source": source}


def _bench_flex_child(spec: Mapping[str, Any], cfg: Mapping[str, Any], data: bytes) -> dict[str, Any]:
    """A Select-TF-ops model: timed inside the Flex runtime's worker (TensorFlow 2.18.1), whose own memory is
    reported (baseline = the worker with TensorFlow imported). init = starting the worker and loading the model."""
    from .feeds import synthetic_feeds
    from .flexruntime import FlexRunner
    from .specs import TensorSpec

    t0 = time.perf_counter()
    runner = FlexRunner(data, signature_key=spec.get("signature"), threads=int(cfg["threads"]),
                        input_names=spec.get("input_names"), allow_runtime=bool(cfg.get("flex_runtime", True)))
    with runner:
        init = time.perf_counter() - t0
        tspecs = tuple(TensorSpec(runner.input_names.get(t, t), "string" if d["dtype"] == "object" else d["dtype"],
                                  tuple(int(x) for x in d["shape"])) for t, d in runner.input_details().items())
        given = _load_feed(spec)
        source = "given sample" if given is not None else f"synthetic (seed {cfg['seed']})"
        feed = given if given is not None else synthetic_feeds(tspecs, 1, seed=int(cfg["seed"]))[0]
        stats = runner.bench(feed, runs=int(cfg["runs"]), warmup=int(cfg["warmup"]))
        batch = next((int(d["shape"][0]) for d in runner.input_details().values() if d["shape"]), 1)
        return {"target": spec["model"], "kind": "tflite", "runtime": runner.runtime, "threads": int(cfg["threads"]),
                "xnnpack": False, "batch": batch, "init_s": init, "first_s": stats["first_s"],
                "latencies_s": stats["times_s"], "size_bytes": len(data),
                "baseline_rss_bytes": runner.baseline_rss_bytes, "inputs": [t.to_dict() for t in tspecs],
                "input_source": source, "vm_hwm_bytes": stats["peak_rss_bytes"],
                "memory_method": "peak RSS (VmHWM) of the Flex runtime's worker process (TensorFlow "
                                 f"{runner.tensorflow_version}); baseline = its RSS with TensorFlow imported"}


def token_feed_for_tflite(model: bytes, signature: str | None, seed: int) -> dict[str, np.ndarray] | None:
    """A seeded synthetic feed for a .tflite text encoder alone (no original to plan from): token ids inside the
    tables its GATHERs index, masks and type ids as `token_feeds` draws them; None for any other model. Runs in
    the parent, so the benchmark child imports no TensorFlow for it."""
    from .feeds import synthetic_feeds
    from .runners import LiteRunner
    from .token_feeds import draw_token_feeds, plan_token_draws
    from .token_inputs import analyze_tflite

    from .tflite_file import flex_ops

    if flex_ops(model):  # the Flex runtime's worker draws its own inputs
        return None
    runner = LiteRunner(model, signature_key=signature)
    specs = runner.input_specs()
    if not any(s.dtype.startswith(("int", "uint")) for s in specs):
        return None
    tokens = analyze_tflite(model, runner.signature_key)
    if not tokens.is_text_encoder:
        return None
    feed = synthetic_feeds(specs, 1, seed=seed)[0]
    feed.update(draw_token_feeds(specs, plan_token_draws(specs, tokens), 1, seed)[0])
    return feed


def _folder_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _bench_tf_child(spec: Mapping[str, Any], cfg: Mapping[str, Any]) -> dict[str, Any]:
    import tensorflow as tf

    from .convert import ConvertConfig
    from .prepare import PrepareOptions, prepare, synthetic_inputs

    threads = int(cfg["threads"])
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    baseline = _rss_bytes()
    t0 = time.perf_counter()
    shapes = {k: tuple(v) for k, v in (spec.get("input_shapes") or {}).items()}
    prepared = prepare(spec["model"], PrepareOptions(
        convert=ConvertConfig(signature=spec.get("signature"), input_shapes=shapes,
                              batch_size=int(spec.get("batch_size") or 1), seq_len=spec.get("seq_len")),
        needs_scaling=False, cache_dir=spec.get("cache_dir"), timeout=spec.get("timeout"),
        tags=None if spec.get("tags") is None else tuple(spec["tags"])))
    resolved, entry, specs = prepared.resolved, prepared.entry, prepared.specs
    init = time.perf_counter() - t0
    given = _load_feed(spec)
    source = "given sample" if given is not None else f"synthetic (seed {cfg['seed']})"
    feed = given if given is not None else synthetic_inputs(specs, 1, int(cfg["seed"]), text=prepared.text)[0]
    tensors = {}
    for s in entry.info.inputs:
        if s.name not in feed:
            raise ConfigError(f"the benchmark input has no {s.name!r}", hint=f"give every input: {[x.name for x in specs]}")
        tensors[s.name] = tf.constant(feed[s.name], dtype=tf.as_dtype(s.dtype))

    def call() -> None:
        for v in entry(tensors).values():
            v.numpy()

    first, lat = time_calls(call, int(cfg["warmup"]), int(cfg["runs"]))
    batch = int(next(iter(tensors.values())).shape[0]) if tensors and next(iter(tensors.values())).shape.rank else 1
    return {"target": spec["model"], "kind": "tensorflow", "runtime": f"tensorflow {tf.__version__} (eager)",
            "threads": threads, "xnnpack": None, "batch": batch, "init_s": init, "first_s": first,
            "latencies_s": lat, "size_bytes": _folder_size(Path(resolved.path)), "baseline_rss_bytes": baseline,
            "inputs": [s.to_dict() for s in specs], "input_source": source}


def _child_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    cfg = spec["config"]
    out = Path(spec["result"])
    try:
        raw = (_bench_tflite_child if spec["kind"] == "tflite" else _bench_tf_child)(spec, cfg)
    except Hub2LiteError as exc:
        out.write_text(json.dumps({"error": {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint}}))
        return 0
    stats = summarize_latencies(raw["latencies_s"], batch=raw["batch"])
    result = {k: raw[k] for k in ("target", "kind", "runtime", "threads", "xnnpack", "batch", "size_bytes",
                                  "baseline_rss_bytes", "inputs", "input_source")}
    result.update(stats)
    result.update({"runs": int(cfg["runs"]), "warmup": int(cfg["warmup"]),
                   "first_inference_ms": raw["first_s"] * 1e3, "init_ms": raw["init_s"] * 1e3,
                   "latencies_ms": [x * 1e3 for x in raw["latencies_s"]],
                   "vm_hwm_bytes": raw.get("vm_hwm_bytes") or _vm_hwm_bytes(), "peak_rss_bytes": 0,
                   "memory_method": raw.get("memory_method") or "peak RSS (VmHWM) of a dedicated benchmark process; "
                                    "baseline = its RSS with the runtime imported, before loading the model"})
    out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":  # the benchmark child: python -m hub2lite.benchmark SPEC.json
    sys.exit(_child_main(sys.argv[1]))
