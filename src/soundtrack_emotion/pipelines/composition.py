"""The batch run as one pipeline: every batch pipeline built for the given feature families,
in order. The composite pipelines (``offline``, ``offline_labelled`` and the registry's
``__default__``) are made here, the one module that puts pipelines together; the pipelines
themselves never import each other."""

from __future__ import annotations

from collections.abc import Sequence

from kedro.pipeline import Pipeline

from soundtrack_emotion.core.vocabulary import BATCH_PIPELINES
from soundtrack_emotion.pipelines import (
    dataset_creation,
    feature_extraction,
    inference,
    modelling,
    reporting,
    search,
)

# The batch run, in order.
BATCH = BATCH_PIPELINES
# The same run on the user's own labelled table (bring your own labels): no crawl; inference
# scores the table's test songs (the report's test-song timelines need them). No search: its
# mood words mean what they meant to the labels, and these labels come from no lexicon.
LABELLED_BATCH = tuple(name for name in BATCH if name not in ("dataset_creation", "search"))
_BUILDERS = {
    "dataset_creation": dataset_creation.create_pipeline,
    "feature_extraction": feature_extraction.create_pipeline,
    "modelling": modelling.create_pipeline,
    "reporting": reporting.create_pipeline,
    "inference": inference.create_pipeline,
    "search": search.create_pipeline,
}


def batch_pipeline(features: Sequence[str], *, labelled: bool = False) -> Pipeline:
    """Every batch pipeline built for ``features``, with the configured model variants (each
    family's networks in ``modelling.variants`` x ``DEFAULT_TARGETS``); ``labelled`` takes
    ``soundtracks`` from the ``labelled_tracks`` table instead of Last.fm tags."""
    variants = {"networks": None, "targets": modelling.DEFAULT_TARGETS}
    start = dataset_creation.create_labelled_pipeline() if labelled else Pipeline([])
    names = LABELLED_BATCH if labelled else BATCH
    return sum(
        (_BUILDERS[name](features=features, **variants) for name in names),
        start=start,
    )
