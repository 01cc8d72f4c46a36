"""The emotion dimensions (Russell and Mehrabian VAD) and the dataset splits, used everywhere."""

VAD_LABELS: tuple[str, str, str] = ("valence", "arousal", "dominance")
SPLITS: tuple[str, str, str] = ("train", "validation", "test")
