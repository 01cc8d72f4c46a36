"""Project pipelines."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from soundtrack_emotion.core.families import DEFAULT_FEATURES


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    One pipeline per package under ``pipelines/`` (found by ``find_pipelines``, which loads only
    the ones a run asks for), plus ``__default__``: the whole demo for every feature family in
    ``DEFAULT_FEATURES`` (all but the opt-in ones; VGGish is fetched once from TF Hub, then
    cached).
    """
    pipelines = find_pipelines(raise_errors=True)
    if "__default__" in pipelines:
        # Imported here: it builds every batch pipeline, which a run of one pipeline skips.
        from soundtrack_emotion.pipelines.composition import batch_pipeline

        pipelines["__default__"] = batch_pipeline(DEFAULT_FEATURES)
    return pipelines
