"""Fail a run that needs VGGish or MusiCNN before any long work starts, not hours into it."""

from __future__ import annotations

import logging
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline

from soundtrack_emotion.features import load_vggish
from soundtrack_emotion.musicnn import load_musicnn

logger = logging.getLogger(__name__)

# Nodes that run the VGGish network itself (not just read stored VGGish features).
VGGISH_MODEL_TAG = "vggish_model"
HANDLE_PARAM = "params:feature_extraction.vggish.handle"
# Nodes that run the MusiCNN network itself.
MUSICNN_MODEL_TAG = "musicnn_model"
MUSICNN_PARAM = "params:feature_extraction.musicnn"


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
        handle = catalog.load(HANDLE_PARAM)
        logger.info("Checking that VGGish loads from %s", handle)
        load_vggish(handle)


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
        params = catalog.load(MUSICNN_PARAM)
        logger.info("Checking that the MusiCNN weights load")
        load_musicnn(params["checkpoint"], params["model"])
