"""Nodes of the modelling pipeline: pick the framed inputs, fit the input normaliser and the
mean baseline on the training split, train one regressor per (feature, network, target) on
streamed batches, predict the test split and score it at frame and song level.

Shapes: a frame is ``[T, F]`` (``T`` time steps of ``F`` features); a batch ``[b, T, F]``; a
model maps it to ``[b, k]`` with ``k`` = 1 for a per-label model and 3 for the joint model.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from keras import layers

from soundtrack_emotion.core.architectures import (
    CLOSED_FORM,
    NETWORKS,
    build_model,
)
from soundtrack_emotion.core.conformal import (
    check_levels,
    conformal_quantile,
    coverage,
    level_name,
    repeated_conformal_quantile,
)
from soundtrack_emotion.core.families import FEATURES, balanced_weights
from soundtrack_emotion.core.metrics import (
    METRIC_NAMES,
    bootstrap_intervals,
    regression_metrics,
    selection_rank,
)
from soundtrack_emotion.core.model_files import serialise_model, sha256_hex
from soundtrack_emotion.core.out_of_domain import (
    MIN_CALIBRATION_SONGS,
    DomainReference,
    block_rows,
    feature_blocks,
    fit_domain_reference,
)
from soundtrack_emotion.core.vocabulary import FRAME_SECONDS, LEVELS, SPLITS, TARGETS
from soundtrack_emotion.datasets import FrameSplit, ModelInputs
from soundtrack_emotion.exceptions import (
    DataValidationError,
    ParameterError,
    TrainingDivergedError,
)
from soundtrack_emotion.pipelines.modelling.corpora import (
    UNNAMED_CORPUS,
    corpus_rows,
    corpus_table,
    song_corpora,
)
from soundtrack_emotion.pipelines.modelling.heads import (
    ClosedFormFit,
    SongValidation,
    check_closed_form_training,
    clip_vad,
    closed_form_head,
    fit_closed_form,
    score_split,
    split_residuals,
)
from soundtrack_emotion.pipelines.modelling.validation import (
    CV_COLUMNS,
    cross_validate,
    groups_of,
    residual_matrix,
)
from soundtrack_emotion.runtime.feature_settings import ExtractionParams
from soundtrack_emotion.runtime.paths import resolve_path
from soundtrack_emotion.runtime.progress import progress
from soundtrack_emotion.runtime.provenance import (
    STALE_COLUMNS,
    corpus_fingerprint,
    current_fingerprints,
    stale_reason,
    training_provenance,
)

logger = logging.getLogger(__name__)

HISTORY_COLUMNS: tuple[str, ...] = (
    "epoch",
    "loss",
    "val_loss",
    "mae",
    "val_mae",
    "val_song_loss",
    "seconds",
)
MODEL_METRICS_COLUMNS: tuple[str, ...] = (
    "feature",
    "network",
    "target",
    "label",
    "level",
    "frame_seconds",
    "n",
    *METRIC_NAMES,
    *(f"{name}_ci_{end}" for name in METRIC_NAMES for end in ("low", "high")),
    *(f"baseline_{name}" for name in METRIC_NAMES),
    "train_song_loss",
    "val_song_loss",
    "best_val_loss",
    "cv_r2_mean",
    "epochs",
    "train_seconds",
    "rank",
    "corpus_kind",
    "corpus_fingerprint",
    "features_fingerprint",
    "git_commit",
    "mlflow_run_id",
    "registered_model",
    "model_version",
    "model_sha256",
)
# Per nominal level (``core.conformal.level_name``: 0.9 -> 90), after MODEL_METRICS_COLUMNS
# when the reports carry them (calibrate_intervals): the split-conformal half-width from the
# validation songs, and the measured coverage of the test songs (frames on frame rows).
HALFWIDTH_PREFIX = "halfwidth_"
COVERAGE_PREFIX = "coverage_"
CALIBRATION_N = "calibration_n"


@dataclass(frozen=True)
class ModelSpec:
    """Which model a node works on: the feature family, the network and the target."""

    feature: str
    network: str
    target: str

    def __post_init__(self) -> None:
        for value, known in (
            (self.feature, FEATURES),
            (self.network, NETWORKS),
            (self.target, tuple(TARGETS)),
        ):
            if value not in known:
                raise ParameterError(f"unknown {value!r}; known: {list(known)}")

    @property
    def variant(self) -> str:
        return f"{self.feature}_{self.network}"

    @property
    def labels(self) -> tuple[str, ...]:
        return TARGETS[self.target]


def select_frame_length(frame_seconds: int, *candidates: ModelInputs) -> ModelInputs:
    """Return the model inputs framed at ``frame_seconds``; ``candidates`` are the inputs of
    every length in ``FRAME_SECONDS``, in that order."""
    if len(candidates) != len(FRAME_SECONDS):
        raise ParameterError(
            f"expected model inputs for {list(FRAME_SECONDS)} s, got {len(candidates)}"
        )
    if frame_seconds not in FRAME_SECONDS:
        raise ParameterError(
            f"modelling.frame_seconds must be one of {list(FRAME_SECONDS)}, got {frame_seconds!r}"
        )
    chosen = candidates[FRAME_SECONDS.index(frame_seconds)]
    empty = [split for split in SPLITS if chosen[split].n_frames == 0]
    if empty:
        raise DataValidationError(
            f"model inputs at {frame_seconds} s have no frames in split(s) {empty}: "
            "the corpus is too small or its songs shorter than one frame"
        )
    return chosen


def fit_feature_normaliser(
    model_input: ModelInputs,
    feature_extraction: Mapping[str, Any] | None = None,
    column_balance: str = "column",
    *,
    spec: ModelSpec | None = None,
) -> dict[str, list[float]]:
    """Per-feature ``mean`` and ``variance`` ([F] each) over every time step of every training
    frame, merged shard by shard (Chan et al.'s pairwise update: one pass, bounded memory,
    no cancellation for features far from zero such as MFCC c0), and the ``weights`` [F] the
    closed-form heads give each standardised column (:func:`column_weights`)."""
    weights = column_weights(spec.feature, feature_extraction, column_balance) if spec else None
    count, mean, sum_sq = 0, 0.0, 0.0
    for chunk in model_input.train.iter_chunks():
        values = chunk.frames.reshape(-1, chunk.frames.shape[-1]).astype(np.float64)
        n = len(values)
        chunk_mean = values.mean(axis=0)
        delta = chunk_mean - mean
        total = count + n
        mean = mean + delta * n / total
        sum_sq = sum_sq + ((values - chunk_mean) ** 2).sum(axis=0) + delta**2 * count * n / total
        count = total
    if not count:
        raise DataValidationError("cannot fit the feature normaliser: no training frames")
    width = len(np.atleast_1d(mean))
    if weights is not None and len(weights) != width:
        raise DataValidationError(
            f"the {spec.feature} frames have {width} columns, its family names {len(weights)}: "
            "the model inputs are older than the family's settings (run feature_extraction)"
        )
    return {
        "mean": np.asarray(mean).tolist(),
        "variance": (np.asarray(sum_sq) / count).tolist(),
        "weights": (np.ones(width) if weights is None else weights).tolist(),
    }


# How the closed-form heads weigh a composite family's standardised columns: "family" gives
# each member (and the interactions) the same total weight, "column" each column.
COLUMN_BALANCES = ("family", "column")


def column_weights(
    feature: str, feature_extraction: Mapping[str, Any] | None, balance: str
) -> np.ndarray | None:
    """Per-column weights of ``feature``'s rows under ``balance`` (None: all ones)."""
    if balance not in COLUMN_BALANCES:
        raise ParameterError(
            f"modelling.column_balance must be one of {list(COLUMN_BALANCES)}, got {balance!r}"
        )
    if balance == "column" or feature_extraction is None:
        return None
    groups = ExtractionParams.from_dict(feature_extraction).family(feature).column_groups()
    return None if groups is None else balanced_weights(groups)


