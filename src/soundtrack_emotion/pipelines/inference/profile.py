"""The run's tables from the track cache (timelines, ``track_vad``, waveforms), each row with
the model that made it and its out-of-domain flag, and the emotional profile of a movie."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from soundtrack_emotion.core.conformal import interval_bounds
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.datasets import TableChunk, TrackCache
from soundtrack_emotion.datasets.track_cache import ERROR
from soundtrack_emotion.exceptions import DataValidationError, ParameterError
from soundtrack_emotion.pipelines.inference.models import (
    FRAME_HALFWIDTH,
    OUTPUT_IDENTITY,
    SONG_HALFWIDTH,
    model_identity,
)
from soundtrack_emotion.pipelines.inference.scoring import track_cache_key
from soundtrack_emotion.pipelines.inference.track import (
    DOMAIN_COLUMNS,
    TIMELINE_COLUMNS,
    WAVEFORM_COLUMNS,
)

logger = logging.getLogger(__name__)

# A prediction interval's bounds ({label}_low, {label}_high; {label}_mean_low on a profile)
# and its nominal level, where the chosen models carry split-conformal half-widths.
LOW, HIGH = "low", "high"
INTERVAL_LEVEL = "interval_level"
INTERVAL_COLUMNS = (*(f"{label}_{end}" for label in VAD_LABELS for end in (LOW, HIGH)),
                    INTERVAL_LEVEL)  # fmt: skip
TRACK_COLUMNS = (
    "position", "track", "path", "status", "error", "duration_s", "n_windows", *VAD_LABELS,
    *DOMAIN_COLUMNS,
)  # fmt: skip
# Leading columns of every table of a catalogue run (see pipelines/inference/catalogue.py).
MOVIE_COLUMNS = ("movie_id", "title")


def collect_vad_timelines(
    inference_tracks: pd.DataFrame,
    inference_results: TrackCache,
    inference_models: pd.DataFrame | None = None,
    audio_path: str | None = "",
    catalogue: str | None = "",
    *,
    quiet: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every track's result from the track cache, in album order, named as in
    ``inference_tracks``, each row with the model that made it and the corpus it was trained
    on (:func:`model_identity`); its ``movie_id`` and ``title`` columns (a catalogue) lead every
    table, and summary fields beyond ``TRACK_COLUMNS`` (e.g. added by a newer scorer) follow
    them in ``track_vad``. A demo model scoring user audio (``audio_path`` or ``catalogue``
    set) is warned about and flagged (``demo_model``). ``quiet``: no summary log line nor
    demo warning (one movie of a catalogue: the catalogue logs once).

    Returns:
        ``vad_timelines`` (``TIMELINE_COLUMNS``, one row per window), ``track_vad``
        (``TRACK_COLUMNS``, one row per input track: status ``error`` and the reason for a file
        that cannot be read) and ``inference_waveforms`` (``WAVEFORM_COLUMNS``).
    """
    timelines, waveforms = _Columns(), _Columns()
    rows, fingerprints = [], set()
    movie_columns = [c for c in MOVIE_COLUMNS if c in inference_tracks.columns]
    extra_columns: dict[str, None] = {}
    for row in inference_tracks.itertuples(index=False):
        movie = {c: getattr(row, c) for c in movie_columns}
        record = inference_results.get(track_cache_key(row.path))
        if record is None:
            raise DataValidationError(
                f"{inference_results} holds no result for {row.path}: run predict_vad_timelines"
            )
        fingerprints.add(record.fingerprint)
        rows.append({**movie, "position": row.position, "track": row.track, "path": row.path,
                     **record.summary})  # fmt: skip
        extra_columns |= dict.fromkeys(k for k in record.summary if k not in TRACK_COLUMNS)
        if record.status == ERROR:
            continue
        arrays = record.arrays
        timelines.add(
            {**movie, "track": row.track},
            {c: arrays[f"timeline.{c}"] for c in TIMELINE_COLUMNS[1:]},
            {c: record.summary.get(c) for c in DOMAIN_COLUMNS},
        )
        waveforms.add(
            {**movie, "track": row.track},
            {c: arrays[f"waveform.{c}"] for c in WAVEFORM_COLUMNS[1:]},
        )
    if len(fingerprints) > 1:
        raise DataValidationError(
            f"{inference_results}: the tracks were scored with different models or parameters; "
            "run predict_vad_timelines"
        )
    track_vad = pd.DataFrame(rows, columns=[*movie_columns, *TRACK_COLUMNS, *extra_columns])
    track_vad["error"] = track_vad["error"].fillna("").astype(str)
    track_vad = with_domain_dtypes(track_vad)
    track_vad["n_windows"] = track_vad["n_windows"].astype(np.int64)
    for column in ("duration_s", *VAD_LABELS):
        track_vad[column] = track_vad[column].astype(np.float64)
    identity = model_identity(inference_models)
    if not quiet:
        n_failed = int((track_vad["status"] == ERROR).sum())
        _log_summary(
            n_scored=len(track_vad) - n_failed,
            n_failed=n_failed,
            out_of_domain=describe_out_of_domain(track_vad),
            identity=identity,
            user_audio=_user_audio(audio_path, catalogue),
        )
    timeline_table = with_domain_dtypes(
        timelines.frame((*movie_columns, *TIMELINE_COLUMNS, *DOMAIN_COLUMNS))
    )
    return (
        with_intervals(timeline_table, inference_models, half_width=FRAME_HALFWIDTH).assign(
            **identity
        ),
        with_intervals(track_vad, inference_models, half_width=SONG_HALFWIDTH).assign(**identity),
        waveforms.frame((*movie_columns, *WAVEFORM_COLUMNS)),
    )


