"""The feature_extraction pipeline, built for the requested feature families only.

    soundtracks, existing_{f}_features -> extract_features -> {f}_features
    {f}_features -> report_feature_extraction -> feature_extraction_report
    {f}_features -> frame_{f}_{s}s -> {f}_{s}s        (f in features, s in FRAME_SECONDS)

``create_pipeline(features=OFFLINE_FEATURES)`` (the ``offline`` pipeline) has no VGGish node.
Every node that needs a family's network is tagged with the family (``vggish``,
``musicnn``), and the one running the network also ``<family>_model`` (which makes
:class:`~soundtrack_emotion.runtime.preflight.ModelPreflightHook` check it before the run).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Node, Pipeline, node

from soundtrack_emotion.core.families import FAMILIES, FEATURES
from soundtrack_emotion.core.vocabulary import FRAME_SECONDS
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.feature_extraction.nodes import (
    EXISTING,
    build_model_inputs,
    extract_features,
    report_feature_extraction,
)
from soundtrack_emotion.runtime.preflight import model_tag

PARAMS = "params:feature_extraction"


def _tags(features: Sequence[str], *, runs_model: bool = False) -> list[str]:
    """A family with a network tags the nodes that need it (and ``<family>_model`` the one
    that runs it)."""
    tags = []
    for name in features:
        if FAMILIES[name].precision_engine is not None:
            tags += [name, model_tag(name)] if runs_model else [name]
    return tags


def _frame_node(feature: str, seconds: int) -> Node:
    func = update_wrapper(
        partial(build_model_inputs, feature=feature, seconds=seconds), build_model_inputs
    )
    return node(
        func,
        inputs=[f"{feature}_features", "soundtracks", PARAMS],
        outputs=f"{feature}_{seconds}s",
        name=f"frame_{feature}_{seconds}s",
        tags=_tags([feature]),
    )


def create_pipeline(**kwargs: Any) -> Pipeline:
    """Extraction, report and model inputs for ``features`` (default: every family)."""
    features = tuple(kwargs.get("features", FEATURES))
    unknown = [f for f in features if f not in FEATURES]
    if unknown or not features:
        raise ParameterError(f"features must be a non-empty subset of {FEATURES}, got {features}")
    features = tuple(f for f in FEATURES if f in features)
    nodes = [
        node(
            extract_features,
            inputs={
                "soundtracks": "soundtracks",
                "params": PARAMS,
                **{f"{EXISTING}{f}": f"existing_{f}_features" for f in features},
                "compute": "params:compute",
            },
            outputs={f: f"{f}_features" for f in features},
            name="extract_features",
            tags=_tags(features, runs_model=True),
        ),
        node(
            report_feature_extraction,
            inputs={
                "soundtracks": "soundtracks",
                "params": PARAMS,
                **{f"{f}_features": f"{f}_features" for f in features},
            },
            outputs="feature_extraction_report",
            name="report_feature_extraction",
            tags=_tags(features),
        ),
    ]
    nodes += [_frame_node(f, s) for f in features for s in FRAME_SECONDS]
    return Pipeline(nodes, tags=["feature_extraction"])
