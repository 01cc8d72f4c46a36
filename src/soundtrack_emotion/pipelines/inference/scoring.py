"""Per-track scoring into the resumable track cache, in the worker pool or on Dask.

:func:`predict_vad_timelines` yields each track's result to the track cache
(``inference_results``) as soon as it is done, and skips the tracks the cache already holds a
current result for (same file size and mtime, same :func:`inference_fingerprint`). The per-track
work is :func:`~soundtrack_emotion.pipelines.inference.track.infer_track`; it runs, as feature
extraction's does, in the worker pool (``feature_extraction.workers`` processes, each loading
the models once, under the per-track time limit and ``memory_limit_mb``, with an attempt
marker per track: a track that kills its worker is recorded with the reason and the run goes
on), inline with ``workers: 1``, or as Dask tasks (``compute.backend: dask``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from soundtrack_emotion.core.audio import estimate_seconds
from soundtrack_emotion.core.out_of_domain import DomainReference
from soundtrack_emotion.core.precision import FLOAT32, trained_model_precision
from soundtrack_emotion.datasets import CachedTrack, SourceStamp, TrackCache
from soundtrack_emotion.datasets.track_cache import ERROR, write_record
from soundtrack_emotion.exceptions import AudioDecodeError, ParameterError
from soundtrack_emotion.pipelines.inference.models import (
    MODEL_COLUMNS,
    domain_loaders,
    label_models_for,
    load_chosen_models,
    model_fingerprint,
    model_key,
    model_loaders,
)
from soundtrack_emotion.pipelines.inference.track import (
    TIMELINE_COLUMNS,
    WAVEFORM_COLUMNS,
    LabelModel,
    TimelineSettings,
    TrackInference,
    infer_track,
)
from soundtrack_emotion.runtime.distributed import ComputeParams, dask_client
from soundtrack_emotion.runtime.feature_settings import ExtractionParams
from soundtrack_emotion.runtime.paths import resolve_path
from soundtrack_emotion.runtime.progress import progress
from soundtrack_emotion.runtime.workers import (
    Attempts,
    FailureGuard,
    TimeLimit,
    TrackTimeout,
    announce_audio_seconds,
    map_tracks,
    time_limited,
)

logger = logging.getLogger(__name__)

# Part of every cached result's fingerprint: bump it when a change to the code changes results,
# so cached tracks are scored again.
# 2: truthful decoding; 3: one BLAS thread; 4: out-of-domain score
INFERENCE_VERSION = 4
# Characters of a file's stem kept in its track cache key (the rest is a hash of its path).
KEY_STEM_CHARS = 48
# Folder beside the track cache holding the attempt markers of the tracks being scored.
ATTEMPTS_FOLDER = "attempted"


def inference_fingerprint(
    chosen: pd.DataFrame,
    loaded: Mapping[str, Any],
    extraction: ExtractionParams,
    *,
    hop_seconds: float,
    waveform_points: int,
    domains: Mapping[str, DomainReference] | None = None,
    precision: str = FLOAT32,
) -> str:
    """Hash of everything besides the audio file that a track's result depends on: the model
    per label (its weights) and output column, the feature and length rules of
    ``feature_extraction`` (the embedding networks' precision included), ``hop_seconds``,
    ``waveform_points``, the out-of-domain references (``domains``) and the ``precision`` the
    models score in. Settings that change only
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
        "domains": {f: ref.fingerprint for f, ref in sorted((domains or {}).items())},
    }
    if precision != FLOAT32:  # only then: results cached before the setting stay current
        spec["precision"] = precision
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


@dataclass(frozen=True)
class Scorer:
    """Everything one track is scored with, the same on every backend: the label models, the
    feature_extraction parameters, the timeline settings, each family's loaded network, the
    out-of-domain references, the run's :func:`inference_fingerprint` and the time limit
    (enforced in this process's main thread only, see ``time_limited``)."""

    models: Sequence[LabelModel]
    extraction: ExtractionParams
    timeline: TimelineSettings
    networks: Mapping[str, Any]
    domains: Mapping[str, DomainReference]
    fingerprint: str
    time_limit: TimeLimit | None = None


def _networks(features: Iterable[str], extraction: ExtractionParams) -> dict[str, Any]:
    """The networks of the families in ``features`` (and of their members) that have one,
    loaded in their precision."""
    return {
        f: extraction.load_model(f)
        for f in extraction.with_members(features)
        if extraction.family(f).loads_model
    }


def _tracks_to_score(
    inference_tracks: pd.DataFrame, existing_results: TrackCache | None, fingerprint: str
) -> dict[str, Any]:
    """The listing's rows by track cache key, less those the cache holds a current result for."""
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
    return todo


