"""Project exceptions. Each message names the offending value so the user can fix it."""


class SoundtrackEmotionError(Exception):
    """Base class of every error this project raises on purpose."""


class ParameterError(SoundtrackEmotionError, ValueError):
    """A parameter has an invalid value (in the style of ``librosa.util.exceptions.ParameterError``)."""


class AudioDecodeError(SoundtrackEmotionError):
    """An audio file is missing, empty, corrupt, silent, too short or not audio at all."""


class LexiconFormatError(SoundtrackEmotionError):
    """A VAD lexicon file is missing or not in the expected format."""


class DataValidationError(SoundtrackEmotionError):
    """A pipeline output violates its contract (duplicate ids, NaN, values out of range, ...)."""


class ModelUnavailableError(SoundtrackEmotionError):
    """A pretrained model (VGGish) or a trained model cannot be loaded."""