class _Columns:
    """A table built track by track as whole columns (one frame at the end, not one per
    track): per track, values repeated on its rows (``each``, ``repeated``) and its arrays."""

    def __init__(self) -> None:
        self.scalars: dict[str, list[Any]] = {}
        self.arrays: dict[str, list[np.ndarray]] = {}
        self.lengths: list[int] = []

    def add(
        self,
        each: dict[str, Any],
        arrays: dict[str, np.ndarray],
        repeated: dict[str, Any] | None = None,
    ) -> None:
        for name, values in arrays.items():
            self.arrays.setdefault(name, []).append(values)
        for name, value in {**each, **(repeated or {})}.items():
            self.scalars.setdefault(name, []).append(value)
        self.lengths.append(len(next(iter(arrays.values()))))

    def frame(self, columns: Sequence[str]) -> pd.DataFrame:
        if not self.lengths:
            return _concat([], columns)
        data: dict[str, Any] = {}
        for name in columns:
            if name in self.arrays:
                data[name] = np.concatenate(self.arrays[name])
            else:
                values = np.empty(len(self.lengths), dtype=object)
                values[:] = self.scalars[name]
                data[name] = np.repeat(values, self.lengths)
        frame = pd.DataFrame(data)
        text = [c for c in columns if c in ("track", *MOVIE_COLUMNS)]
        return frame.astype(dict.fromkeys(text, "str")) if text else frame


def with_intervals(
    table: pd.DataFrame, inference_models: pd.DataFrame | None, *, half_width: str
) -> pd.DataFrame:
    """``table`` with each label's prediction interval ``{label}_low`` / ``{label}_high``
    (its value ± the chosen model's split-conformal ``half_width`` column of
    ``inference_models``, cut to [0, 1]) and ``interval_level``, the nominal level. A label
    without a half-width gets NaN bounds; ``table`` as it is when the models carry none."""
    if inference_models is None or half_width not in inference_models:
        return table
    widths = dict(zip(inference_models["label"], inference_models[half_width], strict=True))
    bounds = {}
    for label in VAD_LABELS:
        width = float(widths.get(label, np.nan))
        low, high = interval_bounds(table[label].to_numpy(np.float64), width)
        bounds |= {f"{label}_{LOW}": low, f"{label}_{HIGH}": high}
    level = float(inference_models[INTERVAL_LEVEL].iloc[0]) if len(inference_models) else np.nan
    return table.assign(**bounds, **{INTERVAL_LEVEL: level})


def describe_out_of_domain(track_vad: pd.DataFrame, *, names: int = 5) -> str:
    """``"2 out of domain (a, b)"``, or that no track was checked (no domain reference)."""
    flags = track_vad["out_of_domain"]
    flagged = track_vad.loc[flags.fillna(False).astype(bool), "track"].astype(str).tolist()
    return _out_of_domain_text(
        checked=bool(flags.notna().any()), n_flagged=len(flagged), some=flagged, names=names
    )


def _out_of_domain_text(*, checked: bool, n_flagged: int, some: Sequence[str], names: int) -> str:
    if not checked:
        return "no out-of-domain check"
    shown = ", ".join(some[:names]) + (" ..." if n_flagged > names else "")
    return f"{n_flagged} out of domain" + (f" ({shown})" if n_flagged else "")


def _user_audio(audio_path: str | None, catalogue: str | None) -> str:
    """The user's audio a run scores (``catalogue`` first), empty for the demo's test songs."""
    return next((str(p) for p in (catalogue, audio_path) if str(p or "").strip()), "")


