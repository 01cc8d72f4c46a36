"""Inference pipeline: trained models -> VAD timelines per track -> a movie's emotional profile.

    kedro run --pipelines=inference --params="inference.audio_path=<file|folder|csv>"

The trained models are one lazy input, ``trained_models`` (a ``PartitionedDataset`` over
``data/06_models``: a loader per model file, nothing loaded yet). ``select_inference_models``
picks the model per label from ``model_metrics`` (which also orders the run after modelling)
among the given feature families' models, and ``predict_vad_timelines`` loads only those; the
``offline`` pipeline passes ``features=("mfcc",)``, so it never loads a VGGish model.

    existing_inference_results -> predict_vad_timelines -> inference_results (track by track)
    inference_results -> collect_vad_timelines -> vad_timelines, track_vad, inference_waveforms

``existing_inference_results`` is the track cache as it is on disk when the run starts (the
same folder as ``inference_results``), so a rerun skips the tracks already scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Node, Pipeline

from soundtrack_emotion.pipelines.inference.nodes import (
    build_movie_profile,
    collect_vad_timelines,
    export_csv,
    list_inference_tracks,
    predict_vad_timelines,
    select_inference_models,
)
from soundtrack_emotion.pipelines.inference.plots import plot_movie_profile, plot_track_timelines
from soundtrack_emotion.vocabulary import FEATURES


def create_pipeline(*, features: Sequence[str] = FEATURES, **kwargs: Any) -> Pipeline:
    """Inference with the trained models of the ``features`` families (any network and
    target that was trained, ``modelling_all``'s included)."""
    select = update_wrapper(
        partial(select_inference_models, features=tuple(features)), select_inference_models
    )
    model_tags = ["vggish"] if "vggish" in features else []
    return Pipeline(
        [
            Node(
                list_inference_tracks,
                inputs=[
                    "params:inference.audio_path",
                    "soundtracks",
                    "params:inference.audio_extensions",
                ],
                outputs="inference_tracks",
                name="list_inference_tracks",
            ),
            Node(
                select,
                inputs=["model_metrics", "params:inference.model", "trained_models",
                        "soundtracks", "params:feature_extraction"],
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
                },
                outputs="inference_results",
                name="predict_vad_timelines",
                tags=model_tags,
            ),
            Node(
                collect_vad_timelines,
                inputs=["inference_tracks", "inference_results", "inference_models",
                        "params:inference.audio_path"],
                outputs=["vad_timelines", "track_vad", "inference_waveforms"],
                name="collect_vad_timelines",
            ),
            Node(
                export_csv,
                inputs=["vad_timelines", "track_vad"],
                outputs=["vad_timelines_csv", "track_vad_csv"],
                name="export_inference_csv",
            ),
            Node(
                plot_track_timelines,
                inputs=["vad_timelines", "inference_waveforms", "track_vad"],
                outputs="vad_timeline_plots",
                name="plot_track_timelines",
            ),
            Node(
                build_movie_profile,
                inputs="track_vad",
                outputs=["movie_profile", "movie_arc"],
                name="build_movie_profile",
            ),
            Node(
                plot_movie_profile,
                inputs={
                    "arc": "movie_arc",
                    "profile": "movie_profile",
                    "audio_path": "params:inference.audio_path",
                    "title": "params:inference.album_title",
                },
                outputs="movie_profile_plot",
                name="plot_movie_profile",
            ),
        ],
        tags=["inference"],
    )
