"""``kedro run --pipelines=offline_labelled``: the ``offline`` run on your own labelled table
(bring your own labels): ``labelled_tracks`` -> soundtracks -> features (``OFFLINE_FEATURES``)
-> models -> report, and inference timelines of the table's test songs. No Last.fm crawl, no
demo corpus.

A package of its own so that Kedro's selective pipeline loading finds it by name."""

from typing import Any

from kedro.pipeline import Pipeline

from soundtrack_emotion.core.families import OFFLINE_FEATURES
from soundtrack_emotion.pipelines.composition import batch_pipeline


def create_pipeline(**kwargs: Any) -> Pipeline:
    return batch_pipeline(OFFLINE_FEATURES, labelled=True)
