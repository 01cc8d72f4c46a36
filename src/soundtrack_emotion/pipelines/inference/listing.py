"""Which tracks an inference run scores, in album order: a folder, a CSV of files, or the
demo's test songs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from soundtrack_emotion.exceptions import ParameterError

logger = logging.getLogger(__name__)

CSV_SUFFIX = ".csv"


def _track_names(paths: Sequence[Path]) -> list[str]:
    """Unique names: file stems, file names where two files share a stem, and ``name (2)``,
    ``name (3)`` ... for a file listed again."""
    files_per_stem: dict[str, set[Path]] = {}
    for p in paths:
        files_per_stem.setdefault(p.stem, set()).add(p)
    names = [p.stem if len(files_per_stem[p.stem]) == 1 else p.name for p in paths]
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


def _read_track_list(csv_path: Path) -> list[Path]:
    """Files listed in a CSV, in its row order: column ``path`` (else the first column),
    relative paths taken from the CSV's folder."""
    table = pd.read_csv(csv_path)
    if table.empty:
        raise ParameterError(f"{csv_path}: the track list is empty")
    column = "path" if "path" in table.columns else table.columns[0]
    return [
        p if p.is_absolute() else csv_path.parent / p
        for p in (Path(str(v)) for v in table[column].dropna())
    ]


def list_inference_tracks(audio_path: str | None, soundtracks: pd.DataFrame) -> pd.DataFrame:
    """The tracks to run inference on, in album order: ``position`` (1-based), ``track``,
    ``path``.

    ``audio_path``: a file; a folder (every visible file in name order; non-audio files are
    kept and reported unreadable later); a ``.csv`` listing files in order; or empty/None for
    the demo's test songs (``soundtracks`` rows with split ``test``, in id order).
    """
    if audio_path is None or not str(audio_path).strip():
        test = soundtracks[soundtracks["split"] == "test"].sort_values("id")
        tracks = pd.DataFrame({"track": test["id"].astype(str), "path": test["audio_path"]})
    else:
        source = Path(str(audio_path)).expanduser()
        if source.is_dir():
            paths = sorted(
                (p for p in source.iterdir() if p.is_file() and not p.name.startswith(".")),
                key=lambda p: p.name,
            )
            if not paths:
                raise ParameterError(f"inference.audio_path {source} is an empty folder")
        elif source.suffix.lower() == CSV_SUFFIX and source.is_file():
            paths = _read_track_list(source)
        elif source.exists():
            paths = [source]
        else:
            raise ParameterError(f"inference.audio_path {source} does not exist")
        tracks = pd.DataFrame({"track": _track_names(paths), "path": [str(p) for p in paths]})
    tracks.insert(0, "position", np.arange(1, len(tracks) + 1, dtype=np.int64))
    return tracks.reset_index(drop=True)
