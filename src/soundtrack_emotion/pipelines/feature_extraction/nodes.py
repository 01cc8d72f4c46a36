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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from soundtrack_emotion.core.families import FEATURES, Batcher, FeatureFamily
from soundtrack_emotion.core.framing import count_frames, frame_features, frame_hop
from soundtrack_emotion.core.vocabulary import (
    FRAME_SECONDS,
    MODEL_INPUT_LABELS,
    QUADRANT_SIGNS,
    SIGNED_LABELS,
    SPLITS,
    VAD_LABELS,
)
from soundtrack_emotion.datasets import FeatureRecord, FeatureStore, FrameChunk, SourceStamp
from soundtrack_emotion.exceptions import AudioDecodeError, DataValidationError
from soundtrack_emotion.pipelines.feature_extraction.tracks import (
    TrackResult,
    TrackTask,
    crashed_track,
    extract_track,
    timed_out_track,
)
from soundtrack_emotion.runtime.distributed import ComputeParams, dask_client
from soundtrack_emotion.runtime.feature_settings import ExtractionParams
from soundtrack_emotion.runtime.paths import resolve_path
from soundtrack_emotion.runtime.progress import progress
from soundtrack_emotion.runtime.workers import Attempts, FailureGuard, map_tracks

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("id", "audio_path", "split", *VAD_LABELS)
# Log progress every this many tracks.
PROGRESS_EVERY = 50
# Training songs are written in a seeded random order, so that every stored shard is a random
# sample of the corpus and a shuffled stream (shard order + buffer, seeded by modelling.seed)
# mixes songs globally instead of within a run of crawl-rank neighbours.
TRAIN_SONG_ORDER_SEED = 0
# The Kedro input of each family's store as it is on disk: ``existing_<family>``.
EXISTING = "existing_"
# Folder beside the feature stores holding the attempt markers of tracks being extracted.
ATTEMPTS_FOLDER = "attempted"

Chunk = dict[str, dict[str, FeatureRecord]]


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


def _given_stores(
    stores: Mapping[str, FeatureStore | None], prefix: str, suffix: str = ""
) -> dict[str, FeatureStore]:
    """``{family: store}`` of the Kedro inputs named ``<prefix><family><suffix>`` that were
    given, in the registry's order; an input naming no family is refused."""
    by_family = {}
    for key, store in stores.items():
        family = key.removeprefix(prefix).removesuffix(suffix)
        if family not in FEATURES or f"{prefix}{family}{suffix}" != key:
            raise DataValidationError(f"unexpected input {key!r}; families: {list(FEATURES)}")
        by_family[family] = store
    return {f: by_family[f] for f in FEATURES if by_family.get(f) is not None}


@dataclass
class _Plan:
    """The run's tasks and what their records need: each stale track's source stamp and each
    family's fingerprint."""

    families: tuple[str, ...]
    fingerprints: dict[str, str]
    # The families computed in this process, across tracks (see ``_ParentBatches``).
    batched: frozenset[str]
    tasks: list[TrackTask] = field(default_factory=list)
    stamps: dict[str, SourceStamp | None] = field(default_factory=dict)

    def empty(self) -> Chunk:
        return {f: {} for f in self.families}

    def record(
        self, result: TrackResult, family: str, *, seconds: float, **fields: Any
    ) -> FeatureRecord:
        """``result``'s record of ``family``: an error record for a track that cannot be used
        (by any family, or by this one), else its rows (with the decoder's warnings)."""
        common = {
            "id": result.id,
            "family": family,
            "fingerprint": self.fingerprints[family],
            "source": self.stamps[result.id],
            "audio_seconds": result.audio_seconds,
        }
        if result.error is not None:
            return FeatureRecord.error(**common, reason=result.error, seconds=result.decode_seconds)
        out = result.outputs.get(family)
        if out is not None and out.error is not None:
            return FeatureRecord.error(**common, reason=out.error, seconds=out.seconds)
        return FeatureRecord(**common, reason="; ".join(result.warnings), seconds=seconds, **fields)


