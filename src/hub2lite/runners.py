"""Runners: one small interface over the original TF model and a .tflite model.

    runner.input_specs() -> tuple[TensorSpec, ...]
    runner.infer(feed: {input name: ndarray}) -> {output name: ndarray}

`LiteRunner` uses ai-edge-litert's interpreter (XNNPACK on by default, as on device) for builtin-op
models. Models with Select TF (Flex) ops run in the Flex runtime (`flexruntime.FlexRunner`: TensorFlow
2.18.1 in its own venv, driven as a subprocess), because TensorFlow 2.19+ and ai-edge-litert have no Flex
delegate; `open_lite_runner` picks the right one. `runtime` says which ran. Integer-I/O models are fed
through their own input scale/zero-point and their outputs dequantized, so they compare with float originals.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from .custom_ops import require_kernels
from .errors import CalibrationError, ConfigError
from .flexruntime import FlexRunner
from .load import EntryPoint
from .specs import TensorSpec
from .tflite_file import flex_ops
from .tflite_io import SignatureIO, lite_inputs, lite_output
from .interrupts import reraise_pending

__all__ = ["Runner", "TFRunner", "LiteRunner", "FlexRunner", "open_lite_runner", "lite_inputs", "run_all",
           "make_interpreter", "signature_runner", "model_error_line"]


class Runner(Protocol):
    name: str
    runtime: str

    def input_specs(self) -> tuple[TensorSpec, ...]: ...

    def infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...


def _to_numpy(value: Any) -> np.ndarray:
    arr = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
    return np.asarray(arr)


class TFRunner:
    """Runs an entry point of the original model (TensorFlow, eager)."""

    def __init__(self, entry: EntryPoint, specs: tuple[TensorSpec, ...] | None = None) -> None:
        self.entry = entry
        self._specs = specs or entry.info.inputs
        self.name = f"tensorflow:{entry.info.name}"
        self.runtime = "tensorflow"

    def input_specs(self) -> tuple[TensorSpec, ...]:
        return self._specs

    def infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        import tensorflow as tf

        tensors = {}
        for spec in self.entry.info.inputs:
            value = feed[spec.name]
            tensors[spec.name] = tf.constant(value, dtype=tf.as_dtype(spec.dtype))
        try:
            return {k: _to_numpy(v) for k, v in self.entry(tensors).items()}
        except tf.errors.OpError as exc:  # the model rejected these inputs (e.g. an id outside its table)
            reraise_pending()  # a Ctrl-C/SIGTERM that TensorFlow turned into this error
            ranges = ", ".join(f"{n} in [{int(np.min(v))}, {int(np.max(v))}]" for n, v in feed.items()
                               if np.asarray(v).dtype.kind in "iu" and np.asarray(v).size)
            raise CalibrationError(f"the original model rejected the inputs: {model_error_line(exc)}"
                                   + (f" (integer inputs: {ranges})" if ranges else ""),
                                   hint="give inputs the model accepts with --data (text encoders: a text file, "
                                        "tokenized with the model's vocabulary), or fix shapes with --input-shape "
                                        "/ --seq-len") from exc


def model_error_line(exc: BaseException) -> str:
    """The one informative line of a TensorFlow / TFLite run-time error, and the node it names."""
    import re

    text = str(getattr(exc, "message", None) or exc)
    node = re.search(r"\{\{node ([^}]+)\}\}", text) or re.search(r"Detected at node ([^\s]+)", text)
    skip = ("Graph execution error", "Detected at node", "<stack traces unavailable>", "[[", "Stack trace")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(skip)]
    line = re.sub(r"\s*\[\[.*$|\s*\[Op:.*$", "", lines[0] if lines else type(exc).__name__)
    return line + (f" (at {node.group(1)})" if node else "")


def make_interpreter(model: bytes | str, *, threads: int | None, xnnpack: bool) -> tuple[Any, str]:
    """The ai-edge-litert interpreter for a builtin-op .tflite (bytes, or a path: the benchmark loads from the
    file as a device would), XNNPACK unless off. Returns (interpreter, runtime description). Select-TF-ops
    models run in the Flex runtime instead (`FlexRunner`): this process's TensorFlow has no Flex delegate."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    source = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    return (Interpreter(**source, num_threads=threads, experimental_op_resolver_type=resolver),
            "ai_edge_litert" + (" (XNNPACK)" if xnnpack else " (no delegates)"))


