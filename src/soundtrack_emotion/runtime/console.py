"""What a run shows on the console while it runs: no TensorFlow start-up noise on CPU machines
(an import hook, installed before TensorFlow is imported), one line per node, and nothing per
dataset item. The log file (``info.log``) and ``kedro run --verbose`` keep every record; only
the console handler filters (``conf/logging.yml``). The closing lines are
:mod:`soundtrack_emotion.runtime.run_summary`'s."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from rich.logging import RichHandler

from soundtrack_emotion.core.precision import gpu_present
from soundtrack_emotion.core.vocabulary import BATCH_PIPELINES

# TensorFlow's C++ library prints its start-up lines ("Could not find cuda drivers on your
# machine", cuInit failures, CPU feature notes) straight to file descriptor 2 while it is
# imported, whatever TF_CPP_MIN_LOG_LEVEL says; later ones obey the level.
_TENSORFLOW = "tensorflow"
_QUIET_TF_LOG_LEVEL = "3"
# A record with this attribute true (``extra={FILE_ONLY: True}``) goes to the log file only.
FILE_ONLY = "file_only"
# Modules that work for the batch pipelines: their progress lines stay off the console too.
PIPELINE_SUPPORT = (
    "runtime.tracking",
    "runtime.workers",
    "runtime.preflight",
    "core.architectures",
    "core.labelling",
    "core.vad_plots",
)


def pipeline_of(tags: Any) -> str | None:
    """The pipeline a node belongs to, from its tags (every node carries its pipeline's name).

    >>> pipeline_of({"mfcc", "modelling", "mfcc_cnn"})
    'modelling'
    """
    return next((name for name in (*BATCH_PIPELINES, "acquisition") if name in tags), None)


# Packages that set their own loggers' levels when imported, after Kedro has applied
# conf/logging.yml: kedro-mlflow sets INFO ("Registering new custom resolver", "Mlflow run ...
# has started") and MLflow configures its loggers (its database set-up lines).
_SELF_LEVELLING_LOGGERS = ("kedro_mlflow", "mlflow")


def restore_configured_log_levels() -> None:
    """Import the packages of ``_SELF_LEVELLING_LOGGERS``, then give their loggers back the
    levels the project's logging configuration sets (``conf/logging.yml``)."""
    from kedro.framework.project import LOGGING

    configured = LOGGING.data.get("loggers", {})
    for name in _SELF_LEVELLING_LOGGERS:
        importlib.import_module(name)
        level = configured.get(name, {}).get("level")
        if level is not None:
            logging.getLogger(name).setLevel(level)


def quiet_tensorflow() -> None:
    """Before TensorFlow is imported: on a machine without a GPU, keep its C++ start-up lines
    off the console. A ``TF_CPP_MIN_LOG_LEVEL`` set by the user wins (``0``: show them all)."""
    if gpu_present():
        return
    level = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", _QUIET_TF_LOG_LEVEL)
    if level < "2" or _TENSORFLOW in sys.modules:
        return
    if not any(isinstance(finder, _SilentImportFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SilentImportFinder())


# Import-time warnings of third-party packages that say nothing to a user of this project.
_IMPORT_NOISE = (
    # kedro-mlflow defines an un-hinted mlflow PythonModel when Kedro loads its CLI plugin.
    "Add type hints to the `predict` method",
)


class _ImportNoiseFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not any(noise in record.getMessage() for noise in _IMPORT_NOISE)


def quiet_import_warnings() -> None:
    """Drop ``_IMPORT_NOISE`` from the warnings Kedro routes to logging (``py.warnings``);
    a ``warnings`` filter cannot, as MLflow forces "once" around its own warning. Every
    other warning still shows."""
    captured = logging.getLogger("py.warnings")
    if not any(isinstance(f, _ImportNoiseFilter) for f in captured.filters):
        captured.addFilter(_ImportNoiseFilter())


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null (C libraries write there directly), then back."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


class _SilentLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run with file descriptor 2 silenced."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        with _stderr_silenced():
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _SilentImportFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` with the other finders, once, and silences its first import."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != _TENSORFLOW:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _SilentLoader(spec.loader)
        return spec


class ConsoleFilter(logging.Filter):
    """The console's view of a run at INFO: no per-item dataset lines, no framework chatter, and
    Kedro's two or three lines per node replaced by the one of
    :class:`~soundtrack_emotion.runtime.hooks.ConsoleHook` (``[3/65]
    mfcc_cnn.valence.train_model``). ``kedro run --verbose`` lets every record through."""

    # (logger, message template prefix) of the records kept off the console at INFO and below.
    HIDDEN: tuple[tuple[str, str], ...] = (
        ("kedro.io.data_catalog", ""),  # "Loading data from ...", "Saving data to ..."
        ("kedro.pipeline.node", "Running node: "),
        ("kedro.runner", "Completed "),  # "Completed node: x", "Completed 3 out of 9 tasks"
        ("kedro.runner", "Using synchronous mode"),
        ("kedro.framework", ""),
        ("kedro.config", ""),
        # The batch pipelines' own progress and summary lines: the progress bars and the
        # closing summary say it on the console (acquisition's stage summaries stay).
        *((f"soundtrack_emotion.pipelines.{name}", "") for name in BATCH_PIPELINES),
        # The shared code those pipelines run, moved down into the core and the runtime.
        *((f"soundtrack_emotion.{module}", "") for module in PIPELINE_SUPPORT),
    )
    # Every model traces its own Keras train and predict step (the same code, a new function),
    # which TensorFlow counts as one function retracing once a run has trained five models:
    # expected when many models train in one process, so not shown.
    RETRACING = "triggered tf.function retracing"

    def filter(self, record: logging.LogRecord) -> bool:
        if _verbose():
            return True
        if getattr(record, FILE_ONLY, False):  # said on the console another way
            return False
        if record.name.startswith("tensorflow") and self.RETRACING in str(record.msg):
            return False
        if record.levelno != logging.INFO:  # warnings and errors; DEBUG only when asked for
            return True
        template = str(record.msg)
        return not any(
            record.name.startswith(logger) and template.startswith(prefix)
            for logger, prefix in self.HIDDEN
        )


def install_console_filter() -> None:
    """Put a :class:`ConsoleFilter` on the root logger's console handlers (not on files).

    Done from a hook, as Kedro only lets logging.yml name classes of allow-listed modules."""
    for handler in logging.getLogger().handlers:
        to_terminal = isinstance(handler, RichHandler) or (
            type(handler) is logging.StreamHandler
            and getattr(handler.stream, "name", None) in ("<stdout>", "<stderr>")
        )
        if to_terminal and not any(isinstance(f, ConsoleFilter) for f in handler.filters):
            handler.addFilter(ConsoleFilter())


def _verbose() -> bool:
    from kedro.framework.cli.utils import KedroCliError

    return bool(KedroCliError.VERBOSE_ERROR)
