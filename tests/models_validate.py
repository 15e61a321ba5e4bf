"""Models for the validation tests (built once per cache key with conftest.cached_build).

* two_heads: a TF2 SavedModel x float32[?,16] -> {'probs': softmax [?,10], 'embedding': tanh [?,32]}.
* reordered: the same kind of model with three outputs {'aux': [?,8], 'embedding': [?,8], 'probs': [?,10]}
  in `saved_model/`, and `model.tflite` converted from a concrete function that returns them as a tuple in
  another order (embedding, probs, aux): the .tflite's outputs are called output_0..2, so they can only be
  paired by shape (probs) and by values (aux vs embedding, same shape).

`perturb_weights` changes one weight buffer of a .tflite flatbuffer (tensorflow.lite.tools.flatbuffer_utils).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _heads_module(seed: int, outputs: tuple[str, ...]):
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    class Heads(tf.Module):
        def __init__(self) -> None:
            self.w_probs = tf.Variable(rng.normal(size=(16, 10)).astype(np.float32))
            self.w_embed = tf.Variable(rng.normal(size=(16, 32 if "aux" not in outputs else 8)).astype(np.float32) / 4)
            self.w_aux = tf.Variable(rng.normal(size=(16, 8)).astype(np.float32))

        def heads(self, x):
            out = {"probs": tf.nn.softmax(tf.matmul(x, self.w_probs)),
                   "embedding": tf.tanh(tf.matmul(x, self.w_embed))}
            if "aux" in outputs:
                out["aux"] = tf.matmul(x, self.w_aux) + 3.0
            return out

    return Heads()


def two_heads(path: Path) -> None:
    import tensorflow as tf

    m = _heads_module(0, ("probs", "embedding"))
    serve = tf.function(m.heads, input_signature=[tf.TensorSpec([None, 16], tf.float32, name="x")])
    tf.saved_model.save(m, str(path), signatures={"serving_default": serve})


def reordered(path: Path) -> None:
    import tensorflow as tf

    m = _heads_module(1, ("probs", "embedding", "aux"))
    serve = tf.function(m.heads, input_signature=[tf.TensorSpec([None, 16], tf.float32, name="x")])
    tf.saved_model.save(m, str(path / "saved_model"), signatures={"serving_default": serve})

    @tf.function(input_signature=[tf.TensorSpec([1, 16], tf.float32, name="x")])
    def as_tuple(x):
        h = m.heads(x)
        return h["embedding"], h["probs"], h["aux"]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([as_tuple.get_concrete_function()], m)
    (path / "model.tflite").write_bytes(converter.convert())


BUILDERS = {"two_heads": two_heads, "reordered": reordered}


def perturb_weights(model: bytes, shape: tuple[int, ...], *, scale: float = 0.5, seed: int = 0) -> bytes:
    """Add seeded noise (`scale` x the weights' std) to the float32 constant tensor of `shape` -- the one weight
    buffer of exactly that shape -- and return the new flatbuffer."""
    from tensorflow.lite.tools import flatbuffer_utils

    fb = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    hits = [t for g in fb.subgraphs for t in g.tensors
            if t.shape is not None and tuple(int(d) for d in t.shape) == shape and t.buffer
            and fb.buffers[t.buffer].data is not None and len(fb.buffers[t.buffer].data)]
    assert len(hits) == 1, f"expected one constant tensor of shape {shape}, found {len(hits)}"
    buf = fb.buffers[hits[0].buffer]
    w = np.frombuffer(bytes(buf.data), dtype=np.float32)
    noisy = w + np.random.default_rng(seed).normal(size=w.shape).astype(np.float32) * scale * w.std()
    buf.data = np.frombuffer(noisy.astype(np.float32).tobytes(), dtype=np.uint8)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(fb))
