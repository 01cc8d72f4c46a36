"""Fail a run that needs a feature family's network before any long work starts, not hours
into it (a missing model, or a ``precision`` this process cannot run), and load each network
in the precision its nodes will use (cached for the nodes of this process)."""

from __future__ import annotations

import logging
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline

from soundtrack_emotion.core.families import FAMILIES
from soundtrack_emotion.runtime.feature_settings import ExtractionParams

logger = logging.getLogger(__name__)

PARAMS = "params:feature_extraction"


def model_tag(family: str) -> str:
    """The tag of the nodes that run ``family``'s network itself (not just read its stored
    features), e.g. ``vggish_model``."""
    return f"{family}_model"


class ModelPreflightHook:
    """Before a pipeline containing a ``<family>_model`` node runs, load that family's network
    once, so that a missing model raises ``ModelUnavailableError`` saying how to provide it
    before the demo corpus, labels or other features are computed."""

    @hook_impl(tryfirst=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        tags = set().union(*(n.tags for n in pipeline.nodes))
        needed = [name for name in FAMILIES if model_tag(name) in tags]
        if not needed:
            return
        params = ExtractionParams.from_dict(catalog.load(PARAMS))
        for name in needed:
            logger.info("Checking %s", params.family(name).describe_source())
            params.load_model(name)