def fit_mean_baseline(model_input: ModelInputs) -> dict[str, float]:
    """The baseline predictor: each label's mean over the training frames that have a value
    of it (NaN for a label none has)."""
    train = model_input.train
    labels = train.labels().astype(np.float64)
    return {name: _finite_column_mean(labels[:, train.label_index(name)[0]])
            for name in train.label_names}  # fmt: skip


def _finite_column_mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else math.nan


def _split_blocks(
    split: FrameSplit, rows_per_block: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(song_id [n], blocks [n, W])`` per shard: every frame's :func:`feature_blocks`."""
    for chunk in split.iter_chunks():
        blocks = [feature_blocks(frame, rows_per_block=rows_per_block) for frame in chunk.frames]
        songs = np.repeat(chunk.song_id.astype(str), [len(b) for b in blocks])
        yield songs, np.concatenate(blocks)


def fit_domain(
    domain: Mapping[str, Any],
    soundtracks: pd.DataFrame,
    feature_extraction: Mapping[str, Any],
    seed: int,
    frame_seconds: int,
    *candidates: ModelInputs,
    feature: str,
) -> DomainReference:
    """The out-of-domain reference of ``feature`` (:mod:`~soundtrack_emotion.core.out_of_domain`):
    the training songs' feature blocks (about 3 s each, from frames [n, T, F] of the inputs
    ``frame_seconds`` selects) and a threshold calibrated on the validation songs, with the
    corpus and feature fingerprints it was fitted on. ``domain``: ``neighbours``,
    ``quantile``, ``max_blocks`` (``modelling.domain``)."""
    model_input = select_frame_length(frame_seconds, *candidates)
    # Each family's "15 s" frame is its own grid (MusiCNN 5 x 2.992 s): close enough here.
    rows_per_block = block_rows(frame_seconds / model_input.train.frame_shape[0])
    reference = fit_domain_reference(
        _split_blocks(model_input.train, rows_per_block),
        _split_blocks(model_input.validation, rows_per_block),
        feature=feature,
        rows_per_block=rows_per_block,
        neighbours=domain["neighbours"],
        quantile=domain["quantile"],
        max_blocks=domain["max_blocks"],
        seed=seed,
        corpus_fingerprint=corpus_fingerprint(soundtracks),
        # As in the models' provenance: the reference stays current across a precision switch.
        features_fingerprint=ExtractionParams.from_dict(feature_extraction).fingerprint(
            feature, with_precision=False
        ),
    )
    rough = " (a rough threshold: few validation songs)" if (
        reference.n_validation_songs < MIN_CALIBRATION_SONGS) else ""  # fmt: skip
    logger.info(
        "%s domain reference: %d training songs, threshold %.3f = the %g quantile of %d "
        "validation songs%s",
        feature,
        reference.n_train_songs,
        reference.threshold,
        reference.quantile,
        reference.n_validation_songs,
        rough,
    )
    return reference


# Training settings a network may leave out: ``standardise_targets`` (default false, the
# thesis's setting) trains on labels standardised with the training mean and variance, the
# inverse inside the saved model; ``weight_decay`` is then relative to the labels' variance.
_OPTIONAL_TRAINING: dict[str, Any] = {"standardise_targets": False}


def _check_training(network: str, training: Mapping[str, Any]) -> None:
    if network in CLOSED_FORM:
        check_closed_form_training(network, training)
        return
    expected = {"learning_rate", "batch_size", "epochs", "patience"}
    if not expected <= set(training) <= expected | set(_OPTIONAL_TRAINING):
        raise ParameterError(
            f"training parameters must be {sorted(expected)} (optional "
            f"{sorted(_OPTIONAL_TRAINING)}), got {sorted(training)}"
        )
    if not isinstance(training.get("standardise_targets", False), bool):
        raise ParameterError(
            f"standardise_targets must be true or false, got {training['standardise_targets']!r}"
        )
    if not training["learning_rate"] > 0:
        raise ParameterError(f"learning_rate must be > 0, got {training['learning_rate']}")
    for name in ("batch_size", "epochs"):
        if not (isinstance(training[name], int) and training[name] >= 1):
            raise ParameterError(f"{name} must be an integer >= 1, got {training[name]!r}")
    if not (isinstance(training["patience"], int) and training["patience"] >= 0):
        raise ParameterError(f"patience must be an integer >= 0, got {training['patience']!r}")


class _EpochLog(keras.callbacks.Callback):
    """Times each epoch and logs its losses through ``logging`` (at DEBUG: one line per
    epoch of every model would flood the console)."""

    def __init__(self, name: str, epochs: int) -> None:
        super().__init__()
        self.name, self.epochs, self.seconds = name, epochs, []
        self._start = 0.0
        self._bar: Any = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        # A bar per model on a terminal (none when the output is not one), gone when it ends.
        self._bar = progress(total=self.epochs, desc=self.name, unit="epoch", leave=False)

    def on_train_end(self, logs: dict | None = None) -> None:
        self._bar.close()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)
        logs = logs or {}
        self._bar.update()
        self._bar.set_postfix(val_loss=f"{logs.get('val_loss', math.nan):.4f}", refresh=False)
        logger.debug(
            "%s epoch %d/%d: loss %.5f, val_loss %.5f (%.1f s)",
            self.name,
            epoch + 1,
            self.epochs,
            logs.get("loss", math.nan),
            logs.get("val_loss", math.nan),
            self.seconds[-1],
        )