def _plan(
    soundtracks: pd.DataFrame, stores: Mapping[str, FeatureStore], p: ExtractionParams
) -> _Plan:
    """One task per track with at least one family missing or stale in its store (audio
    paths relative to the project root, whatever the working directory)."""
    plan = _Plan(
        families=tuple(stores),
        fingerprints={f: p.fingerprint(f) for f in stores},
        batched=frozenset(f for f in stores if p.family(f).batched_across_tracks),
    )
    precisions = tuple(
        (f, p.precision_of(f)) for f in p.with_members(stores) if p.family(f).loads_model
    )
    for track_id, audio_path in zip(soundtracks["id"], soundtracks["audio_path"], strict=True):
        audio_path = resolve_path(audio_path)  # noqa: PLW2901
        stamp = SourceStamp.of(audio_path)
        stale = tuple(
            p.family(f)
            for f, fingerprint in plan.fingerprints.items()
            if not stores[f].is_current(track_id, fingerprint=fingerprint, source=stamp)
        )
        if stale:
            plan.stamps[track_id] = stamp
            plan.tasks.append(
                TrackTask(
                    id=track_id,
                    path=str(audio_path),
                    families=stale,
                    decoding=p.decoding,
                    precisions=precisions,
                )
            )
    return plan


def _per_track_records(result: TrackResult, plan: _Plan) -> Chunk:
    """The records of the families ``result`` computed in its worker; the decode's time is
    charged to the first of them."""
    chunk = plan.empty()
    decode = result.decode_seconds
    for family in result.families:
        if family in plan.batched:
            continue
        out = result.outputs.get(family)
        if out is None:  # the track could not be decoded
            chunk[family][result.id] = plan.record(result, family, seconds=0.0)
            continue
        fields = (
            {"features": out.rows, "extras": out.extras} if out.extras else {"features": out.rows}
        )
        chunk[family][result.id] = plan.record(
            result, family, seconds=decode + out.seconds, **fields
        )
        decode = 0.0
    return chunk


class _ParentBatches:
    """The families computed in this process, batched across tracks (VGGish): each track's
    waveform is queued as its result arrives, and its record made once its rows are done."""

    def __init__(self, plan: _Plan, p: ExtractionParams) -> None:
        self.plan = plan
        self.batchers: dict[str, Batcher] = {}
        for name in sorted(plan.batched, key=plan.families.index):
            if any(name in task.names for task in plan.tasks):
                self.batchers[name] = p.family(name).batcher(p.load_model(name))
        self.waiting: dict[str, dict[str, TrackResult]] = {f: {} for f in self.batchers}

    def add(self, result: TrackResult, chunk: Chunk) -> None:
        for name, batcher in self.batchers.items():
            if name not in result.families:
                continue
            if result.error is not None:
                chunk[name][result.id] = self.plan.record(result, name, seconds=0.0)
                continue
            self.waiting[name][result.id] = result
            try:
                finished = batcher.add(result.id, result.waveforms.pop(name))
            except AudioDecodeError as error:
                del self.waiting[name][result.id]
                result.error = str(error)
                chunk[name][result.id] = self.plan.record(result, name, seconds=0.0)
                finished = []
            chunk[name] |= self._done(name, finished)

    def flush(self) -> Chunk | None:
        chunk = self.plan.empty()
        pending = False
        for name, batcher in self.batchers.items():
            if batcher.pending:
                pending = True
                chunk[name] |= self._done(name, batcher.flush())
        return chunk if pending else None

    def _done(self, name: str, finished: list[tuple[str, np.ndarray]]) -> dict[str, FeatureRecord]:
        out = {}
        for track_id, rows in finished:
            result = self.waiting[name].pop(track_id)
            seconds = self.batchers[name].seconds_spent.pop(track_id, 0.0)
            # The decode is charged to a family computed per track when the track has one.
            if not result.outputs:
                seconds += result.decode_seconds
            out[track_id] = self.plan.record(result, name, features=rows, seconds=seconds)
        return out


@dataclass
class _Progress:
    """The run's progress log line and its :class:`FailureGuard`."""

    total: int
    guard: FailureGuard
    started: float = field(default_factory=time.perf_counter)
    n_done: int = 0
    n_errors: int = 0
    audio_seconds: float = 0.0

    def log(self, result: TrackResult) -> None:
        self.n_done += 1
        self.n_errors += result.error is not None
        self.audio_seconds += 0.0 if result.error else result.audio_seconds
        if self.n_done % PROGRESS_EVERY == 0 or self.n_done == self.total:
            elapsed = time.perf_counter() - self.started
            logger.info(
                "feature_extraction: %d/%d tracks (%d errors), %.1f audio s per wall s",
                self.n_done,
                self.total,
                self.n_errors,
                self.audio_seconds / max(elapsed, 1e-9),
            )


