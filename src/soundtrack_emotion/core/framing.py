"""Framing: a track's rows ``[T, F]`` cut into model frames ``[n, frame_length, F]`` of
15 s / 30 s, i.e. (323, 13) / (646, 13) MFCC windows, (15, 128) / (30, 128) VGGish embeddings
and (5, 200) / (10, 200) MusiCNN patches (a "15 s" MusiCNN frame spans 5 x 2.992 = 14.96 s);
each family says how many of its rows make one frame (``FeatureFamily.frame_rows``)."""

from __future__ import annotations

import numpy as np

from soundtrack_emotion.exceptions import ParameterError

# What happens to a track shorter than one frame: left out, or padded by repeating it.
SHORT_TRACK_POLICIES = ("drop", "pad")


def frame_hop(length: int, *, hop: float = 1.0) -> int:
    """Rows between consecutive frame starts: ``hop`` is a fraction of the frame length
    (1.0 = non-overlapping, 0.5 = half overlap)."""
    if not 0 < hop <= 1:
        raise ParameterError(f"frame hop must be a fraction in (0, 1], got {hop!r}")
    return max(1, round(length * hop))


def count_frames(n_rows: int, *, length: int, hop: int, pad: bool = False) -> int:
    """Frames :func:`frame_features` cuts from ``n_rows`` rows (the remainder is dropped)."""
    if length < 1 or hop < 1:
        raise ParameterError(f"frame length and hop must be >= 1, got {length} and {hop}")
    if n_rows >= length:
        return 1 + (n_rows - length) // hop
    return int(pad and n_rows > 0)


def frame_features(features: np.ndarray, *, length: int, hop: int, pad: bool = False) -> np.ndarray:
    """Cut ``features`` [T, F] into frames [n, length, F] starting every ``hop`` rows.

    A track shorter than one frame gives one frame if ``pad``, else none ([0, length, F]).
    Padding repeats the track's own rows from its start (as music taggers loop short clips):
    zeros would be far from every real feature value (MFCC c0 = 0 reads as loud, a VGGish or
    MusiCNN row of zeros as nothing a network has seen), and would skew the normaliser.
    """
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2:
        raise ParameterError(f"features must be [T, F], got shape {features.shape}")
    n = count_frames(len(features), length=length, hop=hop, pad=pad)
    if len(features) < length:
        frames = np.zeros((n, length, features.shape[1]), dtype=np.float32)
        if n:
            frames[0] = features[np.arange(length) % len(features)]
        return frames
    windows = np.lib.stride_tricks.sliding_window_view(features, length, axis=0)
    return np.ascontiguousarray(windows[::hop][:n].transpose(0, 2, 1))
