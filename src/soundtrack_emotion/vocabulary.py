"""The project's shared vocabulary, defined once: the emotion dimensions, splits, feature
families, networks, targets, evaluation levels, pipelines, figure colours and the partition id
of a trained model. Pipelines import these words from here, never from each other."""

# The emotion dimensions (Russell and Mehrabian VAD) and the dataset splits.
VAD_LABELS: tuple[str, str, str] = ("valence", "arousal", "dominance")
SPLITS: tuple[str, str, str] = ("train", "validation", "test")

# Feature families. VGGish needs the pretrained model from TF Hub (downloaded once, then
# cached), so the offline run uses the others only; MusiCNN's weights are installed by the
# set-up command (python -m soundtrack_emotion.pretrained).
FEATURES: tuple[str, ...] = ("mfcc", "vggish", "musicnn")
OFFLINE_FEATURES: tuple[str, ...] = ("mfcc", "musicnn")
# Frame lengths in seconds, the thesis's two configurations (section 5.1).
FRAME_SECONDS: tuple[int, ...] = (15, 30)

# Model networks (built by pipelines/modelling/architectures.py) and targets: a target is one
# label, or ``joint``, one model with an output per label.
NETWORKS: tuple[str, ...] = (
    "cnn", "lstm", "bilstm", "transformer", "ridge", "mlp", "conv1d",
)  # fmt: skip
TARGETS: dict[str, tuple[str, ...]] = {
    **{label: (label,) for label in VAD_LABELS},
    "joint": VAD_LABELS,
}
# Where a model is scored: every frame against its song's label, or a song's mean prediction.
LEVELS: tuple[str, str] = ("frame", "song")

# The batch run, in order. `acquisition` needs the network and credentials, so it is never
# part of a default run.
BATCH_PIPELINES: tuple[str, ...] = (
    "dataset_creation",
    "feature_extraction",
    "modelling",
    "reporting",
    "inference",
)

# One colour per emotion dimension, shared by every figure of the project.
VAD_COLORS: dict[str, str] = {
    "valence": "#1f77b4",
    "arousal": "#ff7f0e",
    "dominance": "#2ca02c",
}
WAVEFORM_COLOR = "#7f7f7f"


def model_partition(feature: str, network: str, target: str) -> str:
    """Partition id of one trained model's files in every per-model folder (``data/06_models``,
    ``data/07_model_output``, ``data/08_reporting/metrics``): its path without the suffix.

    >>> model_partition("mfcc", "cnn", "valence")
    'mfcc_cnn/valence'
    """
    return f"{feature}_{network}/{target}"
