"""The Flex runtime's worker: runs .tflite models with Select TF ops in TensorFlow 2.18.1's interpreter.

This file is run *by path* with the Flex runtime's own Python (`python -I _flex_worker.py`), a venv that
has TensorFlow 2.18.1 and numpy and no hub2lite: it imports nothing from hub2lite, only the standard library,
numpy and TensorFlow. hub2lite's `flexruntime.FlexRunner` drives it over stdin/stdout with framed messages:

    frame   = 4-byte big-endian header length, header (UTF-8 JSON), 8-byte big-endian body length, body
    body    = the arrays' raw bytes, back to back; the header's "arrays" lists [name, dtype, shape, length]
              in order (no pickle; strings as fixed-width bytes). An .npz per call cost ~1 ms on a busy
              2-core machine, this a few microseconds.

Requests (header "op"): `hello` -> versions; `load` {path, signature_key, threads} -> signatures and the
JSON-safe input/output details of one signature; `infer` (body: inputs by TFLite input name) -> outputs
(body); `bench` {runs, warmup} with one feed -> per-run seconds; `quit`. Each reply has "ok": true, or
"ok": false with "error" (one line) and "kind". One process serves one model for many calls.
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import time
from typing import Any

_HEADER = struct.Struct(">I")
_BODY = struct.Struct(">Q")


def _read_exact(stream: Any, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: Any) -> tuple[dict[str, Any], bytes] | None:
    raw = _read_exact(stream, _HEADER.size)
    if raw is None:
        return None
    header = json.loads(_read_exact(stream, _HEADER.unpack(raw)[0]) or b"{}")
    size = _BODY.unpack(_read_exact(stream, _BODY.size) or b"\0" * 8)[0]
    body = _read_exact(stream, size) if size else b""
    return header, body or b""


def write_frame(stream: Any, header: dict[str, Any], body: bytes = b"") -> None:
    data = json.dumps(header).encode()
    stream.write(_HEADER.pack(len(data)) + data + _BODY.pack(len(body)))
    if body:
        stream.write(body)
    stream.flush()


def pack_arrays(arrays: dict[str, Any]) -> tuple[list[list[Any]], bytes]:
    """(index for the header, body): each array's raw C-order bytes, back to back; the index holds
    [name, dtype string, shape, byte length]. No pickling: object arrays (strings) become fixed-width bytes."""
    import numpy as np

    index, blobs = [], []
    for name, value in arrays.items():
        arr = _portable(np.asarray(value))
        arr = arr if arr.flags.c_contiguous else arr.copy(order="C")  # (ascontiguousarray makes 0-d arrays 1-d)
        blobs.append(arr.tobytes())
        index.append([name, arr.dtype.str, list(arr.shape), len(blobs[-1])])
    return index, b"".join(blobs)


def unpack_arrays(index: list[list[Any]], body: bytes) -> dict[str, Any]:
    import numpy as np

    out, pos = {}, 0
    for name, dtype, shape, length in index:
        dt = np.dtype(dtype)
        if dt.hasobject:
            raise ValueError(f"array {name!r}: object dtypes do not cross the pipe")
        if int(length) == 0:
            out[name] = np.empty(shape, dt)
        else:
            out[name] = np.frombuffer(body, dtype=dt, count=int(length) // dt.itemsize, offset=pos).reshape(shape).copy()
        pos += int(length)
    return out


def _portable(arr: Any) -> Any:
    """Object arrays (TFLite strings) cannot cross without pickle: send them as fixed-width bytes."""
    import numpy as np

    if arr.dtype == np.object_:
        return np.array([x if isinstance(x, bytes) else str(x).encode() for x in arr.ravel()],
                        dtype=np.bytes_).reshape(arr.shape)
    return arr


def _details(d: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    q = d.get("quantization_parameters", {})
    dtype = np.dtype(d["dtype"])
    return {
        "name": d["name"], "index": int(d["index"]),
        "dtype": "object" if dtype == np.object_ else dtype.name,
        "shape": [int(x) for x in d["shape"]],
        "shape_signature": [int(x) for x in d.get("shape_signature", d["shape"])],
        "quantization_parameters": {"scales": [float(x) for x in q.get("scales", [])],
                                    "zero_points": [int(x) for x in q.get("zero_points", [])],
                                    "quantized_dimension": int(q.get("quantized_dimension", 0))},
    }


def _proc_status_bytes(field: str) -> int:
    """A memory line of /proc/self/status (VmRSS, VmHWM) in bytes; 0 where /proc is missing."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class _Session:
    def __init__(self) -> None:
        self.runner: Any = None
        self.in_details: dict[str, Any] = {}

    def hello(self, header: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
        import numpy as np
        import tensorflow as tf

        return {"tensorflow": tf.__version__, "numpy": np.__version__,
                "python": ".".join(map(str, sys.version_info[:3])), "pid": os.getpid()}, b""

    def load(self, header: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
        import tensorflow as tf

        rss_before = _proc_status_bytes("VmRSS")  # TensorFlow imported, no model yet
        t0 = time.perf_counter()
        interpreter = tf.lite.Interpreter(model_path=header["path"], num_threads=header.get("threads"))
        signatures = interpreter.get_signature_list()
        key = header.get("signature_key")
        info: dict[str, Any] = {"signatures": {k: {"inputs": list(v["inputs"]), "outputs": list(v["outputs"])}
                                               for k, v in signatures.items()},
                                "tensorflow": tf.__version__}
        if signatures:
            if key is None:
                key = "serving_default" if "serving_default" in signatures else next(iter(signatures))
            if key in signatures:
                self.runner = interpreter.get_signature_runner(key)
                self.in_details = self.runner.get_input_details()
                info["inputs"] = {n: _details(d) for n, d in self.in_details.items()}
                info["outputs"] = {n: _details(d) for n, d in self.runner.get_output_details().items()}
        info["signature_key"] = key
        info["load_s"] = time.perf_counter() - t0
        info["rss_before_load_bytes"] = rss_before
        return info, b""

    def _kwargs(self, header: dict[str, Any], body: bytes) -> dict[str, Any]:
        import numpy as np

        kwargs = unpack_arrays(header.get("arrays", []), body)
        for name, d in self.in_details.items():  # strings travel as bytes_; the interpreter wants objects
            if name in kwargs and np.dtype(d["dtype"]) == np.object_:
                kwargs[name] = kwargs[name].astype(np.object_)
        return kwargs

    def infer(self, header: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
        if self.runner is None:
            raise ValueError("no model loaded")
        index, out = pack_arrays(self.runner(**self._kwargs(header, body)))
        return {"arrays": index}, out

    def bench(self, header: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
        import resource

        if self.runner is None:
            raise ValueError("no model loaded")
        kwargs = self._kwargs(header, body)
        t0 = time.perf_counter()
        self.runner(**kwargs)
        first = time.perf_counter() - t0
        for _ in range(int(header.get("warmup", 0))):
            self.runner(**kwargs)
        times = []
        for _ in range(int(header["runs"])):
            t0 = time.perf_counter()
            self.runner(**kwargs)
            times.append(time.perf_counter() - t0)
        peak = _proc_status_bytes("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return {"first_s": first, "times_s": times, "peak_rss_bytes": peak}, b""


def main() -> int:
    # The protocol owns the real stdout; anything TensorFlow or numpy prints goes to stderr instead.
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    proto_in = sys.stdin.buffer
    session = _Session()
    while True:
        frame = read_frame(proto_in)
        if frame is None:
            return 0
        header, body = frame
        op = header.get("op")
        if op == "quit":
            write_frame(proto_out, {"ok": True})
            return 0
        handler = {"hello": session.hello, "load": session.load, "infer": session.infer,
                   "bench": session.bench}.get(str(op))
        try:
            if handler is None:
                raise ValueError(f"unknown request {op!r}")
            reply, out = handler(header, body)
        except Exception as exc:  # noqa: BLE001 - every failure goes back to hub2lite as one line
            message = " ".join(str(exc).split()) or type(exc).__name__
            write_frame(proto_out, {"ok": False, "kind": type(exc).__name__, "error": message[:2000]})
            continue
        write_frame(proto_out, {"ok": True, **reply}, out)


if __name__ == "__main__":
    sys.exit(main())
