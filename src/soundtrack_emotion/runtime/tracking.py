"""Experiment tracking of every trained model in MLflow (through kedro-mlflow), and the model
registry.

kedro-mlflow opens one MLflow run per ``kedro run`` (the parent: the run's parameters, the
report and its figures). :func:`track_model` logs each model in a **nested run** of it, named
``{feature}_{network}.{target}``: parameters, frame- and song-level test metrics with their
baselines and 95 % intervals, the per-epoch history, the model (an MLflow ``pyfunc`` wrapping
the ``.keras`` file) and its provenance record; the model is registered as
:func:`registered_name`. Without an active MLflow run (tracking disabled, or a node called from
a script) nothing is logged and the report says so (``"mlflow": null``).
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import keras
import pandas as pd

from soundtrack_emotion.core.metrics import METRIC_NAMES
from soundtrack_emotion.core.model_files import ModelFile
from soundtrack_emotion.exceptions import ParameterError

logger = logging.getLogger(__name__)

REGISTRY_PREFIX = "soundtrack_emotion"
MODELS_URI = "models:/"
KERAS_ARTIFACT = "keras_model"
MODEL_ARTIFACT = "model"


def registered_name(feature: str, network: str, target: str) -> str:
    """Name of a model in the MLflow registry, e.g. ``soundtrack_emotion.mfcc_cnn.valence``."""
    return f"{REGISTRY_PREFIX}.{feature}_{network}.{target}"


def parse_registered_name(name: str) -> tuple[str, str, str]:
    """``(feature, network, target)`` of a :func:`registered_name`."""
    prefix, _, rest = name.partition(".")
    variant, _, target = rest.partition(".")
    feature, _, network = variant.partition("_")
    if prefix != REGISTRY_PREFIX or not (feature and network and target):
        raise ParameterError(
            f"registered model {name!r} is not one of this project's: names are "
            f"{registered_name('{feature}', '{network}', '{target}')!r}"
        )
    return feature, network, target


@functools.cache
def _pyfunc_class() -> type:
    """Defined once per process: MLflow warns (UserWarning, 8 console lines) each time a
    ``PythonModel`` subclass without type hints is created."""
    import mlflow.pyfunc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _define_pyfunc_class(mlflow.pyfunc.PythonModel)


def _define_pyfunc_class(base: type) -> type:
    class KerasVadModel(base):
        """The ``.keras`` file as an MLflow pyfunc: frames ``[b, T, F]`` -> VAD ``[b, k]``."""

        def load_context(self, context: Any) -> None:
            self.model = keras.saving.load_model(context.artifacts[KERAS_ARTIFACT])

        # No type hints: MLflow warns on every hint that is not list[...], per model logged.
        def predict(self, context, model_input, params=None):
            return self.model.predict_on_batch(model_input)

    return KerasVadModel


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[io.StringIO]:
    """Keep MLflow's registry prints (stderr), its pickling notice and type-hint warnings off
    the console while a model is logged; what it printed is yielded (logged at DEBUG)."""
    pyfunc_logger = logging.getLogger("mlflow.pyfunc")
    level = pyfunc_logger.level
    pyfunc_logger.setLevel(logging.ERROR)
    printed = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(printed):
            warnings.simplefilter("ignore", UserWarning)
            yield printed
    finally:
        pyfunc_logger.setLevel(level)


def _flat(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= _flat(f"{prefix}.{key}" if prefix else str(key), item)
        return out
    return {prefix: value}


def _metric_values(evaluation: Mapping[str, Any]) -> dict[str, float]:
    """``{level}_{label}_{metric}`` for the model, its baseline (``baseline_``) and the song
    level's intervals (``_ci_low``/``_ci_high``), ``cv_{label}_...`` of the cross-validation
    and ``corpus_{corpus}_{label}_{r2|pearson_r|auc}`` of the test split per corpus;
    undefined values are left out."""
    values = {}
    for row in evaluation["metrics"]:
        stem = f"{row['level']}_{row['label']}"
        for name in METRIC_NAMES:
            for key in (name, f"baseline_{name}", f"{name}_ci_low", f"{name}_ci_high"):
                if row.get(key) is not None:
                    values[f"{stem}_{key}"] = float(row[key])
        # Prediction intervals: half-width and measured test coverage per level (finite only).
        for key, value in row.items():
            if key.startswith(("halfwidth_", "coverage_")) and value is not None and (
                    math.isfinite(value)):  # fmt: skip
                values[f"{stem}_{key}"] = float(value)
    for row in evaluation.get("cross_validation") or []:
        for key in ("r2", "r2_mean", "r2_sd", "pearson_r_mean", "ccc_mean", "r2_ci_low",
                    "r2_ci_high"):  # fmt: skip
            if row.get(key) is not None:
                values[f"cv_{row['label']}_{key}"] = float(row[key])
    for row in evaluation.get("corpora") or []:
        for key in ("r2", "pearson_r", "auc"):
            if row.get(key) is not None:
                values[f"corpus_{row['corpus']}_{row['label']}_{key}"] = float(row[key])
    for seed, loss in (evaluation["training"].get("members") or {}).items():
        values[f"member_{seed}_best_val_loss"] = float(loss)
    for key in ("best_val_loss", "train_song_loss", "val_song_loss", "train_seconds"):
        if evaluation["training"].get(key) is not None:
            values[key] = float(evaluation["training"][key])
    return values


def _epoch_metrics(history: pd.DataFrame) -> list[Any]:
    """Every defined value of ``history`` (one row per epoch) as an MLflow metric at its
    epoch's step."""
    from mlflow.entities import Metric

    timestamp = int(time.time() * 1000)
    return [
        Metric(column, float(value), timestamp, int(row["epoch"]))
        for _, row in history.iterrows()
        for column, value in row.items()
        if column not in ("epoch", "seconds") and pd.notna(value)
    ]


