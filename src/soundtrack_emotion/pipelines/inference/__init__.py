"""Inference: VAD timelines for any audio with the trained models, and a movie's profile."""

from soundtrack_emotion.pipelines.inference.pipeline import create_pipeline

__all__ = ["create_pipeline"]
