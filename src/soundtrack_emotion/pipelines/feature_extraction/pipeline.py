"""The feature_extraction pipeline, built for the requested feature families only.

    soundtracks, existing_{f}_features -> extract_features -> {f}_features
    {f}_features -> report_feature_extraction -> feature_extraction_report
    {f}_features -> frame_{f}_{s}s -> {f}_{s}s        (f in features, s in FRAME_SECONDS)

``create_pipeline(features=OFFLINE_FEATURES)`` (the ``offline`` pipeline) has no VGGish node;
every node that needs VGGish is tagged ``vggish``, and the one running the network also
``vggish_model`` (which makes :class:`VggishPreflightHook` check the model before the run);
likewise ``musicnn`` / ``musicnn_model`` and :class:`MusicnnPreflightHook`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Node, Pipeline, node

from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.feature_extraction.hooks import (
    MUSICNN_MODEL_TAG,
    VGGISH_MODEL_TAG,
)
from soundtrack_emotion.pipelines.feature_extraction.nodes import (
    build_model_inputs,
    extract_features,
    report_feature_extraction,
)
from soundtrack_emotion.vocabulary import FEATURES, FRAME_SECONDS

PARAMS = "params:feature_extraction"
VGGISH_TAG = "vggish"
MUSICNN_TAG = "musicnn"
_MODEL_TAGS = {VGGISH_TAG: VGGISH_MODEL_TAG, MUSICNN_TAG: MUSICNN_MODEL_TAG}


def _tags(features: Sequence[str], *, runs_model: bool = False) -> list[str]:
    tags = []
    for family, model_tag in _MODEL_TAGS.items():
        if family in features:
            tags += [family, model_tag] if runs_model else [family]
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
                **{f"existing_{f}": f"existing_{f}_features" for f in features},
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
