"""Project exceptions. Each message names the offending value so the user can fix it, but never
a credential: registered secrets are masked in the message (see :mod:`.secret_masking`).

:func:`soundtrack_emotion.runtime.errors.present_errors` makes a run that one of them stops
end with its message as one readable paragraph, the full traceback going to the log file.
"""

from __future__ import annotations

from soundtrack_emotion.secret_masking import redact


class SoundtrackEmotionError(Exception):
    """Base class of every error this project raises on purpose."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(arg) if isinstance(arg, str) else arg for arg in args))


class ParameterError(SoundtrackEmotionError, ValueError):
    """A parameter has an invalid value (in the style of librosa's
    ``librosa.util.exceptions.ParameterError``)."""


class AudioDecodeError(SoundtrackEmotionError):
    """An audio file is missing, empty, corrupt, silent, too short or not audio at all.

    ``reason`` is a short, stable code for reports and for counting failures alike
    (``not_found``, ``corrupt``, ``silent``, ``invalid_samples``, ``timeout``, ...).
    """

    def __init__(self, message: str, *, reason: str = "undecodable") -> None:
        super().__init__(message)
        self.reason = reason


class LexiconFormatError(SoundtrackEmotionError):
    """A VAD lexicon file is missing or not in the expected format."""


class DataValidationError(SoundtrackEmotionError):
    """A pipeline output violates its contract (duplicate ids, NaN, values out of range, ...)."""


class TrainingDivergedError(SoundtrackEmotionError):
    """Training produced a non-finite loss (too high a learning rate, or NaN in the inputs)."""


class ModelUnavailableError(SoundtrackEmotionError):
    """A pretrained model (VGGish) or a trained model cannot be loaded."""


class DataFolderBusyError(SoundtrackEmotionError):
    """Another run holds the lock of the data folder this run would write to."""


class SystematicFailureError(SoundtrackEmotionError):
    """So many items failed for one and the same reason that the cause is the setup (a wrong
    folder, a missing decoder), not the items: the run stops instead of recording them all."""


class PrerequisiteError(SoundtrackEmotionError):
    """Something a run needs before it starts is missing: credentials, an executable (ffmpeg,
    yt-dlp), an optional package (savify) or an input folder. Raised before any request."""


class FetchError(SoundtrackEmotionError):
    """One item could not be fetched (API request or audio download) and is recorded as failed.

    ``reason`` is a short, stable code for reports (``http_500``, ``lastfm_error_29``,
    ``timeout``, ``malformed_json``, ...); ``detail`` is the human-readable explanation;
    ``tries`` is how many attempts were made (set by the retry loop).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        detail = redact(detail)
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.tries = 0


class RetryableFetchError(FetchError):
    """A failure that may go away on its own (rate limit, 5xx, time-out, dropped connection).

    ``retry_after_s`` is the wait the server asked for (HTTP ``Retry-After``), if any.
    """

    def __init__(
        self, reason: str, detail: str = "", *, retry_after_s: float | None = None
    ) -> None:
        super().__init__(reason, detail)
        self.retry_after_s = retry_after_s
