"""The modelling pipeline: one template, instantiated per variant and target by namespaces.

Namespaces are ``{feature}_{network}`` (e.g. ``vggish_lstm``) with one sub-namespace per target
(``valence``, ``arousal``, ``dominance`` or ``joint``), so every output is a distinct catalog entry
matched by the dataset factories in ``catalog_modelling.yml``, e.g.
``vggish_lstm.valence.model``. A variant reads ``{feature}_15s`` and ``{feature}_30s`` and
trains on the one ``modelling.frame_seconds`` selects; its network's sizes and training settings
are ``modelling.networks.<network>``.

    kedro run --pipelines=modelling --namespaces=vggish_lstm           # one variant
    kedro run --pipelines=modelling --namespaces=mfcc_cnn.valence      # one model
    kedro run --pipelines=modelling_all --namespaces=mfcc_transformer  # beyond the default run

``modelling`` (and the default run) has the thesis's networks and one model per label
(``DEFAULT_NETWORKS``, ``DEFAULT_TARGETS``); ``modelling_all`` every network and target.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Node, Pipeline, node

from soundtrack_emotion.core.families import FEATURES
from soundtrack_emotion.core.vocabulary import FRAME_SECONDS, NETWORKS, TARGETS, VAD_LABELS
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.modelling.nodes import (
    ModelSpec,
    calibrate_intervals,
    collect_corpus_metrics,
    collect_cv_metrics,
    collect_model_metrics,
    cross_validate_model,
    evaluate_model,
    fit_domain,
    fit_feature_normaliser,
    fit_mean_baseline,
    predict_test_split,
    record_provenance,
    select_frame_length,
    serialise_trained_model,
    train_model,
)
from soundtrack_emotion.runtime.tracking import track_model
from soundtrack_emotion.runtime.variants import networks_by_feature

# What `kedro run` trains: the thesis's four variants, one model per label (see README).
DEFAULT_NETWORKS: tuple[str, ...] = ("cnn", "lstm", "ridge", "mlp")
DEFAULT_TARGETS: tuple[str, ...] = VAD_LABELS
# What the `modelling_all` pipeline offers to pick from with --namespaces.
ALL_NETWORKS: tuple[str, ...] = NETWORKS
ALL_TARGETS: tuple[str, ...] = tuple(TARGETS)

# Template parameter -> project parameter; the network's section is mapped per variant.
_PARAMETERS = {
    "params:frame_seconds": "params:modelling.frame_seconds",
    "params:seed": "params:modelling.seed",
    "params:seeds": "params:modelling.seeds",
    "params:tensorboard_dir": "params:modelling.tensorboard_dir",
    "params:prediction_batch_size": "params:modelling.prediction_batch_size",
    "params:feature_extraction": "params:feature_extraction",
    "params:column_balance": "params:modelling.column_balance",
    "params:evaluation": "params:modelling.evaluation",
    "params:cross_validation": "params:modelling.cross_validation",
    "params:intervals": "params:modelling.intervals",
}
# Shared, non-namespaced inputs of every model: the labelled corpus (for its provenance) and
# whether it is the demo.
_SHARED_INPUTS = {"soundtracks", "corpus_is_demo"}


def _bind(func: Callable[..., Any], spec: ModelSpec) -> Callable[..., Any]:
    """``func`` with its ``spec`` bound, keeping its name and docstring for kedro-viz, and a
    signature without ``spec``: Kedro's parameter validation maps a node's inputs onto the
    signature's parameters by position, so a bound ``spec`` left in it would shift them."""
    bound = update_wrapper(partial(func, spec=spec), func)
    signature = inspect.signature(func)
    bound.__signature__ = signature.replace(
        parameters=[p for name, p in signature.parameters.items() if name != "spec"]
    )
    return bound


def _model_template(spec: ModelSpec) -> Pipeline:
    """Every step of one model, from the framed inputs to its metrics. Self-contained, so that
    ``--namespaces={variant}.{target}`` runs one model alone."""
    return Pipeline(
        [
            node(
                select_frame_length,
                inputs=["params:frame_seconds", *_model_inputs(spec.feature)],
                outputs="model_input",
                name="select_frame_length",
            ),
            node(
                _bind(fit_feature_normaliser, spec),
                inputs=["model_input", "params:feature_extraction", "params:column_balance"],
                outputs="feature_normaliser",
                name="fit_feature_normaliser",
            ),
            node(
                fit_mean_baseline,
                inputs="model_input",
                outputs="mean_baseline",
                name="fit_mean_baseline",
            ),
            node(
                _bind(train_model, spec),
                inputs={
                    "model_input": "model_input",
                    "feature_normaliser": "feature_normaliser",
                    "network": "params:network",
                    "seed": "params:seed",
                    "tensorboard_dir": "params:tensorboard_dir",
                    "seeds": "params:seeds",
                },
                outputs=["model", "history"],
                name="train_model",
            ),
            node(
                serialise_trained_model,
                inputs="model",
                outputs=["model_file", "model_sha256"],
                name="serialise_model",
            ),
            node(
                _bind(predict_test_split, spec),
                inputs=["model", "model_input", "params:prediction_batch_size", "soundtracks"],
                outputs="test_predictions",
                name="predict_test_split",
            ),
            node(
                _bind(cross_validate_model, spec),
                inputs={
                    "model_input": "model_input",
                    "feature_normaliser": "feature_normaliser",
                    "network": "params:network",
                    "soundtracks": "soundtracks",
                    "seed": "params:seed",
                    "evaluation": "params:evaluation",
                    "cross_validation": "params:cross_validation",
                },
                outputs=["cv_metrics", "cv_residuals"],
                name="cross_validate",
            ),
            node(
                _bind(calibrate_intervals, spec),
                inputs={
                    "model": "model",
                    "model_input": "model_input",
                    "feature_normaliser": "feature_normaliser",
                    "network": "params:network",
                    "intervals": "params:intervals",
                    "cv_residuals": "cv_residuals",
                },
                outputs="calibration",
                name="calibrate_intervals",
            ),
            node(
                _bind(record_provenance, spec),
                inputs=[
                    "soundtracks",
                    "params:feature_extraction",
                    "corpus_is_demo",
                    "model_sha256",
                ],
                outputs="provenance",
                name="record_provenance",
            ),
            node(
                _bind(evaluate_model, spec),
                inputs={
                    "test_predictions": "test_predictions",
                    "mean_baseline": "mean_baseline",
                    "history": "history",
                    "frame_seconds": "params:frame_seconds",
                    "model": "model",
                    "model_input": "model_input",
                    "seed": "params:seed",
                    "provenance": "provenance",
                    "cv_metrics": "cv_metrics",
                    "calibration": "calibration",
                },
                outputs="evaluation",
                name="evaluate_model",
            ),
            node(
                track_model,
                inputs=["evaluation", "model_file", "history", "params:network", "params:seed"],
                outputs="metrics",
                name="track_model",
            ),
        ]
    )


