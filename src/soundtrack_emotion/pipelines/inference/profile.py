"""The emotional profile of a soundtrack album from its tracks' VAD, and CSV copies of the
tables."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from soundtrack_emotion.vocabulary import VAD_LABELS

logger = logging.getLogger(__name__)


def build_movie_profile(track_vad: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The emotional profile of an album from its readable tracks (duration-weighted).

    Returns:
        ``movie_profile``: one row per label: ``mean`` (duration-weighted), ``std``
        (duration-weighted, population), ``min``, ``max``, ``opening`` / ``closing`` (first /
        last track), ``trend_per_hour`` (weighted least-squares slope of the track values over
        album time, per hour), ``n_tracks``, ``total_s``.
        ``movie_arc``: the readable tracks in album order with ``album_start_s`` /
        ``album_end_s`` (their place on the album's clock) and their VAD.
    """
    readable = track_vad[track_vad["status"] != "error"].sort_values("position")
    durations = readable["duration_s"].to_numpy(float)
    ends = np.cumsum(durations)
    arc = pd.DataFrame(
        {
            "position": readable["position"].to_numpy(np.int64),
            "track": readable["track"].to_numpy(str),
            "duration_s": durations,
            "album_start_s": ends - durations,
            "album_end_s": ends,
            **{label: readable[label].to_numpy(float) for label in VAD_LABELS},
        }
    )
    rows = []
    centres_h = (arc["album_start_s"] + arc["album_end_s"]).to_numpy(float) / 2 / 3600
    for label in VAD_LABELS:
        values = arc[label].to_numpy(float)
        if len(values) == 0:
            rows.append({"label": label, "n_tracks": 0, "total_s": 0.0})
            continue
        mean = float(np.average(values, weights=durations))
        std = float(np.sqrt(np.average((values - mean) ** 2, weights=durations)))
        t_mean = float(np.average(centres_h, weights=durations))
        t_var = float(np.average((centres_h - t_mean) ** 2, weights=durations))
        covariance = float(np.average((centres_h - t_mean) * (values - mean), weights=durations))
        rows.append(
            {
                "label": label,
                "mean": mean,
                "std": std,
                "min": float(values.min()),
                "max": float(values.max()),
                "opening": float(values[0]),
                "closing": float(values[-1]),
                "trend_per_hour": covariance / t_var if t_var > 0 else np.nan,
                "n_tracks": len(values),
                "total_s": float(durations.sum()),
            }
        )
    columns = ["label", "mean", "std", "min", "max", "opening", "closing", "trend_per_hour",
               "n_tracks", "total_s"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns), arc


def export_csv(
    vad_timelines: pd.DataFrame, track_vad: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The timelines and per-track VAD unchanged, to be saved as CSV next to the Parquet."""
    return vad_timelines, track_vad
