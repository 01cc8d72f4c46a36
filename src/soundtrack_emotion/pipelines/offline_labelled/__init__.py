"""``kedro run --pipelines=offline_labelled``: the ``offline`` run on your own labelled table
(bring your own labels): ``labelled_tracks`` -> soundtracks -> features (``OFFLINE_FEATURES``)
-> models -> report, and inference timelines of the table's test songs. No Last.fm crawl, no
demo corpus.

A package of its own so that Kedro's selective pipeline loading finds it by name."""

from typing import Any

from kedro.pipeline import Pipeline

from soundtrack_emotion.pipeline_registry import batch_pipeline
from soundtrack_emotion.vocabulary import OFFLINE_FEATURES


def create_pipeline(**kwargs: Any) -> Pipeline:
    return batch_pipeline(OFFLINE_FEATURES, labelled=True)
