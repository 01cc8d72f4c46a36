"""Which trained model scores each label: the choice (``inference.model``: ``best``, a
variant, one model or a registered ``models:/`` URI) among the models whose provenance matches
the current corpus, their loading, and the identity every output row records."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from soundtrack_emotion.core.architectures import NETWORKS
from soundtrack_emotion.core.conformal import check_level, level_name
from soundtrack_emotion.core.families import FEATURES
from soundtrack_emotion.core.metrics import SELECTION_CV_COLUMN, selection_rank
from soundtrack_emotion.core.model_files import ModelFile
from soundtrack_emotion.core.out_of_domain import DomainReference
from soundtrack_emotion.core.precision import FLOAT32, keras_in_precision
from soundtrack_emotion.core.vocabulary import TARGETS, VAD_LABELS, model_partition
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.inference.track import (
    LabelModel,
)
from soundtrack_emotion.runtime.provenance import DEMO, corpus_fingerprint, current_model_metrics
from soundtrack_emotion.runtime.tracking import (
    MODELS_URI,
    load_registered_keras,
    resolve_registered_model,
)

logger = logging.getLogger(__name__)

KEY_SEPARATOR = "__"
BEST = "best"
MODEL_COLUMNS = (
    "label", "feature", "network", "target", "output_index", "best_val_loss", "cv_r2_mean",
)  # fmt: skip
# Which model made a result and what it was trained on; written into every inference output.
# model_sha256: its file's hash as its metrics recorded it (the file is loaded only if equal).
IDENTITY_COLUMNS = ("model", "model_version", "corpus_kind", "corpus_fingerprint", "source",
                    "model_sha256")  # fmt: skip
OUTPUT_IDENTITY = ("model", "model_version", "trained_on", "demo_model")
# The chosen model's split-conformal half-widths (select_inference_models, interval_level).
SONG_HALFWIDTH, FRAME_HALFWIDTH = "song_halfwidth", "frame_halfwidth"
INTERVAL_COLUMNS = ("interval_level", SONG_HALFWIDTH, FRAME_HALFWIDTH)


def model_key(feature: str, network: str, target: str) -> str:
    """Keyword name of one trained model's dataset in a node's inputs."""
    return KEY_SEPARATOR.join((feature, network, target))


def split_model_key(key: str) -> tuple[str, str, str]:
    """``(feature, network, target)`` of a :func:`model_key`."""
    parts = key.split(KEY_SEPARATOR)
    if len(parts) != 3:
        raise ParameterError(f"{key!r} is not named {model_key('feature', 'network', 'target')}")
    return parts[0], parts[1], parts[2]


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
    interval_level: float | None = None,
    features: Sequence[str] = FEATURES,
) -> pd.DataFrame:
    """Which trained model predicts each label: one row per label (``MODEL_COLUMNS`` and
    ``IDENTITY_COLUMNS``: the model's name, its registry version or MLflow run, the corpus it
    was trained on, and ``source``, a ``models:/`` URI when it comes from the registry).

    With ``soundtracks`` and ``feature_extraction``, only models trained on the current
    corpus and features are candidates (``current_model_metrics``); naming a stale one is
    refused with the reason. ``choice`` may also be a registered model,
    ``models:/{name}/{version}`` or ``models:/{name}@{alias}``, used as registered.

    ``choice``: ``"best"`` (per label, the model ``metrics.SELECTION_RULE`` chooses: the
    model trained on that label with the highest cross-validated R², or, where none was
    cross-validated, the lowest song-level validation loss; the choice of the report and the
    run summary as well); a variant ``"{feature}_{network}"`` (its model per
    label); or one model ``"{feature}_{network}.{target}"`` (e.g. ``mfcc_cnn.joint``) for every
    label it predicts. A multi-label model (``joint``) serves a label only when no model was
    trained on that label alone (their validation losses are not comparable). A model named
    by ``choice`` that ``model_metrics`` does not list is chosen all the same (validation loss
    NaN): :func:`predict_vad_timelines` loads it, or says how to train it.
    ``features``: the feature families whose models may be chosen (the pipeline's).
    ``trained_models`` (the lazy partitions, nothing loaded): when given, a chosen model
    without a file is refused here, before anything is written.
    ``interval_level`` (``inference.interval_level``): with it, the rows carry
    ``INTERVAL_COLUMNS``, the chosen model's split-conformal half-widths at that nominal level
    from ``model_metrics`` (song and frame level, see :func:`with_half_widths`).
    """
    if choice.startswith(MODELS_URI):
        chosen = _registered_choice(choice, features, soundtracks)
        # its half-widths are not in the local model_metrics (another training run may share
        # its name there): no interval rather than another model's
        return with_half_widths(chosen, model_metrics.iloc[:0], interval_level)
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
        pool = models[models["best_val_loss"].notna() | _cross_validated(models, identity)]
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
                [(feature, network, t, np.nan, f"{feature}_{network}.{t}", "", "unknown", "", "",
                  "") for t in targets],
                columns=models.columns,
            )  # fmt: skip
    rows = []
    for label in VAD_LABELS:
        own = pool[pool["target"] == label]
        predicts = pool["target"].map(lambda t, label=label: label in TARGETS.get(t, ()))
        candidates = own if len(own) else pool[predicts]
        if candidates.empty:
            raise ParameterError(f"inference.model={choice!r} has no model that predicts {label}")
        ranked = with_cv_scores(candidates.assign(label=label), identity)
        best = ranked.iloc[int(np.argmin(selection_rank(ranked).to_numpy()))]
        index = TARGETS[best["target"]].index(label)
        rows.append((label, best["feature"], best["network"], best["target"], index,
                     best["best_val_loss"], best[SELECTION_CV_COLUMN],
                     *(best[c] for c in IDENTITY_COLUMNS)))  # fmt: skip
    chosen = pd.DataFrame(rows, columns=[*MODEL_COLUMNS, *IDENTITY_COLUMNS])
    if trained_models is not None:
        _require_model_files(chosen, trained_models)
    chosen = with_half_widths(chosen, model_metrics, interval_level)
    logger.info("inference models: %s", chosen.to_dict("records"))
    return chosen


def with_half_widths(
    chosen: pd.DataFrame, model_metrics: pd.DataFrame, level: float | None
) -> pd.DataFrame:
    """``chosen`` with ``INTERVAL_COLUMNS``: ``interval_level`` and each row's model's
    ``halfwidth_{pct}`` at song level (``song_halfwidth``, for a track's overall score) and
    frame level (``frame_halfwidth``, for a timeline row, scored on one frame) from
    ``model_metrics`` (modelling's ``calibrate_intervals``). NaN where the table has none at
    that level (a model trained before intervals, another ``modelling.intervals.levels``,
    a registered model): those labels get no interval. ``level`` None: ``chosen`` as it is."""
    if level is None:
        return chosen
    level = check_level(level)
    column = f"halfwidth_{level_name(level)}"
    widths: dict[tuple[str, ...], float] = {}
    if column in model_metrics:
        keys = model_metrics[["feature", "network", "target", "label", "level"]].astype(str)
        values = model_metrics[column].astype(np.float64)
        widths = dict(zip(map(tuple, keys.to_numpy()), values, strict=True))
    chosen = chosen.assign(interval_level=level)
    for level_name_, target in (("song", SONG_HALFWIDTH), ("frame", FRAME_HALFWIDTH)):
        chosen[target] = [
            widths.get((r.feature, r.network, r.target, r.label, level_name_), np.nan)
            for r in chosen.itertuples(index=False)
        ]
    missing = chosen.loc[chosen[SONG_HALFWIDTH].isna(), "label"].tolist()
    if missing:
        logger.info("inference: no %s interval for %s (model_metrics has no %s of the chosen "
                    "model: retrain it, or set modelling.intervals.levels)",
                    f"{level:g}", missing, column)  # fmt: skip
    return chosen


def _cross_validated(models: pd.DataFrame, model_metrics: pd.DataFrame) -> pd.Series:
    """Whether each of ``models`` has a cross-validated R² of some label in ``model_metrics``
    (a figure of the choice, as its validation loss is)."""
    key = ["feature", "network", "target"]
    if SELECTION_CV_COLUMN not in model_metrics:
        return pd.Series(False, index=models.index)
    done = model_metrics.loc[model_metrics[SELECTION_CV_COLUMN].notna(), key]
    found = pd.MultiIndex.from_frame(models[key]).isin(pd.MultiIndex.from_frame(done))
    return pd.Series(found, index=models.index)


def with_cv_scores(candidates: pd.DataFrame, model_metrics: pd.DataFrame) -> pd.DataFrame:
    """``candidates`` (one row per model, with ``label``) with ``SELECTION_CV_COLUMN``: each
    model's cross-validated R² of that label from ``model_metrics`` (NaN where it has none,
    e.g. a table written before the column), which :func:`selection_rank` chooses by first."""
    key = ["feature", "network", "target", "label"]
    if SELECTION_CV_COLUMN not in model_metrics:
        return candidates.assign(**{SELECTION_CV_COLUMN: np.nan})
    scores = model_metrics[[*key, SELECTION_CV_COLUMN]].drop_duplicates(key)
    return candidates.merge(scores, on=key, how="left")


def _identity_of(model_metrics: pd.DataFrame) -> pd.DataFrame:
    """``model_metrics`` with ``IDENTITY_COLUMNS`` (empty for tables without provenance)."""
    table = model_metrics.copy()
    for column in ("corpus_kind", "corpus_fingerprint", "mlflow_run_id", "registered_model",
                   "model_version", "model_sha256"):
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
         np.nan, np.nan, f"{found['feature']}_{found['network']}.{found['target']}", found["uri"],
         found["corpus_kind"] or "unknown", found["corpus_fingerprint"], found["uri"],
         found["model_sha256"])
        for label in labels
    ]  # fmt: skip
    chosen = pd.DataFrame(rows, columns=[*MODEL_COLUMNS, *IDENTITY_COLUMNS])
    logger.info("inference models: %s", chosen.to_dict("records"))
    return chosen


def _require_model_files(chosen: pd.DataFrame, trained_models: Mapping[str, Any]) -> None:
    if "source" in chosen:
        chosen = chosen[chosen["source"].astype(object).fillna("") == ""]
    names = chosen[["feature", "network", "target"]].drop_duplicates()
    for feature, network, target in names.itertuples(index=False):
        partition = model_partition(feature, network, target)
        if partition not in trained_models:
            raise ParameterError(
                f"the chosen model {feature}_{network}.{target} has no file "
                f"({partition}.keras in trained_models); train it first: kedro run "
                f"--pipelines=modelling_all --namespaces={feature}_{network}.{target}"
            )


def load_chosen_models(
    chosen: pd.DataFrame, trained_models: Mapping[str, Callable[[], Any]]
) -> dict[str, Any]:
    """Load only the models in ``chosen`` from ``trained_models`` (partition id -> loader of
    a :class:`ModelFile`, see :func:`model_partition`) -> :func:`model_key` -> Keras model;
    each file is checked against the SHA-256 its metrics recorded (``model_sha256``) first."""
    return {key: load() for key, load in model_loaders(chosen, trained_models).items()}


def model_loaders(
    chosen: pd.DataFrame, trained_models: Mapping[str, Callable[[], Any]]
) -> dict[str, Callable[[], Any]]:
    """A picklable loader per :func:`model_key` of ``chosen`` (for Dask workers): the
    registered model for a ``models:/`` source, else the trained model's partition, each
    loading the model only when its file's SHA-256 is the recorded ``model_sha256`` (a
    mismatch or no record raises :class:`ModelUnavailableError` naming the file and hashes)."""
    _require_model_files(chosen, trained_models)
    chosen = chosen.assign(**{c: chosen.get(c, "") for c in ("source", "model_sha256")})
    names = chosen[["feature", "network", "target", "source", "model_sha256"]]
    names = names.astype(object).fillna("")
    loaders: dict[str, Callable[[], Any]] = {}
    for feature, network, target, source, sha256 in names.drop_duplicates().itertuples(
        index=False
    ):
        key = model_key(feature, network, target)
        if source:
            loaders[key] = partial(load_registered_keras, source, sha256)
        else:
            loaders[key] = partial(
                _verified_model,
                trained_models[model_partition(feature, network, target)],
                expected_sha256=sha256,
                name=f"{feature}_{network}.{target}",
            )
    return loaders


def _verified_model(load: Callable[[], ModelFile], *, expected_sha256: str, name: str) -> Any:
    """The model of the file ``load`` reads, if its SHA-256 is ``expected_sha256``."""
    feature_network, _, target = name.partition(".")
    retrain = f"kedro run --pipelines=modelling_all --namespaces={feature_network}.{target}"
    return load().load(expected_sha256=expected_sha256, name=name, retrain=retrain)


def label_models_for(
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


def domain_loaders(
    chosen: pd.DataFrame, domain_references: Mapping[str, Callable[[], DomainReference]] | None
) -> dict[str, Callable[[], DomainReference]]:
    """The loader of each chosen feature family's out-of-domain reference, where there is one
    fitted on the corpus the family's chosen models were trained on (their
    ``corpus_fingerprint``). A family without one is scored without a domain check, said once
    in the log: its tracks' ``domain_score`` is NaN and ``out_of_domain`` NA."""
    loaders = {}
    for feature, rows in chosen.groupby("feature", sort=True):
        corpora = set(rows.get("corpus_fingerprint", pd.Series([""])).fillna("").astype(str))
        load = (domain_references or {}).get(feature)
        reason = None
        if load is None:
            reason = "no reference in data/06_models/domain (run the modelling pipeline)"
        elif len(corpora) != 1 or "" in corpora:
            reason = f"the chosen models' corpus is unknown or mixed ({sorted(corpora)})"
        else:
            reference = load()
            if reference.corpus_fingerprint != next(iter(corpora)):
                reason = (f"its reference was fitted on corpus {reference.corpus_fingerprint}, "
                          f"the models on {next(iter(corpora))}")  # fmt: skip
        if reason:
            logger.warning("inference: %s tracks get no out-of-domain check: %s", feature, reason)
            continue
        loaders[str(feature)] = load
    return loaders


