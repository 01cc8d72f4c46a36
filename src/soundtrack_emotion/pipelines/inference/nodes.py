"""Inference nodes: VAD timelines for any audio with the trained models, and the emotional
profile of a soundtrack album. The per-track work is :mod:`.track` (:func:`infer_track`).

Scoring is resumable: :func:`predict_vad_timelines` yields each track's result to the track
cache (``inference_results``) as soon as it is done, and skips the tracks the cache already
holds a current result for (same file size and mtime, same :func:`inference_fingerprint`);
:func:`collect_vad_timelines` then assembles the run's tables from the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from soundtrack_emotion.audio import AUDIO_EXTENSIONS
from soundtrack_emotion.datasets import CachedTrack, SourceStamp, TrackCache
from soundtrack_emotion.datasets.track_cache import ERROR, write_record
from soundtrack_emotion.distributed import ComputeParams, dask_client, dask_map
from soundtrack_emotion.exceptions import AudioDecodeError, DataValidationError, ParameterError
from soundtrack_emotion.features import FEATURES, load_vggish
from soundtrack_emotion.paths import resolve_path
from soundtrack_emotion.pipelines.feature_extraction.extraction import (
    ExtractionParams,
    FailureGuard,
    TrackTimeout,
    time_limited,
)
from soundtrack_emotion.pipelines.inference.track import (
    TIMELINE_COLUMNS,
    WAVEFORM_COLUMNS,
    LabelModel,
    TrackInference,
    infer_track,
)
from soundtrack_emotion.pipelines.modelling.architectures import NETWORKS
from soundtrack_emotion.pipelines.modelling.nodes import TARGETS, current_model_metrics
from soundtrack_emotion.pipelines.modelling.tracking import (
    MODELS_URI,
    load_registered_keras,
    resolve_registered_model,
)
from soundtrack_emotion.precision import FLOAT32, keras_in_precision, trained_model_precision
from soundtrack_emotion.provenance import DEMO, corpus_fingerprint
from soundtrack_emotion.vad import VAD_LABELS

logger = logging.getLogger(__name__)

KEY_SEPARATOR = "__"
BEST = "best"
TRACK_COLUMNS = (
    "position", "track", "path", "status", "error", "duration_s", "n_windows", *VAD_LABELS,
)  # fmt: skip
# Leading columns of every table of a catalogue run (see pipelines/inference/catalogue.py).
MOVIE_COLUMNS = ("movie_id", "title")
MODEL_COLUMNS = ("label", "feature", "network", "target", "output_index", "best_val_loss")
# Which model made a result and what it was trained on; written into every inference output.
IDENTITY_COLUMNS = ("model", "model_version", "corpus_kind", "corpus_fingerprint", "source")
OUTPUT_IDENTITY = ("model", "model_version", "trained_on", "demo_model")
CSV_SUFFIX = ".csv"
# Part of every cached result's fingerprint: bump it when a change to the code changes results,
# so cached tracks are scored again.
INFERENCE_VERSION = 3  # 2: truthful decoding (issue 13); 3: one BLAS thread (issue 12)
# Characters of a file's stem kept in its track cache key (the rest is a hash of its path).
KEY_STEM_CHARS = 48


def model_key(feature: str, network: str, target: str) -> str:
    """Keyword name of one trained model's dataset in a node's inputs."""
    return KEY_SEPARATOR.join((feature, network, target))


def model_partition(feature: str, network: str, target: str) -> str:
    """Partition id of one trained model in ``trained_models`` (``data/06_models``):
    ``{feature}_{network}/{target}``, its ``.keras`` file without the suffix."""
    return f"{feature}_{network}/{target}"


def split_model_key(key: str) -> tuple[str, str, str]:
    """``(feature, network, target)`` of a :func:`model_key`."""
    parts = key.split(KEY_SEPARATOR)
    if len(parts) != 3:
        raise ParameterError(f"{key!r} is not named {model_key('feature', 'network', 'target')}")
    return parts[0], parts[1], parts[2]


# ------------------------------------------------------------------------------ track listing


def _track_names(paths: Sequence[Path]) -> list[str]:
    """Unique names: file stems, file names where two files share a stem, and ``name (2)``,
    ``name (3)`` ... for a file listed again."""
    files_per_stem: dict[str, set[Path]] = {}
    for p in paths:
        files_per_stem.setdefault(p.stem, set()).add(p)
    names = [p.stem if len(files_per_stem[p.stem]) == 1 else p.name for p in paths]
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


def _read_track_list(csv_path: Path) -> list[Path]:
    """Files listed in a CSV, in its row order: column ``path`` (else the first column),
    relative paths taken from the CSV's folder."""
    table = pd.read_csv(csv_path)
    if table.empty:
        raise ParameterError(f"{csv_path}: the track list is empty")
    column = "path" if "path" in table.columns else table.columns[0]
    return [
        p if p.is_absolute() else csv_path.parent / p
        for p in (Path(str(v)) for v in table[column].dropna())
    ]