def _model_inputs(feature: str) -> list[str]:
    return [f"{feature}_{seconds}s" for seconds in FRAME_SECONDS]


def _variant_pipeline(feature: str, network: str, targets: Sequence[str]) -> Pipeline:
    """The template once per target, namespaced ``{feature}_{network}.{target}``."""
    per_target = [
        Pipeline(
            _model_template(ModelSpec(feature, network, target)),
            namespace=target,
            inputs={*_model_inputs(feature), *_SHARED_INPUTS},
            parameters={*_PARAMETERS, "params:network"},
        )
        for target in targets
    ]
    return Pipeline(
        per_target,
        namespace=f"{feature}_{network}",
        inputs={*_model_inputs(feature), *_SHARED_INPUTS},
        parameters={**_PARAMETERS, "params:network": f"params:modelling.networks.{network}"},
        tags=[feature, network],
    )


def _check(kind: str, requested: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    unknown = [name for name in requested if name not in known]
    if unknown or not requested:
        raise ParameterError(f"unknown or no {kind} {list(requested)}; known: {list(known)}")
    return tuple(dict.fromkeys(requested))


def create_pipeline(
    *,
    features: Sequence[str] = FEATURES,
    networks: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    targets: Sequence[str] = DEFAULT_TARGETS,
    **kwargs: Any,
) -> Pipeline:
    """Build the variants ``features x networks``, each with one model per target, and the
    ``model_metrics`` table of every model in ``data/08_reporting/metrics`` (these and any
    trained before, e.g. by ``modelling_all --namespaces=...``). ``features`` limits the feature
    families (the ``offline`` pipeline passes ``("mfcc",)``); VGGish variants are tagged
    ``vggish``. ``networks``: the same for every family, or by family (a family missing from
    the mapping gets ``DEFAULT_NETWORKS``); None: by family as ``modelling.variants`` says."""
    features = _check("features", features, FEATURES)
    if networks is None:
        networks = networks_by_feature(features, fallback=DEFAULT_NETWORKS)
    per_feature = networks if isinstance(networks, Mapping) else dict.fromkeys(features, networks)
    networks_of = {
        f: _check("networks", per_feature.get(f, DEFAULT_NETWORKS), NETWORKS) for f in features
    }
    targets = _check("targets", targets, tuple(TARGETS))
    variants = [
        _variant_pipeline(feature, network, targets)
        for feature in features
        for network in networks_of[feature]
    ]
    # Every report in the metrics folder goes into the table; this run's reports are explicit
    # inputs as well so that Kedro runs the collection after the models it trains.
    collect = node(
        collect_model_metrics,
        inputs=[
            "model_metric_files",
            "soundtracks",
            "params:feature_extraction",
            *(
                f"{feature}_{network}.{target}.metrics"
                for feature in features
                for network in networks_of[feature]
                for target in targets
            ),
            *(f"{feature}_domain_reference" for feature in features),
        ],
        outputs=["model_metrics", "stale_models"],
        name="collect_model_metrics",
    )
    metrics = [f"{feature}_{network}.{target}.metrics" for feature in features
               for network in networks_of[feature] for target in targets]  # fmt: skip
    collect_cv = node(
        collect_cv_metrics,
        inputs=["model_metrics", "model_metric_files", *metrics],
        outputs="cv_metrics",
        name="collect_cv_metrics",
    )
    collect_corpora = node(
        collect_corpus_metrics,
        inputs=["model_metrics", "model_metric_files", *metrics],
        outputs="corpus_metrics",
        name="collect_corpus_metrics",
    )
    return Pipeline(
        [*variants, *map(_domain_node, features), collect, collect_cv, collect_corpora],
        tags=["modelling"],
    )


def _domain_node(feature: str) -> Node:
    """The out-of-domain reference of one feature family (shared by all its models)."""
    fit = update_wrapper(partial(fit_domain, feature=feature), fit_domain)
    signature = inspect.signature(fit_domain)
    fit.__signature__ = signature.replace(
        parameters=[p for name, p in signature.parameters.items() if name != "feature"]
    )
    return node(
        fit,
        inputs=[
            "params:modelling.domain",
            "soundtracks",
            "params:feature_extraction",
            "params:modelling.seed",
            "params:modelling.frame_seconds",
            *_model_inputs(feature),
        ],
        outputs=f"{feature}_domain_reference",
        name=f"fit_{feature}_domain_reference",
        tags=[feature],
    )
