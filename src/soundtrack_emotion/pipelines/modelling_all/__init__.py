"""``kedro run --pipelines=modelling_all --namespaces=...``: every modelling variant and target,
the BiLSTM, the Transformer and the joint model included (``modelling.ALL_NETWORKS`` x
``ALL_TARGETS``), to pick from by namespace, e.g. ``mfcc_transformer`` or ``mfcc_cnn.joint``.
Not part of the default run.

A package of its own (rather than an entry added in ``register_pipelines``) so that Kedro's
selective pipeline loading finds it by name."""

from typing import Any

from kedro.pipeline import Pipeline

from soundtrack_emotion.core.families import FEATURES
from soundtrack_emotion.pipelines import modelling


def create_pipeline(**kwargs: Any) -> Pipeline:
    return modelling.create_pipeline(
        features=kwargs.get("features", FEATURES),
        networks=modelling.ALL_NETWORKS,
        targets=modelling.ALL_TARGETS,
    )
