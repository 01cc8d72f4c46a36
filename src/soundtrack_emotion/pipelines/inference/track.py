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

from soundtrack_emotion.core.families import (
    FamilyOutput,
    FeatureFamily,
    rate_groups,
    track_features,
)
from soundtrack_emotion.core.framing import frame_features
from soundtrack_emotion.core.out_of_domain import DomainReference
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.exceptions import AudioDecodeError, DataValidationError, ParameterError
from soundtrack_emotion.runtime.feature_settings import ExtractionParams

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
class TimelineSettings:
    """How a track's timeline is cut and scored (``params:inference``): rows of
    ``hop_seconds``, model calls of ``batch_size`` frames, a waveform envelope of
    ``waveform_points`` bins."""

    hop_seconds: float
    batch_size: int
    waveform_points: int


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


def row_seconds(feature: str, extraction: ExtractionParams) -> float:
    """Seconds between consecutive rows of ``feature`` (its family's ``row_seconds``)."""
    return extraction.family(feature).row_seconds


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


def _label_values(
    model: LabelModel,
    rows: np.ndarray,
    centres: np.ndarray,
    *,
    family: FeatureFamily,
    extraction: ExtractionParams,
    batch_size: int,
    path: str,
) -> tuple[np.ndarray, bool]:
    """``model``'s values [n] in [0, 1] on the frame centred on each row of the timeline, and
    whether the track was padded to one frame."""
    length, n_features = model.frame_shape
    if rows.shape[1] != n_features:
        raise DataValidationError(
            f"the {model.label} model takes {n_features} {model.feature} features per step, "
            f"feature_extraction gives {rows.shape[1]}: were the parameters changed "
            "after training?"
        )
    frames, padded = _frames(
        rows,
        centres,
        length=length,
        seconds_per_row=family.row_seconds,
        short_track_policy=extraction.short_track_policy,
        path=path,
    )
    predicted = _predict_in_batches(model.predict, frames, batch_size=batch_size)
    return np.clip(predicted[:, model.output_index].astype(np.float64), 0, 1), padded


def infer_track(
    path: str,
    *,
    track: str,
    models: Sequence[LabelModel],
    extraction: ExtractionParams,
    timeline: TimelineSettings,
    networks: Mapping[str, Any] | None = None,
    domains: Mapping[str, DomainReference] | None = None,
) -> TrackInference:
    """Decode one file, compute the features its models need exactly as feature_extraction
    does (``extraction``: its parameters; ``networks``: each family's loaded network, by
    name), score the timeline and summarise it.

    Raises :class:`AudioDecodeError` when the file cannot be used (missing, empty, corrupt,
    not audio, silent, shorter than ``framing.short_track.min_seconds``, or shorter than one
    frame with the ``drop`` policy). The decoder's warnings (truncation, replaced samples)
    join the summary's ``error`` column of a track that is scored.

    ``domains``: out-of-domain reference per feature family; the summary's ``domain_score``
    is the largest score among the track's families that have one (NaN, and
    ``out_of_domain`` None, when none has).
    """
    families = [extraction.family(f) for f in sorted({m.feature for m in models})]
    # The waveform envelope is drawn from the first family's rate.
    rate = families[0].sample_rate
    groups = rate_groups(families, also=(rate,))
    # One sample rate held at a time: each leaf family computed at its rate, then the
    # composite ones from them.
    audio = extraction.decoding.decode_by_rate(path, groups[0][0])
    networks = networks or {}
    computed: dict[str, FamilyOutput] = {}
    for group_rate, leaves in groups:
        for leaf in leaves:
            track_features(leaf, audio, networks, computed=computed)
        if group_rate == rate:
            waveform = waveform_envelope(audio[rate], sr=rate, points=timeline.waveform_points)
    edges = timeline_windows(audio.seconds, hop_seconds=timeline.hop_seconds)
    centres = edges.mean(axis=1)
    matrices = {
        f.name: track_features(f, audio, networks, computed=computed).rows for f in families
    }
    padded = False
    values: dict[str, np.ndarray] = {}
    for model in models:
        values[model.label], was_padded = _label_values(
            model,
            matrices[model.feature],
            centres,
            family=extraction.family(model.feature),
            extraction=extraction,
            batch_size=timeline.batch_size,
            path=path,
        )
        padded |= was_padded
    frame = pd.DataFrame({"track": track, "start_s": edges[:, 0], "end_s": edges[:, 1], **values})[
        list(TIMELINE_COLUMNS)
    ]
    waveform.insert(0, "track", track)
    scores = [domains[f].score(matrices[f]) for f in matrices if f in (domains or {})]
    domain_score = max(scores) if scores else math.nan
    notes = ["shorter than one model frame: padded by repeating it"] if padded else []
    weights = edges[:, 1] - edges[:, 0]
    summary = {
        "status": "padded" if padded else "ok",
        "error": "; ".join([*notes, *audio.warnings]),
        "duration_s": audio.seconds,
        "n_windows": len(frame),
        **{label: float(np.average(values[label], weights=weights)) for label in VAD_LABELS},
        "domain_score": domain_score,
        "out_of_domain": bool(domain_score > 1) if scores else None,
    }
    return TrackInference(timeline=frame, waveform=waveform, summary=summary)
