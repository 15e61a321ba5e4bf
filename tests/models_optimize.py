"""A digits classifier with an outlier-heavy layer, for `hub2lite optimize` and the per-layer drill-down.

Built by the tests (cached on disk by tests/conftest.py `cached_build`).

The CNN is trained on scikit-learn's bundled digits (real 8x8 scans). After training, two output channels
of `conv1` are scaled up by OUTLIER_SCALE and `conv2`'s weights reading those channels are scaled down by
the same factor. ReLU is positively homogeneous, so the float model computes the same function (same
accuracy): this is the inverse of cross-layer equalization (Nagel et al., "Data-Free Quantization", 2019),
the per-channel range imbalance seen in real networks such as MobileNetV2 after batch-norm folding. What it
does to int8 is real: TFLite quantizes activations with one scale per tensor, so the four huge channels of
conv1's output set a step that rounds the other twelve channels to almost nothing, and conv2's
per-output-channel weight scale is set by its normal weights, so its tiny outlier weights round to zero.
Keeping conv1 + conv2 (about 7% of the weights) in float repairs it; the big dense layer stays int8.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUTLIER_SCALE = 300.0
OUTLIER_CHANNELS = 4


def outlier_digits(folder: Path, *, seed: int = 0, epochs: int = 15) -> None:
    """Input 'image' float32[?,8,8,1] in [0,1] -> 'output_0' softmax[?,10]. Writes a Keras 3 export."""
    import keras

    from hub2lite.demo import digits_data

    keras.utils.set_random_seed(seed)
    x_train, y_train, _, _ = digits_data(seed)
    model = keras.Sequential([
        keras.Input((8, 8, 1), name="image"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(name="pool"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(128, activation="relu", name="fc1"),
        keras.layers.Dense(10, activation="softmax", name="probabilities"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    conv1, conv2 = model.get_layer("conv1"), model.get_layer("conv2")
    k1, b1 = (np.array(w) for w in conv1.get_weights())
    k2, b2 = (np.array(w) for w in conv2.get_weights())
    # the most active channels become the outliers (a dead channel would make no difference)
    acts = keras.Model(model.inputs, conv1.output).predict(x_train[:256], verbose=0)
    channels = np.argsort(-acts.mean(axis=(0, 1, 2)))[:OUTLIER_CHANNELS]
    k1[..., channels] *= OUTLIER_SCALE
    b1[channels] *= OUTLIER_SCALE
    k2[:, :, channels, :] /= OUTLIER_SCALE
    conv1.set_weights([k1, b1])
    conv2.set_weights([k2, b2])
    model.export(str(folder), verbose=False)


BUILDERS = {"outlier_digits": outlier_digits}