def _scan_folder(folder: Path, extensions: Sequence[str]) -> list[Path]:
    """The audio files directly in ``folder`` (visible, extension in ``extensions``, any case),
    in name order; the other files are counted in one log line."""
    wanted = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    audio = [p for p in files if p.suffix.lower() in wanted]
    skipped = Counter(p.suffix.lower() or "(no extension)" for p in files if p not in audio)
    if skipped:
        logger.info(
            "inference: %d audio files in %s; %d other files skipped (%s)",
            len(audio),
            folder,
            sum(skipped.values()),
            ", ".join(f"{n} {x}" for x, n in sorted(skipped.items(), key=_by_count)),
        )
    if not audio:
        raise ParameterError(
            f"inference.audio_path {folder} holds no audio file (extensions "
            f"{sorted(wanted)}, inference.audio_extensions)"
        )
    return audio


def list_inference_tracks(
    audio_path: str | None,
    soundtracks: pd.DataFrame,
    audio_extensions: Sequence[str] = AUDIO_EXTENSIONS,
) -> pd.DataFrame:
    """The tracks to run inference on, in album order: ``position`` (1-based), ``track``,
    ``path``.

    ``audio_path`` (relative: from the project root): a file; a folder (its visible files
    whose extension is in ``audio_extensions``, in name order); a ``.csv`` listing files in
    order; or empty/None for the demo's test songs (``soundtracks`` rows with split ``test``,
    in id order, their paths as the table holds them: relative to the project root).
    """
    if audio_path is None or not str(audio_path).strip():
        test = soundtracks[soundtracks["split"] == "test"].sort_values("id")
        tracks = pd.DataFrame({"track": test["id"].astype(str), "path": test["audio_path"]})
    else:
        source = resolve_path(str(audio_path))
        if source.is_dir():
            paths = _scan_folder(source, audio_extensions)
        elif source.suffix.lower() == CSV_SUFFIX and source.is_file():
            paths = _read_track_list(source)
        elif source.exists():
            paths = [source]
        else:
            raise ParameterError(f"inference.audio_path {source} does not exist")
        tracks = pd.DataFrame({"track": _track_names(paths), "path": [str(p) for p in paths]})
    tracks.insert(0, "position", np.arange(1, len(tracks) + 1, dtype=np.int64))
    return tracks.reset_index(drop=True)


# ---------------------------------------------------------------------------- model choice


def _parse_choice(choice: str, features: Sequence[str]) -> tuple[str, str, str | None]:
    """``(feature, network, target or None)`` of an ``inference.model`` naming a variant
    (``mfcc_cnn``) or one model (``mfcc_cnn.joint``)."""
    variant, _, target = choice.partition(".")
    feature, _, network = variant.partition("_")
    if feature not in FEATURES or network not in NETWORKS or (target and target not in TARGETS):
        raise ParameterError(
            f"inference.model={choice!r} names no model: use {BEST!r}, a variant "
            f"'{{feature}}_{{network}}' (features {list(FEATURES)}, networks {list(NETWORKS)}) or "
            f"one model '{{feature}}_{{network}}.{{target}}' (targets {list(TARGETS)})"
        )
    if feature not in features:
        raise ParameterError(
            f"inference.model={choice!r} uses {feature} features, which this pipeline does not "
            f"use (features {list(features)}; the offline pipeline never loads VGGish)"
        )
    return feature, network, target or None


