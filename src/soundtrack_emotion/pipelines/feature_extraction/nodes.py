"""Nodes of the feature_extraction pipeline.

``extract_features`` is a generator node: it yields each track's records as soon as they are
computed, and Kedro saves every chunk to the feature stores before the next is produced. A run
killed part-way therefore keeps every finished track, and the next run skips the tracks whose
stored fingerprint and audio file are unchanged (it reads the stores as they are on disk
through the ``existing_*_features`` entries, which point at the same folders).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from soundtrack_emotion.datasets import FeatureRecord, FeatureStore, FrameChunk, SourceStamp
from soundtrack_emotion.distributed import ComputeParams, dask_client
from soundtrack_emotion.exceptions import AudioDecodeError, DataValidationError
from soundtrack_emotion.features import (
    VggishBatcher,
    count_frames,
    frame_features,
    frame_hop,
    frame_length,
    load_vggish,
)
from soundtrack_emotion.musicnn import TAGS
from soundtrack_emotion.paths import resolve_path
from soundtrack_emotion.pipelines.feature_extraction.extraction import (
    ExtractionParams,
    FailureGuard,
    TrackResult,
    TrackTask,
    crashed_track,
    extract_track,
    map_tracks,
    timed_out_track,
)
from soundtrack_emotion.vad import SPLITS, VAD_LABELS
from soundtrack_emotion.vocabulary import FEATURES, FRAME_SECONDS

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("id", "audio_path", "split", *VAD_LABELS)
# Log progress every this many tracks.
PROGRESS_EVERY = 50
# Training songs are written in a seeded random order, so that every stored shard is a random
# sample of the corpus and a shuffled stream (shard order + buffer, seeded by modelling.seed)
# mixes songs globally instead of within a run of crawl-rank neighbours.
TRAIN_SONG_ORDER_SEED = 0
# MusiCNN tags per track in the report.
TOP_TAGS = 3


def _check_soundtracks(soundtracks: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in soundtracks.columns]
    if missing:
        raise DataValidationError(f"soundtracks lacks column(s) {missing}")
    duplicated = soundtracks["id"][soundtracks["id"].duplicated()].tolist()
    if duplicated:
        raise DataValidationError(f"soundtracks has duplicate ids {duplicated[:5]}")
    unknown = sorted(set(soundtracks["split"]) - set(SPLITS))
    if unknown:
        raise DataValidationError(f"soundtracks has unknown split(s) {unknown}")


def _plan_tasks(
    soundtracks: pd.DataFrame,
    stores: Mapping[str, FeatureStore | None],
    fingerprints: Mapping[str, str],
    p: ExtractionParams,
) -> tuple[list[TrackTask], dict[str, SourceStamp | None]]:
    """One task per track with at least one family missing or stale in its store (audio
    paths relative to the project root, whatever the working directory)."""
    tasks, stamps = [], {}
    for track_id, audio_path in zip(soundtracks["id"], soundtracks["audio_path"], strict=True):
        audio_path = resolve_path(audio_path)  # noqa: PLW2901
        stamp = SourceStamp.of(audio_path)
        stale = tuple(
            family
            for family, fingerprint in fingerprints.items()
            if not stores[family].is_current(track_id, fingerprint=fingerprint, source=stamp)
        )
        if stale:
            stamps[track_id] = stamp
            tasks.append(
                TrackTask(
                    id=track_id,
                    path=str(audio_path),
                    families=stale,
                    mfcc=p.mfcc,
                    resample_quality=p.resample_quality,
                    silence_db=p.silence_db,
                    min_seconds=p.min_seconds,
                    musicnn=p.musicnn,
                )
            )
    return tasks, stamps


def extract_features(
    soundtracks: pd.DataFrame,
    params: dict[str, Any],
    existing_mfcc: FeatureStore | None = None,
    existing_vggish: FeatureStore | None = None,
    existing_musicnn: FeatureStore | None = None,
    *,
    compute: Mapping[str, Any] | None = None,
) -> Iterator[dict[str, dict[str, FeatureRecord]]]:
    """Extract the families whose ``existing_*`` store is given, for every track of
    ``soundtracks`` whose stored record is missing or stale.

    Yields ``{family: {track_id: FeatureRecord}}`` chunks as tracks finish. MFCC records hold
    [n_windows, n_mfcc] (12 with ``drop_c0``), VGGish records [N, 128], MusiCNN records
    [n_patches, 200] with the taggram [n_patches, 50] as their ``taggram`` extra; a bad track
    gets an error record with the reason. Decoding, MFCC and MusiCNN run on ``workers``
    processes (each loads MusiCNN once), VGGish inference here, batched across tracks.
    ``compute`` (``params:compute``): with ``backend: dask`` the per-track work (decoding,
    MFCC, MusiCNN) runs as tasks on a Dask cluster instead.
    """
    _check_soundtracks(soundtracks)
    p = ExtractionParams.from_dict(params)
    stores = {"mfcc": existing_mfcc, "vggish": existing_vggish, "musicnn": existing_musicnn}
    families = tuple(f for f in FEATURES if stores[f] is not None)
    fingerprints = {f: p.fingerprint(f) for f in families}

    tasks, stamps = _plan_tasks(soundtracks, stores, fingerprints, p)
    logger.info(
        "feature_extraction: %d of %d tracks to extract (%s), %d up to date",
        len(tasks),
        len(soundtracks),
        "+".join(families),
        len(soundtracks) - len(tasks),
    )
    empty = {f: {} for f in families}
    if not tasks:
        yield empty
        return

    def record(result: TrackResult, family: str, **fields: Any) -> FeatureRecord:
        common = {
            "id": result.id,
            "family": family,
            "fingerprint": fingerprints[family],
            "source": stamps[result.id],
            "audio_seconds": result.audio_seconds,
        }
        if result.error is not None:
            return FeatureRecord.error(**common, reason=result.error, seconds=result.decode_seconds)
        return FeatureRecord(**common, reason="; ".join(result.warnings), **fields)

    batcher = None
    if any("vggish" in t.families for t in tasks):
        vggish = load_vggish(p.vggish_handle, p.precision_of("vggish"))
        batcher = VggishBatcher(vggish, batch_windows=p.vggish_batch_windows)
    waiting: dict[str, TrackResult] = {}

    def vggish_done(finished: list[tuple[str, np.ndarray]]) -> dict[str, FeatureRecord]:
        out = {}
        for track_id, rows in finished:
            result = waiting.pop(track_id)
            seconds = batcher.seconds_spent.pop(track_id, 0.0)
            # The decode is charged to the MFCC/MusiCNN record when they share the pass.
            if "mfcc" not in result.families and "musicnn" not in result.families:
                seconds += result.decode_seconds
            out[track_id] = record(result, "vggish", features=rows, seconds=seconds)
        return out

    started, n_errors, audio_total = time.perf_counter(), 0, 0.0
    guard = FailureGuard(max_share=p.max_same_failure_share, min_tracks=p.failure_min_tracks)
    backend = ComputeParams.from_dict(compute)
    cluster = ExitStack()
    client = cluster.enter_context(dask_client(backend)) if backend.uses_dask else None
    results = map_tracks(
        extract_track,
        tasks,
        workers=p.workers,
        time_limit=p.time_limit,
        on_crash=crashed_track,
        on_timeout=timed_out_track,
        dask_client=client,
    )
    # The cluster closes however the loop ends: done, a bug, or the run stopped.
    with cluster:
        bar = tqdm(results, total=len(tasks), desc="features", unit="track", disable=None)
        for n_done, result in enumerate(bar, 1):
            chunk: dict[str, dict[str, FeatureRecord]] = {f: {} for f in families}
            if "mfcc" in result.families:
                chunk["mfcc"][result.id] = record(
                    result,
                    "mfcc",
                    features=result.mfcc,
                    seconds=result.decode_seconds + result.mfcc_seconds,
                )
            if "musicnn" in result.families:
                if result.error is None and result.musicnn_error is not None:
                    chunk["musicnn"][result.id] = FeatureRecord.error(
                        id=result.id,
                        family="musicnn",
                        fingerprint=fingerprints["musicnn"],
                        reason=result.musicnn_error,
                        source=stamps[result.id],
                        audio_seconds=result.audio_seconds,
                        seconds=result.musicnn_seconds,
                    )
                else:
                    # The decode is charged to the MFCC record when both came from the same pass.
                    decode = 0.0 if "mfcc" in result.families else result.decode_seconds
                    chunk["musicnn"][result.id] = record(
                        result,
                        "musicnn",
                        features=result.musicnn,
                        extras={"taggram": result.musicnn_taggram},
                        seconds=decode + result.musicnn_seconds,
                    )
            if "vggish" in result.families:
                if result.error is not None:
                    chunk["vggish"][result.id] = record(result, "vggish")
                else:
                    assert batcher is not None
                    waiting[result.id] = result
                    try:
                        finished = batcher.add(result.id, result.waveform_16k)
                    except AudioDecodeError as error:
                        del waiting[result.id]
                        result.error = str(error)
                        chunk["vggish"][result.id] = record(result, "vggish")
                        finished = []
                    chunk["vggish"] |= vggish_done(finished)
                    result.waveform_16k = None
            n_errors += result.error is not None
            audio_total += 0.0 if result.error else result.audio_seconds
            if n_done % PROGRESS_EVERY == 0 or n_done == len(tasks):
                elapsed = time.perf_counter() - started
                logger.info(
                    "feature_extraction: %d/%d tracks (%d errors), %.1f audio s per wall s",
                    n_done,
                    len(tasks),
                    n_errors,
                    audio_total / max(elapsed, 1e-9),
                )
            yield chunk
            guard.add(result.reason, result.error)  # after the chunk is saved
    if batcher is not None and batcher.pending:
        yield {f: {} for f in families} | {"vggish": vggish_done(batcher.flush())}


# ------------------------------------------------------------------------------- framing


def _frame_plan(
    meta: Mapping[str, Any], feature: str, seconds: int, p: ExtractionParams
) -> tuple[int, int, bool, str]:
    """(frame length, hop, pad, note) for one stored record; note explains short tracks."""
    length = frame_length(
        feature,
        seconds,
        sr=p.mfcc.sample_rate,
        hop_length=p.mfcc.hop_length,
        patch_hop=p.musicnn.patch_hop,
    )
    hop = frame_hop(length, hop=p.frame_hop)
    audio_seconds = float(meta["audio_seconds"])
    if meta["n_rows"] >= length:
        return length, hop, False, ""
    if p.short_track_policy == "pad":
        return (
            length,
            hop,
            True,
            f"{feature}: {audio_seconds:.1f} s padded to one {seconds} s frame",
        )
    return (
        length,
        hop,
        False,
        f"{feature}: {audio_seconds:.1f} s is shorter than a {seconds} s frame, dropped",
    )


def _too_short(meta: Mapping[str, Any], p: ExtractionParams) -> bool:
    return float(meta["audio_seconds"]) < p.min_seconds


def build_model_inputs(
    features: FeatureStore,
    soundtracks: pd.DataFrame,
    params: dict[str, Any],
    *,
    feature: str,
    seconds: int,
) -> dict[str, Iterator[FrameChunk]]:
    """Frames of ``seconds`` for every song of each split, streamed one song at a time.

    Returns ``{split: iterator of FrameChunk}`` with frames [n, T, F] ((323, 13) / (646, 13)
    MFCC, (15, 128) / (30, 128) VGGish, (5, 200) / (10, 200) MusiCNN), the song id, the
    frame's index in its song and the song's VAD labels [n, 3] on every frame. Training songs
    come in a seeded random order (``TRAIN_SONG_ORDER_SEED``). Nothing is read until the
    dataset consumes it.
    """
    _check_soundtracks(soundtracks)
    p = ExtractionParams.from_dict(params)

    def split_chunks(rows: pd.DataFrame) -> Iterator[FrameChunk]:
        for track_id, labels in zip(
            rows["id"], rows[list(VAD_LABELS)].to_numpy(np.float32), strict=True
        ):
            meta = features.meta(track_id)
            if meta is None or meta["status"] != "ok" or _too_short(meta, p):
                continue
            length, hop, pad, _ = _frame_plan(meta, feature, seconds, p)
            frames = frame_features(features[track_id], length=length, hop=hop, pad=pad)
            n = len(frames)
            if n:
                yield FrameChunk(
                    frames=frames,
                    song_id=np.full(n, track_id),
                    frame_index=np.arange(n, dtype=np.int32),
                    labels=np.broadcast_to(labels, (n, len(VAD_LABELS))).copy(),
                )

    def rows_of(split: str) -> pd.DataFrame:
        rows = soundtracks[soundtracks["split"] == split]
        if split == "train":
            rows = rows.sample(frac=1.0, random_state=TRAIN_SONG_ORDER_SEED)
        return rows

    return {split: split_chunks(rows_of(split)) for split in SPLITS}


# ------------------------------------------------------------------------------- report


def _top_tags(taggram: np.ndarray, tags: tuple[str, ...], k: int = TOP_TAGS) -> str:
    """The ``k`` most likely tags of a track's taggram [n_patches, n_tags], averaged."""
    mean = taggram.mean(axis=0)
    return ", ".join(f"{tags[i]} {mean[i]:.2f}" for i in np.argsort(-mean)[:k])


