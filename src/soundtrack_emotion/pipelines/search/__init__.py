"""Search: movies like a movie, and the movies and tracks nearest to a mood."""

from soundtrack_emotion.pipelines.search.pipeline import create_pipeline

__all__ = ["create_pipeline"]
