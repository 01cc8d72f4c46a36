"""How a run that stops on a :class:`SoundtrackEmotionError` ends: one paragraph on the
console (the type, the message, the track it stopped at and where the traceback is) instead
of a long traceback, which goes to the log file."""

from __future__ import annotations

import logging
import sys
from types import TracebackType

from soundtrack_emotion.exceptions import SoundtrackEmotionError
from soundtrack_emotion.runtime.paths import project_root

# Where a traceback goes when logging has no file handler (relative to the project root).
FALLBACK_LOG = "info.log"


def _file_handlers() -> list[logging.FileHandler]:
    handlers = [*logging.getLogger().handlers, *logging.getLogger("soundtrack_emotion").handlers]
    return [h for h in handlers if isinstance(h, logging.FileHandler)]


def report_error(error: SoundtrackEmotionError) -> str:
    """Write ``error``'s traceback to the log files, return the paragraph for the console:
    its type, its message and notes (e.g. the track it stopped at) and where the traceback is.
    Without a file handler (Kedro's default logging, e.g. a run started outside the project
    root), the traceback goes to ``info.log`` in the project root, as conf/logging.yml has it."""
    files: list[logging.Handler] = list(_file_handlers())
    fallback = not files
    if fallback:
        files = [logging.FileHandler(project_root() / FALLBACK_LOG, encoding="utf8", delay=True)]
        files[0].setFormatter(
            logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s")
        )
    record = logging.LogRecord(
        "soundtrack_emotion", logging.ERROR, __file__, 0, "The run stopped: %s", (error,),
        (type(error), error, error.__traceback__),
    )  # fmt: skip
    for handler in files:
        handler.handle(record)
        if fallback:
            handler.close()
        else:
            handler.flush()
    notes = " ".join(getattr(error, "__notes__", ()))
    where = ", ".join(getattr(h, "baseFilename", str(h)) for h in files)
    notes = f" ({notes})" if notes else ""
    return f"{type(error).__name__}: {error}{notes}\nFull traceback in {where}."


def present_errors() -> None:
    """Install a ``sys.excepthook`` under which a :class:`SoundtrackEmotionError` that ends the
    program prints :func:`report_error`'s paragraph as the last thing on the console instead
    of a 200-400 line traceback; any other exception (a bug) keeps its full traceback."""
    previous = sys.excepthook
    if getattr(previous, "presents_errors", False):
        return

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if isinstance(error, SoundtrackEmotionError):
            sys.stderr.write(f"\nError: {report_error(error)}\n")
            sys.stderr.flush()
        else:
            previous(kind, error, tb)

    hook.presents_errors = True  # type: ignore[attr-defined]
    sys.excepthook = hook
