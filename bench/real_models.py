"""Real pretrained models, every quantization variant side by side in one run (`make bench-real`).

Per corpus model (bench/corpus.py): float32, float16 (+ hub2lite's float16 guard), dynamic range, the bare
converter's int8, the debugger's denylist heuristic (TFLite's tutorial: float for layers with rmse/scale > 0.7;
and the K worst layers, K = the number of ops hub2lite's search floats, i.e. equal size), and hub2lite's int8
techniques (range method x bias correction, each alone) and `accurate_int8` (the techniques, then the sensitivity
search) = what `optimize` picks. Columns: size, p50 latency relative to float32 (ai-edge-litert, XNNPACK,
2 threads, all variants interleaved round by round), and the kind's metric on the *evaluation* split (photos /
voices / text disjoint from calibration; the search ranks on a separate calibration-side subset).

One model at a time, each stage (conversions, hub2lite's int8, the debugger, evaluation, latency) in a child
process: a native crash (the converter's calibrator segfaults on some graphs) or a timeout becomes a row of the
table with its reason, the stage is re-run without the variant that crashed, and the other variants are still
measured. Results are merged into one JSON (default ~/.cache/hub2lite/corpus/real_models.json) so runs can be
split across invocations; the Markdown is rendered from every model in it.

    python bench/real_models.py [--models nudity,musicnn,...] [--json results.json] [--markdown out.md]
    python bench/real_models.py --render-only --markdown out.md      # tables from the merged JSON
"""

from __future__ import annotations

import argparse
import csv
import faulthandler
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402

TARGET = {"classifier": 0.99, "char": 0.99, "tagger": 0.99, "dense": 0.999}
WORK = corpus.CORPUS / "bench"
RESULTS = corpus.CORPUS / "real_models.json"
FLOAT = ("float32", "float16", "dynamic")
BARE = "int8 bare converter"
BEST = "int8 hub2lite best (search)"
TECHNIQUES = ("minmax", "minmax+bias", "percentile", "percentile+bias", "mse", "mse+bias")
DBG_TUTORIAL = "int8 debugger denylist rmse/scale>0.7"
DBG_EQUAL = "int8 debugger denylist K worst (equal size)"