def _track_id(task: TrackTask) -> str:
    return task.id


def extract_features(
    soundtracks: pd.DataFrame,
    params: dict[str, Any],
    *,
    compute: Mapping[str, Any] | None = None,
    **existing: FeatureStore | None,
) -> Iterator[Chunk]:
    """Extract the families whose ``existing_<family>`` store is given, for every track of
    ``soundtracks`` whose stored record is missing or stale.

    Yields ``{family: {track_id: FeatureRecord}}`` chunks as tracks finish, each record
    holding the family's rows (MFCC [n_windows, n_mfcc], VGGish [N, 128], MusiCNN
    [n_patches, 200] with its ``taggram`` extra); a bad track gets an error record with the
    reason. Decoding and the families computed per track run on ``workers`` processes (each
    loads a network once), under the time limit and ``memory_limit_mb``, with an attempt
    marker per track beside the stores (``attempted/``: a track that killed its worker is
    recorded and skipped by later runs, see ``runtime.workers.Attempts``); a family batched
    across tracks (VGGish) runs here. ``compute`` (``params:compute``): with ``backend: dask``
    the per-track work runs as tasks on a Dask cluster instead.
    """
    _check_soundtracks(soundtracks)
    p = ExtractionParams.from_dict(params)
    stores = _given_stores(existing, EXISTING)
    plan = _plan(soundtracks, stores, p)
    logger.info(
        "feature_extraction: %d of %d tracks to extract (%s), %d up to date",
        len(plan.tasks),
        len(soundtracks),
        "+".join(plan.families),
        len(soundtracks) - len(plan.tasks),
    )
    if not plan.tasks:
        yield plan.empty()
        return
    parent = _ParentBatches(plan, p)
    tally = _Progress(
        total=len(plan.tasks),
        guard=FailureGuard(max_share=p.max_same_failure_share, min_tracks=p.failure_min_tracks),
    )
    backend = ComputeParams.from_dict(compute)
    cluster = ExitStack()
    client = cluster.enter_context(dask_client(backend)) if backend.uses_dask else None
    results = map_tracks(
        extract_track,
        plan.tasks,
        workers=p.workers,
        time_limit=p.time_limit,
        on_crash=crashed_track,
        on_timeout=timed_out_track,
        dask_client=client,
        memory_limit_mb=p.memory_limit_mb,
        attempts=Attempts(
            folder=next(iter(stores.values())).path.parent / ATTEMPTS_FOLDER,
            key=_track_id,
            retry=p.retry_attempted,
        ),
    )
    # The cluster closes however the loop ends: done, a bug, or the run stopped.
    with cluster:
        bar = progress(results, total=len(plan.tasks), desc="features", unit="track")
        for result in bar:
            chunk = _per_track_records(result, plan)
            parent.add(result, chunk)
            tally.log(result)
            yield chunk
            tally.guard.add(result.reason, result.error)  # after the chunk is saved
    if (rest := parent.flush()) is not None:
        yield rest


# ------------------------------------------------------------------------------- framing


def _frame_plan(
    meta: Mapping[str, Any], feature: str, seconds: int, p: ExtractionParams
) -> tuple[int, int, bool, str]:
    """(frame length, hop, pad, note) for one stored record; note explains short tracks."""
    length = p.family(feature).frame_rows(seconds)
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


