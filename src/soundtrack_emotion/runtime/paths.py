"""Relative paths in the catalog and in parameters mean the project root, wherever Kedro runs.

Kedro makes the catalog's ``filepath``/``path`` entries absolute itself; this module does the
same for what it cannot see: path-valued parameters (``modelling.tensorboard_dir``,
``inference.audio_path``, ``acquisition.downloader.local.folder``, a local
``feature_extraction.vggish.handle``) and the project-relative audio paths stored in tables
(``soundtracks.audio_path``). A run started from ``notebooks/`` therefore finds the same files
as one started from the root. :class:`~soundtrack_emotion.runtime.hooks.ProjectContextHook`
records the root of the session's project; without a session (a node called from a test or a
script), it is the Kedro project that holds the working directory, else the working directory.

:func:`dataset_path` reads where a catalogued dataset lives from its catalog entry, for code
that writes what a dataset reads (the raw layer: :mod:`soundtrack_emotion.datasets.raw_layer`).
"""

from __future__ import annotations

import os
from pathlib import Path

from kedro.utils import find_kedro_project

_project_root: Path | None = None


def set_project_root(path: str | os.PathLike[str] | None) -> None:
    """Make ``path`` the root relative paths are resolved against (None: forget it)."""
    global _project_root  # noqa: PLW0603 -- one root per process, set by the session's hook
    _project_root = Path(path).resolve() if path is not None else None


def project_root() -> Path:
    """The session's project root, else the Kedro project holding the working directory,
    else the working directory."""
    if _project_root is not None:
        return _project_root
    cwd = Path.cwd()
    return find_kedro_project(cwd) or cwd


def resolve_path(path: str | os.PathLike[str]) -> Path:
    """``path`` with ``~`` expanded, made absolute against :func:`project_root` if relative."""
    expanded = Path(path).expanduser()
    return expanded if expanded.is_absolute() else project_root() / expanded


def shown_path(path: str | os.PathLike[str]) -> str:
    """``path`` relative to :func:`project_root` when it lies inside it, as the tables store
    paths (``data/01_raw/audio/x.wav``), else absolute."""
    absolute = Path(path).absolute()
    root = project_root()
    return absolute.relative_to(root).as_posix() if absolute.is_relative_to(root) else str(absolute)
