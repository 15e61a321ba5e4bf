"""A small real RGB photo classifier for the metadata tests (what MediaPipe Tasks' ImageClassifier can run).

scikit-image bundles real colour photos; `photo_classifier` trains a CNN to tell four of them apart
(astronaut, cat, coffee, rocket) from random crops, resized to 32x32 RGB. It takes float32 [?,32,32,3] in
[-1, 1] with no Rescaling layer, so the normalization (mean 127.5, std 127.5) must come from the user and travel
in the metadata: a consumer that ignored it would see different scores. Exported with Keras 3 `model.export`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SEED = 0
SIZE = 32
CLASSES = ("astronaut", "cat", "coffee", "rocket")
_PHOTOS = {"astronaut": "astronaut", "cat": "chelsea", "coffee": "coffee", "rocket": "rocket"}


def photo(name: str) -> np.ndarray:
    """The scikit-image photo behind class `name`, uint8 [H, W, 3]."""
    import skimage.data

    return getattr(skimage.data, _PHOTOS[name])()


def resized(pixels: np.ndarray, size: int = SIZE) -> np.ndarray:
    """uint8 [size, size, 3], resized with Pillow's bilinear filter (as hub2lite's image-folder loader does)."""
    from PIL import Image

    return np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def crops(count_per_class: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Random crops (40-100% of the short side, random flip) of every class photo: uint8 [N,32,32,3], labels [N]."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for label, name in enumerate(CLASSES):
        img = photo(name)
        h, w = img.shape[:2]
        for _ in range(count_per_class):
            side = int(min(h, w) * rng.uniform(0.4, 1.0))
            top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            crop = img[top:top + side, left:left + side]
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            xs.append(resized(np.ascontiguousarray(crop)))
            ys.append(label)
    return np.stack(xs), np.array(ys, dtype=np.int64)


def to_model_range(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [-1, 1]: (pixel - 127.5) / 127.5."""
    return ((pixels.astype(np.float32) - 127.5) / 127.5).astype(np.float32)


def photo_classifier(path: Path) -> None:
    import keras

    keras.utils.set_random_seed(SEED)
    x, y = crops(150)
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 3), name="image"),
        keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(len(CLASSES), activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(to_model_range(x), y, epochs=20, batch_size=32, verbose=0)
    model.export(str(path), verbose=False)


def write_photo(folder: Path, name: str) -> Path:
    """The whole class photo, resized to the model's 32x32, as folder/NAME.png (what both consumers classify)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}.png"
    Image.fromarray(resized(photo(name))).save(out)
    return out