def _stream(
    split: FrameSplit,
    labels: tuple[str, ...],
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
) -> tf.data.Dataset:
    """Batches ``([b, T, F], [b, k])`` of the frames with a value of every one of ``labels``
    (songs of a quadrant corpus have only signs), read shard by shard, with their count
    declared so Keras knows the epoch length in advance."""
    dataset = split.to_tf_dataset(labels=labels, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                  finite_only=True)  # fmt: skip
    n_batches = math.ceil(split.n_finite(labels) / batch_size)
    return dataset.apply(tf.data.experimental.assert_cardinality(n_batches))


def train_model(
    model_input: ModelInputs,
    feature_normaliser: Mapping[str, list[float]],
    network: Mapping[str, Any],
    seed: int,
    tensorboard_dir: str,
    *,
    seeds: Sequence[int] = (),
    spec: ModelSpec,
) -> tuple[keras.Model, pd.DataFrame]:
    """Train ``spec``'s network on the training split ``[n, T, F] -> [n, k]``.

    Gradient-trained networks use Adam and MSE on streamed batches
    (``FrameSplit.to_tf_dataset``), and stop early on the **song-level** validation loss (a
    song's prediction is the mean of its frames', as the project scores it), restoring the
    best epoch's weights; they train and stop on the frames of songs with a value of every
    label of the target (songs of a quadrant corpus, with signs only, are masked out of their
    stream). The closed-form heads (ridge, kernel ridge) are solved (``heads.fit_closed_form``),
    their hyper-parameters chosen on the validation songs; songs with only the signs of a
    label join their fit (``modelling.networks.<head>.training.sign_weight``).
    Seeds and deterministic ops make a rerun on CPU give the same model. TensorBoard logs go
    to ``{tensorboard_dir}/{variant}/{target}`` (replaced on each run).

    With two or more ``seeds`` (``modelling.seeds``), a gradient-trained network is a **seed
    ensemble**: one member trained per seed, their outputs averaged in one saved model
    (:func:`average_members`), so inference, MLflow and the model choice treat it as one.

    Returns:
        The trained model, and its history (one row per epoch: ``HISTORY_COLUMNS``; a single
        row for the ridge head; for an ensemble the members' mean per epoch and each member's
        ``member_{seed}_val_song_loss``).
    """
    training = network["training"]
    _check_training(spec.network, training)
    # free_memory=False: no gc.collect(), which costs ~0.4 s per model in a long run.
    keras.backend.clear_session(free_memory=False)
    tf.config.experimental.enable_op_determinism()
    if spec.network in CLOSED_FORM:
        return _fit_closed_form(
            model_input, feature_normaliser, training, network.get("architecture") or {},
            spec=spec,
        )  # fmt: skip
    members = [int(s) for s in dict.fromkeys(seeds)] or [seed]
    trained = [
        _train_network(model_input, feature_normaliser, network, member, tensorboard_dir,
                       spec=spec, log_name=f"seed_{member}" if len(members) > 1 else "")
        for member in members
    ]  # fmt: skip
    if len(trained) == 1:
        return trained[0]
    ensemble = average_members([model for model, _ in trained], name=ENSEMBLE_NAME)
    return ensemble, _ensemble_history([h for _, h in trained], members)


ENSEMBLE_NAME = "seed_ensemble"


def average_members(members: Sequence[keras.Model], *, name: str) -> keras.Model:
    """One model ``[b, T, F] -> [b, k]`` whose output is the mean of ``members``' outputs
    (built-in layers only: it loads with ``safe_mode=True``)."""
    frames = keras.Input(shape=tuple(members[0].inputs[0].shape[1:]), name="frames")
    for i, member in enumerate(members):
        member.name = f"member_{i}"
    outputs = [member(frames) for member in members]
    return keras.Model(frames, layers.Average(name="vad")(outputs), name=name)


def _ensemble_history(histories: Sequence[pd.DataFrame], seeds: Sequence[int]) -> pd.DataFrame:
    """The members' mean per epoch (over the members still training), and each member's
    song-level validation loss."""
    mean = pd.concat(histories).groupby("epoch", as_index=False).mean()
    for seed, history in zip(seeds, histories, strict=True):
        losses = history.set_index("epoch")["val_song_loss"]
        mean[f"member_{seed}_val_song_loss"] = mean["epoch"].map(losses)
    return mean


