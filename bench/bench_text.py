"""A BERT-style text encoder on real English text: tokenizing, validating and quantizing, measured in one run.

The model: tests/models_text.py's encoder (2 layers, hidden 64, 4 heads, exact GELU, vocabulary of 1000
WordPiece tokens trained on the text files installed with Python), exported with `model.export` and cached in
$HUB2LITE_BENCH_CACHE (default ~/.cache/hub2lite/bench). Real data: sentences from Python's own license and
documentation files; 200 calibrate, 500 *other* ones validate.

Per variant (float32, float16, dynamic, int8, and int8 with transformer parts kept in float through
`--int8-keep-float` — `ConvertConfig.int8_keep_float`, which finds the parts by kind in the calibrated graph:
softmax (with its score scaling and mask), softmax + layernorm + gelu, and layernorm or gelu alone), in this one
process: size, p50 latency (ai-edge-litert + XNNPACK, `--threads`, interleaved rounds),
cosine of the pooled output against the original (mean and 5th percentile over the 500 sentences), max |Δ|
of the sequence output over real (unmasked) tokens. Also: seconds to tokenize the 500 sentences, and to run
the original and the float32 .tflite on them.

    python bench/bench_text.py [--seq-len 128] [--threads 2] [--rounds 3] [--runs 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def cache_dir() -> Path:
    base = Path(os.environ.get("HUB2LITE_BENCH_CACHE", Path.home() / ".cache" / "hub2lite" / "bench"))
    base.mkdir(parents=True, exist_ok=True)
    return base


def build_model() -> Path:
    import hashlib

    import models_text

    key = hashlib.sha256((ROOT / "tests" / "models_text.py").read_bytes()).hexdigest()[:12]
    dest = cache_dir() / f"text-bert-{key}"
    if not dest.exists():
        tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
        tmp.mkdir()
        models_text.bert_encoder(tmp)
        tmp.rename(dest)
    return dest


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


def accurate_int8_variant(entry, specs, cal, float_model: bytes) -> dict[str, bytes]:
    """quantize.search.accurate_int8 (range methods x bias correction, then the sensitivity search floating ops
    by their measured effect), ranked on the last 64 calibration sentences against the float32 .tflite's pooled
    output ("dense": cosine)."""
    from hub2lite.convert import build_function, make_converter
    from hub2lite.quantize import flatgraph as fg
    from hub2lite.quantize.search import accurate_int8, score_outputs
    from hub2lite.runners import LiteRunner

    from hub2lite.convert import output_names
    from hub2lite.tflite_file import add_signature

    fn, name_map = build_function(entry, tuple(specs))
    calib, rank = cal[:-64], cal[-64:]
    positional = [[f[s.name] for s in specs] for f in calib]

    def signed(model: bytes) -> bytes:  # the quantizer's flatbuffer carries no SignatureDef
        return add_signature(model, "serving_default", list(name_map), output_names(fn))

    def pooled(model: bytes) -> np.ndarray:
        runner = LiteRunner(signed(model))
        return np.concatenate([runner.infer(f)["pooled_output"] for f in rank])

    ref = pooled(float_model)
    t0 = time.perf_counter()
    calibrated = fg.calibrate(make_converter(fn), lambda: iter(positional))
    acts = fg.collect_activations(calibrated, iter(positional))
    choice = accurate_int8(calibrated, acts, lambda m: score_outputs("dense", ref, pooled(m)), target=0.999,
                           max_float=8)
    print(f"accurate_int8 in {time.perf_counter() - t0:.0f} s: {choice.chosen.name}, "
          f"{len(choice.float_nodes)} float op(s): {[n[:60] for n in choice.float_nodes]}", flush=True)
    return {"int8 accurate_int8 (issue 12: ranges, bias, search)": signed(choice.model)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--validate", type=int, default=500)
    ap.add_argument("--calibrate", type=int, default=200)
    ap.add_argument("--no-search", action="store_true", help="skip quantize.search.accurate_int8 (issue 12)")
    args = ap.parse_args(argv)

    import models_text

    from hub2lite.convert import ConvertConfig, convert
    from hub2lite.load import load
    from hub2lite.resolve import resolve
    from hub2lite.runners import LiteRunner, TFRunner
    from hub2lite.specs import QuantMode
    from hub2lite.prepare import text_plan_for
    from hub2lite.text_encoder import text_data_feeds, text_input_shapes

    folder = build_model()
    loaded = load(resolve(str(folder)))
    entry = loaded.choose(None)
    shapes = text_input_shapes(entry.info, args.seq_len, {})
    config = ConvertConfig(input_shapes=shapes)
    from hub2lite.convert import plan_input_specs

    specs, _ = plan_input_specs(entry.info, config)
    plan = text_plan_for(entry, specs, folder)
    work = cache_dir() / "text-data"
    work.mkdir(exist_ok=True)
    n_sent = len(models_text.english_sentences())
    val_file = models_text.write_sentences(work / "validate.txt", args.validate, offset=0)
    cal_file = models_text.write_sentences(work / "calibrate.txt", args.calibrate, offset=args.validate)
    print(f"model: {folder.name} (vocab {plan.vocab.size}, seq {plan.seq_len}); {n_sent} real sentences available")

    t0 = time.perf_counter()
    val, info = text_data_feeds(val_file, specs, plan, limit=None, seed=0)
    t_tok = time.perf_counter() - t0
    cal, _ = text_data_feeds(cal_file, specs, plan, limit=None, seed=0)
    print(f"tokenize {len(val)} sentences: {t_tok:.3f} s ({info['summary']})")

    tf_runner = TFRunner(entry, specs)
    t0 = time.perf_counter()
    ref = [tf_runner.infer(f) for f in val]
    t_tf = time.perf_counter() - t0
    ref_pooled = np.concatenate([r["pooled_output"] for r in ref])
    ref_seq = np.concatenate([r["sequence_output"] for r in ref])
    mask = np.concatenate([f[plan.names()["mask"]] for f in val]).astype(bool)

    float_model = convert(loaded, config).model
    keep = [("softmax",), ("softmax", "layernorm", "gelu"), ("layernorm",), ("gelu",)]
    variants = [("float32", QuantMode.FLOAT32, ()), ("float16", QuantMode.FLOAT16, ()),
                ("dynamic", QuantMode.DYNAMIC, ()), ("int8", QuantMode.INT8, ())]
    variants += [(f"int8 --int8-keep-float {','.join(parts)}", QuantMode.INT8, parts) for parts in keep]
    models: dict[str, bytes] = {}
    for name, mode, parts in variants:
        t0 = time.perf_counter()
        c = convert(loaded, ConvertConfig(input_shapes=shapes, quantize=mode, int8_keep_float=tuple(parts)),
                    calibration=cal if mode is QuantMode.INT8 else None)
        models[name] = c.model
        kept = len(c.converter_settings.get("int8_keep_float_nodes", ()))
        print(f"converted {name} in {time.perf_counter() - t0:.1f} s ({kept} ops kept float)", flush=True)
    if not args.no_search:
        models.update(accurate_int8_variant(entry, specs, cal, float_model))

    rows = []
    for name, model in models.items():
        runner = LiteRunner(model)
        t0 = time.perf_counter()
        got = [runner.infer(f) for f in val]
        t_run = time.perf_counter() - t0
        pooled = np.concatenate([g["pooled_output"] for g in got])
        seq = np.concatenate([g["sequence_output"] for g in got])
        cos = cosine_rows(ref_pooled, pooled)
        seq_err = float(np.abs(ref_seq - seq)[mask].max())
        rows.append({"name": name, "size": len(model), "cos_mean": float(cos.mean()),
                     "cos_p5": float(np.quantile(cos, 0.05)), "cos_min": float(cos.min()),
                     "seq_max": seq_err, "run_s": t_run})

    from ai_edge_litert.interpreter import Interpreter

    feed = val[0]
    lat: dict[str, list[float]] = {r["name"]: [] for r in rows}
    interpreters = {}
    for name, model in models.items():
        it = Interpreter(model_content=model, num_threads=args.threads)
        interpreters[name] = it.get_signature_runner()
        interpreters[name](**feed)
    names = list(models)
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            run = interpreters[name]
            for _ in range(args.runs):
                t0 = time.perf_counter()
                run(**feed)
                lat[name].append(time.perf_counter() - t0)
    base = statistics.median(lat["float32"])
    print(f"\nload average during the run (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\nvalidate {len(val)} sentences: original (TensorFlow) {t_tf:.2f} s, float32 .tflite "
          f"{rows[0]['run_s']:.2f} s; tokenize {t_tok:.2f} s")
    print("\n| variant | size | p50 latency | vs float32 | pooled cosine mean | p5 | min | seq max abs err |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        p50 = statistics.median(lat[row["name"]])
        print(f"| {row['name']} | {row['size'] / 1024:.0f} KiB | {p50 * 1e3:.3f} ms | {base / p50:.2f}× | "
              f"{row['cos_mean']:.5f} | {row['cos_p5']:.5f} | {row['cos_min']:.5f} | {row['seq_max']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
