"""The emotion dimensions (Russell / Mehrabian VAD) and the dataset splits, shared by every pipeline."""

VAD_LABELS: tuple[str, str, str] = ("valence", "arousal", "dominance")
SPLITS: tuple[str, str, str] = ("train", "validation", "test")
