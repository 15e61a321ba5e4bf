"""Seeded synthetic inputs that respect each input's dtype and shape."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import ConfigError
from .specs import TensorSpec

__all__ = ["concrete_shape", "synthetic_feeds", "DEFAULT_FLOAT_RANGE"]

#: TF Hub image models take float32 in [0, 1]; the default synthetic range.
DEFAULT_FLOAT_RANGE = (0.0, 1.0)
_DYNAMIC_FALLBACK = 8  # size of a dynamic non-batch dim when nothing else is known
_WORDS = [b"the", b"model", b"hub", b"lite", b"convert", b"quick", b"brown", b"fox", b"jumps", b"over",
          b"lazy", b"dog", b"tensor", b"flow", b"edge", b"device"]


def concrete_shape(spec: TensorSpec, *, batch: int = 1) -> tuple[int, ...]:
    if spec.shape is None:
        raise ConfigError(f"input {spec.name!r} has unknown rank", hint=f"pass --input-shape {spec.name}=...")
    dims = [d if d is not None else (batch if i == 0 else _DYNAMIC_FALLBACK) for i, d in enumerate(spec.shape)]
    return tuple(int(d) for d in dims)


def synthetic_feeds(specs: Sequence[TensorSpec], count: int, *, seed: int = 0,
                    float_range: tuple[float, float] = DEFAULT_FLOAT_RANGE) -> list[dict[str, np.ndarray]]:
    """`count` feeds of random data: floats uniform in `float_range`, ints in [0, 100), bools, short strings."""
    rng = np.random.default_rng(seed)
    feeds = []
    for _ in range(count):
        feed: dict[str, np.ndarray] = {}
        for spec in specs:
            shape = concrete_shape(spec)
            dtype = spec.dtype
            if dtype in ("float16", "float32", "float64", "bfloat16"):
                lo, hi = float_range
                feed[spec.name] = rng.uniform(lo, hi, shape).astype(np.float32 if dtype == "bfloat16" else dtype)
            elif dtype in ("uint8",):
                feed[spec.name] = rng.integers(0, 256, shape, dtype=np.uint8)
            elif dtype.startswith(("int", "uint")):
                feed[spec.name] = rng.integers(0, 100, shape).astype(dtype)
            elif dtype == "bool":
                feed[spec.name] = rng.random(shape) < 0.5
            elif dtype == "string":
                words = rng.integers(0, len(_WORDS), (*shape, 3))
                feed[spec.name] = np.array([b" ".join(_WORDS[i] for i in row) for row in words.reshape(-1, 3)],
                                           dtype=object).reshape(shape)
            else:
                raise ConfigError(f"cannot generate inputs of dtype {dtype} for {spec.name!r}",
                                  hint="pass real inputs with --data")
        feeds.append(feed)
    return feeds