def song_labels(rows: pd.DataFrame) -> np.ndarray:
    """The label columns of each song, ``MODEL_INPUT_LABELS`` [n, 5] float32: its VAD values,
    then the signs of valence and arousal its Russell ``quadrant`` gives (NaN where it has no
    quadrant; its VAD values are then NaN).

    >>> rows = pd.DataFrame({"valence": [0.8, None], "arousal": [0.3, None],
    ...                      "dominance": [0.5, None], "quadrant": ["", "Q2"]})
    >>> song_labels(rows).tolist()
    [[0.800000011920929, 0.30000001192092896, 0.5, nan, nan], [nan, nan, nan, 0.0, 1.0]]
    """
    quadrants = rows["quadrant"] if "quadrant" in rows else pd.Series("", index=rows.index)
    signs = np.array(
        [QUADRANT_SIGNS.get(str(q).strip().upper(), (np.nan,) * len(SIGNED_LABELS))
         for q in quadrants.fillna("")],
        dtype=np.float64,
    ).reshape(len(rows), len(SIGNED_LABELS))  # fmt: skip
    values = rows[list(VAD_LABELS)].to_numpy(np.float64)
    return np.concatenate([values, signs], axis=1).astype(np.float32)


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
    frame's index in its song and the song's labels [n, 5] on every frame
    (:func:`song_labels`: VAD values and quadrant signs, NaN where it has none). Training songs
    come in a seeded random order (``TRAIN_SONG_ORDER_SEED``). Nothing is read until the
    dataset consumes it.
    """
    _check_soundtracks(soundtracks)
    p = ExtractionParams.from_dict(params)

    def split_chunks(rows: pd.DataFrame) -> Iterator[FrameChunk]:
        for track_id, labels in zip(rows["id"], song_labels(rows), strict=True):
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
                    labels=np.broadcast_to(labels, (n, len(MODEL_INPUT_LABELS))).copy(),
                )

    def rows_of(split: str) -> pd.DataFrame:
        rows = soundtracks[soundtracks["split"] == split]
        if split == "train":
            rows = rows.sample(frac=1.0, random_state=TRAIN_SONG_ORDER_SEED)
        return rows

    return {split: split_chunks(rows_of(split)) for split in SPLITS}


# ------------------------------------------------------------------------------- report


def _store_row(
    track_id: str, name: str, store: FeatureStore, p: ExtractionParams, row: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """Fill ``row``'s columns of family ``name`` for one track; (errors, notes)."""
    family: FeatureFamily = p.family(name)
    errors, notes = [], []
    meta = store.meta(track_id)
    if meta is None:
        errors.append(f"{name}: not extracted")
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
    usable = meta["status"] == "ok" and not _too_short(meta, p)
    for seconds in FRAME_SECONDS:
        n = 0
        if usable:
            length, hop, pad, note = _frame_plan(meta, name, seconds, p)
            n = count_frames(meta["n_rows"], length=length, hop=hop, pad=pad)
            notes += [note] if note else []
        row[f"{name}_{seconds}s_frames"] = n
    if meta["status"] == "ok":
        row |= family.report_fields(lambda extra: store.extra(track_id, extra))
    else:
        row |= dict.fromkeys(family.report_columns, "")
    return errors, notes


def report_feature_extraction(
    soundtracks: pd.DataFrame, params: dict[str, Any], **features: FeatureStore | None
) -> pd.DataFrame:
    """One row per track of the families whose ``<family>_features`` store is given: id,
    status (ok/error), reason, audio_seconds, ``{family}_{seconds}s_frames`` per family and
    frame length, seconds spent extracting, and each family's report columns (MusiCNN's
    ``musicnn_top_tags``: its 3 most likely tags over the track, e.g. ``"rock 0.41, indie
    0.22, pop 0.20"``)."""
    _check_soundtracks(soundtracks)
    p = ExtractionParams.from_dict(params)
    stores = _given_stores(features, "", "_features")
    rows = []
    for track_id in soundtracks["id"]:
        row: dict[str, Any] = {"id": track_id, "audio_seconds": np.nan, "seconds": 0.0}
        errors, notes = [], []
        for name, store in stores.items():
            family_errors, family_notes = _store_row(track_id, name, store, p, row)
            errors += family_errors
            notes += family_notes
        row["status"] = "error" if errors else "ok"
        row["reason"] = "; ".join(dict.fromkeys(errors or notes))
        rows.append(row)
    frame_columns = [f"{f}_{s}s_frames" for f in stores for s in FRAME_SECONDS]
    extra_columns = [c for f in stores for c in p.family(f).report_columns]
    columns = ["id", "status", "reason", "audio_seconds", *frame_columns, "seconds", *extra_columns]
    report = pd.DataFrame(rows, columns=columns)
    counts = report["status"].value_counts().to_dict()
    logger.info(
        "feature_extraction report: %d ok, %d errors", counts.get("ok", 0), counts.get("error", 0)
    )
    return report