# --- per-model plans -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """How one corpus model is measured: sample counts per split, the debugger's sample cap (its run time grows
    with samples x layers), a per-stage time limit, and the float-op cap of the search."""

    calibration: int = 100
    ranking: int = 64
    evaluation: int = 200
    debugger_samples: int = 64  # ranking samples the QuantizationDebugger sees (the first N)
    stage_timeout: int = 2400  # seconds per child stage
    max_float: int = 8
    route: str = "frozen"  # hub2lite's converter route (_converter.make_converter): "frozen" | "saved_model"
    latency: tuple[int, int] | None = None  # (rounds, runs) instead of --rounds/--runs (VGG-sized models)
    note: str = ""


def plan_nudity(n_eval: int) -> Plan:
    return Plan(evaluation=n_eval)


def plan_musicnn(n_eval: int) -> Plan:
    # the debugger took ~19 min with 64 samples on a loaded machine: 16 keep it to minutes
    return Plan(evaluation=n_eval, debugger_samples=16,
                note="debugger statistics on 16 of the 64 ranking patches (it took ~19 min on all 64 under load)")


def plan_musicnn_vgg(n_eval: int) -> Plan:
    return Plan(evaluation=n_eval, debugger_samples=16,
                note="debugger statistics on 16 of the 64 ranking patches")


def plan_textgenrnn(n_eval: int) -> Plan:
    # hub2lite's frozen route: the Keras LSTMs become WHILE loops (float32 = TensorFlow's outputs; the fused
    # UNIDIRECTIONAL_SEQUENCE_LSTM of the saved_model route agrees with TensorFlow on 13% of next chars, and its int8
    # aborts LiteRT). The converter's calibrator segfaults on the loops, so the bare int8 row is a crash; hub2lite
    # calibrates from the float model itself and keeps the loops float (what `convert --quantize int8` does).
    return Plan(evaluation=n_eval, stage_timeout=1200,
                note="frozen route (2 WHILE loops); hub2lite's int8 calibrates itself and keeps the loops float")


def plan_hed(n_eval: int) -> Plan:
    # VGG16 at 128x128: ~15 GMAC per sample; fewer samples keep one run under an hour on 2 loaded cores
    return Plan(calibration=24, ranking=12, evaluation=min(n_eval, 32), debugger_samples=12, max_float=6,
                latency=(3, 5), note="VGG-sized: 24 calibration, 12 ranking, 32 evaluation crops; latency 3 x 5 runs")


def plan_basic_pitch(n_eval: int) -> Plan:
    return Plan(evaluation=n_eval, debugger_samples=16, note="debugger statistics on 16 of the 64 ranking windows")


PLANS: dict[str, Callable[[int], Plan]] = {"nudity": plan_nudity, "musicnn": plan_musicnn,
                                           "musicnn_vgg": plan_musicnn_vgg, "textgenrnn": plan_textgenrnn,
                                           "hed": plan_hed, "basic_pitch": plan_basic_pitch}


def plan_for(name: str, n_eval: int) -> Plan:
    return PLANS.get(name, lambda n: Plan(evaluation=n))(n_eval)


# --- helpers shared by the stages -----------------------------------------------------------------------------------

def _converter(m: corpus.CorpusModel, route: str = "frozen") -> tuple[Any, Any]:
    from hub2lite.load import load
    from hub2lite.resolve import resolve
    from hub2lite.convert import ConvertConfig, build_function, make_converter, plan_input_specs
    from hub2lite.load import LoadOptions

    loaded = load(resolve(str(m.source())),
                  options=LoadOptions(input_names=m.input_names, output_names=m.output_names))
    entry = loaded.choose(None)
    specs, _ = plan_input_specs(entry.info, ConvertConfig())
    concrete, _ = build_function(entry, specs)
    return (lambda: make_converter(concrete, route=route, keep=loaded if route == "saved_model" else None)), loaded


def _run(model: bytes, xs: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model, num_threads=2)
    it.allocate_tensors()
    i = it.get_input_details()[0]
    outs = sorted(it.get_output_details(), key=lambda d: d["name"])  # several outputs: flattened, concatenated
    out = []
    for x in xs:
        it.set_tensor(i["index"], np.asarray(x[None], i["dtype"]))
        it.invoke()
        got = [it.get_tensor(o["index"])[0] for o in outs]
        out.append(got[0].copy() if len(got) == 1 else np.concatenate([g.reshape(-1) for g in got]))
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


def _debugger_denylist(make: Any, cal: np.ndarray, debug: np.ndarray, ks: dict[str, int | None],
                       say: Callable[[str], None]) -> dict[str, tuple[bytes, int]]:
    """TFLite's QuantizationDebugger tutorial: float for the layers with rmse/scale > 0.7 (k None), or the k worst.
    One statistics run on `debug`, then one denylisted model per entry of `ks`."""
    import tensorflow as tf

    conv = make()
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[None]] for x in cal)
    t0 = time.time()
    dbg = tf.lite.experimental.QuantizationDebugger(converter=conv, debug_dataset=lambda: ([x[None]] for x in debug))
    dbg.run()
    say(f"debugger statistics on {len(debug)} samples in {time.time() - t0:.0f}s")
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
    out = {}
    for label, k in ks.items():
        names = [n for s, n in scored if s > 0.7] if k is None else [n for _, n in scored[:k]]
        if not names:
            out[label] = (bytes(dbg.get_nondebug_quantized_model()), 0)
            continue
        dbg2 = tf.lite.experimental.QuantizationDebugger(
            converter=conv, debug_dataset=lambda: ([x[None]] for x in debug),
            debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=names))
        out[label] = (bytes(dbg2.get_nondebug_quantized_model()), len(names))
    return out


def _slug(variant: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in variant).strip("_")


class Workdir:
    """A model's files for one bench run: inputs, variant .tflite files, per-stage JSON, and the progress log a
    child appends to before and after each risky step (so a native crash can be pinned on one variant)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.root = WORK / name
        self.variants = self.root / "variants"

    def reset(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.variants.mkdir(parents=True)

    def inputs(self) -> dict[str, np.ndarray]:
        with np.load(self.root / "inputs.npz") as z:
            return {k: z[k] for k in z.files}

    def save_variant(self, variant: str, model: bytes) -> None:
        tmp = self.variants / (_slug(variant) + ".tmp")
        tmp.write_bytes(model)
        tmp.rename(self.variants / (_slug(variant) + ".tflite"))

    def variant(self, variant: str) -> bytes | None:
        p = self.variants / (_slug(variant) + ".tflite")
        return p.read_bytes() if p.exists() else None

    def stage_json(self, stage: str) -> dict[str, Any]:
        p = self.root / f"stage_{stage}.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def write_stage_json(self, stage: str, data: dict[str, Any]) -> None:
        (self.root / f"stage_{stage}.json").write_text(json.dumps(data, indent=1))

    def crashed(self) -> dict[str, str]:
        p = self.root / "crashed.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def mark_crashed(self, step: str, reason: str) -> None:
        c = self.crashed()
        c[step] = reason
        (self.root / "crashed.json").write_text(json.dumps(c, indent=1))

    def begin(self, step: str) -> None:
        with open(self.root / "progress.log", "a") as f:
            f.write(f"begin\t{step}\n")

    def end(self, step: str) -> None:
        with open(self.root / "progress.log", "a") as f:
            f.write(f"end\t{step}\n")

    def open_step(self) -> str | None:
        """The step a crashed child had begun and not finished."""
        p = self.root / "progress.log"
        if not p.exists():
            return None
        begun: list[str] = []
        for line in p.read_text().splitlines():
            what, _, step = line.partition("\t")
            if what == "begin":
                begun.append(step)
            elif step in begun:
                begun.remove(step)
        return begun[-1] if begun else None


def _guarded(w: Workdir, step: str, fn: Callable[[], Any], notes: dict[str, str]) -> Any:
    """Run one risky step: skipped (with its recorded crash) if it crashed the child before; Python errors are
    caught and recorded; a native crash kills the child and the parent records it from the progress log."""
    if step in w.crashed():
        notes[step] = w.crashed()[step]
        return None
    w.begin(step)
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - every failure becomes a row of the table with its reason
        notes[step] = f"failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}" if str(exc).strip() \
            else f"failed: {type(exc).__name__}"
        return None
    finally:
        w.end(step)


# --- stages (each runs in its own child process) ------------------------------------------------------------------

def stage_convert(w: Workdir, m: corpus.CorpusModel, plan: Plan, say: Callable[[str], None]) -> dict[str, Any]:
    """float32, float16 (+ guard), dynamic range, the bare converter's int8."""
    import tensorflow as tf

    from hub2lite.quantize.fp16 import guard_float16

    data = w.inputs()
    make, _ = _converter(m, plan.route)
    notes: dict[str, str] = {}
    info: dict[str, Any] = {}
    f32 = bytes(make().convert())
    w.save_variant("float32", f32)

    def f16() -> bytes:
        c = make()
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.target_spec.supported_types = [tf.float16]
        guard = guard_float16(f32, bytes(c.convert()))
        info["float16_guard"] = guard.to_dict()
        notes["float16"] = f"guard kept {len(guard.kept_float32)} constant(s) float32"
        return guard.model

    def dynamic() -> bytes:
        c = make()
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        return bytes(c.convert())

    def bare() -> bytes:
        c = make()
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.representative_dataset = lambda: ([x[None]] for x in data["calibration"])
        return bytes(c.convert())

    for variant, fn in (("float16", f16), ("dynamic", dynamic), (BARE, bare)):
        if w.variant(variant) is not None:
            continue
        model = _guarded(w, variant, fn, notes)
        if model is not None:
            w.save_variant(variant, model)
        say(f"{variant}: {'ok' if model is not None else notes.get(variant)}")
    return {"notes": notes, **info}


def stage_hub2lite(w: Workdir, m: corpus.CorpusModel, plan: Plan, say: Callable[[str], None]) -> dict[str, Any]:
    """hub2lite's int8: calibrate once, each range method x bias correction alone, then `accurate_int8`."""
    from hub2lite.quantize import flatgraph as fg
    from hub2lite.quantize.search import accurate_int8, prepare_variants, score_outputs

    data = w.inputs()
    cal, rank = data["calibration"], data["ranking"]
    make, _ = _converter(m, plan.route)
    notes: dict[str, str] = {}
    f32 = w.variant("float32")
    assert f32 is not None, "stage convert writes float32 first"
    ref_rank = _run(f32, rank)

    loops = any(op.op == "WHILE" for op in fg.recurrent_ops(f32))  # TF's calibrator segfaults on them: #75140

    def calibrate() -> bytes:
        if loops:
            return fg.calibrate_from_float(f32, ([x[None]] for x in cal))
        return fg.calibrate(make(), lambda: ([x[None]] for x in cal))

    calibrated = _guarded(w, "hub2lite calibration", calibrate, notes)
    if calibrated is None:
        reason = notes["hub2lite calibration"]
        for t in TECHNIQUES:
            notes[f"int8 hub2lite {t}"] = f"calibration {reason}"
        notes[BEST] = f"calibration {reason}"
        return {"notes": notes}
    acts = _guarded(w, "hub2lite activations", lambda: fg.collect_activations(calibrated, ([x[None]] for x in cal)),
                    notes)
    if acts is None:
        return {"notes": notes}
    prepared = _guarded(w, "hub2lite techniques", lambda: prepare_variants(
        calibrated, acts, ranges=("minmax", "percentile", "mse"), bias=(False, True)), notes) or {}
    # recurrent ops stay float in every variant (as `convert --quantize int8`): the search starts from them float
    keep = [op.name for op in fg.recurrent_ops(calibrated)]
    for vname, prep in prepared.items():
        label = f"int8 hub2lite {vname}"
        model = _guarded(w, label, lambda prep=prep: prep.quantize(keep), notes)
        if model is not None:
            w.save_variant(label, model)
            if keep:
                notes[label] = f"{len(keep)} recurrent op(s) kept float"
    say("techniques built")

    def evaluate(model: bytes) -> Any:
        return score_outputs(m.kind, ref_rank, _run(model, rank))

    choice = _guarded(w, BEST, lambda: accurate_int8(
        calibrated, acts, evaluate, target=TARGET[m.kind], max_float=plan.max_float,
        max_size=len(f32) * 35 // 100, base_float=keep, progress=say), notes)
    if choice is None:
        return {"notes": notes}
    w.save_variant(BEST, choice.model)
    return {"notes": notes, "choice": choice.to_dict(), "ranking_quality": choice.score.quality}


def stage_debugger(w: Workdir, m: corpus.CorpusModel, plan: Plan, say: Callable[[str], None]) -> dict[str, Any]:
    """The debugger's denylist heuristics: rmse/scale > 0.7 (the tutorial), and the K worst layers with K = the
    number of ops hub2lite's search floated (equal size)."""
    data = w.inputs()
    make, _ = _converter(m, plan.route)
    notes: dict[str, str] = {}
    choice = w.stage_json("hub2lite").get("choice")
    k = max(1, len(choice["float_nodes"])) if choice else 1
    debug = data["ranking"][:plan.debugger_samples]
    made = _guarded(w, "debugger", lambda: _debugger_denylist(
        make, data["calibration"], debug, {DBG_TUTORIAL: None, DBG_EQUAL: k}, say), notes)
    if made is None:
        notes[DBG_TUTORIAL] = notes[DBG_EQUAL] = notes.pop("debugger")
        return {"notes": notes, "k": k}
    for label, (model, count) in made.items():
        w.save_variant(label, model)
        notes[label] = f"{count} layer(s) float; statistics on {len(debug)} samples"
    return {"notes": notes, "k": k}


def _present(w: Workdir) -> dict[str, bytes]:
    order = [*FLOAT, BARE, *(f"int8 hub2lite {t}" for t in TECHNIQUES), BEST, DBG_TUTORIAL, DBG_EQUAL]
    return {v: b for v in order if (b := w.variant(v)) is not None}


def stage_evaluate(w: Workdir, m: corpus.CorpusModel, plan: Plan, say: Callable[[str], None]) -> dict[str, Any]:
    """Every variant's outputs on the ranking and evaluation splits (scored by the parent)."""
    data = w.inputs()
    notes: dict[str, str] = {}
    out_dir = w.root / "outputs"
    out_dir.mkdir(exist_ok=True)
    for variant, model in _present(w).items():
        step = f"run {variant}"
        path = out_dir / (_slug(variant) + ".npz")
        if path.exists():
            continue
        got = _guarded(w, step, lambda model=model: (_run(model, data["ranking"]), _run(model, data["evaluation"])),
                       notes)
        if got is not None:
            np.savez(path, ranking=got[0], evaluation=got[1])
    return {"notes": notes}


def stage_latency(w: Workdir, m: corpus.CorpusModel, plan: Plan, say: Callable[[str], None],
                  rounds: int = 10, runs: int = 10) -> dict[str, Any]:
    data = w.inputs()
    models = {v: b for v, b in _present(w).items() if f"run {v}" not in w.crashed()}
    load_before = os.getloadavg()
    lat = _latencies(models, data["evaluation"][0], rounds, runs)
    return {"p50_ms": lat, "loadavg": [load_before, os.getloadavg()], "rounds": rounds, "runs": runs}


STAGES = {"convert": stage_convert, "hub2lite": stage_hub2lite, "debugger": stage_debugger,
          "evaluate": stage_evaluate, "latency": stage_latency}


def _child(stage: str, name: str, n_eval: int, rounds: int, runs: int) -> int:
    faulthandler.enable()
    logging.basicConfig(level=logging.WARNING)
    w = Workdir(name)
    m = corpus.MODELS[name]
    plan = plan_for(name, n_eval)
    t0 = time.time()

    def say(msg: str) -> None:
        print(f"[{name}:{stage} {time.time() - t0:.0f}s] {msg}", file=sys.stderr, flush=True)

    rounds, runs = plan.latency or (rounds, runs)
    kwargs = {"rounds": rounds, "runs": runs} if stage == "latency" else {}
    data = STAGES[stage](w, m, plan, say, **kwargs)
    data["seconds"] = time.time() - t0
    w.write_stage_json(stage, data)
    return 0


# --- the parent: stages in children, crashes recorded, results merged -----------------------------------------------

def _run_stage(w: Workdir, stage: str, plan: Plan, args: argparse.Namespace, log: Callable[[str], None]) -> None:
    """Run a stage in a child until it finishes: after a native crash the open step is recorded as crashed and
    the stage re-run (it skips what it already wrote and what crashed)."""
    if args.resume and (w.root / f"stage_{stage}.json").exists():
        return
    cmd = [sys.executable, str(Path(__file__).resolve()), "--stage", stage, "--models", w.name,
           "--eval", str(args.eval), "--rounds", str(args.rounds), "--runs", str(args.runs)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONFAULTHANDLER": "1"}
    for attempt in range(16):
        (w.root / "progress.log").unlink(missing_ok=True)
        log_path = w.root / f"{stage}.log"
        t0 = time.time()
        with open(log_path, "a") as err:
            try:
                rc = subprocess.run(cmd, env=env, stderr=err, stdout=err, timeout=plan.stage_timeout).returncode
            except subprocess.TimeoutExpired:
                rc = None
        tail = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.startswith(f"[{w.name}:")]
        for ln in tail[-3:]:
            log(ln)
        if rc == 0:
            return
        step = w.open_step() or f"stage {stage}"
        if rc is None:
            reason = f"timed out after {plan.stage_timeout}s"
        elif rc < 0:
            reason = f"native crash ({signal.Signals(-rc).name})"
        else:
            lines = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
            reason = f"child exited {rc}: {lines[-1][:200] if lines else ''}"
        log(f"[{w.name}:{stage}] {step}: {reason} after {time.time() - t0:.0f}s (attempt {attempt + 1})")
        w.mark_crashed(step, reason)
        if step == f"stage {stage}":
            return


def _rows(w: Workdir, m: corpus.CorpusModel) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from hub2lite.compact import compact_model
    from hub2lite.quantize.search import score_outputs

    notes: dict[str, str] = {}
    for stage in STAGES:
        notes.update(w.stage_json(stage).get("notes", {}))
    crashed = w.crashed()
    lat = w.stage_json("latency").get("p50_ms", {})
    outputs = {}
    for variant in _present(w):
        p = w.root / "outputs" / (_slug(variant) + ".npz")
        if p.exists():
            with np.load(p) as z:
                outputs[variant] = (z["ranking"], z["evaluation"])
    ref = outputs.get("float32")
    sizes = {v: len(b) for v, b in _present(w).items()}
    compact = {v: len(compact_model(b).model) for v, b in _present(w).items()}  # `--compact`'s file size
    rows = []
    order = [*FLOAT, BARE, *(f"int8 hub2lite {t}" for t in TECHNIQUES), BEST, DBG_TUTORIAL, DBG_EQUAL]
    for variant in order:
        note = notes.get(variant, "")
        for step, reason in crashed.items():
            if _crash_hits(step, variant):
                note = reason if step == variant else f"{step}: {reason}"
        row: dict[str, Any] = {"variant": variant, "note": note}
        if variant in sizes and ref is not None and variant in outputs:
            ev = score_outputs(m.kind, ref[1], outputs[variant][1])
            rk = score_outputs(m.kind, ref[0], outputs[variant][0])
            row.update(size_mib=sizes[variant] / 2**20, size_ratio=sizes[variant] / sizes["float32"],
                       compact_ratio=compact[variant] / compact["float32"], quality=ev.quality, loss=ev.loss, metrics=ev.metrics, ranking_quality=rk.quality)
            if variant in lat and "float32" in lat:
                row.update(p50_ms=lat[variant], p50_ratio=lat[variant] / lat["float32"])
        elif variant in sizes:
            row.update(size_mib=sizes[variant] / 2**20, size_ratio=sizes[variant] / sizes["float32"])
        if "size_mib" in row or note:
            rows.append(row)
    return rows, {"crashed": crashed}


def _crash_hits(step: str, variant: str) -> bool:
    """Whether a step that crashed (or timed out) took `variant` down with it."""
    if step in (variant, f"run {variant}"):
        return True
    ours = variant.startswith("int8 hub2lite")
    debugger = variant in (DBG_TUTORIAL, DBG_EQUAL)
    return ((ours and (step.startswith("hub2lite ") or step == "stage hub2lite"))
            or (debugger and step in ("debugger", "stage debugger"))
            or (variant in (*FLOAT, BARE) and step == "stage convert"))


def _verdicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Does hub2lite's best int8 (the row `accurate_int8` chose on the ranking subset: no choosing on the
    evaluation data) beat the bare converter's int8 and each debugger heuristic at equal size (within 5%)?
    Quality first (by more than 1e-4), else the continuous loss (by more than 10%), else a tie."""
    measured = {r["variant"]: r for r in rows if "quality" in r}
    ours = measured.get(BEST)
    out = []
    for other in (BARE, DBG_TUTORIAL, DBG_EQUAL):
        c = measured.get(other)
        if c is None or ours is None:
            missing = other if c is None else BEST
            out.append({"against": other, "verdict": "not compared",
                        "reason": f"{missing}: " + next((r["note"] for r in rows if r["variant"] == missing), "")})
            continue
        # a difference below 1e-4 in the metric and 10% in the loss is a tie (hed: cosine 0.998782 vs 0.998780)
        dq = ours["quality"] - c["quality"]
        dl = (c["loss"] - ours["loss"]) / max(c["loss"], 1e-30)
        if abs(dq) > 1e-4:
            verdict = "beats" if dq > 0 else "loses to"
        else:
            verdict = "beats" if dl > 0.1 else ("loses to" if dl < -0.1 else "ties")
        equal = ours["size_mib"] <= 1.05 * c["size_mib"]
        out.append({"against": other, "verdict": verdict, "equal_size": equal, "ours": BEST,
                    "ours_quality": ours["quality"], "ours_loss": ours["loss"], "ours_size_mib": ours["size_mib"],
                    "their_quality": c["quality"], "their_loss": c["loss"], "their_size_mib": c["size_mib"]})
    return out


def bench_model(name: str, args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    m = corpus.MODELS[name]
    plan = plan_for(name, args.eval)
    w = Workdir(name)
    t0 = time.time()
    if not (args.resume and (w.root / "inputs.npz").exists()):
        w.reset()
        cal = m.inputs("calibration", plan.calibration + plan.ranking)
        np.savez(w.root / "inputs.npz", calibration=cal[:plan.calibration], ranking=cal[plan.calibration:],
                 evaluation=m.inputs("evaluation", plan.evaluation))
    for stage in STAGES:
        _run_stage(w, stage, plan, args, log)
        log(f"[{name}] {stage} done at {time.time() - t0:.0f}s")
    rows, extra = _rows(w, m)
    hub = w.stage_json("hub2lite")
    ranking_quality = hub.get("ranking_quality")
    # optimize's rule: the smallest variant meeting the target on the ranking subset, float16 as the fallback
    winner = BEST if ranking_quality is not None and ranking_quality >= TARGET[m.kind] else "float16"
    for r in rows:
        r["winner"] = r["variant"] == winner
    lat = w.stage_json("latency")
    return {"model": name, "kind": m.kind, "note": m.note, "target": TARGET[m.kind], "winner": winner,
            "plan": asdict(plan), "choice": hub.get("choice"),
            "float16_guard": w.stage_json("convert").get("float16_guard"), "rows": rows,
            "verdicts": _verdicts(rows), "loadavg": lat.get("loadavg"), "seconds": time.time() - t0,
            "stage_seconds": {s: w.stage_json(s).get("seconds") for s in STAGES},
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **extra,
            "samples": {"calibration": plan.calibration, "ranking": plan.ranking, "evaluation": plan.evaluation}}


METRIC_NAME = {"classifier": "top-1 agreement", "char": "next-char top-1 agreement",
               "tagger": "tag agreement (0.5)", "dense": "cosine"}


def summary(results: list[dict[str, Any]]) -> str:
    """One line per model: hub2lite's chosen int8 against the bare converter's and the debugger's, and float16."""
    def cell(row: dict[str, Any] | None) -> str:
        if row is None:
            return "–"
        if "quality" not in row:
            return f"no: {row['note']}"
        return f"{row['size_ratio']:.2f}× / {row['quality']:.4f}"

    lines = ["| model | kind (metric) | float16 | int8 bare converter | int8 hub2lite best | debugger rmse/scale>0.7 "
             "| debugger K worst | hub2lite's int8 beats bare and debugger at equal size? | optimize winner |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        rows = {row["variant"]: row for row in r["rows"]}
        verdicts = _verdicts(r["rows"])
        words = []
        for v in verdicts:
            if "ours" not in v:
                words.append("n/a")
            else:
                words.append(v["verdict"] + ("" if v["equal_size"] else " (larger)"))
        answer = "yes" if all(w == "beats" for w in words) else ("not comparable: their int8 did not run" if all(
            w == "n/a" for w in words) else "no: " + " / ".join(words))
        lines.append(f"| {r['model']} | {r['kind']} ({METRIC_NAME[r['kind']]}) | {cell(rows.get('float16'))} "
                     f"| {cell(rows.get(BARE))} | {cell(rows.get(BEST))} | {cell(rows.get(DBG_TUTORIAL))} "
                     f"| {cell(rows.get(DBG_EQUAL))} | {answer} | {r['winner']} |")
    return "\n".join(lines) + "\n"


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [summary(results), "Cells: size × float32 / metric on the evaluation split.\n"]
    for r in results:
        lines.append(f"#### {r['model']} ({r['note']}; {METRIC_NAME[r['kind']]}, target {r['target']})\n")
        load = r.get("loadavg")
        load_s = (f"; load average {load[0][0]:.1f} / {load[0][1]:.1f} / {load[0][2]:.1f} (1/5/15 min) when timing"
                  f" began, {load[1][0]:.1f} when it ended" if load else "")
        choice = r.get("choice") or {}
        lines.append(f"{r['date']}; calibration {r['samples']['calibration']}, ranking {r['samples']['ranking']}, "
                     f"evaluation {r['samples']['evaluation']} samples{load_s}. {r['plan'].get('note') or ''}\n")
        lines.append(f"Optimize winner: **{r['winner']}** (float ops: {len(choice.get('float_nodes', []))}; "
                     f"technique: {choice.get('chosen', '–')}).\n")
        lines.append("| variant | size | × float32 size | `--compact` × float32 `--compact` | p50 × float32 | metric "
                     "| extra | note |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for row in r["rows"]:
            if "quality" not in row:
                size = f"{row['size_mib']:.2f} MiB | {row['size_ratio']:.2f}" if "size_mib" in row else "– | –"
                lines.append(f"| {row['variant']} | {size} | – | – | – | – | {row['note']} |")
                continue
            extra = ", ".join(f"{k} {v:.4g}" for k, v in row["metrics"].items()
                              if k not in ("agreement", "tag_agreement"))
            name = f"**{row['variant']}**" if row.get("winner") else row["variant"]
            p50 = f"{row['p50_ratio']:.2f}" if "p50_ratio" in row else "–"
            compact = f"{row['compact_ratio']:.2f}" if "compact_ratio" in row else "–"
            lines.append(f"| {name} | {row['size_mib']:.2f} MiB | {row['size_ratio']:.2f} | {compact} | {p50} "
                         f"| {row['quality']:.4f} | {extra} | {row['note']} |")
        lines.append("")
        for v in _verdicts(r["rows"]):
            if "ours" in v:
                ratio = v["ours_size_mib"] / v["their_size_mib"]
                size = ("at equal size" if 0.95 <= ratio <= 1.05 else
                        f"at {ratio:.2f}× its size" if ratio < 0.95 else "**but is more than 5% larger**")
                lines.append(f"- hub2lite's best int8 ({v['ours_size_mib']:.2f} MiB, {v['ours_quality']:.4f}, loss "
                             f"{v['ours_loss']:.4g}) **{v['verdict']}** {v['against']} ({v['their_size_mib']:.2f} "
                             f"MiB, {v['their_quality']:.4f}, loss {v['their_loss']:.4g}) {size}")
            else:
                lines.append(f"- vs {v['against']}: not compared ({v.get('reason', '')})")
        lines.append("")
    return "\n".join(lines)


def _load_results(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {r["model"]: r for r in data} if isinstance(data, list) else data


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(corpus.MODELS), help=f"comma-separated: {', '.join(corpus.MODELS)}")
    p.add_argument("--eval", type=int, default=200, help="evaluation samples per model (hed: at most 32)")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--json", default=str(RESULTS), help="results JSON, merged per model across runs")
    p.add_argument("--markdown")
    p.add_argument("--resume", action="store_true", help="reuse stages a previous run of the model finished")
    p.add_argument("--render-only", action="store_true", help="render the merged JSON, measure nothing")
    p.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)  # the child process
    args = p.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in corpus.MODELS]
    if unknown:
        p.error(f"unknown model(s) {unknown}: choose from {', '.join(corpus.MODELS)}")
    if args.stage:
        return _child(args.stage, names[0], args.eval, args.rounds, args.runs)
    logging.basicConfig(level=logging.WARNING)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    path = Path(args.json)
    if not args.render_only:
        for name in names:
            result = bench_model(name, args, log)
            merged = _load_results(path)  # re-read: another run may have merged a model meanwhile
            merged[name] = result
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps([merged[n] for n in sorted(merged, key=_order)], indent=1))
    merged = _load_results(path)
    text = markdown([merged[n] for n in sorted(merged, key=_order)])
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 0


def _order(name: str) -> tuple[int, str]:
    names = list(corpus.MODELS)
    return (names.index(name) if name in names else len(names), name)


if __name__ == "__main__":
    sys.exit(main())