def _train_network(
    model_input: ModelInputs,
    feature_normaliser: Mapping[str, list[float]],
    network: Mapping[str, Any],
    seed: int,
    tensorboard_dir: str,
    *,
    spec: ModelSpec,
    log_name: str = "",
) -> tuple[keras.Model, pd.DataFrame]:
    """One gradient-trained network, seeded (see :func:`train_model`)."""
    training = network["training"]
    keras.utils.set_random_seed(seed)
    train, validation = model_input.train, model_input.validation
    model = _build_network(model_input, feature_normaliser, network, spec=spec)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=training["learning_rate"]),
        loss="mse",
        metrics=["mae"],
    )
    log_dir = resolve_path(tensorboard_dir) / spec.variant / spec.target / log_name
    shutil.rmtree(log_dir, ignore_errors=True)
    epoch_log = _EpochLog(f"{spec.variant}.{spec.target}", training["epochs"])
    batch_size = training["batch_size"]
    logger.info(
        "training %s.%s: %d parameters, %d training / %d validation frames of shape %s",
        spec.variant,
        spec.target,
        model.count_params(),
        train.n_frames,
        validation.n_frames,
        train.frame_shape,
    )
    fitted = model.fit(
        _stream(train, spec.labels, batch_size, shuffle=True, seed=seed),
        epochs=training["epochs"],
        shuffle=False,  # the stream shuffles, seeded
        callbacks=[
            # First: it adds the validation losses the callbacks after it read.
            SongValidation(validation, spec.labels, batch_size=max(batch_size, 256)),
            keras.callbacks.EarlyStopping(
                monitor="val_song_loss",
                mode="min",
                patience=training["patience"],
                restore_best_weights=True,
            ),
            keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False),
            keras.callbacks.TerminateOnNaN(),
            epoch_log,
        ],
        verbose=0,
    )
    losses = [np.asarray(fitted.history.get(key, []), dtype=float) for key in ("loss", "val_loss")]
    if any(not len(values) or not np.isfinite(values).all() for values in losses):
        raise TrainingDivergedError(
            f"training {spec.variant}.{spec.target} diverged: the loss became NaN or infinite. "
            f"Lower modelling.networks.{spec.network}.training.learning_rate (now "
            f"{training['learning_rate']!r}) or look for NaN in the model inputs."
        )
    history = pd.DataFrame({name: fitted.history[name] for name in HISTORY_COLUMNS[1:-1]})
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    history["seconds"] = epoch_log.seconds
    best = int(history["val_song_loss"].idxmin())
    logger.info(
        "%s.%s: %d epochs in %.1f s, kept epoch %d (song-level val_loss %.5f)",
        spec.variant,
        spec.target,
        len(history),
        history["seconds"].sum(),
        best + 1,
        history["val_song_loss"].iloc[best],
    )
    return model, history


def _build_network(
    model_input: ModelInputs,
    feature_normaliser: Mapping[str, list[float]],
    network: Mapping[str, Any],
    *,
    spec: ModelSpec,
) -> keras.Model:
    """The untrained network, its output starting at the training labels' mean."""
    label_columns = model_input.train.label_index(spec.labels)
    labels = model_input.train.labels()[:, label_columns].astype(np.float64)
    labels = labels[np.isfinite(labels).all(axis=1)]
    if not len(labels):
        raise DataValidationError(f"no training frame has a value of every one of {spec.labels}")
    label_mean, label_variance = labels.mean(axis=0), labels.var(axis=0)
    architecture = dict(network["architecture"])
    standardise = network["training"].get("standardise_targets", False)
    if standardise:
        # A penalty meant for unit-variance targets: scaled to the labels' (the loss is MSE
        # on the labels), it weighs the same against the data term on any label scale.
        label_variance = np.maximum(label_variance, keras.config.epsilon())
        if "weight_decay" in architecture:
            architecture["weight_decay"] *= float(label_variance.mean())
    model = build_model(
        spec.network,
        frame_shape=model_input.train.frame_shape,
        n_outputs=len(spec.labels),
        feature_mean=feature_normaliser["mean"],
        feature_variance=feature_normaliser["variance"],
        architecture=architecture,
        label_mean=label_mean.tolist() if standardise else None,
        label_variance=label_variance.tolist() if standardise else None,
    )
    if not standardise:
        # Start from the predict-the-mean baseline: labels sit near 0.5, and a zero output bias
        # costs a small network most of its early-stopping budget just to get there.
        model.get_layer("vad").bias.assign(label_mean.astype(np.float32))
    return model


def _fit_closed_form(
    model_input: ModelInputs,
    feature_normaliser: Mapping[str, list[float]],
    training: Mapping[str, Any],
    architecture: Mapping[str, Any],
    *,
    spec: ModelSpec,
) -> tuple[keras.Model, pd.DataFrame]:
    """A closed-form head (ridge, kernel): its hyper-parameters per label chosen on the
    validation songs of a fit on the training songs, then refitted on both
    (``heads.fit_closed_form``). Its one-row history holds
    the losses of the fit on the training songs, whose validation loss made the choice."""
    tic = time.perf_counter()
    train, validation = model_input.train, model_input.validation
    fit = _closed_form_fit(model_input, feature_normaliser, training, architecture, spec=spec)
    model = fit.model
    on_train = score_split(fit.selection_model, train, spec.labels)
    on_validation = score_split(fit.selection_model, validation, spec.labels)
    history = pd.DataFrame(
        {
            "epoch": [1],
            "loss": [on_train.frame_mse],
            "val_loss": [on_validation.frame_mse],
            "mae": [on_train.frame_mae],
            "val_mae": [on_validation.frame_mae],
            "val_song_loss": [on_validation.song_mse],
            "seconds": [time.perf_counter() - tic],
        }
    )
    logger.info(
        "%s.%s: %s on %d training + %d validation songs, %s %s chosen on validation "
        "(song-level val_loss %.5f before the refit)",
        spec.variant,
        spec.target,
        spec.network,
        len(np.unique(train.song_ids())),
        len(np.unique(validation.song_ids())),
        closed_form_head(spec.network).chosen_name,
        ", ".join(map(str, fit.chosen)),
        on_validation.song_mse,
    )
    return model, history


def _closed_form_fit(
    model_input: ModelInputs,
    feature_normaliser: Mapping[str, list[float]],
    training: Mapping[str, Any],
    architecture: Mapping[str, Any],
    *,
    spec: ModelSpec,
) -> ClosedFormFit:
    """``heads.fit_closed_form`` with ``spec``'s network parameters (deterministic: a second
    call gives the same models)."""
    unknown = set(architecture) - {"pooling"}
    if unknown:
        raise ParameterError(f"architecture of {spec.network!r}: unknown {sorted(unknown)}")
    return fit_closed_form(
        spec.network,
        model_input.train,
        model_input.validation,
        spec.labels,
        feature_mean=feature_normaliser["mean"],
        feature_variance=feature_normaliser["variance"],
        training=training,
        pooling=architecture.get("pooling", "statistics"),
        column_weights=feature_normaliser.get("weights"),
    )