def model_fingerprint(keras_model: Any) -> str:
    """Hash of a Keras model's architecture and weights: a retrained model has a new one."""
    digest = hashlib.sha256(keras_model.to_json().encode())
    for weights in keras_model.get_weights():
        digest.update(f"{weights.dtype}{weights.shape}".encode())
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()[:16]


def model_identity(inference_models: pd.DataFrame | None) -> dict[str, Any]:
    """The ``OUTPUT_IDENTITY`` columns of every output row: ``model`` (per label, e.g.
    ``valence=mfcc_ridge.valence``), ``model_version`` (registry version or MLflow run, per
    label), ``trained_on`` (corpus kind and fingerprint) and ``demo_model`` (True when any
    label's model was trained on the synthetic demo)."""
    if inference_models is None or "label" not in inference_models:
        return {"model": "", "model_version": "", "trained_on": "unknown", "demo_model": False}
    # plain lists, not pandas rows: every movie of a catalogue asks (a few rows each time)
    column = partial(_text_column, inference_models)
    labels = column("label")
    if "model" in inference_models:
        models = column("model")
    else:  # chosen rows without the registry's identity columns
        parts = zip(column("feature"), column("network"), column("target"), strict=True)
        models = [f"{feature}_{network}.{target}" for feature, network, target in parts]
    kinds = column("corpus_kind")
    corpora = sorted(
        {f"{k} {c}".strip() for k, c in zip(kinds, column("corpus_fingerprint"), strict=True)}
    )
    versions = zip(labels, column("model_version"), strict=True)
    return {
        "model": "; ".join(f"{label}={m}" for label, m in zip(labels, models, strict=True)),
        "model_version": "; ".join(f"{label}={v or 'untracked'}" for label, v in versions),
        "trained_on": "; ".join(c for c in corpora if c) or "unknown",
        "demo_model": DEMO in kinds,
    }


def _text_column(rows: pd.DataFrame, column: str) -> list[Any]:
    """``column`` of ``rows`` as Python values, "" where missing (text columns read back as
    all-NaN floats) and everywhere when there is no such column."""
    if column not in rows:
        return [""] * len(rows)
    return ["" if pd.isna(value) else value for value in rows[column].tolist()]
