"""Reporting: the thesis's result tables and figures, and a self-contained HTML report."""

from soundtrack_emotion.pipelines.reporting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