def calibrate_intervals(
    model: keras.Model,
    model_input: ModelInputs,
    feature_normaliser: Mapping[str, list[float]],
    network: Mapping[str, Any],
    intervals: Mapping[str, Any],
    *,
    cv_residuals: pd.DataFrame | None = None,
    spec: ModelSpec,
) -> dict[str, Any]:
    """Conformal half-widths of ``spec``'s model per label, level (``song``: a song's
    mean prediction; ``frame``: one frame's) and nominal level (``intervals.levels``,
    ``modelling.intervals``): ``predicted ± half-width`` covers an unseen, exchangeable
    song's value with probability >= the level, marginally.

    Song level, where the grouped cross-validation left out-of-fold residuals
    (``cv_residuals``, the closed-form ridge): from those of every training and validation
    song (``core.conformal.repeated_conformal_quantile``, CV+). Otherwise, and at the frame
    level, split conformal on the validation songs' absolute residuals
    (``core.conformal.conformal_quantile``), which must not have been fitted on: a
    gradient-trained network is calibrated as saved (they only chose its epoch); the ridge is
    saved refitted on the training and validation songs, so its fit on the training songs
    alone (the one whose validation loss chose its alphas) is calibrated instead, and its
    half-widths are conservative for the refit. Frames of one song are not exchangeable, so
    the frame level's guarantee is approximate (each song counts by its number of frames).

    Returns:
        ``{"method", "levels", "calibrated", "rows"}``, one row per (label, level):
        ``calibration_n`` (songs or frames with the label's value), ``calibration``
        (``cross-validation`` or ``validation``) and ``halfwidth_{pct}`` per level (``inf``:
        too few songs for the level; ``None``: none has the label's value).
    """
    levels = check_levels(intervals["levels"])
    if spec.network in CLOSED_FORM:
        fit = _closed_form_fit(model_input, feature_normaliser, network["training"],
                               network.get("architecture") or {}, spec=spec)  # fmt: skip
        calibrated, how = fit.selection_model, "the fit on the training songs alone"
    else:
        calibrated, how = model, "the saved model"
    residuals = split_residuals(calibrated, model_input.validation, spec.labels)
    rows = []
    for j, label in enumerate(spec.labels):
        out_of_fold = residual_matrix(cv_residuals, label)
        rows.append(_calibration_row(label, "frame", residuals.frame[:, j], levels))
        if out_of_fold.size:
            rows.append(_calibration_row(label, "song", out_of_fold, levels))
        else:
            rows.append(_calibration_row(label, "song", residuals.song[:, j], levels))
    return {
        "method": "conformal on absolute residuals: song level from the grouped "
        "cross-validation's out-of-fold songs where it ran (CV+), else split conformal on the "
        "validation songs",
        "levels": list(levels),
        "calibrated": how,
        "rows": rows,
    }


def _calibration_row(
    label: str, level: str, scores: np.ndarray, levels: tuple[float, ...]
) -> dict[str, Any]:
    """One row of :func:`calibrate_intervals`: ``scores`` [n] (split conformal on the
    validation songs or frames) or [repeats, n] (out-of-fold residuals of every repeat)."""
    if scores.ndim == 2:
        n = int(np.isfinite(scores).all(axis=0).sum())
        width = partial(repeated_conformal_quantile, scores)
        source = "cross-validation"
    else:
        finite = scores[np.isfinite(scores)]
        n, width, source = len(finite), partial(conformal_quantile, finite), "validation"
    return {
        "label": label,
        "level": level,
        CALIBRATION_N: n,
        "calibration": source,
        **{f"halfwidth_{level_name(p)}": width(p) if n else None for p in levels},
    }


def predict_test_split(
    model: keras.Model,
    model_input: ModelInputs,
    batch_size: int,
    soundtracks: pd.DataFrame | None = None,
    *,
    spec: ModelSpec,
) -> pd.DataFrame:
    """Predict every test frame, shard by shard in batches of ``batch_size`` (bounded memory).

    Predictions are clipped to [0, 1], as inference clips them.

    Returns:
        Long format, one row per frame and label: ``song_id, frame_index, label, true,
        predicted`` (``true`` NaN for a song without the label's value, e.g. of a quadrant
        corpus), and when ``soundtracks`` is given: ``group`` (``validation.groups_of`` the
        songs in ``soundtracks``), ``corpus`` and ``quadrant`` (:func:`corpora.song_corpora`).
    """
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ParameterError(f"prediction_batch_size must be an integer >= 1, got {batch_size!r}")
    test = model_input.test
    columns = test.label_index(spec.labels)
    parts = []
    for chunk in test.iter_chunks():
        predicted = clip_vad(
            np.concatenate(
                [
                    np.asarray(model.predict_on_batch(chunk.frames[start : start + batch_size]))
                    for start in range(0, len(chunk), batch_size)
                ]
            )
        )
        for j, label in enumerate(spec.labels):
            parts.append(
                pd.DataFrame(
                    {
                        "song_id": chunk.song_id.astype(str),
                        "frame_index": chunk.frame_index.astype(np.int32),
                        "label": label,
                        "true": chunk.labels[:, columns[j]].astype(np.float64),
                        "predicted": predicted[:, j].astype(np.float64),
                    }
                )
            )
    predictions = pd.concat(parts, ignore_index=True)
    if soundtracks is not None:
        predictions["group"] = groups_of(predictions["song_id"].to_numpy(), soundtracks)
        corpora = song_corpora(soundtracks)
        predictions["corpus"] = predictions["song_id"].map(corpora["corpus"]).fillna(
            UNNAMED_CORPUS
        )
        predictions["quadrant"] = predictions["song_id"].map(corpora["quadrant"]).fillna("")
    if not np.isfinite(predictions["predicted"]).all():
        raise DataValidationError(f"{spec.variant}.{spec.target} predicted non-finite values")
    return predictions.sort_values(["label", "song_id", "frame_index"], ignore_index=True)


