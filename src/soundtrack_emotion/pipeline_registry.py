"""Project pipelines."""

from importlib import import_module

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from soundtrack_emotion.features import OFFLINE_FEATURES
from soundtrack_emotion.pipelines import modelling

# Pipelines that need the network or credentials are never part of the default run.
ONLINE_ONLY = ("acquisition",)


def _offline(name: str) -> Pipeline:
    module = import_module(f"soundtrack_emotion.pipelines.{name}")
    return module.create_pipeline(features=OFFLINE_FEATURES)


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    ``__default__`` runs the whole demo, every feature family in ``FEATURES`` (VGGish is fetched
    once from TF Hub, then cached); ``offline`` is the same run restricted to
    ``OFFLINE_FEATURES``, so it needs no network at all.
    """
    pipelines = find_pipelines(raise_errors=True)
    batch = [name for name in pipelines if name not in ONLINE_ONLY and name != "__default__"]
    pipelines["__default__"] = sum((pipelines[name] for name in batch), start=Pipeline([]))
    pipelines["offline"] = sum((_offline(name) for name in batch), start=Pipeline([]))
    # Every modelling variant and target (BiLSTM, Transformer, joint too), to pick from with
    # --namespaces; not part of the default run (see README, "modelling").
    pipelines["modelling_all"] = modelling.create_pipeline(
        networks=modelling.ALL_NETWORKS, targets=modelling.ALL_TARGETS
    )
    return pipelines
