"""Inference pipeline: trained models -> VAD timelines per track -> each movie's emotional
profile -> the catalogue table.

    kedro run --pipelines=inference --params="inference.catalogue=<folder of movie folders|csv>"
    kedro run --pipelines=inference --params="inference.audio_path=<file|folder|csv>"  # 1 movie
    kedro run --pipelines=inference --env dask ...   # per-track scoring on a Dask cluster

The trained models are one lazy input, ``trained_models`` (a ``PartitionedDataset`` over
``data/06_models``: a loader per model file, nothing loaded yet). ``select_inference_models``
picks the model per label from ``model_metrics`` (which also orders the run after modelling)
among the given feature families' models, and ``predict_vad_timelines`` loads only those; the
``offline`` pipeline passes ``features=("mfcc",)``, so it never loads a VGGish model.

    existing_inference_results -> predict_vad_timelines -> inference_results (track by track)
    inference_results -> stream_vad_tables -> vad_timelines, track_vad, inference_waveforms (+ CSVs)
    inference_results -> aggregate_movies -> movie_* partitions -> catalogue_table, catalogue_plot

Both read the track cache a chunk of tracks at a time and save each chunk before reading the
next (generator nodes), so memory stays flat however large the catalogue; each movie's
records are read once, and ``inference.plots`` (profile | tracks | none) says which figures
are drawn.
    catalogue_table, movie_track_vad, movie_arcs -> build_catalogue_page -> catalogue_page (HTML)

``existing_inference_results`` is the track cache as it is on disk when the run starts (the
same folder as ``inference_results``), so a rerun skips the tracks already scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Node, Pipeline

from soundtrack_emotion.core.families import FAMILIES, FEATURES
from soundtrack_emotion.pipelines.inference.catalogue import (
    aggregate_movies,
    build_catalogue_table,
    list_catalogue_tracks,
    plot_catalogue,
)
from soundtrack_emotion.pipelines.inference.nodes import (
    predict_vad_timelines,
    select_inference_models,
    stream_vad_tables,
)
from soundtrack_emotion.pipelines.inference.page import build_catalogue_page


def _scoring_nodes(features: Sequence[str]) -> list[Node]:
    """Which tracks, which models, each track scored into the cache, then the tables."""
    select = update_wrapper(
        partial(select_inference_models, features=tuple(features)), select_inference_models
    )
    # The families whose model is downloaded at run time tag the nodes that load it.
    model_tags = [f for f in features if FAMILIES[f].needs_network]
    return [
        Node(
            list_catalogue_tracks,
            inputs=[
                "params:inference.catalogue",
                "params:inference.audio_path",
                "soundtracks",
                "params:inference.audio_extensions",
                "params:inference.album_title",
            ],
            outputs="inference_tracks",
            name="list_inference_tracks",
        ),
        Node(
            select,
            inputs={
                "model_metrics": "model_metrics",
                "choice": "params:inference.model",
                "trained_models": "trained_models",
                "soundtracks": "soundtracks",
                "feature_extraction": "params:feature_extraction",
                "interval_level": "params:inference.interval_level",
            },
            outputs="inference_models",
            name="select_inference_models",
        ),
        Node(
            predict_vad_timelines,
            inputs={
                "inference_tracks": "inference_tracks",
                "inference_models": "inference_models",
                "hop_seconds": "params:inference.hop_seconds",
                "batch_size": "params:inference.batch_size",
                "waveform_points": "params:inference.waveform_points",
                "feature_extraction": "params:feature_extraction",
                "trained_models": "trained_models",
                "existing_results": "existing_inference_results",
                "compute": "params:compute",
                "domain_references": "domain_references",
                "precision": "params:inference.precision",
            },
            outputs="inference_results",
            name="predict_vad_timelines",
            tags=model_tags,
        ),
        Node(
            stream_vad_tables,
            inputs=[
                "inference_tracks",
                "inference_results",
                "inference_models",
                "params:inference.audio_path",
                "params:inference.catalogue",
            ],
            outputs=[
                "vad_timelines",
                "track_vad",
                "inference_waveforms",
                "vad_timelines_csv",
                "track_vad_csv",
            ],
            name="collect_vad_timelines",
        ),
    ]


def _catalogue_nodes() -> list[Node]:
    """Each movie's profile and arc, then the catalogue of every movie."""
    return [
        Node(
            aggregate_movies,
            inputs=[
                "inference_tracks",
                "inference_results",
                "inference_models",
                "existing_movie_digests",
                "params:inference.plots",
            ],
            outputs=[
                "movie_timelines",
                "movie_track_vad",
                "movie_profiles",
                "movie_arcs",
                "movie_profile_plots",
                "movie_plots",
                "movie_digests",
            ],
            name="aggregate_movies",
        ),
        Node(
            build_catalogue_table,
            inputs=[
                "inference_tracks",
                "movie_profiles",
                "movie_track_vad",
                "inference_models",
                "movie_digests",
            ],
            outputs="catalogue_table",
            name="build_catalogue_table",
        ),
        Node(
            plot_catalogue,
            inputs="catalogue_table",
            outputs="catalogue_plot",
            name="plot_catalogue",
        ),
        Node(
            build_catalogue_page,
            inputs=["catalogue_table", "movie_track_vad", "movie_arcs"],
            outputs="catalogue_page",
            name="build_catalogue_page",
        ),
    ]


def create_pipeline(*, features: Sequence[str] = FEATURES, **kwargs: Any) -> Pipeline:
    """Inference with the trained models of the ``features`` families (any network and
    target that was trained, ``modelling_all``'s included)."""
    return Pipeline([*_scoring_nodes(features), *_catalogue_nodes()], tags=["inference"])