def cross_validate_model(
    model_input: ModelInputs,
    feature_normaliser: Mapping[str, list[float]],
    network: Mapping[str, Any],
    soundtracks: pd.DataFrame,
    seed: int,
    *,
    evaluation: str,
    cross_validation: Mapping[str, Any],
    spec: ModelSpec,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``validation.cross_validate`` of ``spec``'s model: repeated artist-grouped K-fold over
    the training and validation songs (``CV_COLUMNS``; empty for ``holdout``) and its
    out-of-fold residuals (``validation.RESIDUAL_COLUMNS``), which calibrate the intervals."""
    result = cross_validate(
        model_input, feature_normaliser, network, soundtracks, evaluation=evaluation,
        cross_validation=cross_validation, seed=seed, feature=spec.feature,
        network_name=spec.network, labels=spec.labels, target=spec.target,
    )  # fmt: skip
    return result.table, result.residuals


def serialise_trained_model(model: keras.Model) -> tuple[bytes, str]:
    """The trained model's ``.keras`` bytes (what its model file holds, written as they are)
    and their SHA-256, which goes into its provenance and metrics: inference loads the file
    only when the two agree (:class:`~soundtrack_emotion.core.model_files.ModelFile`)."""
    content = serialise_model(model)
    return content, sha256_hex(content)


def record_provenance(
    soundtracks: pd.DataFrame,
    feature_extraction: Mapping[str, Any],
    is_demo: bool,
    model_sha256: str,
    *,
    spec: ModelSpec,
) -> dict[str, Any]:
    """The provenance of the model trained now (``provenance.training_provenance``): the
    corpus in ``soundtracks`` (demo when ``is_demo``), ``spec.feature``'s extraction
    fingerprint, the code and package versions, and the SHA-256 of its model file."""
    params = ExtractionParams.from_dict(feature_extraction)
    fingerprint = params.fingerprint(spec.feature, with_precision=False)
    return training_provenance(soundtracks, fingerprint, feature=spec.feature, is_demo=is_demo,
                               model_sha256=model_sha256)  # fmt: skip


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value


def evaluate_model(
    test_predictions: pd.DataFrame,
    mean_baseline: Mapping[str, float],
    history: pd.DataFrame,
    frame_seconds: int,
    *,
    model: keras.Model | None = None,
    model_input: ModelInputs | None = None,
    seed: int = 0,
    provenance: Mapping[str, Any] | None = None,
    cv_metrics: pd.DataFrame | None = None,
    calibration: Mapping[str, Any] | None = None,
    # Last: Kedro's typed-parameter check pairs node inputs with the arguments in order.
    spec: ModelSpec,
) -> dict[str, Any]:
    """Score the test predictions per label at frame level and at song level (a song's
    prediction is the mean of its frames'), on the songs with a value of the label, next to
    the training-mean baseline, with 95 %
    bootstrap intervals (seeded) at song level: over the songs' groups where the predictions
    carry a ``group`` column (the artist groups the split was drawn in), else over songs.
    The model's song-level MSE on its training and validation splits shows how far it
    generalises (the gap; ``None`` without ``model`` and ``model_input``).

    Returns:
        A JSON-ready report: the model's identity, its training summary, the baseline means,
        one metrics row per (label, level) (undefined statistics are ``None``), its
        ``provenance`` (:func:`record_provenance`) and ``cross_validation``, the rows of
        ``cv_metrics`` (:func:`cross_validate_model`; empty in holdout mode), and
        ``corpora``, its test metrics per corpus (:func:`corpora.corpus_rows`: R² and r on
        values, ROC AUC on quadrant signs). With ``calibration``
        (:func:`calibrate_intervals`), each metrics row also carries its validation
        ``calibration_n``, ``halfwidth_{pct}`` and ``coverage_{pct}``: the share of the test
        songs (frames) whose value lies in the prediction ± the half-width, the measured
        coverage of the nominal level; and the report its ``intervals`` (method, levels).
    """
    widths = _calibration_rows(calibration)
    rows = []
    for label in spec.labels:
        frames = test_predictions[test_predictions["label"] == label]
        frames = frames[np.isfinite(frames["true"].to_numpy(np.float64))]
        if frames.empty:
            rows.extend(_unscored(label))
            continue
        songs = frames.groupby("song_id", sort=True)[["true", "predicted"]].mean()
        groups = (
            frames.groupby("song_id", sort=True)["group"].first().to_numpy()
            if "group" in frames else None
        )  # fmt: skip
        for level, table in zip(LEVELS, (frames, songs), strict=True):
            true = table["true"].to_numpy()
            predicted = table["predicted"].to_numpy()
            model_scores = regression_metrics(true, predicted)
            baseline_scores = regression_metrics(true, np.full(len(true), mean_baseline[label]))
            intervals = (
                bootstrap_intervals(true, predicted, seed=seed, groups=groups)
                if level == "song"
                else dict.fromkeys(METRIC_NAMES, (math.nan, math.nan))
            )
            rows.append(
                {
                    "label": label,
                    "level": level,
                    "n": len(table),
                    **{k: _json_number(v) for k, v in model_scores.items()},
                    **{
                        f"{k}_ci_{end}": _json_number(bound)
                        for k, pair in intervals.items()
                        for end, bound in zip(("low", "high"), pair, strict=True)
                    },
                    **{f"baseline_{k}": _json_number(v) for k, v in baseline_scores.items()},
                    **_interval_fields(widths.get((label, level)), true, predicted),
                }
            )
    best = int(_stopping_loss(history).idxmin())
    best_val_loss = float(_stopping_loss(history).iloc[best])
    fit_losses: dict[str, float | None] = {"train_song_loss": None, "val_song_loss": None}
    if model is not None and model_input is not None:
        fit_losses = {
            f"{split}_song_loss": score_split(model, model_input[split], spec.labels).song_mse
            for split in ("train", "validation")
        }
        fit_losses["val_song_loss"] = fit_losses.pop("validation_song_loss")
    members = {
        column.removeprefix("member_").removesuffix("_val_song_loss"): float(history[column].min())
        for column in history.columns if column.startswith("member_")
    }  # fmt: skip
    if members and fit_losses["val_song_loss"] is not None:
        # The ensemble is chosen on its own validation loss, not its members' mean curve's.
        best_val_loss = float(fit_losses["val_song_loss"])
    return {
        "feature": spec.feature,
        "network": spec.network,
        "target": spec.target,
        "labels": list(spec.labels),
        "frame_seconds": int(frame_seconds),
        "training": {
            "epochs": len(history),
            "best_epoch": int(history["epoch"].iloc[best]),
            "best_val_loss": best_val_loss,
            # A seed ensemble's members (seed -> best song-level validation loss): the spread
            # of single seeds next to the ensemble's ``best_val_loss``.
            **({"members": members} if members else {}),
            "train_seconds": float(history["seconds"].sum()),
            # Song-level MSE of the kept model on the data it was fitted and stopped on.
            **fit_losses,
        },
        "baseline": {label: float(mean_baseline[label]) for label in spec.labels},
        "metrics": rows,
        "provenance": dict(provenance) if provenance is not None else None,
        "cross_validation": _json_records(cv_metrics),
        "corpora": _json_records(
            pd.DataFrame(corpus_rows(test_predictions, labels=spec.labels, seed=seed))
        ),
        **_interval_summary(calibration),
    }


def _interval_summary(calibration: Mapping[str, Any] | None) -> dict[str, Any]:
    """The report's ``intervals``: how they were calibrated (not the rows: in ``metrics``)."""
    if not calibration:
        return {}
    return {"intervals": {k: v for k, v in calibration.items() if k != "rows"}}


def _calibration_rows(
    calibration: Mapping[str, Any] | None,
) -> dict[tuple[str, str], Mapping[str, Any]]:
    """:func:`calibrate_intervals`' rows by (label, level); empty without calibration."""
    return {(row["label"], row["level"]): row for row in (calibration or {}).get("rows", [])}


def _interval_fields(
    calibration: Mapping[str, Any] | None, true: np.ndarray, predicted: np.ndarray
) -> dict[str, Any]:
    """A metrics row's ``calibration_n``, ``halfwidth_{pct}`` and ``coverage_{pct}`` (the
    share of ``true`` within ``predicted`` ± the half-width) from its calibration row."""
    if calibration is None:
        return {}
    fields: dict[str, Any] = {CALIBRATION_N: calibration[CALIBRATION_N]}
    for key, width in calibration.items():
        if key.startswith(HALFWIDTH_PREFIX):
            fields[key] = width
            measured = coverage(true, predicted, math.nan if width is None else float(width))
            fields[COVERAGE_PREFIX + key.removeprefix(HALFWIDTH_PREFIX)] = _json_number(measured)
    return fields


def _unscored(label: str) -> list[dict[str, Any]]:
    """The metrics rows of a label no test song has a value of (e.g. dominance where every
    test song comes from a quadrant corpus): ``n`` 0, no statistics."""
    intervals = [f"{k}_ci_{end}" for k in METRIC_NAMES for end in ("low", "high")]
    names = [*METRIC_NAMES, *intervals, *(f"baseline_{k}" for k in METRIC_NAMES)]
    return [{"label": label, "level": level, "n": 0, **dict.fromkeys(names)} for level in LEVELS]


def _json_records(table: pd.DataFrame | None) -> list[dict[str, Any]]:
    if table is None or table.empty:
        return []
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v)
             for k, v in row.items()} for row in table.to_dict("records")]  # fmt: skip