def select_inference_models(
    model_metrics: pd.DataFrame,
    choice: str,
    trained_models: Mapping[str, Callable[[], Any]] | None = None,
    soundtracks: pd.DataFrame | None = None,
    feature_extraction: Mapping[str, Any] | None = None,
    *,
    features: Sequence[str] = FEATURES,
) -> pd.DataFrame:
    """Which trained model predicts each label: one row per label (``MODEL_COLUMNS`` and
    ``IDENTITY_COLUMNS``: the model's name, its registry version or MLflow run, the corpus it
    was trained on, and ``source``, a ``models:/`` URI when it comes from the registry).

    With ``soundtracks`` and ``feature_extraction``, only models trained on the current
    corpus and features are candidates (``current_model_metrics``); naming a stale one is
    refused with the reason. ``choice`` may also be a registered model,
    ``models:/{name}/{version}`` or ``models:/{name}@{alias}``, used as registered.

    ``choice``: ``"best"`` (per label, the model trained on that label with the lowest
    validation loss in ``model_metrics``); a variant ``"{feature}_{network}"`` (its model per
    label); or one model ``"{feature}_{network}.{target}"`` (e.g. ``mfcc_cnn.joint``) for every
    label it predicts. A multi-label model (``joint``) serves a label only when no model was
    trained on that label alone (their validation losses are not comparable). A model named
    by ``choice`` that ``model_metrics`` does not list is chosen all the same (validation loss
    NaN): :func:`predict_vad_timelines` loads it, or says how to train it.
    ``features``: the feature families whose models may be chosen (the pipeline's).
    ``trained_models`` (the lazy partitions, nothing loaded): when given, a chosen model
    without a file is refused here, before anything is written.
    """
    if choice.startswith(MODELS_URI):
        return _registered_choice(choice, features, soundtracks)
    stale = pd.DataFrame(columns=["feature", "network", "target", "reason"])
    if soundtracks is not None and feature_extraction is not None:
        model_metrics, stale = current_model_metrics(model_metrics, soundtracks,
                                                     feature_extraction)  # fmt: skip
        for row in stale.itertuples(index=False):
            logger.info("inference: model %s_%s.%s not a candidate: %s", row.feature,
                        row.network, row.target, row.reason)  # fmt: skip
    identity = _identity_of(model_metrics)
    models = (
        identity[identity["feature"].isin(features)]
        .drop_duplicates(["feature", "network", "target"])[
            ["feature", "network", "target", "best_val_loss", *IDENTITY_COLUMNS]
        ]
        .astype({"best_val_loss": float})
        .reset_index(drop=True)
    )
    variants = models["feature"] + "_" + models["network"]
    if choice == BEST:
        pool = models[models["best_val_loss"].notna()]
        if pool.empty:
            raise ParameterError(
                f"inference.model={choice!r}: model_metrics lists no trained {list(features)} "
                "model; run the modelling pipeline first"
            )
    else:
        feature, network, target = _parse_choice(choice, features)
        stale_named = stale[(stale["feature"] == feature) & (stale["network"] == network)
                            & ((stale["target"] == target) if target else True)]  # fmt: skip
        if len(stale_named):
            raise ParameterError(
                f"inference.model={choice!r} is stale: {stale_named['reason'].iloc[0]}. "
                "Retrain it on the current corpus, or name a registered version "
                "(models:/name/version) to use it as it is"
            )
        named = variants == f"{feature}_{network}"
        if target is not None:
            named &= models["target"] == target
        pool = models[named]
        if pool.empty:
            targets = (target,) if target is not None else VAD_LABELS
            pool = pd.DataFrame(
                [(feature, network, t, np.nan, f"{feature}_{network}.{t}", "", "unknown", "", "")
                 for t in targets],
                columns=models.columns,
            )  # fmt: skip
    rows = []
    for label in VAD_LABELS:
        own = pool[pool["target"] == label]
        predicts = pool["target"].map(lambda t, label=label: label in TARGETS.get(t, ()))
        candidates = own if len(own) else pool[predicts]
        if candidates.empty:
            raise ParameterError(f"inference.model={choice!r} has no model that predicts {label}")
        best = candidates.sort_values("best_val_loss", na_position="last").iloc[0]
        index = TARGETS[best["target"]].index(label)
        rows.append((label, best["feature"], best["network"], best["target"], index,
                     best["best_val_loss"], *(best[c] for c in IDENTITY_COLUMNS)))  # fmt: skip
    chosen = pd.DataFrame(rows, columns=[*MODEL_COLUMNS, *IDENTITY_COLUMNS])
    if trained_models is not None:
        _require_model_files(chosen, trained_models)
    logger.info("inference models: %s", chosen.to_dict("records"))
    return chosen


