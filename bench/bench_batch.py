"""`hub2lite batch`, measured in one run on small models (tests' own builders, cached):

1. throughput of conversion + validation (benchmarking off: two timed runs on 2 cores would disturb each other):
   `--workers 2` vs `--workers 1` over the same catalog, every model rerun (--force); goal >= 1.6x.
2. per-model overhead of batch vs `hub2lite convert` run directly on the same models one after the other
   (a fresh process each, as a user would); both sequential; goal <= 10%.
3. `--ray local` vs the local pool: the same rows (status, stage, per mode: status, size, Select TF ops,
   validation verdict).

Runs alternate (A B, then B A with --rounds 2) so that load from other processes hits both sides alike.

    python bench/bench_batch.py [--rounds 1] [--no-ray]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _batch_models import model  # noqa: E402

#: Eight small models of different kinds: builtins, Select TF ops, a float-only op, TF1 Hub, Keras 3, no signature.
MODELS = [("simple", {}), ("no_signature", {}), ("dynamic_image", {}), ("flex_ops", {}), ("float_only_op", {}),
          ("fam:image_feature_vector", {"input_shape": {"images": [1, 96, 96, 3]}}), ("fam:tf1_hub", {}),
          ("fam:keras3_keras", {})]


def _manifest(folder: Path) -> Path:
    entries = [{"source": str(model(name)), "name": name.replace("fam:", ""), **opts} for name, opts in MODELS]
    path = folder / "manifest.json"
    path.write_text(json.dumps(entries, indent=1))
    return path


def _hub2lite(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub2lite", *args], capture_output=True, text=True)


def _batch(manifest: Path, out: Path, *extra: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = _hub2lite("batch", str(manifest), "-o", str(out), "--no-bench", "--force", "--json", *extra)
    seconds = time.perf_counter() - t0
    if proc.returncode not in (0, 9):
        raise SystemExit(f"batch failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return seconds, json.loads((out / "catalog.json").read_text())


def _direct(folder: Path) -> float:
    """`hub2lite convert` on every model, one after the other, as a user would."""
    t0 = time.perf_counter()
    for name, opts in MODELS:
        args = ["convert", str(model(name)), "-o", str(folder / f"{name.replace('fam:', '')}.tflite"), "--force"]
        for k, v in opts.get("input_shape", {}).items():
            args += ["--input-shape", f"{k}={','.join(map(str, v))}"]
        proc = _hub2lite(*args)
        if proc.returncode != 0:
            raise SystemExit(f"convert {name} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def rows(catalog: dict) -> list:
    return [(m["name"], m["status"], m["stage"],
             [(v["mode"], v["status"], v["size_bytes"], sorted(v["select_ops"]), v["validation"]["verdict"])
              for v in m["variants"]]) for m in catalog["models"]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args(argv)
    print("building / finding the models ...", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        manifest = _manifest(work)
        times: dict[str, list[float]] = {"workers 1": [], "workers 2": [], "direct": []}
        catalogs = {}
        for r in range(args.rounds):
            order = ["workers 1", "workers 2", "direct"]
            for what in (order if r % 2 == 0 else order[::-1]):
                if what == "direct":
                    seconds = _direct(work)
                else:
                    seconds, catalogs[what] = _batch(manifest, work / what.replace(" ", ""), "--workers", what[-1])
                times[what].append(seconds)
                print(f"round {r + 1}: {what}: {seconds:.1f} s", flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        n = len(MODELS)
        print(f"\n{n} models, float32, validation on, benchmarks off; machine: {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}")
        print("| run | seconds per round | median | per model |\n|---|---|---|---|")
        for k, v in times.items():
            print(f"| {k} | {', '.join(f'{s:.1f}' for s in v)} | {med[k]:.1f} s | {med[k] / n:.1f} s |")
        print(f"\n1. throughput workers 2 / workers 1: {med['workers 1'] / med['workers 2']:.2f}x (goal >= 1.6x)")
        print(f"2. per-model overhead of batch (workers 1) vs hub2lite convert: "
              f"{(med['workers 1'] / med['direct'] - 1) * 100:+.1f}% (goal <= 10%)")
        same_local = rows(catalogs["workers 1"]) == rows(catalogs["workers 2"])
        print(f"   rows of workers 1 and workers 2 equal: {same_local}")
        if not args.no_ray:
            seconds, on_ray = _batch(manifest, work / "ray", "--ray", "local", "--workers", "2")
            same = rows(on_ray) == rows(catalogs["workers 2"])
            print(f"3. --ray local ({seconds:.1f} s, Ray start-up included) gives the same rows as the local pool: "
                  f"{same}")
            if not same:
                print(json.dumps({"ray": rows(on_ray), "local": rows(catalogs["workers 2"])}, indent=1))
                return 1
        for m in catalogs["workers 2"]["models"]:
            v = m["variants"][0] if m["variants"] else {}
            print(f"   {m['name']}: {m['status']} {v.get('status', '')} {v.get('size_bytes', '')} B "
                  f"{v.get('validation', {}).get('verdict', '')}")
        return 0 if same_local else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