def collect_cv_metrics(
    model_metrics: pd.DataFrame,
    metric_files: Mapping[str, Callable[[], Mapping[str, Any]]],
    *reports: Mapping[str, Any] | None,
) -> pd.DataFrame:
    """``cv_metrics``: the cross-validation rows (``CV_COLUMNS``) of every model in
    ``model_metrics`` (the current ones), from its latest report: this run's ``reports`` or
    the files of the metrics folder (``metric_files``, as :func:`collect_model_metrics`)."""
    rows = [row for _, report in _latest_current(model_metrics, metric_files, reports)
            for row in report.get("cross_validation") or []]  # fmt: skip
    table = pd.DataFrame(rows, columns=list(CV_COLUMNS))
    text = ["feature", "network", "target", "label", "note"]
    numeric = [c for c in CV_COLUMNS if c not in text]
    table[numeric] = table[numeric].astype(np.float64)
    table[text] = table[text].fillna("").astype(str)
    return table.sort_values(["label", "feature", "network", "target"], ignore_index=True)


def collect_corpus_metrics(
    model_metrics: pd.DataFrame,
    metric_files: Mapping[str, Callable[[], Mapping[str, Any]]],
    *reports: Mapping[str, Any] | None,
) -> pd.DataFrame:
    """``corpus_metrics``: the per-corpus test rows (``CORPUS_METRICS_COLUMNS``) of every
    model in ``model_metrics``, from its latest report (as :func:`collect_cv_metrics`)."""
    rows = [{**dict(zip(("feature", "network", "target"), model, strict=True)), **row}
            for model, report in _latest_current(model_metrics, metric_files, reports)
            for row in report.get("corpora") or []]  # fmt: skip
    return corpus_table(rows)


def _latest_current(
    model_metrics: pd.DataFrame,
    metric_files: Mapping[str, Callable[[], Mapping[str, Any]]],
    reports: Sequence[Mapping[str, Any] | None],
) -> list[tuple[tuple[str, str, str], Mapping[str, Any]]]:
    """The latest report of each model in ``model_metrics``: this run's ``reports`` over the
    files of the metrics folder, sorted by model."""
    latest: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for _, load in sorted(metric_files.items()):
        report = load()
        if isinstance(report, Mapping) and {"feature", "network", "target"} <= set(report):
            latest[_model_of(report)] = report
    for report in reports:
        if isinstance(report, Mapping):
            latest[_model_of(report)] = report
    current = set(map(tuple, model_metrics[["feature", "network", "target"]].to_numpy()))
    return [(model, report) for model, report in sorted(latest.items()) if model in current]


def _stopping_loss(history: pd.DataFrame) -> pd.Series:
    """The validation loss early stopping watched: song level (frame level in histories
    written before song-level stopping)."""
    return history["val_song_loss"] if "val_song_loss" in history else history["val_loss"]


