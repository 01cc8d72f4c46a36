"""``kedro run --pipelines=offline``: the default batch run restricted to the feature families
that need no download (``OFFLINE_FEATURES``), so it never touches VGGish or the network.

A package of its own (rather than an entry added in ``register_pipelines``) so that Kedro's
selective pipeline loading finds it by name."""

from typing import Any

from kedro.pipeline import Pipeline

from soundtrack_emotion.core.families import OFFLINE_FEATURES
from soundtrack_emotion.pipelines.composition import batch_pipeline


def create_pipeline(**kwargs: Any) -> Pipeline:
    return batch_pipeline(OFFLINE_FEATURES)
