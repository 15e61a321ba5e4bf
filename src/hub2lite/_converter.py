"""Converter-level helpers every stage that drives TensorFlow's converter shares (convert, inspect, the
quantization debugger, calibration range inference): a typed tf.function around an entry point, the
TFLiteConverter for it, calibration samples keyed by input name, the converter's native stderr routed to
logging, and the op census of a traced graph. A low module: it imports no hub2lite module above specs."""

from __future__ import annotations

import contextlib
import inspect as _inspect
import logging
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .specs import TensorSpec

if TYPE_CHECKING:
    from .load import EntryPoint

__all__ = ["build_function", "output_names", "make_converter", "representative_dataset", "native_stderr_to_log",
           "graph_op_counts", "has_loops", "PLUMBING_OPS", "LOOP_OPS"]

log = logging.getLogger("hub2lite.convert")  # the converter's own output is logged as convert's

#: Graph plumbing that never becomes a TFLite op; left out of the census.
PLUMBING_OPS = frozenset({
    "Placeholder", "_Arg", "_Retval", "NoOp", "Identity", "IdentityN", "Const", "PartitionedCall",
    "StatefulPartitionedCall", "ReadVariableOp", "VarHandleOp", "AssignVariableOp", "StopGradient",
})


def _identifier(name: str, used: set[str]) -> str:
    ident = re.sub(r"\W", "_", name) or "input"
    if ident[0].isdigit():
        ident = "_" + ident
    base, k = ident, 1
    while ident in used:
        ident, k = f"{base}_{k}", k + 1
    used.add(ident)
    return ident


def build_function(entry: EntryPoint, specs: tuple[TensorSpec, ...]) -> tuple[Any, dict[str, str]]:
    """A tf.function with one named, typed, shaped parameter per input, calling `entry` and returning a dict.

    Returns the concrete function and {parameter (= TFLite input) name: original input name}.
    """
    import tensorflow as tf

    used: set[str] = set()
    params = [_identifier(s.name, used) for s in specs]
    originals = [s.name for s in specs]

    def call(*args: Any) -> dict[str, Any]:
        return entry(dict(zip(originals, args)))

    call.__signature__ = _inspect.Signature(  # type: ignore[attr-defined]
        [_inspect.Parameter(p, _inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in params])
    call.__name__ = re.sub(r"\W", "_", entry.info.name) or "entry"
    tf_specs = [tf.TensorSpec(s.shape, tf.as_dtype(s.dtype), name=p) for s, p in zip(specs, params)]
    fn = tf.function(call, input_signature=tf_specs, autograph=False)
    return fn.get_concrete_function(), dict(zip(params, originals))


@contextlib.contextmanager
def native_stderr_to_log() -> Iterator[None]:
    """The converter's C++/MLIR diagnostics go straight to fd 2, bypassing Python logging. Capture them
    (they are summarised in the Attempt) and replay them at DEBUG level, so the CLI stays readable."""
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
            if text.strip():
                log.debug("converter output:\n%s", text)


def output_names(concrete: Any) -> list[str]:
    """Output names of a function built by `build_function`, in the order of its graph outputs
    (tf.nest flattens dicts in sorted-key order)."""
    return sorted(concrete.structured_outputs)


def make_converter(concrete: Any, route: str = "frozen", keep: Any = None) -> Any:
    """A TFLiteConverter for a function built by `build_function`.

    route "frozen": variables are folded into constants in-process (fast: no SavedModel round trip);
    route "saved_model": the function and exactly the variables it captures are exported to a temporary
    SavedModel first (needed for resource variables and hash tables). Exporting a minimal module instead
    of the whole restored model keeps this route fast and working for Keras-3 exports, whose restored
    objects TensorFlow cannot re-save. `keep` (the loaded model) is exported along when the function uses
    resources that are not variables (lookup tables): without it they are dropped and the .tflite fails at
    run time ("You must feed a value for placeholder tensor ... with dtype resource").
    """
    import tensorflow as tf

    if route == "frozen":
        # TF logs "Please consider providing the trackable_obj ..." for this (deliberate) route: not for users
        loggers = [logging.getLogger(name) for name in ("tensorflow", "absl")]
        levels = [lg.level for lg in loggers]
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            return tf.lite.TFLiteConverter.from_concrete_functions([concrete])
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)
    holder = tf.Module()
    holder.fn = concrete
    holder.captured_variables = list(concrete.variables)
    if keep is not None:
        holder.source = keep
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)


def representative_dataset(feeds: Sequence[Mapping[str, Any]] | None, name_map: Mapping[str, str], *,
                           by_position: bool = False) -> Callable[[], Iterator[Any]] | None:
    """Calibration samples keyed by the converted function's input names, so inputs can never be
    fed in the wrong order (the classic positional representative-dataset bug). The frozen route has no
    SignatureDef while it calibrates (TFLite's calibrator then rejects dicts), so there each sample is a list
    in the function's own parameter order (name_map's order = the model's input tensors), still looked up
    by name; tests/test_quantize.py proves it with a 2-input model whose inputs differ 255x in scale."""
    if feeds is None:
        return None
    import numpy as np

    def dataset() -> Iterator[Any]:
        for feed in feeds:
            if by_position:
                yield [np.asarray(feed[orig]) for orig in name_map.values()]
            else:
                yield {param: np.asarray(feed[orig]) for param, orig in name_map.items()}

    return dataset


#: TensorFlow loop ops (a Keras LSTM/GRU's recurrence): TFLite WHILE ops unless the converter fuses them.
LOOP_OPS = frozenset({"While", "StatelessWhile"})


def has_loops(concrete_fn: Any) -> bool:
    """Whether a concrete function's graph (or a function it calls) holds a loop: int8 then calibrates in hub2lite,
    since TensorFlow's calibrator segfaults on WHILE (tensorflow/tensorflow#75140)."""
    return bool(LOOP_OPS & set(graph_op_counts(concrete_fn)))


def graph_op_counts(concrete_fn: Any) -> Counter[str]:
    """Op types in a concrete function's graph and every function it calls (its library)."""
    gdef = concrete_fn.graph.as_graph_def()
    counts: Counter[str] = Counter(n.op for n in gdef.node)
    for fdef in gdef.library.function:
        counts.update(n.op for n in fdef.node_def)
    library = {f.signature.name for f in gdef.library.function}
    return Counter({op: c for op, c in counts.items() if op not in PLUMBING_OPS and op not in library})