def _identity_of(model_metrics: pd.DataFrame) -> pd.DataFrame:
    """``model_metrics`` with ``IDENTITY_COLUMNS`` (empty for tables without provenance)."""
    table = model_metrics.copy()
    for column in ("corpus_kind", "corpus_fingerprint", "mlflow_run_id", "registered_model",
                   "model_version"):
        table[column] = table[column].fillna("").astype(str) if column in table else ""
    table["model"] = table["feature"] + "_" + table["network"] + "." + table["target"]
    registered = table["registered_model"] + "/" + table["model_version"]
    table["model_version"] = registered.where(table["registered_model"] != "",
                                              "run " + table["mlflow_run_id"])  # fmt: skip
    table.loc[table["model_version"] == "run ", "model_version"] = ""
    table["corpus_kind"] = table["corpus_kind"].replace("", "unknown")
    table["source"] = ""
    return table


def _registered_choice(
    uri: str, features: Sequence[str], soundtracks: pd.DataFrame | None
) -> pd.DataFrame:
    """The rows of a registered model (``models:/...``) for every label it predicts."""
    found = resolve_registered_model(uri)
    if found["feature"] not in features:
        raise ParameterError(f"inference.model={uri!r} uses {found['feature']} features, which "
                             f"this pipeline does not use (features {list(features)})")  # fmt: skip
    if soundtracks is not None and found["corpus_fingerprint"] != corpus_fingerprint(soundtracks):
        logger.warning("inference.model=%s was trained on another corpus (%s) than the current "
                       "one: used as named", uri, found["corpus_fingerprint"])  # fmt: skip
    labels = TARGETS[found["target"]]
    rows = [
        (label, found["feature"], found["network"], found["target"], labels.index(label),
         np.nan, f"{found['feature']}_{found['network']}.{found['target']}", found["uri"],
         found["corpus_kind"] or "unknown", found["corpus_fingerprint"], found["uri"])
        for label in labels
    ]  # fmt: skip
    chosen = pd.DataFrame(rows, columns=[*MODEL_COLUMNS, *IDENTITY_COLUMNS])
    logger.info("inference models: %s", chosen.to_dict("records"))
    return chosen


def _require_model_files(chosen: pd.DataFrame, trained_models: Mapping[str, Any]) -> None:
    if "source" in chosen:
        chosen = chosen[chosen["source"].fillna("") == ""]
    names = chosen[["feature", "network", "target"]].drop_duplicates()
    for feature, network, target in names.itertuples(index=False):
        partition = model_partition(feature, network, target)
        if partition not in trained_models:
            raise ParameterError(
                f"the chosen model {feature}_{network}.{target} has no file "
                f"({partition}.keras in trained_models); train it first: kedro run "
                f"--pipelines=modelling_all --namespaces={feature}_{network}.{target}"
            )


# ---------------------------------------------------------------------------------- the node


def load_chosen_models(
    chosen: pd.DataFrame, trained_models: Mapping[str, Callable[[], Any]]
) -> dict[str, Any]:
    """Load only the models in ``chosen`` from ``trained_models`` (partition id ->
    loader, see :func:`model_partition`) -> :func:`model_key` -> Keras model."""
    _require_model_files(chosen, trained_models)
    if "source" not in chosen:
        chosen = chosen.assign(source="")
    names = chosen[["feature", "network", "target", "source"]].drop_duplicates()
    return {
        model_key(feature, network, target): (
            load_registered_keras(source)
            if source
            else trained_models[model_partition(feature, network, target)]()
        )
        for feature, network, target, source in names.fillna("").itertuples(index=False)
    }


