"""Feature extraction: per-track MFCC / VGGish features, their report, framed model inputs."""

from soundtrack_emotion.pipelines.feature_extraction.pipeline import create_pipeline

__all__ = ["create_pipeline"]