def _log_summary(
    *, n_scored: int, n_failed: int, out_of_domain: str, identity: dict, user_audio: str
) -> None:
    logger.info("inference: %d tracks scored, %d unreadable, %s", n_scored, n_failed,
                out_of_domain)  # fmt: skip
    if identity["demo_model"] and user_audio:
        logger.warning(
            "inference: %s scored with a model trained on the synthetic DEMO corpus (%s): "
            "its numbers say nothing about real music. Train on a real corpus first.",
            user_audio,
            identity["model"],
        )


# Tracks per chunk of the catalogue-wide tables: memory holds one chunk's rows at a time.
TABLE_CHUNK_TRACKS = 256


def stream_vad_tables(
    inference_tracks: pd.DataFrame,
    inference_results: TrackCache,
    inference_models: pd.DataFrame | None = None,
    audio_path: str | None = "",
    catalogue: str | None = "",
    *,
    chunk_tracks: int = TABLE_CHUNK_TRACKS,
) -> Iterator[tuple[TableChunk, TableChunk, TableChunk, TableChunk, TableChunk]]:
    """:func:`collect_vad_timelines` over the whole listing, ``chunk_tracks`` tracks at a time,
    as chunks of ``vad_timelines``, ``track_vad``, ``inference_waveforms``,
    ``vad_timelines_csv`` and ``track_vad_csv`` (the same rows as the Parquet tables): each
    chunk is written before the next is read, so memory holds one chunk, whatever the
    catalogue's size (see :class:`StreamedTableDataset`).

    Every record's metadata is checked first (a track without a result, tracks scored with
    different models or parameters), so nothing is written for a cache that does not match
    the listing; ``track_vad``'s columns are fixed then (summary fields of any record).
    """
    if chunk_tracks < 1:
        raise ParameterError(f"chunk_tracks must be at least 1, got {chunk_tracks}")
    extra_columns = _check_records(inference_tracks, inference_results)
    identity = model_identity(inference_models)
    n_rows = len(inference_tracks)
    starts = range(0, max(n_rows, 1), chunk_tracks)
    n_failed, checked, n_flagged, flagged = 0, False, 0, []
    for start in starts:
        rows = inference_tracks.iloc[start : start + chunk_tracks]
        timelines, track_vad, waveforms = collect_vad_timelines(
            rows, inference_results, inference_models, quiet=True
        )
        movie_columns = [c for c in MOVIE_COLUMNS if c in inference_tracks.columns]
        # the same in every chunk: the intervals come with the models, not with the tracks
        intervals = [c for c in INTERVAL_COLUMNS if c in track_vad.columns]
        columns = [*movie_columns, *TRACK_COLUMNS, *extra_columns, *intervals, *identity]
        track_vad = track_vad.reindex(columns=columns)
        failed = track_vad["status"] == ERROR
        n_failed += int(failed.sum())
        flags = track_vad["out_of_domain"]
        checked |= bool(flags.notna().any())
        flagged_here = track_vad.loc[flags.fillna(False).astype(bool), "track"].astype(str)
        n_flagged += len(flagged_here)
        flagged += flagged_here.tolist()[: DOMAIN_NAMES_SHOWN + 1 - len(flagged)]
        first, last = start == 0, start + chunk_tracks >= n_rows
        chunks = [TableChunk(t, first, last) for t in (timelines, track_vad, waveforms)]
        yield (*chunks, chunks[0], chunks[1])
    _log_summary(
        n_scored=n_rows - n_failed,
        n_failed=n_failed,
        out_of_domain=_out_of_domain_text(
            checked=checked, n_flagged=n_flagged, some=flagged, names=DOMAIN_NAMES_SHOWN
        ),
        identity=identity,
        user_audio=_user_audio(audio_path, catalogue),
    )


# Out-of-domain track names shown in the run's summary line.
DOMAIN_NAMES_SHOWN = 5


def _check_records(inference_tracks: pd.DataFrame, inference_results: TrackCache) -> list[str]:
    """Each listed track's record metadata: raise when one is missing or when they were
    scored with different fingerprints; return the summary fields beyond ``TRACK_COLUMNS``."""
    fingerprints, extra_columns = set(), {}
    for path in inference_tracks["path"]:
        meta = inference_results.meta(track_cache_key(path))
        if meta is None:
            raise DataValidationError(
                f"{inference_results} holds no result for {path}: run predict_vad_timelines"
            )
        fingerprints.add(meta["fingerprint"])
        extra_columns |= dict.fromkeys(k for k in meta["summary"] if k not in TRACK_COLUMNS)
    if len(fingerprints) > 1:
        raise DataValidationError(
            f"{inference_results}: the tracks were scored with different models or parameters; "
            "run predict_vad_timelines"
        )
    return list(extra_columns)


def with_domain_dtypes(table: pd.DataFrame) -> pd.DataFrame:
    """``domain_score`` as float64 and ``out_of_domain`` as nullable boolean (NA: no domain
    check for this track), whatever the rows held (None, NaN, bools)."""
    return table.assign(
        domain_score=pd.to_numeric(table["domain_score"], errors="raise").astype(np.float64),
        out_of_domain=table["out_of_domain"].astype("boolean"),
    )


