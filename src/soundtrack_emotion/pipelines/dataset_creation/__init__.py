"""Dataset creation: raw Last.fm tags, Spotify matches and audio files -> labelled soundtracks."""

from soundtrack_emotion.pipelines.dataset_creation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
