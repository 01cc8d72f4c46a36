"""One track through the trained models: the pure, per-track half of inference.

A track's timeline cuts it into consecutive rows of ``hop_seconds`` (the last one shorter, so
the rows cover ``[0, duration]`` exactly, without gap or overlap). Each row is scored by every
label's model on one model frame (e.g. 15 s of MFCCs, shape taken from the model) centred on the
row, moved inside the track at its ends. Features are computed with the feature_extraction
parameters the models were trained on; a track shorter than one frame is padded to it by
repeating it (``framing.short_track.policy: pad``, as ``features.frame_features(pad=True)``)
or refused (``drop``). :func:`infer_track` depends on nothing but its arguments, so tracks can
be fanned out over processes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from soundtrack_emotion.audio import VGGISH_SAMPLE_RATE, Audio, decode
from soundtrack_emotion.domain import DomainReference
from soundtrack_emotion.exceptions import AudioDecodeError, DataValidationError, ParameterError
from soundtrack_emotion.features import (
    VGGISH_WINDOW_SECONDS,
    frame_features,
    vggish_embeddings,
)
from soundtrack_emotion.musicnn import (
    MUSICNN_PATCH_FRAMES,
    MUSICNN_PATCH_SECONDS,
    MUSICNN_SAMPLE_RATE,
    MusicnnModel,
    musicnn_features,
    patch_hop_frames,
)
from soundtrack_emotion.pipelines.feature_extraction.extraction import ExtractionParams
from soundtrack_emotion.vad import VAD_LABELS

TIMELINE_COLUMNS = ("track", "start_s", "end_s", *VAD_LABELS)
# A track's out-of-domain fields (summary, hence track_vad, timelines, profiles, catalogue):
# the largest of its feature families' scores (distance over threshold) and whether it is > 1.
DOMAIN_COLUMNS = ("domain_score", "out_of_domain")
WAVEFORM_COLUMNS = ("track", "time_s", "low", "high")
MIN_ROW_SECONDS = 1e-3


@dataclass(frozen=True)
class LabelModel:
    """The model that predicts one label: ``predict([b, T, F]) -> [b, k]``, column
    ``output_index``, fed ``feature`` frames of ``frame_shape`` (T, F)."""

    label: str
    feature: str
    predict: Callable[[np.ndarray], np.ndarray]
    frame_shape: tuple[int, int]
    output_index: int


@dataclass(frozen=True)
class TrackInference:
    """One track's result: its timeline (``TIMELINE_COLUMNS``), waveform envelope
    (``WAVEFORM_COLUMNS``) and summary row (``TRACK_COLUMNS`` without position/track/path)."""

    timeline: pd.DataFrame
    waveform: pd.DataFrame
    summary: dict[str, Any]


def timeline_windows(duration: float, *, hop_seconds: float) -> np.ndarray:
    """Row edges of a timeline, [n, 2] (start, end) seconds: consecutive ``hop_seconds`` rows
    from 0, the last one ending at ``duration`` (at most ``hop_seconds + MIN_ROW_SECONDS``)."""
    if not hop_seconds > 0:
        raise ParameterError(f"inference.hop_seconds must be > 0, got {hop_seconds!r}")
    if not duration > 0:
        raise ParameterError(f"duration must be > 0, got {duration!r}")
    # A remainder shorter than a millisecond joins the last row instead of making its own.
    n = max(1, math.ceil((duration - MIN_ROW_SECONDS) / hop_seconds))
    starts = np.arange(n, dtype=np.float64) * hop_seconds
    ends = np.minimum(starts + hop_seconds, duration)
    ends[-1] = duration
    return np.stack([starts, ends], axis=1)


def window_starts(
    centres_s: np.ndarray, *, n_rows: int, length: int, row_seconds: float
) -> np.ndarray:
    """First feature row of the ``length``-row frame centred on each time in ``centres_s`` [n],
    kept inside ``[0, n_rows - length]`` (0 when the track is shorter than a frame)."""
    starts = np.rint(centres_s / row_seconds - length / 2).astype(np.int64)
    return np.clip(starts, 0, max(0, n_rows - length))


def waveform_envelope(y: np.ndarray, *, sr: int, points: int) -> pd.DataFrame:
    """Min/max envelope of a waveform [n] in ``points`` bins (for plots): ``time_s`` (bin
    centre), ``low``, ``high``."""
    if points < 1:
        raise ParameterError(f"inference.waveform_points must be >= 1, got {points!r}")
    bins = min(points, len(y))
    edges = np.linspace(0, len(y), bins + 1).astype(np.int64)
    low = np.minimum.reduceat(y, edges[:-1])
    high = np.maximum.reduceat(y, edges[:-1])
    return pd.DataFrame({"time_s": (edges[:-1] + edges[1:]) / 2 / sr, "low": low, "high": high})


def _sample_rate(feature: str, extraction: ExtractionParams) -> int:
    if feature == "musicnn":
        return MUSICNN_SAMPLE_RATE
    return extraction.mfcc.sample_rate if feature == "mfcc" else VGGISH_SAMPLE_RATE


def row_seconds(feature: str, extraction: ExtractionParams) -> float:
    """Seconds between consecutive feature rows: one MFCC window per ``hop_length`` samples,
    one VGGish embedding per 0.96 s, one MusiCNN patch per ``patch_hop`` x 2.992 s."""
    if feature == "mfcc":
        return extraction.mfcc.hop_length / extraction.mfcc.sample_rate
    if feature == "vggish":
        return VGGISH_WINDOW_SECONDS
    if feature == "musicnn":
        hop = patch_hop_frames(extraction.musicnn.patch_hop)
        return MUSICNN_PATCH_SECONDS * hop / MUSICNN_PATCH_FRAMES
    raise ParameterError(f"unknown feature {feature!r}")


def _feature_matrix(
    feature: str,
    audio: Audio,
    extraction: ExtractionParams,
    vggish: Callable[[np.ndarray], np.ndarray] | None,
    musicnn: MusicnnModel | None = None,
) -> np.ndarray:
    """[rows, F] features of one decoded track, computed as feature_extraction computes them."""
    if feature == "mfcc":
        return extraction.mfcc.compute(audio[extraction.mfcc.sample_rate])
    if feature == "vggish":
        if vggish is None:
            raise ParameterError("a VGGish model was chosen but no VGGish model was given")
        return vggish_embeddings(
            audio[VGGISH_SAMPLE_RATE], model=vggish, batch_windows=extraction.vggish_batch_windows
        )
    if feature == "musicnn":
        if musicnn is None:
            raise ParameterError("a MusiCNN model was chosen but no MusiCNN network was given")
        embeddings, _ = musicnn_features(
            audio[MUSICNN_SAMPLE_RATE],
            model=musicnn,
            patch_hop=extraction.musicnn.patch_hop,
            batch_patches=extraction.musicnn.batch_patches,
            layer=extraction.musicnn.layer,
        )
        return embeddings
    raise ParameterError(f"unknown feature {feature!r}")


def _predict_in_batches(
    predict: Callable[[np.ndarray], np.ndarray], frames: np.ndarray, *, batch_size: int
) -> np.ndarray:
    """``predict`` over frames [n, T, F] in batches of exactly ``batch_size`` (the last one
    zero-padded, its extra rows dropped), so a compiled model is traced once -> [n, k]."""
    if batch_size < 1:
        raise ParameterError(f"inference.batch_size must be >= 1, got {batch_size!r}")
    parts = []
    for start in range(0, len(frames), batch_size):
        batch = np.ascontiguousarray(frames[start : start + batch_size], dtype=np.float32)
        n = len(batch)
        if n < batch_size:
            padding = np.zeros((batch_size - n, *batch.shape[1:]), np.float32)
            batch = np.concatenate([batch, padding])
        parts.append(np.asarray(predict(batch))[:n])
    return np.concatenate(parts)


def _frames(
    matrix: np.ndarray,
    centres_s: np.ndarray,
    *,
    length: int,
    seconds_per_row: float,
    short_track_policy: str,
    path: str,
) -> tuple[np.ndarray, bool]:
    """The model frame [length, F] centred on each time in ``centres_s`` -> ([n, length, F],
    whether the track was padded to one frame)."""
    if len(matrix) >= length:
        starts = window_starts(
            centres_s, n_rows=len(matrix), length=length, row_seconds=seconds_per_row
        )
        windows = np.lib.stride_tricks.sliding_window_view(matrix, length, axis=0)
        return windows[starts].transpose(0, 2, 1), False
    if short_track_policy != "pad":
        raise AudioDecodeError(
            f"{path}: too short: {len(matrix)} feature rows, one model frame needs {length} "
            f"(feature_extraction.framing.short_track.policy is {short_track_policy!r})",
            reason="too_short",
        )
    one_frame = frame_features(matrix, length=length, hop=length, pad=True)
    return np.broadcast_to(one_frame, (len(centres_s), length, matrix.shape[1])), True


def infer_track(
    path: str,
    *,
    track: str,
    models: Sequence[LabelModel],
    extraction: ExtractionParams,
    hop_seconds: float,
    batch_size: int,
    waveform_points: int,
    vggish: Callable[[np.ndarray], np.ndarray] | None = None,
    musicnn: MusicnnModel | None = None,
    domains: Mapping[str, DomainReference] | None = None,
) -> TrackInference:
    """Decode one file, compute the features its models need exactly as feature_extraction
    does (``extraction``: its parameters), score the timeline and summarise it.

    Raises :class:`AudioDecodeError` when the file cannot be used (missing, empty, corrupt,
    not audio, silent, shorter than ``framing.short_track.min_seconds``, or shorter than one
    frame with the ``drop`` policy). The decoder's warnings (truncation, replaced samples)
    join the summary's ``error`` column of a track that is scored.

    ``domains``: out-of-domain reference per feature family; the summary's ``domain_score``
    is the largest score among the track's families that have one (NaN, and
    ``out_of_domain`` None, when none has).
    """
    features = sorted({m.feature for m in models})
    audio = decode(
        path,
        sample_rates=[_sample_rate(f, extraction) for f in features],
        min_seconds=extraction.min_seconds,
        silence_db=extraction.silence_db,
        quality=extraction.resample_quality,
    )
    edges = timeline_windows(audio.seconds, hop_seconds=hop_seconds)
    centres = edges.mean(axis=1)
    matrices = {f: _feature_matrix(f, audio, extraction, vggish, musicnn) for f in features}
    padded = False
    values: dict[str, np.ndarray] = {}
    for model in models:
        length, n_features = model.frame_shape
        matrix = matrices[model.feature]
        if matrix.shape[1] != n_features:
            raise DataValidationError(
                f"the {model.label} model takes {n_features} {model.feature} features per step, "
                f"feature_extraction gives {matrix.shape[1]}: were the parameters changed "
                "after training?"
            )
        frames, was_padded = _frames(
            matrix,
            centres,
            length=length,
            seconds_per_row=row_seconds(model.feature, extraction),
            short_track_policy=extraction.short_track_policy,
            path=path,
        )
        padded |= was_padded
        predicted = _predict_in_batches(model.predict, frames, batch_size=batch_size)
        values[model.label] = np.clip(predicted[:, model.output_index].astype(np.float64), 0, 1)
    timeline = pd.DataFrame(
        {"track": track, "start_s": edges[:, 0], "end_s": edges[:, 1], **values}
    )[list(TIMELINE_COLUMNS)]
    weights = edges[:, 1] - edges[:, 0]
    rate = _sample_rate(features[0], extraction)
    waveform = waveform_envelope(audio[rate], sr=rate, points=waveform_points)
    waveform.insert(0, "track", track)
    scores = [domains[f].score(matrices[f]) for f in features if f in (domains or {})]
    domain_score = max(scores) if scores else math.nan
    notes = ["shorter than one model frame: padded by repeating it"] if padded else []
    summary = {
        "status": "padded" if padded else "ok",
        "error": "; ".join([*notes, *audio.warnings]),
        "duration_s": audio.seconds,
        "n_windows": len(timeline),
        **{label: float(np.average(values[label], weights=weights)) for label in VAD_LABELS},
        "domain_score": domain_score,
        "out_of_domain": bool(domain_score > 1) if scores else None,
    }
    return TrackInference(timeline=timeline, waveform=waveform, summary=summary)
