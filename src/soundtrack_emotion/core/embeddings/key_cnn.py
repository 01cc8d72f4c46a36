"""Korzeniowski & Widmer's key CNN ("Genre-agnostic key classification with convolutional
neural networks", ISMIR 2018), as madmom 0.17 ships it (``madmom/models/key/2018/key_cnn.pkl``,
models CC BY-NC-SA 4.0), rebuilt in Keras 3 from that file without importing madmom.

Why it is here: on real music, a major key reads brighter than a minor one, and this
network tells major from minor far better than key-profile matching on chroma (its major-minus-
minor probability correlates r = 0.40 with real_music_dev's valence, 0.73 within classical,
against 0.25 for the Krumhansl-Kessler profiles of :mod:`~soundtrack_emotion.core.harmony`).

The front end is madmom's ``CNNKeyRecognitionProcessor``, reproduced in NumPy:

* 44.1 kHz mono, frames of 8192 samples every 8820 (5 per second), each centred on its
  reference sample ``i x 8820`` and zero-padded at the edges, ``ceil(n / 8820)`` frames
  (at 22.05 kHz: 4096 samples every 4410, the same bin frequencies, magnitudes doubled);
* a Hann window, the magnitude of the first 4096 FFT bins;
* a logarithmic filterbank of overlapping triangular filters, 24 per octave from 65 Hz to
  2100 Hz around A4 = 440 Hz, each of area 1, duplicates removed (105 bands);
* ``log10(1 + x)``.

The network (all convolutional, 0.9 M parameters) reads that spectrogram [time, 105] as one
image: eight 'same' convolutions (5 x 5 then 3 x 3; 24, 24, 48, 48, 96, 96, 192, 192 channels,
each followed by batch norm and ELU) with 2 x 2 max pooling after the 2nd, 4th and 6th, then a
1 x 1 convolution to 24 channels (batch norm, ELU). madmom averages that map over time and
frequency and applies a softmax over 24 keys (A major .. G# major, A minor .. G# minor).
:func:`key_logit_map` keeps the time axis: one 24-vector per 8 input frames (1.6 s), so that
the key of any stretch is the softmax of the mean over its steps, exactly the network's answer
for the whole track when the stretch is the whole track. Long tracks go through in chunks with
a margin wider than the network's receptive field, so chunking changes nothing.

madmom computes true convolutions (flipped kernels); Keras cross-correlates, so the kernels
are flipped on loading.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from soundtrack_emotion.core.precision import FLOAT32, keras_in_precision
from soundtrack_emotion.exceptions import AudioDecodeError, ModelUnavailableError

KEY_CNN_SAMPLE_RATE = 44100
# The rates the front end reads: madmom's, and half of it (harmony's, so one decode serves
# both; the spectrogram differs from madmom's by resampling alone, see key_spectrogram).
KEY_CNN_SAMPLE_RATES = (22050, 44100)
KEY_CNN_FRAME_SIZE = 8192
KEY_CNN_FPS = 5
KEY_CNN_HOP = KEY_CNN_SAMPLE_RATE // KEY_CNN_FPS  # 8820 samples
KEY_CNN_BANDS_PER_OCTAVE = 24
KEY_CNN_FMIN = 65.0
KEY_CNN_FMAX = 2100.0
TUNING_A4 = 440.0
# Filterbank bands at 44.1 kHz and 8192-sample frames (unique bins from 65 to 2100 Hz).
KEY_CNN_BANDS = 105
# Input frames per output step: three 2 x 2 max poolings.
KEY_CNN_TIME_STRIDE = 8
KEY_CNN_STEP_SECONDS = KEY_CNN_TIME_STRIDE / KEY_CNN_FPS  # 1.6 s
# Input frames per network call (about 3.4 min) and the margin on each side: wider than the
# receptive field (about 40 frames), a multiple of the stride, so chunks join seamlessly.
KEY_CNN_CHUNK_FRAMES = 1024
KEY_CNN_CHUNK_MARGIN = 64
# Spectrogram frames computed per FFT batch: bounds memory on long tracks.
KEY_CNN_FFT_BATCH = 2048

KEY_NAMES: tuple[str, ...] = tuple(
    f"{tonic} {mode}"
    for mode, tonics in (
        ("major", ("A", "Bb", "B", "C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab")),
        ("minor", ("A", "Bb", "B", "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#")),
    )
    for tonic in tonics
)
N_KEYS = len(KEY_NAMES)  # 24: the 12 major keys, then the 12 minor keys

# The classes a madmom network pickle may name; anything else is refused (a pickle can run code).
_PICKLE_CLASSES = {
    ("madmom.ml.nn", "NeuralNetwork"),
    ("madmom.ml.nn.layers", "PadLayer"),
    ("madmom.ml.nn.layers", "ConvolutionalLayer"),
    ("madmom.ml.nn.layers", "BatchNormLayer"),
    ("madmom.ml.nn.layers", "MaxPoolLayer"),
    ("madmom.ml.nn.layers", "AverageLayer"),
}
_PICKLE_FUNCTIONS = {("madmom.ml.nn.activations", "elu"), ("madmom.ml.nn.activations", "linear")}
_NUMPY = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}


def key_filterbank(
    *, sample_rate: int = KEY_CNN_SAMPLE_RATE, frame_size: int = KEY_CNN_FRAME_SIZE
) -> np.ndarray:
    """madmom's ``LogarithmicFilterbank(num_bands=24, fmin=65, fmax=2100, norm_filters=True,
    unique_filters=True)`` on the FFT bins of ``frame_size`` samples: [frame_size // 2,
    n_bands] float32 (105 bands at 44.1 kHz and 8192 samples)."""
    n_bins = frame_size // 2
    bin_frequencies = np.fft.fftfreq(n_bins * 2, 1.0 / sample_rate)[:n_bins]
    per_octave = KEY_CNN_BANDS_PER_OCTAVE
    left = np.floor(np.log2(KEY_CNN_FMIN / TUNING_A4) * per_octave)
    right = np.ceil(np.log2(KEY_CNN_FMAX / TUNING_A4) * per_octave)
    frequencies = TUNING_A4 * 2.0 ** (np.arange(left, right) / per_octave)
    frequencies = frequencies[np.searchsorted(frequencies, KEY_CNN_FMIN) :]
    frequencies = frequencies[: np.searchsorted(frequencies, KEY_CNN_FMAX, "right")]
    # The nearest FFT bin of each frequency, duplicates removed.
    indices = np.clip(bin_frequencies.searchsorted(frequencies), 1, n_bins - 1)
    below, above = bin_frequencies[indices - 1], bin_frequencies[indices]
    indices = np.unique(indices - (frequencies - below < above - frequencies))
    bank = np.zeros((n_bins, len(indices) - 2), dtype=np.float32)
    for band, (start, centre, stop) in enumerate(
        zip(indices[:-2], indices[1:-1], indices[2:], strict=True)
    ):
        # madmom's TriangularFilter: a too-narrow filter is one bin at its start.
        peak, end = (start, start + 1) if stop - start < 2 else (centre, stop)
        shape = np.zeros(end - start)
        shape[: peak - start] = np.linspace(0, 1, peak - start, endpoint=False)
        shape[peak - start :] = np.linspace(1, 0, end - peak, endpoint=False)
        bank[start:end, band] = shape / shape.sum()
    return bank


@functools.lru_cache(maxsize=4)
def _cached_filterbank(sample_rate: int, frame_size: int) -> np.ndarray:
    return key_filterbank(sample_rate=sample_rate, frame_size=frame_size)


def key_spectrogram(y: np.ndarray, *, sr: int = KEY_CNN_SAMPLE_RATE) -> np.ndarray:
    """madmom's log-filtered spectrogram of a mono waveform ``y`` [n] in -1..1 at ``sr``
    (44100, or 22050: see :data:`KEY_CNN_SAMPLE_RATES`): [ceil(n / (sr / 5)), 105] float32,
    ``log10(1 + |STFT| @ filterbank)``. Raises ValueError for another rate."""
    if sr not in KEY_CNN_SAMPLE_RATES:
        raise ValueError(f"the key CNN reads audio at {KEY_CNN_SAMPLE_RATES} Hz, got sr={sr!r}")
    # At half the rate, half the frame spans the same 186 ms on the same FFT bin frequencies,
    # and the magnitudes are doubled to match (the window's sum halves).
    scale = KEY_CNN_SAMPLE_RATE // sr
    frame_size, hop = KEY_CNN_FRAME_SIZE // scale, sr // KEY_CNN_FPS
    y = np.asarray(y, dtype=np.float32)
    n_frames = -(-len(y) // hop)
    half = frame_size // 2
    bank = _cached_filterbank(sr, frame_size)
    window = (scale * np.hanning(frame_size)).astype(np.float32)
    out = np.empty((n_frames, bank.shape[1]), dtype=np.float32)
    for first in range(0, n_frames, KEY_CNN_FFT_BATCH):
        last = min(first + KEY_CNN_FFT_BATCH, n_frames)
        start = first * hop - half
        stop = (last - 1) * hop + half
        piece = np.zeros(stop - start, dtype=np.float32)
        lo, hi = max(start, 0), min(stop, len(y))
        if hi > lo:
            piece[lo - start : hi - start] = y[lo:hi]
        frames = np.lib.stride_tricks.sliding_window_view(piece, frame_size)[::hop][: last - first]
        magnitude = np.abs(np.fft.rfft(frames * window, axis=1)[:, :half])
        out[first:last] = np.log10(1.0 + magnitude.astype(np.float32) @ bank)
    return out


class _Stored:
    """A madmom object rebuilt from its pickled state: only its attributes."""

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__dict__.update(state)


class _NetworkUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _PICKLE_CLASSES:
            return type(name, (_Stored,), {})
        if (module, name) in _PICKLE_FUNCTIONS:
            return name
        if (module, name) in _NUMPY:
            return super().find_class(module.replace("numpy._core", "numpy.core"), name)
        raise pickle.UnpicklingError(f"the key CNN file names {module}.{name}, not allowed")


def read_key_cnn_layers(path: str | Path) -> list[Any]:
    """The layers of madmom's key CNN pickle at ``path``, each as its stored attributes
    (``type(layer).__name__`` is madmom's class name), without importing madmom: only the
    classes of :data:`_PICKLE_CLASSES` and NumPy arrays may appear."""
    try:
        with open(path, "rb") as handle:
            return list(_NetworkUnpickler(handle, encoding="latin1").load().layers)
    except (
        OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError
    ) as error:  # fmt: skip
        raise ModelUnavailableError(f"cannot read the key CNN file {path}: {error}") from None


def build_key_cnn(layers: list[Any]) -> Any:
    """A Keras model of madmom's key CNN ``layers``: [batch, time, 105, 1] spectrograms ->
    [batch, time // 8, 13, 24] ELU activations (the map madmom averages into logits)."""
    import keras

    inputs = keras.Input(shape=(None, KEY_CNN_BANDS, 1), name="log_spectrogram")
    x = inputs
    pad = 0
    for index, layer in enumerate(layers):
        kind = type(layer).__name__
        if kind == "PadLayer":
            pad = int(layer.width)
            continue
        if kind == "ConvolutionalLayer":
            weights = np.asarray(layer.weights, dtype=np.float32)  # [in, out, time, freq]
            kernel = weights[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)  # true convolution
            if pad:
                x = keras.layers.ZeroPadding2D(pad, name=f"pad_{index}")(x)
                pad = 0
            conv = keras.layers.Conv2D(
                weights.shape[1], kernel.shape[:2], padding="valid", name=f"conv_{index}"
            )
            x = conv(x)
            bias = np.broadcast_to(np.asarray(layer.bias, np.float32), (weights.shape[1],))
            conv.set_weights([np.ascontiguousarray(kernel), np.array(bias)])
        elif kind == "BatchNormLayer":
            scale = np.asarray(layer.gamma, np.float32) * np.asarray(layer.inv_std, np.float32)
            shift = np.asarray(layer.beta, np.float32) - np.asarray(layer.mean, np.float32) * scale
            affine = keras.layers.Dense(len(scale), name=f"batch_norm_{index}")
            # A per-channel affine map: a diagonal Dense over the channel axis.
            x = affine(x)
            affine.set_weights([np.diag(scale), shift])
            if layer.activation_fn == "elu":
                x = keras.layers.ELU(name=f"elu_{index}")(x)
        elif kind == "MaxPoolLayer":
            x = keras.layers.MaxPooling2D(tuple(layer.size), name=f"max_pool_{index}")(x)
        elif kind == "AverageLayer":
            break
        else:
            raise ModelUnavailableError(f"the key CNN file holds an unknown layer {kind!r}")
    return keras.Model(inputs, x, name="key_cnn")


class KeyCnnModel:
    """The rebuilt network, traced once for any spectrogram length, and the SHA-256 of the
    file it came from (for fingerprints)."""

    def __init__(self, network: Any, *, sha256: str, precision: str = FLOAT32) -> None:
        import tensorflow as tf

        self.network = keras_in_precision(network, precision)
        self.sha256 = sha256
        self.precision = precision
        self._call = tf.function(
            lambda x: self.network(x, training=False),
            input_signature=[tf.TensorSpec([None, None, network.input_shape[2], 1], tf.float32)],
        )

    def __call__(self, spectrogram: np.ndarray) -> np.ndarray:
        """[time, 105] -> [time // 8, 24]: the map averaged over frequency (logits per step)."""
        out = self._call(np.asarray(spectrogram, dtype=np.float32)[None, :, :, None])
        return np.asarray(out, dtype=np.float32)[0].mean(axis=1)


@functools.lru_cache(maxsize=2)
def key_cnn_from_file(path: str, precision: str = FLOAT32) -> KeyCnnModel:
    """The key CNN of madmom's pickle at ``path`` computing in ``precision``, built once per
    process."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    network = build_key_cnn(read_key_cnn_layers(path))
    return KeyCnnModel(network, sha256=digest, precision=precision)


def key_logit_map(
    y: np.ndarray, *, model: KeyCnnModel, sr: int = KEY_CNN_SAMPLE_RATE
) -> np.ndarray:
    """The key CNN's logits along one mono track ``y`` [n] at ``sr``: [n_steps, 24] float32,
    one step per 1.6 s (8 spectrogram frames). Raises AudioDecodeError for a track shorter
    than one step."""
    spectrogram = key_spectrogram(y, sr=sr)
    n_steps = len(spectrogram) // KEY_CNN_TIME_STRIDE
    if n_steps < 1:
        raise AudioDecodeError(
            f"the track lasts {len(y) / sr:.2f} s, shorter than one "
            f"{KEY_CNN_STEP_SECONDS} s key CNN step",
            reason="too_short",
        )
    out = np.empty((n_steps, N_KEYS), dtype=np.float32)
    margin = KEY_CNN_CHUNK_MARGIN
    for first in range(0, n_steps * KEY_CNN_TIME_STRIDE, KEY_CNN_CHUNK_FRAMES):
        lo = max(first - margin, 0)
        hi = min(first + KEY_CNN_CHUNK_FRAMES + margin, len(spectrogram))
        steps = model(spectrogram[lo:hi])
        skip = (first - lo) // KEY_CNN_TIME_STRIDE
        begin = first // KEY_CNN_TIME_STRIDE
        end = min(begin + KEY_CNN_CHUNK_FRAMES // KEY_CNN_TIME_STRIDE, n_steps)
        out[begin:end] = steps[skip : skip + end - begin]
    return out


def key_probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax over the 24 keys of logits [..., 24] (the network's mean over a stretch)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=-1, keepdims=True)
