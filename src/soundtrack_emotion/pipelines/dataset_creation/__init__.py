"""Dataset creation: raw Last.fm tags, Spotify matches and audio files -> labelled soundtracks;
or, bringing your own labels, a labelled table -> soundtracks."""

from soundtrack_emotion.pipelines.dataset_creation.pipeline import (
    create_labelled_pipeline,
    create_pipeline,
)

__all__ = ["create_labelled_pipeline", "create_pipeline"]