def report_feature_extraction(
    soundtracks: pd.DataFrame,
    params: dict[str, Any],
    mfcc_features: FeatureStore | None = None,
    vggish_features: FeatureStore | None = None,
    musicnn_features: FeatureStore | None = None,
) -> pd.DataFrame:
    """One row per track: id, status (ok/error), reason, audio_seconds,
    ``{feature}_{seconds}s_frames`` per family and frame length, seconds spent extracting,
    and with MusiCNN ``musicnn_top_tags``: its 3 most likely tags over the track (mean
    taggram), e.g. ``"rock 0.41, indie 0.22, pop 0.20"``."""
    _check_soundtracks(soundtracks)
    p = ExtractionParams.from_dict(params)
    given = {"mfcc": mfcc_features, "vggish": vggish_features, "musicnn": musicnn_features}
    stores = {f: s for f, s in given.items() if s is not None}
    rows = []
    for track_id in soundtracks["id"]:
        row: dict[str, Any] = {"id": track_id, "audio_seconds": np.nan, "seconds": 0.0}
        errors, notes = [], []
        for feature, store in stores.items():
            meta = store.meta(track_id)
            if meta is None:
                errors.append(f"{feature}: not extracted")
                meta = {"status": "error", "n_rows": 0, "audio_seconds": np.nan}
            else:
                row["seconds"] += float(meta["seconds"])
                if np.isnan(row["audio_seconds"]):
                    row["audio_seconds"] = meta["audio_seconds"]
                if meta["status"] == "error":
                    errors.append(meta["reason"])
                elif meta.get("reason"):  # the decoder's warnings (truncated, ...)
                    notes.append(meta["reason"])
                if meta["status"] != "error" and _too_short(meta, p):
                    errors.append(
                        f"too short: {meta['audio_seconds']:.2f} s of audio, at least "
                        f"{p.min_seconds:g} s needed (framing.short_track.min_seconds)"
                    )
            for seconds in FRAME_SECONDS:
                n = 0
                if meta["status"] == "ok" and not _too_short(meta, p):
                    length, hop, pad, note = _frame_plan(meta, feature, seconds, p)
                    n = count_frames(meta["n_rows"], length=length, hop=hop, pad=pad)
                    notes += [note] if note else []
                row[f"{feature}_{seconds}s_frames"] = n
            if feature == "musicnn":
                row["musicnn_top_tags"] = (
                    _top_tags(store.extra(track_id, "taggram"), TAGS[p.musicnn.model])
                    if meta["status"] == "ok"
                    else ""
                )
        row["status"] = "error" if errors else "ok"
        row["reason"] = "; ".join(dict.fromkeys(errors or notes))
        rows.append(row)
    frame_columns = [f"{f}_{s}s_frames" for f in stores for s in FRAME_SECONDS]
    tag_columns = ["musicnn_top_tags"] if "musicnn" in stores else []
    columns = ["id", "status", "reason", "audio_seconds", *frame_columns, "seconds", *tag_columns]
    report = pd.DataFrame(rows, columns=columns)
    counts = report["status"].value_counts().to_dict()
    logger.info(
        "feature_extraction report: %d ok, %d errors", counts.get("ok", 0), counts.get("error", 0)
    )
    return report
