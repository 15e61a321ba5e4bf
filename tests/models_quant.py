"""Models for the quantization tests, trained on scikit-learn's real digits (offline), exported with Keras 3
`model.export` (a TF2 SavedModel with serving_default). Cached on disk by conftest.cached_build.

* `digits_wide`: input 'image' float32[?,8,8,1] in [0,1] -> 'output_0' softmax[?,10]; ~283k parameters, most in
  one Dense(256), so weights dominate the file and size ratios (float16 ~1/2, int8 ~1/4) are measurable.
* `digits_two_inputs`: 'top' float32[?,32] in [0,1] (rows 0-3) and 'bottom' float32[?,32] in [0,255]
  (rows 4-7, raw pixel scale). The scales differ 255x, so calibrating one input with the other's data
  wrecks int8 accuracy: proof that inputs are fed by name.
* `digits_rgb_rescaling`: input 'pixels' float32[?,16,16,3] in [0,255] with a leading Rescaling(1/255),
  the kind of model that tells its own input range.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SEED = 0


def _export(model, path: Path) -> None:
    model.export(str(path), verbose=False)


def _fit(model, x, y, epochs: int) -> None:
    import keras

    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)


def split_halves(x: np.ndarray) -> dict[str, np.ndarray]:
    """Digits [N,8,8,1] in [0,1] -> {'top': rows 0-3 in [0,1], 'bottom': rows 4-7 in [0,255]}."""
    flat = x.reshape(len(x), 8, 8)
    return {"top": flat[:, :4].reshape(len(x), 32).astype(np.float32),
            "bottom": (flat[:, 4:].reshape(len(x), 32) * 255.0).astype(np.float32)}


def to_rgb16(x: np.ndarray) -> np.ndarray:
    """Digits [N,8,8,1] in [0,1] -> [N,16,16,3] pixels in [0,255] (2x nearest upscale, gray in RGB)."""
    up = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)
    return (np.repeat(up, 3, axis=3) * 255.0).astype(np.float32)


def digits_wide(path: Path) -> None:
    import keras

    from hub2lite.demo import digits_data

    keras.utils.set_random_seed(SEED)
    x, y, _, _ = digits_data()
    model = keras.Sequential([
        keras.Input((8, 8, 1), name="image"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    _fit(model, x, y, epochs=10)
    _export(model, path)


def digits_two_inputs(path: Path) -> None:
    import keras

    from hub2lite.demo import digits_data

    keras.utils.set_random_seed(SEED)
    x, y, _, _ = digits_data()
    halves = split_halves(x)
    top = keras.Input((32,), name="top")
    bottom = keras.Input((32,), name="bottom")
    merged = keras.layers.Concatenate()([top, keras.layers.Rescaling(1 / 255.0)(bottom)])
    hidden = keras.layers.Dense(128, activation="relu")(merged)
    out = keras.layers.Dense(10, activation="softmax")(hidden)
    model = keras.Model({"top": top, "bottom": bottom}, out)
    _fit(model, halves, y, epochs=30)
    _export(model, path)


def digits_rgb_rescaling(path: Path) -> None:
    import keras

    from hub2lite.demo import digits_data

    keras.utils.set_random_seed(SEED)
    x, y, _, _ = digits_data()
    model = keras.Sequential([
        keras.Input((16, 16, 3), name="pixels"),
        keras.layers.Rescaling(1 / 255.0),
        keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    _fit(model, to_rgb16(x), y, epochs=25)
    _export(model, path)


BUILDERS = {"digits_wide": digits_wide, "digits_two_inputs": digits_two_inputs,
            "digits_rgb_rescaling": digits_rgb_rescaling}
