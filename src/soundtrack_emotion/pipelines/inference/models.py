"""Which trained model predicts each label (``inference.model``), and loading only those."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.inference.track import (
    LabelModel,
)
from soundtrack_emotion.vocabulary import FEATURES, NETWORKS, TARGETS, VAD_LABELS, model_partition

logger = logging.getLogger(__name__)

KEY_SEPARATOR = "__"
BEST = "best"
MODEL_COLUMNS = ("label", "feature", "network", "target", "output_index", "best_val_loss")


def model_key(feature: str, network: str, target: str) -> str:
    """Keyword name of one trained model's dataset in a node's inputs."""
    return KEY_SEPARATOR.join((feature, network, target))


def split_model_key(key: str) -> tuple[str, str, str]:
    """``(feature, network, target)`` of a :func:`model_key`."""
    parts = key.split(KEY_SEPARATOR)
    if len(parts) != 3:
        raise ParameterError(f"{key!r} is not named {model_key('feature', 'network', 'target')}")
    return parts[0], parts[1], parts[2]


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
    *,
    features: Sequence[str] = FEATURES,
) -> pd.DataFrame:
    """Which trained model predicts each label: one row per label (``MODEL_COLUMNS``).

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
    models = (
        model_metrics[model_metrics["feature"].isin(features)]
        .drop_duplicates(["feature", "network", "target"])[
            ["feature", "network", "target", "best_val_loss"]
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
        named = variants == f"{feature}_{network}"
        if target is not None:
            named &= models["target"] == target
        pool = models[named]
        if pool.empty:
            targets = (target,) if target is not None else VAD_LABELS
            pool = pd.DataFrame(
                [(feature, network, t, np.nan) for t in targets], columns=models.columns
            )
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
                     best["best_val_loss"]))  # fmt: skip
    chosen = pd.DataFrame(rows, columns=list(MODEL_COLUMNS))
    if trained_models is not None:
        _require_model_files(chosen, trained_models)
    logger.info("inference models: %s", chosen.to_dict("records"))
    return chosen


def _require_model_files(chosen: pd.DataFrame, trained_models: Mapping[str, Any]) -> None:
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
    """Load only the models in ``chosen`` from ``trained_models`` (partition id ->
    loader, see :func:`model_partition`) -> :func:`model_key` -> Keras model."""
    _require_model_files(chosen, trained_models)
    names = chosen[["feature", "network", "target"]].drop_duplicates()
    return {
        model_key(feature, network, target): trained_models[
            model_partition(feature, network, target)
        ]()
        for feature, network, target in names.itertuples(index=False)
    }


def _label_models(chosen: pd.DataFrame, loaded: Mapping[str, Any]) -> list[LabelModel]:
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
                predict=keras_model.predict_on_batch,
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
