"""The emotion dimensions and the dataset splits, kept importable from here; they are
defined in :mod:`soundtrack_emotion.vocabulary`."""

from soundtrack_emotion.vocabulary import SPLITS, VAD_LABELS

__all__ = ["SPLITS", "VAD_LABELS"]
