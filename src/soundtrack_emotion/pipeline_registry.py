"""Project pipelines."""

from collections.abc import Sequence
from importlib import import_module

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from soundtrack_emotion.vocabulary import BATCH_PIPELINES, FEATURES

# The batch run, in order (`offline` is a composite of these, see pipelines/offline).
BATCH = BATCH_PIPELINES


# The same run on the user's own labelled table (bring your own labels): no crawl; inference
# scores the table's test songs (the report's test-song timelines need them). No search: its
# mood words mean what they meant to the labels, and these labels come from no lexicon.
LABELLED_BATCH = tuple(name for name in BATCH if name not in ("dataset_creation", "search"))


def batch_pipeline(features: Sequence[str], *, labelled: bool = False) -> Pipeline:
    """Every batch pipeline built for ``features``, with the default model variants
    (``modelling.DEFAULT_NETWORKS`` x ``DEFAULT_TARGETS``); ``labelled`` takes
    ``soundtracks`` from the ``labelled_tracks`` table instead of Last.fm tags."""
    modelling = import_module("soundtrack_emotion.pipelines.modelling")
    variants = {"networks": modelling.DEFAULT_NETWORKS, "targets": modelling.DEFAULT_TARGETS}
    start = Pipeline([])
    if labelled:
        dataset_creation = import_module("soundtrack_emotion.pipelines.dataset_creation")
        start = dataset_creation.create_labelled_pipeline()
    return sum(
        (
            import_module(f"soundtrack_emotion.pipelines.{name}").create_pipeline(
                features=features, **variants
            )
            for name in (LABELLED_BATCH if labelled else BATCH)
        ),
        start=start,
    )


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    One pipeline per package under ``pipelines/`` (found by ``find_pipelines``, which loads only
    the ones a run asks for), plus ``__default__``: the whole demo for every feature family in
    ``FEATURES`` (VGGish is fetched once from TF Hub, then cached).
    """
    pipelines = find_pipelines(raise_errors=True)
    if "__default__" in pipelines:
        pipelines["__default__"] = batch_pipeline(FEATURES)
    return pipelines
