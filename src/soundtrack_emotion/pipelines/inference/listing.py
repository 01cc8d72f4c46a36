"""The tracks to score: one audio file, a folder of them, or a CSV list, in album order."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from soundtrack_emotion.core.audio import AUDIO_EXTENSIONS
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.runtime.paths import resolve_path

logger = logging.getLogger(__name__)

CSV_SUFFIX = ".csv"


# ------------------------------------------------------------------------------ track listing


def track_names(paths: Sequence[Path]) -> list[str]:
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


def _scan_folder(folder: Path, extensions: Sequence[str]) -> list[Path]:
    """The audio files directly in ``folder`` (visible, extension in ``extensions``, any case),
    in name order; the other files are counted in one log line."""
    wanted = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    audio = [p for p in files if p.suffix.lower() in wanted]
    skipped = Counter(p.suffix.lower() or "(no extension)" for p in files if p not in audio)
    if skipped:
        logger.info(
            "inference: %d audio files in %s; %d other files skipped (%s)",
            len(audio),
            folder,
            sum(skipped.values()),
            ", ".join(f"{n} {x}" for x, n in sorted(skipped.items(), key=_by_count)),
        )
    if not audio:
        raise ParameterError(
            f"inference.audio_path {folder} holds no audio file (extensions "
            f"{sorted(wanted)}, inference.audio_extensions)"
        )
    return audio


def list_inference_tracks(
    audio_path: str | None,
    soundtracks: pd.DataFrame,
    audio_extensions: Sequence[str] = AUDIO_EXTENSIONS,
) -> pd.DataFrame:
    """The tracks to run inference on, in album order: ``position`` (1-based), ``track``,
    ``path``.

    ``audio_path`` (relative: from the project root): a file; a folder (its visible files
    whose extension is in ``audio_extensions``, in name order); a ``.csv`` listing files in
    order; or empty/None for the demo's test songs (``soundtracks`` rows with split ``test``,
    in id order, their paths as the table holds them: relative to the project root).
    """
    if audio_path is None or not str(audio_path).strip():
        test = soundtracks[soundtracks["split"] == "test"].sort_values("id")
        tracks = pd.DataFrame({"track": test["id"].astype(str), "path": test["audio_path"]})
    else:
        source = resolve_path(str(audio_path))
        if source.is_dir():
            paths = _scan_folder(source, audio_extensions)
        elif source.suffix.lower() == CSV_SUFFIX and source.is_file():
            paths = _read_track_list(source)
        elif source.exists():
            paths = [source]
        else:
            raise ParameterError(f"inference.audio_path {source} does not exist")
        tracks = pd.DataFrame({"track": track_names(paths), "path": [str(p) for p in paths]})
    tracks.insert(0, "position", np.arange(1, len(tracks) + 1, dtype=np.int64))
    return tracks.reset_index(drop=True)


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    """Most frequent first, then by name (a stable summary line)."""
    return -item[1], item[0]
