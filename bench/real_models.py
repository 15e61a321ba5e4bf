"""Real pretrained models, every quantization variant side by side in one run (`make bench-real`).

Per corpus model (bench/corpus.py): float32, float16 (+ hub2lite's float16 guard), dynamic range, the bare
converter's int8, the debugger's denylist heuristic (TFLite's tutorial: float for layers with rmse/scale > 0.7;
and the K worst layers, K = the number of ops hub2lite's search floats, i.e. equal size), and hub2lite's int8
techniques (range method x bias correction, each alone) and `accurate_int8` (the techniques, then the sensitivity
search) = what `optimize` picks. Columns: size, p50 latency relative to float32 (ai-edge-litert, XNNPACK,
2 threads, all variants interleaved round by round), and the kind's metric on the *evaluation* split (photos /
voices / text disjoint from calibration; the search ranks on a separate calibration-side subset).

    python bench/real_models.py [--models nudity,musicnn,...] [--eval N] [--json out.json] [--markdown out.md]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402

TARGET = {"classifier": 0.99, "char": 0.99, "tagger": 0.99, "dense": 0.999}
SIZES = {"hed": (24, 12, 32)}  # calibration, ranking, evaluation samples for the VGG-sized model


def _converter(m: corpus.CorpusModel) -> tuple[Any, Any]:
    from hub2lite.load import load
    from hub2lite.resolve import resolve
    from hub2lite.convert import ConvertConfig, build_function, make_converter, plan_input_specs
    from hub2lite.load import LoadOptions

    loaded = load(resolve(str(m.source())),
                  options=LoadOptions(input_names=m.input_names, output_names=m.output_names))
    entry = loaded.choose(None)
    specs, _ = plan_input_specs(entry.info, ConvertConfig())
    concrete, _ = build_function(entry, specs)
    return (lambda: make_converter(concrete)), loaded


def _run(model: bytes, xs: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model, num_threads=2)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    out = []
    for x in xs:
        it.set_tensor(i["index"], np.asarray(x[None], i["dtype"]))
        it.invoke()
        out.append(it.get_tensor(o["index"])[0].copy())
    return np.asarray(out, np.float32)


def _latencies(models: dict[str, bytes], x: np.ndarray, rounds: int, runs: int) -> dict[str, float]:
    """p50 ms per model, the models interleaved round by round so load drifts hit all alike."""
    from ai_edge_litert.interpreter import Interpreter

    interps = {}
    for name, model in models.items():
        it = Interpreter(model_content=model, num_threads=2)
        it.allocate_tensors()
        d = it.get_input_details()[0]
        it.set_tensor(d["index"], np.asarray(x[None], d["dtype"]))
        for _ in range(3):
            it.invoke()
        interps[name] = it
    times: dict[str, list[float]] = {n: [] for n in models}
    for _ in range(rounds):
        for name, it in interps.items():
            for _ in range(runs):
                t = time.perf_counter()
                it.invoke()
                times[name].append(time.perf_counter() - t)
    return {n: float(np.median(v)) * 1e3 for n, v in times.items()}


def _debugger_denylist(make: Any, cal: np.ndarray, rank: np.ndarray, k: int | None) -> tuple[bytes, int]:
    """TFLite's QuantizationDebugger tutorial: float for the layers with rmse/scale > 0.7 (k None), or the k worst."""
    import tensorflow as tf

    conv = make()
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[None]] for x in cal)
    dbg = tf.lite.experimental.QuantizationDebugger(converter=conv, debug_dataset=lambda: ([x[None]] for x in rank))
    dbg.run()
    buf = io.StringIO()
    dbg.layer_statistics_dump(buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    scored = []
    for r in rows:
        try:
            rs = float(np.sqrt(float(r["mean_squared_error"]))) / float(r["scale"])
        except (ValueError, ZeroDivisionError):
            continue
        scored.append((rs, r["tensor_name"]))
    scored.sort(reverse=True)
    names = [n for s, n in scored if s > 0.7] if k is None else [n for _, n in scored[:k]]
    if not names:
        return bytes(dbg.get_nondebug_quantized_model()), 0
    dbg2 = tf.lite.experimental.QuantizationDebugger(
        converter=conv, debug_dataset=lambda: ([x[None]] for x in rank),
        debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=names))
    return bytes(dbg2.get_nondebug_quantized_model()), len(names)


