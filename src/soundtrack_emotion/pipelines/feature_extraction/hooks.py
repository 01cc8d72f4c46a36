"""Fail a run that needs VGGish or MusiCNN before any long work starts, not hours into it
(a missing model, or a ``precision`` this process cannot run), and load each network in the
precision its nodes will use."""

from __future__ import annotations

import logging
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline

from soundtrack_emotion.features import load_vggish
from soundtrack_emotion.pipelines.feature_extraction.extraction import ExtractionParams

logger = logging.getLogger(__name__)

# Nodes that run the VGGish network itself (not just read stored VGGish features).
VGGISH_MODEL_TAG = "vggish_model"
# Nodes that run the MusiCNN network itself.
MUSICNN_MODEL_TAG = "musicnn_model"
PARAMS = "params:feature_extraction"


class VggishPreflightHook:
    """Before a pipeline containing a ``vggish_model`` node runs, load VGGish once (cached for
    the nodes of this process) so that a missing model raises ``ModelUnavailableError``,
    with instructions, before the demo corpus, labels or MFCCs are computed."""

    @hook_impl(tryfirst=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        if not any(VGGISH_MODEL_TAG in n.tags for n in pipeline.nodes):
            return
        params = ExtractionParams.from_dict(catalog.load(PARAMS))
        logger.info("Checking that VGGish loads from %s", params.vggish_handle)
        load_vggish(params.vggish_handle, params.precision_of("vggish"))


class MusicnnPreflightHook:
    """Before a pipeline containing a ``musicnn_model`` node runs, load MusiCNN once from
    ``feature_extraction.musicnn.checkpoint`` (or the set-up cache), so that missing weights
    raise ``ModelUnavailableError`` saying how to install them, before any other work."""

    @hook_impl(tryfirst=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        if not any(MUSICNN_MODEL_TAG in n.tags for n in pipeline.nodes):
            return
        params = ExtractionParams.from_dict(catalog.load(PARAMS))
        logger.info("Checking that the MusiCNN weights load")
        params.precision_of("musicnn")
        params.musicnn.load()
