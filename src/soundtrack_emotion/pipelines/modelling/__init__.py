"""Modelling: CNN / LSTM (and BiLSTM / Transformer) VAD regressors per feature and target."""

from soundtrack_emotion.pipelines.modelling.pipeline import (
    ALL_NETWORKS,
    ALL_TARGETS,
    DEFAULT_NETWORKS,
    DEFAULT_TARGETS,
    create_pipeline,
)

__all__ = ["ALL_NETWORKS", "ALL_TARGETS", "DEFAULT_NETWORKS", "DEFAULT_TARGETS", "create_pipeline"]
