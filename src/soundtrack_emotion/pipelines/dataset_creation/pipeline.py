"""The dataset_creation pipeline (the thesis's section 3.1, offline part)::

lastfm_tag_top_tracks -> collect_crawled_tracks -> crawled_tracks
vad_lexicon_source    -> build_vad_lexicon      -> vad_lexicon
crawled_tracks, lastfm_track_top_tags -> parse_track_tags -> track_tags, tag_responses
tag_responses, track_tags, vad_lexicon, affect_words_source
                                        -> label_tracks -> track_labels, tag_decisions
crawled_tracks, spotify_search -> match_spotify -> spotify_matches
crawled_tracks, track_labels, spotify_matches, raw_audio_files
                                        -> join_track_status -> track_status
track_status -> build_soundtracks -> soundtracks
track_status, soundtracks, vad_lexicon, tag_decisions -> build_dataset_report -> dataset_report

``create_labelled_pipeline`` is the alternative source (bring your own labels)::

labelled_tracks -> build_labelled_soundtracks -> soundtracks, dataset_report
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kedro.pipeline import Node, Pipeline

from soundtrack_emotion.pipelines.dataset_creation.labelled_table import build_labelled_soundtracks
from soundtrack_emotion.pipelines.dataset_creation.nodes import (
    build_dataset_report,
    build_soundtracks,
    build_vad_lexicon,
    collect_crawled_tracks,
    join_track_status,
    label_tracks,
    match_spotify,
    parse_track_tags,
)


def create_pipeline(features: Sequence[str] | None = None, **kwargs: Any) -> Pipeline:
    """Dataset creation does not depend on the feature families; ``features`` is ignored."""
    return Pipeline(
        [
            Node(
                collect_crawled_tracks,
                "lastfm_tag_top_tracks",
                "crawled_tracks",
                name="collect_crawled_tracks",
            ),
            Node(build_vad_lexicon, "vad_lexicon_source", "vad_lexicon", name="build_vad_lexicon"),
            Node(
                parse_track_tags,
                ["crawled_tracks", "lastfm_track_top_tags"],
                ["track_tags", "tag_responses"],
                name="parse_track_tags",
            ),
            Node(
                label_tracks,
                {
                    "tag_responses": "tag_responses",
                    "track_tags": "track_tags",
                    "vad_lexicon": "vad_lexicon",
                    "tag_filter": "params:dataset_creation.tag_filter",
                    "stop_list": "params:dataset_creation.stop_list",
                    "affect_words": "affect_words_source",
                },
                ["track_labels", "tag_decisions"],
                name="label_tracks",
            ),
            Node(
                match_spotify,
                [
                    "crawled_tracks",
                    "spotify_search",
                    "params:dataset_creation.spotify_match_threshold",
                ],
                "spotify_matches",
                name="match_spotify",
            ),
            Node(
                join_track_status,
                ["crawled_tracks", "track_labels", "spotify_matches", "raw_audio_files"],
                "track_status",
                name="join_track_status",
            ),
            Node(
                build_soundtracks,
                ["track_status", "params:dataset_creation.split"],
                "soundtracks",
                name="build_soundtracks",
            ),
            Node(
                build_dataset_report,
                {
                    "track_status": "track_status",
                    "soundtracks": "soundtracks",
                    "vad_lexicon": "vad_lexicon",
                    "tag_decisions": "tag_decisions",
                    "tag_filter": "params:dataset_creation.tag_filter",
                    "split": "params:dataset_creation.split",
                },
                "dataset_report",
                name="build_dataset_report",
            ),
        ],
        tags=["dataset_creation"],
    )


def create_labelled_pipeline(**kwargs: Any) -> Pipeline:
    """``soundtracks`` and ``dataset_report`` from the user's labelled table
    (``labelled_tracks``) instead of Last.fm tags; the outputs are the same datasets."""
    return Pipeline(
        [
            Node(
                build_labelled_soundtracks,
                ["labelled_tracks", "params:dataset_creation.split"],
                ["soundtracks", "dataset_report"],
                name="build_labelled_soundtracks",
            )
        ],
        tags=["dataset_creation"],
    )