def track_model(
    evaluation: Mapping[str, Any],
    model_file: bytes | ModelFile,
    history: pd.DataFrame,
    network: Mapping[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Log one trained model to a nested MLflow run and register it (see the module).
    ``model_file``: the bytes of its ``.keras`` file, logged as they are, so the registered
    artefact has the SHA-256 its provenance records (tagged ``model.sha256`` on the version).

    Returns:
        ``evaluation`` with ``mlflow``: ``{"run_id", "registered_model", "version"}`` (or
        ``None`` without an active MLflow run).
    """
    import mlflow

    if mlflow.active_run() is None:
        logger.debug("no active MLflow run: %s.%s not tracked", evaluation["feature"],
                     evaluation["target"])  # fmt: skip
        return {**evaluation, "mlflow": None}
    feature, network_name, target = (evaluation[k] for k in ("feature", "network", "target"))
    name = registered_name(feature, network_name, target)
    provenance = evaluation.get("provenance") or {}
    corpus = provenance.get("corpus", {})
    tags = {
        "model": f"{feature}_{network_name}.{target}",
        "corpus.kind": str(corpus.get("kind")),
        "corpus.fingerprint": str(corpus.get("fingerprint")),
        "features.fingerprint": str(provenance.get("features", {}).get("fingerprint")),
        "git_commit": str(provenance.get("code", {}).get("git_commit")),
        "git_dirty": str(provenance.get("code", {}).get("git_dirty")),
        "model.sha256": str((provenance.get("model") or {}).get("sha256") or ""),
    }
    params = {
        "feature": feature,
        "network": network_name,
        "target": target,
        "frame_seconds": evaluation["frame_seconds"],
        "seed": seed,
        **_flat("", {"architecture": network.get("architecture", {}),
                     "training": network["training"]}),
    }  # fmt: skip
    parent = mlflow.active_run().info
    with mlflow.start_run(
        run_name=tags["model"], nested=True, tags=tags, experiment_id=parent.experiment_id
    ) as run:
        mlflow.log_params({k: str(v)[:250] for k, v in params.items()})
        mlflow.log_metrics(_metric_values(evaluation))
        # The per-epoch curves in one request, not one per epoch.
        mlflow.MlflowClient().log_batch(run.info.run_id, metrics=_epoch_metrics(history))
        mlflow.log_text(history.to_csv(index=False), "history.csv")
        mlflow.log_dict(provenance, "provenance.json")
        mlflow.log_dict(dict(evaluation), "metrics.json")
        with tempfile.TemporaryDirectory() as scratch, _quiet_mlflow() as printed:
            path = Path(scratch) / f"{target}.keras"
            content = model_file.content if isinstance(model_file, ModelFile) else model_file
            path.write_bytes(content)
            info = mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT,
                python_model=_pyfunc_class()(),
                artifacts={KERAS_ARTIFACT: str(path)},
                pip_requirements=[
                    f"{p}=={v}"
                    for p, v in provenance.get("packages", {}).items()
                    if v and p != "soundtrack_emotion"
                ],
                registered_model_name=name,
            )
        logger.debug("MLflow: %s", printed.getvalue().strip())
        version = str(info.registered_model_version)
        client = mlflow.MlflowClient()
        for key in ("corpus.kind", "corpus.fingerprint", "features.fingerprint", "model.sha256"):
            client.set_model_version_tag(name, version, key, tags[key])
        run_id = run.info.run_id
    logger.info("MLflow: %s logged in run %s, registered as %s version %s",
                tags["model"], run_id, name, version)  # fmt: skip
    return {**evaluation, "mlflow": {"run_id": run_id, "registered_model": name,
                                     "version": version}}  # fmt: skip


def resolve_registered_model(uri: str) -> dict[str, Any]:
    """Look up ``models:/name/version`` or ``models:/name@alias`` in the registry: the model's
    ``feature``, ``network``, ``target``, ``version``, ``run_id`` and its provenance tags."""
    import mlflow

    if not uri.startswith(MODELS_URI):
        raise ParameterError(f"{uri!r} is not a registered model URI (models:/name/version)")
    rest = uri[len(MODELS_URI) :]
    client = mlflow.MlflowClient()
    try:
        if "@" in rest:
            name, _, alias = rest.partition("@")
            version = client.get_model_version_by_alias(name, alias)
        else:
            name, _, number = rest.rpartition("/")
            version = client.get_model_version(name, number)
    except mlflow.exceptions.MlflowException as error:
        raise ParameterError(
            f"inference.model={uri!r}: not in the MLflow registry at "
            f"{mlflow.get_tracking_uri()} ({error.message})"
        ) from error
    feature, network, target = parse_registered_name(name)
    return {
        "feature": feature,
        "network": network,
        "target": target,
        "version": str(version.version),
        "run_id": version.run_id,
        "uri": f"{MODELS_URI}{name}/{version.version}",
        "corpus_kind": version.tags.get("corpus.kind", ""),
        "corpus_fingerprint": version.tags.get("corpus.fingerprint", ""),
        "model_sha256": version.tags.get("model.sha256", ""),
    }


def load_registered_keras(uri: str, expected_sha256: str | None = None) -> keras.Model:
    """The Keras model of a registered version (``models:/name/version``), checked against
    ``expected_sha256`` (its version's ``model.sha256`` tag, :func:`resolve_registered_model`)
    as a trained model's file is (:class:`ModelFile`)."""
    import mlflow

    folder = Path(mlflow.artifacts.download_artifacts(uri))
    files = sorted((folder / "artifacts").glob("*.keras"))
    if not files:
        raise ParameterError(f"{uri}: the registered model holds no .keras file")
    stored = ModelFile(path=str(files[0]), content=files[0].read_bytes())
    return stored.load(expected_sha256=expected_sha256, name=uri,
                       retrain="or register a retrained version")  # fmt: skip