def _model_loaders(
    chosen: pd.DataFrame, trained_models: Mapping[str, Callable[[], Any]]
) -> dict[str, Callable[[], Any]]:
    """A picklable loader per :func:`model_key` of ``chosen`` (for Dask workers): the
    registered model for a ``models:/`` source, else the trained model's partition."""
    if "source" not in chosen:
        chosen = chosen.assign(source="")
    names = chosen[["feature", "network", "target", "source"]].drop_duplicates()
    return {
        model_key(feature, network, target): (
            partial(load_registered_keras, source)
            if source
            else trained_models[model_partition(feature, network, target)]
        )
        for feature, network, target, source in names.fillna("").itertuples(index=False)
    }


def _label_models(
    chosen: pd.DataFrame, loaded: Mapping[str, Any], *, precision: str = FLOAT32
) -> list[LabelModel]:
    """One :class:`LabelModel` per row of ``chosen``, its model computing in ``precision``."""
    models = []
    for row in chosen.itertuples(index=False):
        key = model_key(row.feature, row.network, row.target)
        if key not in loaded:
            raise ParameterError(f"model {key} was chosen but is not loaded")
        keras_model = loaded[key]
        _, length, n_features = keras_model.input_shape
        models.append(
            LabelModel(
                label=row.label,
                feature=row.feature,
                predict=keras_in_precision(keras_model, precision).predict_on_batch,
                frame_shape=(int(length), int(n_features)),
                output_index=int(row.output_index),
            )
        )
    return models


def model_fingerprint(keras_model: Any) -> str:
    """Hash of a Keras model's architecture and weights: a retrained model has a new one."""
    digest = hashlib.sha256(keras_model.to_json().encode())
    for weights in keras_model.get_weights():
        digest.update(f"{weights.dtype}{weights.shape}".encode())
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()[:16]


