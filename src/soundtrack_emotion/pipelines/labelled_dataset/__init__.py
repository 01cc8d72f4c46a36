"""``kedro run --pipelines=labelled_dataset``: ``soundtracks`` from your own labelled table
(the ``labelled_tracks`` catalog entry) instead of Last.fm tags.

A package of its own so that Kedro's selective pipeline loading finds it by name."""

from typing import Any

from kedro.pipeline import Pipeline

from soundtrack_emotion.pipelines.dataset_creation import create_labelled_pipeline


def create_pipeline(**kwargs: Any) -> Pipeline:
    return create_labelled_pipeline()