def _resolved_precisions(
    label_models: Sequence[LabelModel], extraction: ExtractionParams, model_precision: str
) -> tuple[tuple[str, str], ...]:
    """This process's precisions of the trained models and of the chosen families' networks:
    the fingerprint says what the workers compute, so they compute in these."""
    needed = extraction.with_members(m.feature for m in label_models)
    networks = [f for f in needed if extraction.family(f).loads_model]
    return (("models", model_precision), *((f, extraction.precision_of(f)) for f in networks))


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
    compute: Mapping[str, Any] | None = None,
    domain_references: Mapping[str, Callable[[], DomainReference]] | None = None,
    precision: str = FLOAT32,
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
    training (a family's network is loaded only when a chosen model needs it). Tracks are
    decoded and scored in the worker pool of ``feature_extraction.workers`` processes
    (:func:`score_in_pool`; ``workers: 1``: in this process), under its time limit and
    ``memory_limit_mb``, with an attempt marker per track beside the track cache
    (``attempted/``): a track whose worker dies gets an error record with the reason, and
    later runs hold it back (see ``runtime.workers.Attempts``).
    ``compute`` (``params:compute``): with ``backend: dask`` each track is a Dask task that
    writes its record straight into the track cache (:func:`score_on_worker`). The records
    are the same bit for bit on every backend (timings aside).
    ``domain_references``: each feature family's out-of-domain reference loader
    (:func:`domain_loaders` picks those of the chosen models' corpus). ``precision``
    (``params:inference.precision``, ``auto`` by default there): what the trained models
    compute in.
    """
    models = load_chosen_models(inference_models, trained_models)
    model_precision = trained_model_precision(precision)
    label_models = label_models_for(inference_models, models, precision=model_precision)
    extraction = ExtractionParams.from_dict(feature_extraction)
    references = domain_loaders(inference_models, domain_references)
    domains = {feature: load() for feature, load in references.items()}
    timeline = TimelineSettings(
        hop_seconds=float(hop_seconds),
        batch_size=int(batch_size),
        waveform_points=int(waveform_points),
    )
    fingerprint = inference_fingerprint(
        inference_models,
        models,
        extraction,
        hop_seconds=hop_seconds,
        waveform_points=waveform_points,
        domains=domains,
        precision=model_precision,
    )
    todo = _tracks_to_score(inference_tracks, existing_results, fingerprint)
    if not todo:
        yield {}
        return
    guard = FailureGuard(
        max_share=extraction.max_same_failure_share,
        min_tracks=extraction.failure_min_tracks,
        what="inference",
    )
    backend = ComputeParams.from_dict(compute)
    job = ScoringJob(
        chosen=tuple(inference_models[list(MODEL_COLUMNS[:5])].itertuples(index=False, name=None)),
        loaders=model_loaders(inference_models, trained_models),
        domain_loaders=references,
        feature_extraction=dict(feature_extraction),
        timeline=timeline,
        fingerprint=fingerprint,
        precisions=_resolved_precisions(label_models, extraction, model_precision),
        # Absolute: Dask workers write there (same path on every machine of a cluster).
        cache_path=str(Path(existing_results.path).resolve()) if existing_results else "",
    )
    tasks = [
        ScoringTask(job=job, key=key, track=row.track, path=str(row.path))
        for key, row in todo.items()
    ]
    attempts = (
        Attempts(
            folder=Path(existing_results.path).parent / ATTEMPTS_FOLDER,
            key=_task_key,
            retry=extraction.retry_attempted,
        )
        if existing_results is not None
        else None
    )
    if backend.uses_dask:
        yield from _score_on_dask(tasks, backend, guard, extraction, attempts)
        return
    if extraction.workers > 1:
        func: Callable[[ScoringTask], ScoredTrack] = score_in_pool
    else:  # inline: the models loaded here, once
        scorer = Scorer(
            models=label_models,
            extraction=extraction,
            timeline=timeline,
            networks=_networks((m.feature for m in label_models), extraction),
            domains=domains,
            fingerprint=fingerprint,
        )
        func = functools.partial(_score_here, scorer=scorer)
    results = map_tracks(
        func,
        tasks,
        workers=extraction.workers,
        time_limit=extraction.time_limit,
        on_crash=_lost_track,
        on_timeout=_timed_out_track,
        memory_limit_mb=extraction.memory_limit_mb,
        attempts=attempts,
    )
    for key, record, reason, error in progress(results, total=len(tasks), desc="inference",
                                               unit="track"):  # fmt: skip
        yield {key: record}
        guard.add(reason, error)


# A scored track as the pool hands it back: (key, record, reason code, error message).
ScoredTrack = tuple[str, CachedTrack, str, str | None]


def _task_key(task: ScoringTask) -> str:
    return task.key


def _scored(task: ScoringTask, scorer: Scorer) -> ScoredTrack:
    record, error = score_track(
        str(resolve_path(task.path)), key=task.key, track=task.track, scorer=scorer
    )
    return task.key, record, error.reason if error else "", None if error is None else str(error)


def _score_here(task: ScoringTask, *, scorer: Scorer) -> ScoredTrack:
    """One track scored in this process (``workers: 1``) with the models loaded here."""
    return _scored(task, scorer)


def score_in_pool(task: ScoringTask) -> ScoredTrack:
    """A worker pool task: one track scored with the job's models, loaded once per worker
    process; its record goes back to the parent, which saves it."""
    return _scored(task, _worker_models(task.job))


def _error_record(task: ScoringTask, message: str) -> CachedTrack:
    return CachedTrack(
        key=task.key,
        fingerprint=task.job.fingerprint,
        status=ERROR,
        source=SourceStamp.of(str(resolve_path(task.path))),
        summary={"status": ERROR, "error": message, "n_windows": 0},
    )


def _lost_message(task: ScoringTask, error: BaseException) -> tuple[str, str]:
    """(reason code, message) of a track whose worker was lost: died, over its memory limit,
    or killed in an earlier run (a ``WorkerLost``), or a track that killed its Dask workers."""
    reason = getattr(error, "reason", None)
    if reason is None:
        return "crash", (
            f"{task.path}: scoring it killed {_KILLED_WORKERS} Dask workers in a row ({error}); "
            "the file is probably damaged"
        )
    hint = "; the file is probably damaged" if reason == "crash" else ""
    return reason, f"{task.path}: {error}{hint}"


def _lost_track(task: ScoringTask, error: BaseException) -> ScoredTrack:
    reason, message = _lost_message(task, error)
    logger.warning("inference cannot score %s: %s", task.path, message)
    return task.key, _error_record(task, message), reason, message


def _timeout_message(task: ScoringTask, limit_s: float) -> str:
    return (
        f"{task.path}: timed out after {limit_s:.0f} s (feature_extraction.time_limit: the "
        "decoder hung or the file is far longer than its header)"
    )


def _timed_out_track(task: ScoringTask, limit_s: float) -> ScoredTrack:
    message = _timeout_message(task, limit_s)
    logger.warning("inference cannot score %s: %s", task.path, message)
    return task.key, _error_record(task, message), "timeout", message


def score_track(
    path: str, *, key: str, track: str, scorer: Scorer
) -> tuple[CachedTrack, AudioDecodeError | None]:
    """One track as a cache record (the same on every backend): its :func:`infer_track`
    result, or status ``error`` with the reason a file cannot be read (also returned)."""
    # Stamped before decoding: a file changed while it is scored is scored again next run.
    source = SourceStamp.of(path)
    started = time.perf_counter()
    try:
        # One BLAS thread, as feature_extraction computes features (and as a Dask worker
        # runs): the features, hence the scores, are then the same bit for bit everywhere.
        with threadpool_limits(limits=1), time_limited(scorer.time_limit) as clock:
            # The track's time limit scales with its length (the pool's, or the one above).
            announce_audio_seconds(estimate_seconds(path))
            result = infer_track(
                path,
                track=track,
                models=scorer.models,
                extraction=scorer.extraction,
                timeline=scorer.timeline,
                networks=scorer.networks,
                domains=scorer.domains,
            )
    except (AudioDecodeError, TrackTimeout) as error:
        if isinstance(error, TrackTimeout):
            error = AudioDecodeError(
                f"{path}: timed out after {clock.limit_s:.0f} s (feature_extraction."
                "time_limit: the decoder hung or the file is far longer than its header)",
                reason="timeout",
            )
        logger.warning("inference cannot read %s: %s", path, error)
        record = CachedTrack(
            key=key,
            fingerprint=scorer.fingerprint,
            status=ERROR,
            source=source,
            summary={"status": ERROR, "error": str(error), "n_windows": 0},
            seconds=time.perf_counter() - started,
        )
        return record, error
    except Exception as error:
        error.add_note(f"raised while scoring track {track} ({path})")
        raise
    seconds = time.perf_counter() - started
    return _cached(
        result, key=key, fingerprint=scorer.fingerprint, source=source, seconds=seconds
    ), None


# ----------------------------------------------------------------------- scoring on Dask


@dataclass(frozen=True)
class ScoringJob:
    """What every scoring task (pool or Dask) shares (small: model loaders, not models): the chosen
    model rows (``MODEL_COLUMNS[:5]``), a loader per :func:`model_key` and per out-of-domain
    reference (:func:`domain_loaders`), the parameters, the
    run's :func:`inference_fingerprint` and the track cache folder the workers write to."""

    chosen: tuple[tuple[Any, ...], ...]
    loaders: Mapping[str, Callable[[], Any]]
    domain_loaders: Mapping[str, Callable[[], DomainReference]]
    feature_extraction: Mapping[str, Any]
    timeline: TimelineSettings
    fingerprint: str
    cache_path: str
    # (network, precision) as the planning process resolved them: "models" and the embedding
    # families (see ExtractionParams.from_dict's ``pinned``).
    precisions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ScoringTask:
    job: ScoringJob
    key: str
    track: str
    path: str

    @property
    def id(self) -> str:
        return self.track


# On a pool or Dask worker: the models of the jobs it ran, by fingerprint, loaded on its
# first task.
_WORKER_MODELS: dict[str, Scorer] = {}
_WORKER_MODELS_LOCK = threading.Lock()
_WORKER_MODEL_LOADS: list[str] = []


def worker_model_loads() -> list[str]:
    """The fingerprints of the jobs whose models this process loaded, once each (run on every
    worker with ``client.run``: one load per worker and job, however many tasks it ran)."""
    return list(_WORKER_MODEL_LOADS)


def _worker_models(job: ScoringJob) -> Scorer:
    """The job's models on this worker process, loaded once per worker (not per task)."""
    with _WORKER_MODELS_LOCK:
        if job.fingerprint not in _WORKER_MODELS:
            chosen = pd.DataFrame(list(job.chosen), columns=list(MODEL_COLUMNS[:5]))
            loaded = {key: load() for key, load in job.loaders.items()}
            precisions = dict(job.precisions)
            model_precision = precisions.pop("models", FLOAT32)
            extraction = ExtractionParams.from_dict(job.feature_extraction, pinned=precisions)
            _WORKER_MODELS.clear()  # one job's models at a time: memory stays bounded
            _WORKER_MODELS[job.fingerprint] = Scorer(
                models=label_models_for(chosen, loaded, precision=model_precision),
                extraction=extraction,
                timeline=job.timeline,
                networks=_networks(chosen["feature"], extraction),
                domains={feature: load() for feature, load in job.domain_loaders.items()},
                fingerprint=job.fingerprint,
            )
            _WORKER_MODEL_LOADS.append(job.fingerprint)
        return _WORKER_MODELS[job.fingerprint]


def score_on_worker(task: ScoringTask) -> tuple[str, str, str, str | None]:
    """A Dask task: score one track and write its record straight into the track cache
    (atomically, under its fixed key: a re-run after a worker died rewrites the same bytes
    but the timing). Returns ``(key, status, reason, error)``: nothing big travels back."""
    job = task.job
    scorer = _worker_models(job)
    record, error = score_track(
        str(resolve_path(task.path)), key=task.key, track=task.track, scorer=scorer
    )
    write_record(job.cache_path, record)
    return (
        task.key,
        record.status,
        error.reason if error else "",
        None if error is None else str(error),
    )


def _score_on_dask(
    tasks: Sequence[ScoringTask],
    backend: ComputeParams,
    guard: FailureGuard,
    extraction: ExtractionParams,
    attempts: Attempts | None,
) -> Iterator[dict[str, CachedTrack]]:
    if not tasks or not tasks[0].job.cache_path:
        raise ParameterError("compute.backend=dask needs the track cache (existing_results)")
    cache_path = tasks[0].job.cache_path

    def lost(task: ScoringTask, error: BaseException) -> tuple[str, str, str, str]:
        reason, message = _lost_message(task, error)
        write_record(cache_path, _error_record(task, message))
        return task.key, ERROR, reason, message

    def timed_out(task: ScoringTask, limit_s: float) -> tuple[str, str, str, str]:
        message = _timeout_message(task, limit_s)
        write_record(cache_path, _error_record(task, message))
        return task.key, ERROR, "timeout", message

    # Saved (and the cache's leftovers swept) before any worker writes into the folder; after
    # it, only the workers write, so nothing more is yielded.
    yield {}
    with dask_client(backend) as client:
        results = map_tracks(
            score_on_worker,
            tasks,
            workers=1,
            dask_client=client,
            on_crash=lost,
            time_limit=extraction.time_limit,
            on_timeout=timed_out,
            attempts=attempts,
        )
        for _key, _status, reason, error in progress(
            results, total=len(tasks), desc="inference (dask)", unit="track"
        ):
            guard.add(reason, error)


# The scheduler's default distributed.scheduler.allowed-failures + 1.
_KILLED_WORKERS = 4