def collect_model_metrics(
    metric_files: Mapping[str, Callable[[], Mapping[str, Any]]],
    soundtracks: pd.DataFrame,
    feature_extraction: Mapping[str, Any],
    *reports: Mapping[str, Any] | DomainReference | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Flatten the reports of the models trained on the current corpus and features into
    ``model_metrics``: one row per (feature, network, target, label, level), columns
    ``MODEL_METRICS_COLUMNS``; undefined statistics are NaN.

    ``metric_files``: partition id (``{feature}_{network}/{target}``) -> loader of a report in
    ``data/08_reporting/metrics``, so models trained in earlier runs (e.g. with
    ``modelling_all --namespaces=...``) are included. ``reports``: the reports this run just
    wrote (the latest version of some of those files), and the domain references it fitted
    (inputs only so that Kedro builds the table, hence runs inference, after them; ``None``
    when absent; not read here); one model appears once. A model whose
    provenance does not match ``soundtracks`` and the ``feature_extraction`` parameters goes
    to ``stale_models`` (``STALE_COLUMNS``, with the reason) instead, never into the table.
    """
    latest: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for partition, load in sorted(metric_files.items()):
        report = load()
        if not isinstance(report, Mapping) or not {"feature", "network", "target"} <= set(report):
            raise DataValidationError(f"metrics file {partition!r} is not a model report")
        latest[_model_of(report)] = report
    for report in reports:
        if isinstance(report, Mapping):
            latest[_model_of(report)] = report
    corpus, features = current_fingerprints(soundtracks, feature_extraction)
    current, stale = [], []
    for report in latest.values():
        provenance = report.get("provenance")
        reason = stale_reason(provenance, corpus=corpus, features=features)
        if reason:
            kind = ((provenance or {}).get("corpus") or {}).get("kind", "unknown")
            stale.append({**dict(zip(("feature", "network", "target"), _model_of(report),
                                     strict=True)), "corpus_kind": kind, "reason": reason})
            logger.warning("model %s_%s.%s left out: %s", *_model_of(report), reason)
        else:
            current.append(report)
    rows = [
        {
            "feature": report["feature"],
            "network": report["network"],
            "target": report["target"],
            "frame_seconds": report["frame_seconds"],
            "best_val_loss": report["training"]["best_val_loss"],
            "train_song_loss": _nan_if_none(report["training"].get("train_song_loss")),
            "val_song_loss": _nan_if_none(report["training"].get("val_song_loss")),
            "cv_r2_mean": _cv_r2_mean(report, row["label"]),
            "epochs": report["training"]["epochs"],
            "train_seconds": report["training"]["train_seconds"],
            **_identity(report),
            **row,
        }
        for report in current
        for row in report["metrics"]
    ]
    intervals = interval_columns(key for row in rows for key in row)
    table = pd.DataFrame(rows, columns=[*MODEL_METRICS_COLUMNS, *intervals])
    numeric = [
        *METRIC_NAMES,
        *(f"{name}_ci_{end}" for name in METRIC_NAMES for end in ("low", "high")),
        *(f"baseline_{name}" for name in METRIC_NAMES),
        "train_song_loss",
        "val_song_loss",
        "cv_r2_mean",
        *intervals,
    ]
    table[numeric] = table[numeric].astype(np.float64)
    table = _rank_by_selection(table)
    table = table.astype({"frame_seconds": np.int64, "n": np.int64, "epochs": np.int64})
    text = ["corpus_kind", "corpus_fingerprint", "features_fingerprint", "git_commit",
            "mlflow_run_id", "registered_model", "model_version", "model_sha256"]  # fmt: skip
    table[text] = table[text].fillna("").astype(str)
    return table, pd.DataFrame(stale, columns=list(STALE_COLUMNS)).astype(str)


def _cv_r2_mean(report: Mapping[str, Any], label: str) -> float:
    """``label``'s mean R² over the repeats of the model's grouped cross-validation (what
    :func:`metrics.selection_rank` chooses by); NaN where it was not cross-validated."""
    rows = [row for row in report.get("cross_validation") or [] if row.get("label") == label]
    return _nan_if_none(rows[0].get("r2_mean")) if rows else math.nan


def _identity(report: Mapping[str, Any]) -> dict[str, str]:
    """Where a model came from: its corpus, features, code version and MLflow run."""
    provenance = report.get("provenance") or {}
    tracked = report.get("mlflow") or {}
    return {
        "corpus_kind": provenance.get("corpus", {}).get("kind", ""),
        "corpus_fingerprint": provenance.get("corpus", {}).get("fingerprint", ""),
        "features_fingerprint": provenance.get("features", {}).get("fingerprint", ""),
        "git_commit": provenance.get("code", {}).get("git_commit") or "",
        "mlflow_run_id": tracked.get("run_id", ""),
        "registered_model": tracked.get("registered_model", ""),
        "model_version": tracked.get("version", ""),
        "model_sha256": provenance.get("model", {}).get("sha256") or "",
    }


def _rank_by_selection(table: pd.DataFrame) -> pd.DataFrame:
    """Number the models of each label in ``rank`` by ``metrics.selection_rank`` (1 = the
    model chosen by cross-validation or on validation; frame rows share their model's rank)
    and sort by label, rank and level (song first)."""
    table = table.assign(rank=selection_rank(table) if len(table) else 0)
    table["_level"] = table["level"].map({"song": 0, "frame": 1})
    table = table.sort_values(["label", "rank", "_level"], ignore_index=True)
    return table.drop(columns="_level")


def interval_columns(columns: Iterable[str]) -> list[str]:
    """The prediction-interval columns among ``columns`` in table order: ``calibration_n``,
    the ``halfwidth_{pct}`` by increasing level, then the ``coverage_{pct}``.

    >>> interval_columns(["mse", "coverage_90", "halfwidth_90", "halfwidth_80", "coverage_80",
    ...                   "calibration_n"])
    ['calibration_n', 'halfwidth_80', 'halfwidth_90', 'coverage_80', 'coverage_90']
    """
    names = set(columns)
    levels = sorted({c.removeprefix(HALFWIDTH_PREFIX) for c in names
                     if c.startswith(HALFWIDTH_PREFIX)}, key=float)  # fmt: skip
    found = [CALIBRATION_N] if CALIBRATION_N in names else []
    found += [f"{HALFWIDTH_PREFIX}{p}" for p in levels]
    return found + [f"{COVERAGE_PREFIX}{p}" for p in levels if f"{COVERAGE_PREFIX}{p}" in names]


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _model_of(report: Mapping[str, Any]) -> tuple[str, str, str]:
    return str(report["feature"]), str(report["network"]), str(report["target"])