def bench_model(name: str, *, n_eval: int, rounds: int, runs: int, log: Any) -> dict[str, Any]:
    import tensorflow as tf

    from hub2lite.quantize import flatgraph as fg
    from hub2lite.quantize.fp16 import guard_float16
    from hub2lite.quantize.search import accurate_int8, prepare_variants, score_outputs

    m = corpus.MODELS[name]
    n_cal, n_rank, n_ev = SIZES.get(name, (100, 64, n_eval))
    t0 = time.time()
    make, _loaded = _converter(m)
    cal = m.inputs("calibration", n_cal + n_rank)
    cal, rank = cal[:n_cal], cal[n_cal:]
    ev = m.inputs("evaluation", n_ev)
    models: dict[str, bytes] = {}
    notes: dict[str, str] = {}
    models["float32"] = bytes(make().convert())
    c = make()
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.target_spec.supported_types = [tf.float16]
    f16 = bytes(c.convert())
    guard = guard_float16(models["float32"], f16)
    models["float16"] = guard.model
    notes["float16"] = f"guard kept {len(guard.kept_float32)} constant(s) float32"
    c = make()
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    models["dynamic"] = bytes(c.convert())
    c = make()
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = lambda: ([x[None]] for x in cal)
    try:
        models["int8 bare converter"] = bytes(c.convert())
    except Exception as exc:  # noqa: BLE001 - reported in the table
        notes["int8 bare converter"] = f"failed: {str(exc).splitlines()[0][:120]}"
    ref_rank = _run(models["float32"], rank)
    ref_ev = _run(models["float32"], ev)

    def evaluate(model: bytes) -> Any:
        return score_outputs(m.kind, ref_rank, _run(model, rank))

    log(f"[{name}] converted baselines in {time.time() - t0:.0f}s")
    calibrated = fg.calibrate(make(), lambda: ([x[None]] for x in cal))
    acts = fg.collect_activations(calibrated, ([x[None]] for x in cal))
    for vname, (_meth, _b, prepared) in prepare_variants(calibrated, acts, ranges=("minmax", "percentile", "mse"),
                                                         bias=(False, True)).items():
        models[f"int8 hub2lite {vname}"] = fg.finish(prepared)
    log(f"[{name}] techniques built in {time.time() - t0:.0f}s")
    choice = accurate_int8(calibrated, acts, evaluate, target=TARGET[m.kind], max_float=8,
                           max_size=len(models["float32"]) * 35 // 100, progress=lambda s: log(f"[{name}] {s}"))
    models["int8 hub2lite best (search)"] = choice.model
    k = max(1, len(choice.float_nodes))
    for label, kk in (("int8 debugger denylist rmse/scale>0.7", None), (f"int8 debugger denylist {k} worst", k)):
        try:
            model, count = _debugger_denylist(make, cal, rank, kk)
            models[label] = model
            notes[label] = f"{count} layer(s) float"
        except Exception as exc:  # noqa: BLE001 - reported in the table
            notes[label] = f"failed: {str(exc).splitlines()[0][:120]}"
    # optimize's rule: the smallest variant meeting the target on the ranking subset, float16 as the fallback
    winner = "int8 hub2lite best (search)" if choice.score.quality >= TARGET[m.kind] else "float16"
    log(f"[{name}] all variants built in {time.time() - t0:.0f}s; timing")
    lat = _latencies(models, ev[0], rounds, runs)
    rows = []
    for vname, model in models.items():
        s = score_outputs(m.kind, ref_ev, _run(model, ev))
        rows.append({"variant": vname, "size_mib": len(model) / 2**20,
                     "size_ratio": len(model) / len(models["float32"]), "p50_ms": lat[vname],
                     "p50_ratio": lat[vname] / lat["float32"], "quality": s.quality, "metrics": s.metrics,
                     "note": notes.get(vname, ""), "winner": vname == winner})
    for vname, note in notes.items():
        if vname not in models:
            rows.append({"variant": vname, "note": note})
    log(f"[{name}] done in {time.time() - t0:.0f}s")
    return {"model": name, "kind": m.kind, "note": m.note, "target": TARGET[m.kind], "winner": winner,
            "choice": choice.to_dict(), "float16_guard": guard.to_dict(), "rows": rows,
            "samples": {"calibration": n_cal, "ranking": n_rank, "evaluation": n_ev}}


METRIC_NAME = {"classifier": "top-1 agreement", "char": "next-char top-1 agreement",
               "tagger": "tag agreement (0.5)", "dense": "cosine"}


def markdown(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        lines.append(f"### {r['model']} ({r['note']}; {METRIC_NAME[r['kind']]}, target {r['target']})\n")
        lines.append(f"calibration {r['samples']['calibration']}, ranking {r['samples']['ranking']}, "
                     f"evaluation {r['samples']['evaluation']} samples. Optimize winner: **{r['winner']}**"
                     f" (float ops: {len(r['choice']['float_nodes'])}; technique: {r['choice']['chosen']}).\n")
        lines.append("| variant | size | × float32 size | p50 × float32 | metric | extra | note |")
        lines.append("|---|---|---|---|---|---|---|")
        for row in r["rows"]:
            if "size_mib" not in row:
                lines.append(f"| {row['variant']} | – | – | – | – | – | {row['note']} |")
                continue
            extra = ", ".join(f"{k} {v:.4g}" for k, v in row["metrics"].items()
                              if k not in ("agreement", "tag_agreement"))
            name = f"**{row['variant']}**" if row["winner"] else row["variant"]
            lines.append(f"| {name} | {row['size_mib']:.2f} MiB | {row['size_ratio']:.2f} | {row['p50_ratio']:.2f} "
                         f"| {row['quality']:.4f} | {extra} | {row['note']} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(corpus.MODELS))
    p.add_argument("--eval", type=int, default=200, help="evaluation samples per model (hed: 32)")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--json")
    p.add_argument("--markdown")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    results = []
    for name in [n.strip() for n in args.models.split(",") if n.strip()]:
        results.append(bench_model(name, n_eval=args.eval, rounds=args.rounds, runs=args.runs, log=log))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
    text = markdown(results)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
