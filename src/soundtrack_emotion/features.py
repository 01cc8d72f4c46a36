"""The feature families the project extracts, and which of them need no download."""

FEATURES: tuple[str, ...] = ("mfcc", "vggish")
# VGGish needs the pretrained model from TF Hub (downloaded once, then cached).
OFFLINE_FEATURES: tuple[str, ...] = ("mfcc",)
# Frame lengths in seconds, the thesis's two configurations (section 5.1).
FRAME_SECONDS: tuple[int, ...] = (15, 30)
