"""Custom Kedro datasets of the project (each an ``AbstractDataset``)."""

from soundtrack_emotion.datasets.model_input_dataset import (
    FrameChunk,
    FrameSplit,
    ModelInputDataset,
    ModelInputs,
)

__all__ = ["FrameChunk", "FrameSplit", "ModelInputDataset", "ModelInputs"]
