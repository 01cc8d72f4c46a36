"""The acquisition pipeline: fill the raw layer from Last.fm, Spotify and an audio source.

Online only, so never part of ``__default__`` or ``offline``: run it with
``kedro run --pipelines=acquisition`` (see the README), then the other pipelines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kedro.pipeline import Node, Pipeline

from soundtrack_emotion.pipelines.acquisition.nodes import (
    crawl_tag_top_tracks,
    crawl_track_top_tags,
    download_audio,
    plan_acquisition,
    report_acquisition,
    search_spotify,
)


def create_pipeline(features: Sequence[str] | None = None, **kwargs: Any) -> Pipeline:
    """Acquisition does not depend on the feature families; ``features`` is ignored."""
    return Pipeline(
        [
            Node(
                plan_acquisition,
                ["lastfm_client", "spotify_client", "raw_layer_store", "params:acquisition"],
                "acquisition_plan",
                name="plan_acquisition",
            ),
            Node(
                crawl_tag_top_tracks,
                ["lastfm_client", "raw_layer_store", "acquisition_plan"],
                ["acquisition_tracks", "acquisition_tag_pages_outcomes"],
                name="crawl_lastfm_tag_top_tracks",
            ),
            Node(
                crawl_track_top_tags,
                ["lastfm_client", "raw_layer_store", "acquisition_tracks", "acquisition_plan"],
                ["acquisition_tag_counts", "acquisition_top_tags_outcomes"],
                name="crawl_lastfm_track_top_tags",
            ),
            Node(
                search_spotify,
                {
                    "spotify_client": "spotify_client",
                    "raw_layer": "raw_layer_store",
                    "tracks": "acquisition_tracks",
                    "tag_counts": "acquisition_tag_counts",
                    "match_threshold": "params:dataset_creation.spotify_match_threshold",
                    "plan": "acquisition_plan",
                },
                ["acquisition_spotify_matches", "acquisition_search_outcomes"],
                name="search_spotify",
            ),
            Node(
                download_audio,
                [
                    "spotify_client",
                    "raw_layer_store",
                    "acquisition_tracks",
                    "acquisition_spotify_matches",
                    "acquisition_plan",
                ],
                "acquisition_audio_outcomes",
                name="download_audio",
            ),
            Node(
                report_acquisition,
                [
                    "acquisition_tag_pages_outcomes",
                    "acquisition_top_tags_outcomes",
                    "acquisition_search_outcomes",
                    "acquisition_audio_outcomes",
                ],
                "acquisition_report",
                name="report_acquisition",
            ),
        ],
        tags=["acquisition", "online"],
    )