def inference_fingerprint(
    chosen: pd.DataFrame,
    loaded: Mapping[str, Any],
    extraction: ExtractionParams,
    *,
    hop_seconds: float,
    waveform_points: int,
    precision: str = FLOAT32,
) -> str:
    """Hash of everything besides the audio file that a track's result depends on: the model
    per label (its weights) and output column, the feature and length rules of
    ``feature_extraction`` (the embedding networks' precision included), ``hop_seconds``,
    ``waveform_points`` and the ``precision`` the models score in. Settings that change only
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
    training (VGGish is loaded from its handle only when a track needs a VGGish model).
    ``compute`` (``params:compute``): with ``backend: dask`` each track is a Dask task that
    writes its record straight into the track cache (:func:`score_on_worker`); the records
    equal those of this process's run bit for bit (timings aside). ``precision``
    (``params:inference.precision``, ``auto`` by default there): what the trained models
    compute in.
    """
    models = load_chosen_models(inference_models, trained_models)
    model_precision = trained_model_precision(precision)
    label_models = _label_models(inference_models, models, precision=model_precision)
    extraction = ExtractionParams.from_dict(feature_extraction)
    fingerprint = inference_fingerprint(
        inference_models,
        models,
        extraction,
        hop_seconds=hop_seconds,
        waveform_points=waveform_points,
        precision=model_precision,
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
    guard = FailureGuard(
        max_share=extraction.max_same_failure_share,
        min_tracks=extraction.failure_min_tracks,
        what="inference",
    )
    backend = ComputeParams.from_dict(compute)
    if backend.uses_dask:
        embedding_features = sorted({m.feature for m in label_models} - {"mfcc"})
        yield from _score_on_dask(
            todo,
            backend,
            guard,
            ScoringJob(
                chosen=tuple(inference_models[list(MODEL_COLUMNS[:5])].itertuples(index=False)),
                loaders=_model_loaders(inference_models, trained_models),
                feature_extraction=dict(feature_extraction),
                hop_seconds=float(hop_seconds),
                batch_size=int(batch_size),
                waveform_points=int(waveform_points),
                fingerprint=fingerprint,
                # This process's precisions: the fingerprint says what the workers compute.
                precisions=(
                    ("models", model_precision),
                    *((f, extraction.precision_of(f)) for f in embedding_features),
                ),
                # Absolute: the workers write there (same path on every machine of a cluster).
                cache_path=str(Path(existing_results.path).resolve()) if existing_results else "",
            ),
        )
        return
    vggish = None
    if any(m.feature == "vggish" for m in label_models):
        vggish = load_vggish(extraction.vggish_handle, extraction.precision_of("vggish"))
    musicnn = None
    if any(m.feature == "musicnn" for m in label_models):
        musicnn = extraction.musicnn.load()
    for key, row in tqdm(todo.items(), total=len(todo), desc="inference", unit="track"):
        record, error = score_track(
            str(resolve_path(row.path)),
            key=key,
            track=row.track,
            models=label_models,
            extraction=extraction,
            hop_seconds=hop_seconds,
            batch_size=batch_size,
            waveform_points=waveform_points,
            vggish=vggish,
            musicnn=musicnn,
            fingerprint=fingerprint,
            time_limit=extraction.time_limit,
        )
        yield {key: record}
        guard.add(error.reason if error else "", None if error is None else str(error))


def score_track(
    path: str,
    *,
    key: str,
    track: str,
    models: Sequence[LabelModel],
    extraction: ExtractionParams,
    hop_seconds: float,
    batch_size: int,
    waveform_points: int,
    vggish: Callable[[np.ndarray], np.ndarray] | None,
    musicnn: Any = None,
    fingerprint: str,
    time_limit: Any = None,
) -> tuple[CachedTrack, AudioDecodeError | None]:
    """One track as a cache record (the same on every backend): its :func:`infer_track`
    result, or status ``error`` with the reason a file cannot be read (also returned).
    ``time_limit``: enforced in this process's main thread only (see ``time_limited``)."""
    # Stamped before decoding: a file changed while it is scored is scored again next run.
    source = SourceStamp.of(path)
    started = time.perf_counter()
    try:
        # One BLAS thread, as feature_extraction computes features (and as a Dask worker
        # runs): the features, hence the scores, are then the same bit for bit everywhere.
        with threadpool_limits(limits=1), time_limited(time_limit) as clock:
            result = infer_track(
                path,
                track=track,
                models=models,
                extraction=extraction,
                hop_seconds=float(hop_seconds),
                batch_size=int(batch_size),
                waveform_points=int(waveform_points),
                vggish=vggish,
                musicnn=musicnn,
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
            fingerprint=fingerprint,
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
    return _cached(result, key=key, fingerprint=fingerprint, source=source, seconds=seconds), None


# ----------------------------------------------------------------------- scoring on Dask


@dataclass(frozen=True)
class ScoringJob:
    """What every Dask scoring task shares (small: model loaders, not models): the chosen
    model rows (``MODEL_COLUMNS[:5]``), a loader per :func:`model_key`, the parameters, the
    run's :func:`inference_fingerprint` and the track cache folder the workers write to."""

    chosen: tuple[tuple[Any, ...], ...]
    loaders: Mapping[str, Callable[[], Any]]
    feature_extraction: Mapping[str, Any]
    hop_seconds: float
    batch_size: int
    waveform_points: int
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


# On a Dask worker: the models of the jobs it ran, by fingerprint, loaded on its first task.
_WORKER_MODELS: dict[str, tuple[list[LabelModel], Any, Any, ExtractionParams]] = {}
_WORKER_MODELS_LOCK = threading.Lock()
_WORKER_MODEL_LOADS: list[str] = []


def worker_model_loads() -> list[str]:
    """The fingerprints of the jobs whose models this process loaded, once each (run on every
    worker with ``client.run``: one load per worker and job, however many tasks it ran)."""
    return list(_WORKER_MODEL_LOADS)


def _worker_models(job: ScoringJob) -> tuple[list[LabelModel], Any, Any, ExtractionParams]:
    """The job's models on this worker process, loaded once per worker (not per task)."""
    with _WORKER_MODELS_LOCK:
        if job.fingerprint not in _WORKER_MODELS:
            chosen = pd.DataFrame(list(job.chosen), columns=list(MODEL_COLUMNS[:5]))
            loaded = {key: load() for key, load in job.loaders.items()}
            precisions = dict(job.precisions)
            model_precision = precisions.pop("models", FLOAT32)
            extraction = ExtractionParams.from_dict(job.feature_extraction, pinned=precisions)
            vggish = None
            if (chosen["feature"] == "vggish").any():
                vggish = load_vggish(extraction.vggish_handle, extraction.precision_of("vggish"))
            musicnn = None
            if (chosen["feature"] == "musicnn").any():
                musicnn = extraction.musicnn.load()
            _WORKER_MODELS.clear()  # one job's models at a time: memory stays bounded
            _WORKER_MODELS[job.fingerprint] = (
                _label_models(chosen, loaded, precision=model_precision),
                vggish,
                musicnn,
                extraction,
            )
            _WORKER_MODEL_LOADS.append(job.fingerprint)
        return _WORKER_MODELS[job.fingerprint]


def score_on_worker(task: ScoringTask) -> tuple[str, str, str, str | None]:
    """A Dask task: score one track and write its record straight into the track cache
    (atomically, under its fixed key: a re-run after a worker died rewrites the same bytes
    but the timing). Returns ``(key, status, reason, error)``: nothing big travels back."""
    job = task.job
    models, vggish, musicnn, extraction = _worker_models(job)
    record, error = score_track(
        str(resolve_path(task.path)),
        key=task.key,
        track=task.track,
        models=models,
        extraction=extraction,
        hop_seconds=job.hop_seconds,
        batch_size=job.batch_size,
        waveform_points=job.waveform_points,
        vggish=vggish,
        musicnn=musicnn,
        fingerprint=job.fingerprint,
    )
    write_record(job.cache_path, record)
    return (
        task.key,
        record.status,
        error.reason if error else "",
        None if error is None else str(error),
    )


def _score_on_dask(
    todo: Mapping[str, Any], backend: ComputeParams, guard: FailureGuard, job: ScoringJob
) -> Iterator[dict[str, CachedTrack]]:
    if not job.cache_path:
        raise ParameterError("compute.backend=dask needs the track cache (existing_results)")
    tasks = [
        ScoringTask(job=job, key=key, track=row.track, path=str(row.path))
        for key, row in todo.items()
    ]

    def crashed(task: ScoringTask, error: BaseException) -> tuple[str, str, str, str]:
        message = (
            f"{task.path}: scoring it killed {_KILLED_WORKERS} Dask workers in a row ({error}); "
            "the file is probably damaged"
        )
        write_record(
            job.cache_path,
            CachedTrack(
                key=task.key,
                fingerprint=job.fingerprint,
                status=ERROR,
                source=SourceStamp.of(str(resolve_path(task.path))),
                summary={"status": ERROR, "error": message, "n_windows": 0},
            ),
        )
        return task.key, ERROR, "crash", message

    # Saved (and the cache's leftovers swept) before any worker writes into the folder; after
    # it, only the workers write, so nothing more is yielded.
    yield {}
    with dask_client(backend) as client:
        results = dask_map(score_on_worker, tasks, client=client, on_crash=crashed,
                           key=lambda t: f"score-{t.key}")  # fmt: skip
        for _key, _status, reason, error in tqdm(
            results, total=len(tasks), desc="inference (dask)", unit="track"
        ):
            guard.add(reason, error)


# The scheduler's default distributed.scheduler.allowed-failures + 1.
_KILLED_WORKERS = 4


def model_identity(inference_models: pd.DataFrame | None) -> dict[str, Any]:
    """The ``OUTPUT_IDENTITY`` columns of every output row: ``model`` (per label, e.g.
    ``valence=mfcc_ridge.valence``), ``model_version`` (registry version or MLflow run, per
    label), ``trained_on`` (corpus kind and fingerprint) and ``demo_model`` (True when any
    label's model was trained on the synthetic demo)."""
    if inference_models is None or "label" not in inference_models:
        return {"model": "", "model_version": "", "trained_on": "unknown", "demo_model": False}
    rows = inference_models
    if "model" not in rows:  # chosen rows without the registry's identity columns
        rows = rows.assign(model=[f"{r.feature}_{r.network}.{r.target}"
                                  for r in rows.itertuples(index=False)])  # fmt: skip
    rows = rows.assign(**{c: rows.get(c, "") for c in IDENTITY_COLUMNS})
    rows = rows.fillna("")
    corpora = sorted({f"{r.corpus_kind} {r.corpus_fingerprint}".strip()
                      for r in rows.itertuples(index=False)})  # fmt: skip
    return {
        "model": "; ".join(f"{r.label}={r.model}" for r in rows.itertuples(index=False)),
        "model_version": "; ".join(f"{r.label}={r.model_version or 'untracked'}"
                                   for r in rows.itertuples(index=False)),
        "trained_on": "; ".join(c for c in corpora if c) or "unknown",
        "demo_model": bool((rows["corpus_kind"] == DEMO).any()),
    }


def collect_vad_timelines(
    inference_tracks: pd.DataFrame,
    inference_results: TrackCache,
    inference_models: pd.DataFrame | None = None,
    audio_path: str | None = "",
    *,
    quiet: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every track's result from the track cache, in album order, named as in
    ``inference_tracks``, each row with the model that made it and the corpus it was trained
    on (:func:`model_identity`); its ``movie_id`` and ``title`` columns (a catalogue) lead every
    table, and summary fields beyond ``TRACK_COLUMNS`` (e.g. added by a newer scorer) follow
    them in ``track_vad``. A demo model scoring user audio (``audio_path`` set) is warned about
    and flagged (``demo_model``). ``quiet``: no summary log line nor demo warning (one movie
    of a catalogue: the catalogue logs once).

    Returns:
        ``vad_timelines`` (``TIMELINE_COLUMNS``, one row per window), ``track_vad``
        (``TRACK_COLUMNS``, one row per input track: status ``error`` and the reason for a file
        that cannot be read) and ``inference_waveforms`` (``WAVEFORM_COLUMNS``).
    """
    timelines, waveforms, rows = [], [], []
    fingerprints = set()
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
        columns = record.arrays
        timeline = pd.DataFrame(
            {"track": row.track, **{c: columns[f"timeline.{c}"] for c in TIMELINE_COLUMNS[1:]}}
        )
        waveform = pd.DataFrame({c: columns[f"waveform.{c}"] for c in WAVEFORM_COLUMNS[1:]})
        waveform.insert(0, "track", row.track)
        for position, (name, value) in enumerate(movie.items()):
            timeline.insert(position, name, value)
            waveform.insert(position, name, value)
        timelines.append(timeline)
        waveforms.append(waveform)
    if len(fingerprints) > 1:
        raise DataValidationError(
            f"{inference_results}: the tracks were scored with different models or parameters; "
            "run predict_vad_timelines"
        )
    track_vad = pd.DataFrame(rows, columns=[*movie_columns, *TRACK_COLUMNS, *extra_columns])
    track_vad["error"] = track_vad["error"].fillna("").astype(str)
    track_vad["n_windows"] = track_vad["n_windows"].astype(np.int64)
    for column in ("duration_s", *VAD_LABELS):
        track_vad[column] = track_vad[column].astype(np.float64)
    n_failed = int((track_vad["status"] == ERROR).sum())
    identity = model_identity(inference_models)
    if not quiet:
        logger.info(
            "inference: %d tracks scored, %d unreadable", len(track_vad) - n_failed, n_failed
        )
        if identity["demo_model"] and audio_path and str(audio_path).strip():
            logger.warning(
                "inference: %s scored with a model trained on the synthetic DEMO corpus (%s): "
                "its numbers say nothing about real music. Train on a real corpus first.",
                audio_path,
                identity["model"],
            )
    return (
        _concat(timelines, (*movie_columns, *TIMELINE_COLUMNS)).assign(**identity),
        track_vad.assign(**identity),
        _concat(waveforms, (*movie_columns, *WAVEFORM_COLUMNS)),
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
    identity = {c: track_vad[c].iloc[0] for c in OUTPUT_IDENTITY
                if c in track_vad and len(track_vad)}  # fmt: skip
    return pd.DataFrame(rows, columns=columns).assign(**identity), arc.assign(**identity)


def export_csv(
    vad_timelines: pd.DataFrame, track_vad: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The timelines and per-track VAD unchanged, to be saved as CSV next to the Parquet."""
    return vad_timelines, track_vad


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    """Most frequent first, then by name (a stable summary line)."""
    return -item[1], item[0]
