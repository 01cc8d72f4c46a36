"""Scoring tracks through the per-track cache: :func:`predict_vad_timelines` yields each
track's result to the track cache (``inference_results``) as soon as it is done, and skips the
tracks the cache already holds a current result for (same file size and mtime, same
:func:`inference_fingerprint`); :func:`collect_vad_timelines` assembles the run's tables from
the cache. The per-track work is :mod:`.track` (:func:`infer_track`)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from soundtrack_emotion.datasets import CachedTrack, SourceStamp, TrackCache
from soundtrack_emotion.datasets.track_cache import ERROR
from soundtrack_emotion.exceptions import AudioDecodeError, DataValidationError
from soundtrack_emotion.features import load_vggish
from soundtrack_emotion.pipelines.feature_extraction.extraction import ExtractionParams
from soundtrack_emotion.pipelines.inference.models import (
    _label_models,
    load_chosen_models,
    model_fingerprint,
    model_key,
)
from soundtrack_emotion.pipelines.inference.track import (
    TIMELINE_COLUMNS,
    WAVEFORM_COLUMNS,
    TrackInference,
    infer_track,
)
from soundtrack_emotion.vocabulary import VAD_LABELS

logger = logging.getLogger(__name__)

TRACK_COLUMNS = (
    "position", "track", "path", "status", "error", "duration_s", "n_windows", *VAD_LABELS,
)  # fmt: skip
# Part of every cached result's fingerprint: bump it when a change to the code changes results,
# so cached tracks are scored again.
INFERENCE_VERSION = 1
# Characters of a file's stem kept in its track cache key (the rest is a hash of its path).
KEY_STEM_CHARS = 48


def inference_fingerprint(
    chosen: pd.DataFrame,
    loaded: Mapping[str, Any],
    extraction: ExtractionParams,
    *,
    hop_seconds: float,
    waveform_points: int,
) -> str:
    """Hash of everything besides the audio file that a track's result depends on: the model
    per label (its weights) and output column, the feature and length rules of
    ``feature_extraction``, ``hop_seconds`` and ``waveform_points``. Settings that change only
    speed or memory (``batch_size``, ``workers``, VGGish ``batch_windows``) are left out."""
    models = [
        {
            "label": row.label,
            "output_index": int(row.output_index),
            "model": model_fingerprint(loaded[model_key(row.feature, row.network, row.target)]),
        }
        for row in chosen.itertuples(index=False)
    ]
    spec = {
        "version": INFERENCE_VERSION,
        "models": models,
        "features": {f: extraction.fingerprint(f) for f in sorted(set(chosen["feature"]))},
        "silence_db": extraction.silence_db,
        "min_seconds": extraction.min_seconds,
        "short_track_policy": extraction.short_track_policy,
        "hop_seconds": float(hop_seconds),
        "waveform_points": int(waveform_points),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def track_cache_key(path: str) -> str:
    """Name of a file's record in the track cache: its stem (made file-name safe, for people
    browsing the folder) and a hash of its path (two folders may hold the same name)."""
    stem = re.sub(r"[^\w.\-]+", "_", Path(path).stem).strip("._")[:KEY_STEM_CHARS] or "track"
    return f"{stem}-{hashlib.sha256(str(path).encode()).hexdigest()[:16]}"


def _cached(
    result: TrackInference,
    *,
    key: str,
    fingerprint: str,
    source: SourceStamp | None,
    seconds: float,
) -> CachedTrack:
    """A scored track as a cache record: its timeline and waveform columns (the track name
    is left out: it comes from the listing) and its summary."""
    timeline, waveform = result.timeline, result.waveform
    arrays = {f"timeline.{c}": timeline[c].to_numpy() for c in TIMELINE_COLUMNS[1:]}
    arrays |= {f"waveform.{c}": waveform[c].to_numpy() for c in WAVEFORM_COLUMNS[1:]}
    summary = result.summary | {"duration_s": float(result.summary["duration_s"])}
    return CachedTrack(
        key=key,
        fingerprint=fingerprint,
        status=str(summary["status"]),
        source=source,
        summary=summary,
        arrays=arrays,
        seconds=seconds,
    )


def predict_vad_timelines(
    inference_tracks: pd.DataFrame,
    inference_models: pd.DataFrame,
    *,
    hop_seconds: float,
    batch_size: int,
    waveform_points: int,
    feature_extraction: Mapping[str, Any],
    trained_models: Mapping[str, Callable[[], Any]],
    existing_results: TrackCache | None = None,
) -> Iterator[dict[str, CachedTrack]]:
    """Run :func:`infer_track` on every track that ``existing_results`` (the track cache as it
    is on disk) holds no current result for, with a progress bar (tracks done, ETA).

    Yields ``{track_cache_key(path): CachedTrack}`` as each track finishes, so Kedro saves it
    before the next one starts: a run that dies part-way keeps every finished track, and the
    next run skips the tracks whose fingerprint (:func:`inference_fingerprint`) and file (size,
    mtime) are unchanged. A file that cannot be read gets an ``error`` record with the reason
    (tried again by the next run). ``trained_models``: every trained model's loader by
    partition id (:func:`model_partition`), of which only the chosen ones are loaded;
    ``feature_extraction``: that pipeline's parameters, so features are computed as for
    training (VGGish is loaded from its handle only when a track needs a VGGish model).
    """
    models = load_chosen_models(inference_models, trained_models)
    label_models = _label_models(inference_models, models)
    extraction = ExtractionParams.from_dict(feature_extraction)
    fingerprint = inference_fingerprint(
        inference_models,
        models,
        extraction,
        hop_seconds=hop_seconds,
        waveform_points=waveform_points,
    )
    todo: dict[str, Any] = {}
    for row in inference_tracks.itertuples(index=False):
        key = track_cache_key(row.path)
        source = SourceStamp.of(row.path)
        current = existing_results is not None and existing_results.is_current(
            key, fingerprint=fingerprint, source=source
        )
        if not current and key not in todo:
            todo[key] = row
    n_unique = inference_tracks["path"].nunique()
    logger.info(
        "inference: %d of %d tracks to score, %d skipped (scored before with the same models, "
        "parameters and files)",
        len(todo),
        n_unique,
        n_unique - len(todo),
    )
    if not todo:
        yield {}
        return
    vggish = None
    if any(m.feature == "vggish" for m in label_models):
        vggish = load_vggish(extraction.vggish_handle)
    bar = tqdm(todo.items(), total=len(todo), desc="inference", unit="track", disable=None)
    for key, row in bar:
        # Stamped before decoding: a file changed while it is scored is scored again next run.
        source = SourceStamp.of(row.path)
        started = time.perf_counter()
        try:
            result = infer_track(
                row.path,
                track=row.track,
                models=label_models,
                extraction=extraction,
                hop_seconds=float(hop_seconds),
                batch_size=int(batch_size),
                waveform_points=int(waveform_points),
                vggish=vggish,
            )
        except AudioDecodeError as error:
            logger.warning("inference cannot read %s: %s", row.path, error)
            yield {
                key: CachedTrack(
                    key=key,
                    fingerprint=fingerprint,
                    status=ERROR,
                    source=source,
                    summary={"status": ERROR, "error": str(error), "n_windows": 0},
                    seconds=time.perf_counter() - started,
                )
            }
            continue
        seconds = time.perf_counter() - started
        yield {
            key: _cached(result, key=key, fingerprint=fingerprint, source=source, seconds=seconds)
        }


def collect_vad_timelines(
    inference_tracks: pd.DataFrame, inference_results: TrackCache
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every track's result from the track cache, in album order, named as in
    ``inference_tracks``.

    Returns:
        ``vad_timelines`` (``TIMELINE_COLUMNS``, one row per window), ``track_vad``
        (``TRACK_COLUMNS``, one row per input track: status ``error`` and the reason for a file
        that cannot be read) and ``inference_waveforms`` (``WAVEFORM_COLUMNS``).
    """
    timelines, waveforms, rows = [], [], []
    fingerprints = set()
    for row in inference_tracks.itertuples(index=False):
        record = inference_results.get(track_cache_key(row.path))
        if record is None:
            raise DataValidationError(
                f"{inference_results} holds no result for {row.path}: run predict_vad_timelines"
            )
        fingerprints.add(record.fingerprint)
        rows.append({"position": row.position, "track": row.track, "path": row.path,
                     **record.summary})  # fmt: skip
        if record.status == ERROR:
            continue
        columns = record.arrays
        timeline = pd.DataFrame(
            {"track": row.track, **{c: columns[f"timeline.{c}"] for c in TIMELINE_COLUMNS[1:]}}
        )
        waveform = pd.DataFrame({c: columns[f"waveform.{c}"] for c in WAVEFORM_COLUMNS[1:]})
        waveform.insert(0, "track", row.track)
        timelines.append(timeline)
        waveforms.append(waveform)
    if len(fingerprints) > 1:
        raise DataValidationError(
            f"{inference_results}: the tracks were scored with different models or parameters; "
            "run predict_vad_timelines"
        )
    track_vad = pd.DataFrame(rows, columns=list(TRACK_COLUMNS))
    track_vad["error"] = track_vad["error"].fillna("").astype(str)
    track_vad["n_windows"] = track_vad["n_windows"].astype(np.int64)
    for column in ("duration_s", *VAD_LABELS):
        track_vad[column] = track_vad[column].astype(np.float64)
    n_failed = int((track_vad["status"] == ERROR).sum())
    logger.info("inference: %d tracks scored, %d unreadable", len(track_vad) - n_failed, n_failed)
    return (
        _concat(timelines, TIMELINE_COLUMNS),
        track_vad,
        _concat(waveforms, WAVEFORM_COLUMNS),
    )


def _concat(frames: list[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(
            {c: pd.Series(dtype="str" if c == "track" else "float64") for c in columns}
        )
    return pd.concat(frames, ignore_index=True)