def signature_runner(interpreter: Any, key: str | None) -> tuple[str, Any]:
    """(key, runner) of signature `key` (default serving_default, else the first); allocates tensors."""
    signatures = interpreter.get_signature_list()
    if not signatures:
        raise ConfigError("the .tflite model has no signatures",
                          hint="convert it with hub2lite (or TFLiteConverter from a SavedModel) to keep signatures")
    if key is None:
        key = "serving_default" if "serving_default" in signatures else next(iter(signatures))
    if key not in signatures:
        raise ConfigError(f"the .tflite model has no signature {key!r}; it has {list(signatures)}",
                          hint="choose one with --signature")
    return key, interpreter.get_signature_runner(key)


class LiteRunner(SignatureIO):
    """Runs one signature of a .tflite model."""

    def __init__(self, model: bytes | str | os.PathLike[str], *, signature_key: str | None = None,
                 threads: int | None = None, xnnpack: bool = True,
                 input_names: Mapping[str, str] | None = None, dequantize: bool = True) -> None:
        self.model = model if isinstance(model, bytes) else open(model, "rb").read()
        require_kernels(self.model, "the .tflite model" if isinstance(model, bytes) else repr(str(model)))
        self.flex_ops = flex_ops(self.model)
        if self.flex_ops:
            raise ConfigError(f"the .tflite model has Select TF ops ({', '.join(self.flex_ops)}), which "
                              "ai-edge-litert cannot run", hint="run it with FlexRunner (open_lite_runner picks it)")
        self.threads = threads
        self.xnnpack = xnnpack
        self.dequantize = dequantize
        self.interpreter, self.runtime = make_interpreter(self.model, threads=threads, xnnpack=xnnpack)
        self.signature_key, self.runner = signature_runner(self.interpreter, signature_key)
        self._in = self.runner.get_input_details()
        self._out = self.runner.get_output_details()
        self.input_names = dict(input_names or {n: n for n in self._in})  # tflite name -> caller's name
        self.name = f"tflite:{self.signature_key}"

    def infer(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = self.runner(**lite_inputs(self._in, self.input_names, feed))
        return {name: lite_output(value, self._out[name], dequantize=self.dequantize) for name, value in out.items()}

    def close(self) -> None:
        """Nothing to end in-process (FlexRunner ends its worker); lets callers close any runner."""

    def __enter__(self) -> LiteRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_lite_runner(model: bytes | str | os.PathLike[str], *, signature_key: str | None = None,
                     threads: int | None = None, xnnpack: bool = True, input_names: Mapping[str, str] | None = None,
                     dequantize: bool = True, flex_runtime: bool = True) -> LiteRunner | FlexRunner:
    """The runner for a .tflite: LiteRunner (ai-edge-litert) for builtin-op models, FlexRunner (the Flex runtime,
    built on first need; FlexRuntimeError when `flex_runtime` is False or it cannot be had) for Select-TF-ops
    models."""
    data = model if isinstance(model, bytes) else open(model, "rb").read()
    if flex_ops(data):
        return FlexRunner(data, signature_key=signature_key, threads=threads, input_names=input_names,
                          dequantize=dequantize, allow_runtime=flex_runtime)
    return LiteRunner(data, signature_key=signature_key, threads=threads, xnnpack=xnnpack,
                      input_names=input_names, dequantize=dequantize)


def run_all(runner: Runner, feeds: list[Mapping[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    return [runner.infer(feed) for feed in feeds]