def _concat(frames: list[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    if not frames:
        text = ("track", *MOVIE_COLUMNS)
        return pd.DataFrame(
            {c: pd.Series(dtype="str" if c in text else "float64") for c in columns}
        )
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------- movie profile


def build_movie_profile(track_vad: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The emotional profile of an album from its readable tracks (duration-weighted).

    Returns:
        ``movie_profile``: one row per label: ``mean`` (duration-weighted), ``std``
        (duration-weighted, population), ``min``, ``max``, ``opening`` / ``closing`` (first /
        last track), ``trend_per_hour`` (weighted least-squares slope of the track values over
        album time, per hour), ``n_tracks``, ``n_out_of_domain`` (of them, flagged out of
        domain: still in the profile, which they may mislead; NA without a domain check),
        ``total_s``.
        ``movie_arc``: the readable tracks in album order with ``album_start_s`` /
        ``album_end_s`` (their place on the album's clock), their VAD and domain columns.
        Where ``track_vad`` carries prediction intervals (:func:`with_intervals`), the arc
        keeps them and the profile adds ``mean_low`` / ``mean_high`` (the duration-weighted
        mean of the tracks' bounds, :func:`_mean_interval`: conservative) and
        ``interval_level``.
    """
    readable = track_vad[track_vad["status"] != "error"].sort_values("position")
    bounds = [f"{label}_{end}" for label in VAD_LABELS for end in (LOW, HIGH)]
    intervals = [*bounds, INTERVAL_LEVEL] if set(bounds) <= set(track_vad.columns) else []
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
            **{c: readable[c].to_numpy() if c in readable else pd.NA for c in DOMAIN_COLUMNS},
            **{c: readable[c].to_numpy(float) for c in intervals},
        }
    )
    arc = with_domain_dtypes(arc)
    checked = arc["out_of_domain"].notna()
    n_out_of_domain = int(arc["out_of_domain"].sum()) if checked.any() else pd.NA
    rows = []
    centres_h = (arc["album_start_s"] + arc["album_end_s"]).to_numpy(float) / 2 / 3600
    for label in VAD_LABELS:
        values = arc[label].to_numpy(float)
        if len(values) == 0:
            rows.append({"label": label, "n_tracks": 0, "n_out_of_domain": 0, "total_s": 0.0})
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
                "n_out_of_domain": n_out_of_domain,
                "total_s": float(durations.sum()),
                **_mean_interval(arc, label, durations, intervals),
            }
        )
    columns = ["label", "mean", "std", "min", "max", "opening", "closing", "trend_per_hour",
               "n_tracks", "n_out_of_domain", "total_s"]  # fmt: skip
    if intervals:
        columns += [f"mean_{LOW}", f"mean_{HIGH}", INTERVAL_LEVEL]
    identity = {c: track_vad[c].iloc[0] for c in OUTPUT_IDENTITY
                if c in track_vad and len(track_vad)}  # fmt: skip
    profile = pd.DataFrame(rows, columns=columns)
    profile["n_out_of_domain"] = profile["n_out_of_domain"].astype("Int64")
    return profile.assign(**identity), arc.assign(**identity)


def _mean_interval(
    arc: pd.DataFrame, label: str, durations: np.ndarray, intervals: Sequence[str]
) -> dict[str, float]:
    """The interval of a movie's duration-weighted mean: the same weighted mean of its tracks'
    bounds. Conservative: the error of a mean is at most the mean of the errors, so it
    holds whenever every track's interval does (and averaging shrinks errors that are not
    all alike); it has no guarantee of its own when the tracks share one bias (music unlike
    the corpus)."""
    if not intervals:
        return {}
    low = arc[f"{label}_{LOW}"].to_numpy(float)
    high = arc[f"{label}_{HIGH}"].to_numpy(float)
    known = np.isfinite(low) & np.isfinite(high)
    if not known.all():  # no half-width for this label's model
        return {f"mean_{LOW}": np.nan, f"mean_{HIGH}": np.nan,
                INTERVAL_LEVEL: float(arc[INTERVAL_LEVEL].iloc[0])}  # fmt: skip
    return {
        f"mean_{LOW}": float(np.average(low, weights=durations)),
        f"mean_{HIGH}": float(np.average(high, weights=durations)),
        INTERVAL_LEVEL: float(arc[INTERVAL_LEVEL].iloc[0]),
    }


def export_csv(
    vad_timelines: pd.DataFrame, track_vad: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The timelines and per-track VAD unchanged, to be saved as CSV next to the Parquet."""
    return vad_timelines, track_vad
