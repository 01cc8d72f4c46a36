"""The project's shared vocabulary, defined once: the emotion dimensions, splits,
networks, targets, evaluation levels, pipelines, figure colours and the partition id
of a trained model. Pipelines import these words from here, never from each other."""

# The emotion dimensions (Russell and Mehrabian VAD) and the dataset splits.
VAD_LABELS: tuple[str, str, str] = ("valence", "arousal", "dominance")
SPLITS: tuple[str, str, str] = ("train", "validation", "test")
# Russell's quadrants, the labels of corpora without VAD values (e.g. the 4Q dataset): the sign
# of valence and of arousal, as (valence positive, arousal high).
QUADRANT_SIGNS: dict[str, tuple[int, int]] = {
    "Q1": (1, 1),  # happy, exuberant
    "Q2": (0, 1),  # angry, anxious, tense
    "Q3": (0, 0),  # sad, depressed
    "Q4": (1, 0),  # calm, relaxed
}
QUADRANTS: tuple[str, ...] = tuple(QUADRANT_SIGNS)
# The labels a quadrant gives a sign to.
SIGNED_LABELS: tuple[str, str] = ("valence", "arousal")
# The model inputs' column of each signed label's sign (1 positive / high, 0 negative / low,
# NaN where a row has a value or no quadrant), and every label column of the model inputs.
SIGN_LABELS: dict[str, str] = {"valence": "valence_positive", "arousal": "arousal_high"}
MODEL_INPUT_LABELS: tuple[str, ...] = (*VAD_LABELS, *SIGN_LABELS.values())

# The feature families (FEATURES, OFFLINE_FEATURES) are the registry of core/families.
# Frame lengths in seconds, the thesis's two configurations (section 5.1).
FRAME_SECONDS: tuple[int, ...] = (15, 30)

# Model networks (built by core/architectures.py) and targets: a target is one
# label, or ``joint``, one model with an output per label.
NETWORKS: tuple[str, ...] = (
    "cnn", "lstm", "bilstm", "transformer", "ridge", "kernel", "mlp", "conv1d",
)  # fmt: skip
# How the report, the catalogue page and the run summary write each network (the feature
# families' names are their ``display_name``, see ``core.families.model_display_name``).
NETWORK_NAMES: dict[str, str] = {
    "cnn": "CNN", "lstm": "LSTM", "bilstm": "BiLSTM", "transformer": "Transformer",
    "ridge": "Ridge", "kernel": "Kernel ridge", "mlp": "MLP", "conv1d": "Conv1D",
}  # fmt: skip
if tuple(NETWORK_NAMES) != NETWORKS:
    raise ImportError(f"NETWORK_NAMES {tuple(NETWORK_NAMES)} differs from NETWORKS {NETWORKS}")
TARGETS: dict[str, tuple[str, ...]] = {
    **{label: (label,) for label in VAD_LABELS},
    "joint": VAD_LABELS,
}
# How a joint model's target is written.
JOINT_NAME = "joint (V, A, D)"
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
    "search",
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
