"""Online acquisition of the raw layer (Last.fm, Spotify, audio); see ``pipeline.py``."""

from soundtrack_emotion.pipelines.acquisition.pipeline import create_pipeline

__all__ = ["create_pipeline"]
