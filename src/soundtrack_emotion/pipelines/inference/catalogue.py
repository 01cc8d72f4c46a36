"""A VoD catalogue of movies through inference: listing, per-movie outputs, the catalogue table.

``inference.catalogue`` is a folder of movie folders (one movie per sub-folder, its audio files
in name order) or a CSV with ``movie_id, title, position, path`` (``title`` and ``position``
optional; any other column, such as ``year`` or ``genre``, is kept). A folder of audio files, a
plain track-list CSV, one file, or the demo's test songs (``inference.audio_path``, empty
catalogue) is a catalogue of one movie, so single-album runs keep working.

Every movie's outputs are partitions named by its ``movie_id``. :func:`aggregate_movies`
rebuilds only the movies whose :func:`movie_digest` (their track list, titles and the track
cache records they are made of) differs from the one stored by the previous run
(``movie_digests``), so a grown catalogue re-aggregates only its new or changed movies; the
scoring itself already skips tracks that the track cache holds (``predict_vad_timelines``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from soundtrack_emotion.core.audio import AUDIO_EXTENSIONS
from soundtrack_emotion.core.matching import file_safe_id, file_safe_ids
from soundtrack_emotion.core.profile_svg import album_title, movie_profile_svg
from soundtrack_emotion.core.vad_plots import file_name, plot_vad_timeline
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.datasets import TrackCache
from soundtrack_emotion.datasets.track_cache import ERROR
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.inference.listing import (
    CSV_SUFFIX,
    list_inference_tracks,
    track_names,
)
from soundtrack_emotion.pipelines.inference.models import model_identity
from soundtrack_emotion.pipelines.inference.profile import (
    HIGH,
    INTERVAL_LEVEL,
    LOW,
    build_movie_profile,
    collect_vad_timelines,
)
from soundtrack_emotion.pipelines.inference.scoring import track_cache_key
from soundtrack_emotion.runtime.paths import resolve_path

logger = logging.getLogger(__name__)

CATALOGUE_COLUMNS = ("movie_id", "title", "position", "path")
# Bump when the aggregation changes, so every movie is re-aggregated.
# 2: the plots mode is part of the digest; 3: the profile is an SVG document
AGGREGATION_VERSION = 3
# inference.plots: one profile plot per movie (default), also one timeline plot per track, or
# none.
PROFILE_PLOTS, TRACK_PLOTS, NO_PLOTS = "profile", "tracks", "none"
PLOT_MODES = (PROFILE_PLOTS, TRACK_PLOTS, NO_PLOTS)
Lazy = Callable[[], Any]
# Tracks per chunk of aggregate_movies (whole movies: a longer movie is a chunk of its own).
AGGREGATION_CHUNK_TRACKS = 256
PROFILE_STATS = ("mean", "std", "opening", "closing", "trend_per_hour")
# The prediction interval of a movie's mean, where the models carry one (with interval_level).
INTERVAL_STATS = (f"mean_{LOW}", f"mean_{HIGH}")
# A track's summary column, when present (the out-of-domain flag), counted per movie.
OUT_OF_DOMAIN = "out_of_domain"
# Movies named in the catalogue figure (the others are plotted unnamed).
MAX_FIGURE_LABELS = 40


def movie_partition(movie_id: str) -> str:
    """A file-name-safe partition id for ``movie_id`` (see :func:`matching.file_safe_id`)."""
    return file_safe_id(movie_id, what="movie_id")


# ------------------------------------------------------------------------------------ listing


def _movie_folders(folder: Path, extensions: Sequence[str]) -> list[Path] | None:
    """The sub-folders of ``folder`` (name order) when it is a folder of movie folders: it
    holds no audio file itself and at least one sub-folder. None: a folder of audio files."""
    wanted = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    visible = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if any(p.is_file() and p.suffix.lower() in wanted for p in visible):
        return None
    subfolders = sorted((p for p in visible if p.is_dir()), key=lambda p: p.name)
    return subfolders or None


def _one_movie(tracks: pd.DataFrame, movie_id: str, title: str) -> pd.DataFrame:
    tracks = tracks.copy()
    tracks.insert(0, "title", title)
    tracks.insert(0, "movie_id", movie_partition(movie_id))
    return tracks


def _read_catalogue_csv(csv_path: Path) -> pd.DataFrame:
    """A catalogue CSV's rows -> ``movie_id, title, position, track, path`` + extra columns."""
    table = pd.read_csv(csv_path, dtype={"movie_id": str})
    missing = [c for c in ("movie_id", "path") if c not in table.columns]
    if missing or table.empty:
        raise ParameterError(
            f"inference.catalogue {csv_path}: needs columns {list(CATALOGUE_COLUMNS)} "
            f"(title and position optional) and at least one row; missing {missing}"
        )
    if table["movie_id"].isna().any() or table["path"].isna().any():
        rows = table.index[table["movie_id"].isna() | table["path"].isna()] + 2
        raise ParameterError(f"{csv_path}: empty movie_id or path on lines {list(rows)}")
    if "title" not in table.columns:
        table["title"] = table["movie_id"]
    table["title"] = table["title"].fillna(table["movie_id"]).astype(str)
    paths = [Path(str(p)) for p in table["path"]]
    table["path"] = [str(p if p.is_absolute() else csv_path.parent / p) for p in paths]
    order = ["position"] if "position" in table.columns else []
    table["_row"] = np.arange(len(table))
    table = table.sort_values(["movie_id", *order, "_row"], kind="stable")
    # Refused before any track is numbered: "tt001" and "tt001 " must not become one movie.
    partitions = file_safe_ids(table["movie_id"].astype(str).unique(), what="movie_id")
    movies = []
    for movie_id, group in table.groupby("movie_id", sort=False):
        rows = group.drop(columns=["_row"]).reset_index(drop=True)
        rows["track"] = track_names([Path(p) for p in rows["path"]])
        rows["position"] = np.arange(1, len(rows) + 1, dtype=np.int64)
        rows["movie_id"] = partitions[str(movie_id)]
        movies.append(rows)
    result = pd.concat(movies, ignore_index=True)
    extras = [c for c in result.columns if c not in (*CATALOGUE_COLUMNS, "track")]
    return result[["movie_id", "title", "position", "track", "path", *extras]]


def list_catalogue_tracks(
    catalogue: str | None,
    audio_path: str | None,
    soundtracks: pd.DataFrame,
    audio_extensions: Sequence[str] = AUDIO_EXTENSIONS,
    album_title_param: str | None = None,
) -> pd.DataFrame:
    """Every track of the catalogue: ``movie_id``, ``title``, ``position`` (1-based, within
    its movie), ``track``, ``path``, then the catalogue CSV's extra columns.

    ``catalogue`` (relative: from the project root): a folder of movie folders (movie_id and
    title = the sub-folder's name) or a CSV with a ``movie_id`` column. Anything else, or an
    empty ``catalogue`` with ``audio_path`` (see :func:`list_inference_tracks`), is one movie
    named after the folder/file (``album_title_param`` titles it).
    """
    source_text = str(catalogue or "").strip()
    if source_text:
        source = resolve_path(source_text)
        if not source.exists():
            raise ParameterError(f"inference.catalogue {source} does not exist")
        if source.is_dir() and (folders := _movie_folders(source, audio_extensions)):
            # "Alien" and "ALIEN" are two folders here, one on a case-insensitive file system.
            file_safe_ids([folder.name for folder in folders], what="movie folder")
            movies = []
            for folder in folders:
                try:
                    tracks = list_inference_tracks(str(folder), soundtracks, audio_extensions)
                except ParameterError as error:
                    logger.warning("inference: movie folder %s skipped: %s", folder, error)
                    continue
                movies.append(_one_movie(tracks, folder.name, folder.name))
            if not movies:
                raise ParameterError(f"inference.catalogue {source}: no movie folder holds audio")
            result = pd.concat(movies, ignore_index=True)
        elif source.suffix.lower() == CSV_SUFFIX and "movie_id" in _csv_columns(source):
            result = _read_catalogue_csv(source)
        else:
            result = _single_movie(source_text, soundtracks, audio_extensions, album_title_param)
    else:
        result = _single_movie(audio_path, soundtracks, audio_extensions, album_title_param)
    n_movies = result["movie_id"].nunique()
    logger.info("inference: catalogue of %d movies, %d tracks", n_movies, len(result))
    return result.reset_index(drop=True)


def _csv_columns(path: Path) -> list[str]:
    return list(pd.read_csv(path, nrows=0).columns)


def _single_movie(
    audio_path: str | None,
    soundtracks: pd.DataFrame,
    audio_extensions: Sequence[str],
    title: str | None,
) -> pd.DataFrame:
    tracks = list_inference_tracks(audio_path, soundtracks, audio_extensions)
    text = str(audio_path or "").strip()
    movie_id = Path(text).stem if text else "demo_test_songs"
    name = title or (Path(text).stem if text else album_title(None, None))
    return _one_movie(tracks, movie_id, name)


# -------------------------------------------------------------------------------- aggregation


def check_plots(plots: str) -> str:
    """``plots`` (``inference.plots``) if it is one of ``PLOT_MODES``, else a
    :class:`ParameterError` naming the allowed values."""
    if plots not in PLOT_MODES:
        raise ParameterError(
            f"inference.plots {plots!r} is not one of {', '.join(PLOT_MODES)} "
            "(profile: one profile plot per movie; tracks: also one timeline plot per track; "
            "none: no plot)"
        )
    return plots


def digest_models(inference_models: pd.DataFrame) -> list[list[str]]:
    """The chosen models as :func:`movie_digest` hashes them (once per run, not per movie)."""
    return inference_models.astype(str).to_dict("split")["data"]


def movie_digest(
    movie: pd.DataFrame,
    inference_results: TrackCache,
    models: list[list[str]],
    plots: str = PROFILE_PLOTS,
) -> str:
    """Hash of what a movie's outputs are made of: its rows (title, positions, names, paths,
    extra columns), each track's cache record (fingerprint, source, status), the models
    (:func:`digest_models`) and which plots are drawn (``plots``)."""
    records = []
    for path in movie["path"]:
        meta = inference_results.meta(track_cache_key(path)) or {}
        records.append([meta.get(k) for k in ("fingerprint", "source", "status")])
    spec = {
        "version": AGGREGATION_VERSION,
        "rows": [[str(v) for v in row] for row in movie.itertuples(index=False, name=None)],
        "columns": list(movie.columns),
        "records": records,
        "models": models,
        "plots": plots,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _track_figure(timeline: pd.DataFrame, waveform: pd.DataFrame, row: Mapping[str, Any]) -> Figure:
    """One track's timeline figure, from that track's own rows."""
    return plot_vad_timeline(
        timeline,
        waveform,
        title=f"{row['track']}: overall valence {row['valence']:.2f}, arousal "
        f"{row['arousal']:.2f}, dominance {row['dominance']:.2f}",
    )


def _movie_outputs(
    movie_id: str,
    movie: pd.DataFrame,
    tables: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    *,
    plots: str,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Lazy],
           dict[str, Lazy]]:  # fmt: skip
    """One movie's tables (its rows of ``tables``: timelines, ``track_vad``, waveforms), its
    profile and arc, its profile SVG and its track figures (both lazy: made when saved, each
    from its own rows, so the plotting cost is linear in tracks; none when ``plots`` is
    none)."""
    timelines, track_vad, waveforms = tables
    profile, arc = build_movie_profile(track_vad)
    profile_plots: dict[str, Lazy] = {}
    if plots != NO_PLOTS:
        title = str(movie["title"].iloc[0])
        profile_plots[movie_id] = partial(
            movie_profile_svg, arc, profile, audio_path=None, title=title,
            n_unreadable=int((track_vad["status"] == ERROR).sum()),
        )  # fmt: skip
    figures: dict[str, Lazy] = {}
    if plots == TRACK_PLOTS:
        timeline_rows = timelines.groupby("track", sort=False).indices
        waveform_rows = waveforms.groupby("track", sort=False).indices
        for row in track_vad[track_vad["status"] != ERROR].to_dict("records"):
            name = f"{movie_id}/timelines/{int(row['position']):03d}_{file_name(row['track'])}"
            figures[name] = partial(
                _track_figure,
                timelines.iloc[timeline_rows.get(row["track"], [])],
                waveforms.iloc[waveform_rows.get(row["track"], [])],
                row,
            )
    return timelines, track_vad, profile, arc, profile_plots, figures


MovieChunk = tuple[
    dict[str, pd.DataFrame], dict[str, pd.DataFrame], dict[str, pd.DataFrame],
    dict[str, pd.DataFrame], dict[str, Lazy], dict[str, Lazy], dict[str, str],
]  # fmt: skip
# The per-movie outputs of a chunk, in aggregate_movies' order (the digests follow).
CHUNK_OUTPUTS = 6
Pending = list[tuple[str, pd.DataFrame, str]]


def _chunk(
    pending: Pending,
    inference_results: TrackCache,
    inference_models: pd.DataFrame,
    digests: dict[str, str],
    *,
    plots: str,
) -> MovieChunk:
    """The outputs of the ``pending`` movies (``movie_id, rows, digest``), their records read
    in one pass (tables built once for the chunk, then split by movie: the cost of a table is
    paid per chunk, not per movie), and ``digests`` updated with theirs."""
    chunk: tuple[dict[str, Any], ...] = tuple({} for _ in range(CHUNK_OUTPUTS))
    if not pending:
        return (*chunk, dict(digests))  # type: ignore[return-value]
    tracks = pd.concat([movie[["movie_id", "position", "track", "path"]]
                        for _, movie, _ in pending], ignore_index=True)  # fmt: skip
    # the tables' movie_id is text whatever the catalogue's type: look movies up as text
    tracks["movie_id"] = tracks["movie_id"].astype(str)
    tables = collect_vad_timelines(tracks, inference_results, inference_models, quiet=True)
    rows = [table.groupby("movie_id", sort=False).indices for table in tables]
    tables = tuple(table.drop(columns="movie_id") for table in tables)
    for movie_id, movie, digest in pending:
        own = tuple(table.iloc[index.get(str(movie_id), [])].reset_index(drop=True)
                    for table, index in zip(tables, rows, strict=True))  # fmt: skip
        outputs = _movie_outputs(movie_id, movie, own, plots=plots)  # type: ignore[arg-type]
        for target, value in zip(chunk[:4], outputs[:4], strict=True):
            target[movie_id] = value
        chunk[4].update(outputs[4])
        chunk[5].update(outputs[5])
        digests[movie_id] = digest
    return (*chunk, dict(digests))  # type: ignore[return-value]


def aggregate_movies(
    inference_tracks: pd.DataFrame,
    inference_results: TrackCache,
    inference_models: pd.DataFrame,
    existing_digests: Mapping[str, str],
    plots: str = PROFILE_PLOTS,
    *,
    chunk_tracks: int = AGGREGATION_CHUNK_TRACKS,
) -> Iterator[MovieChunk]:
    """The per-movie outputs of the movies that changed since the last run, a few movies at
    a time (about ``chunk_tracks`` tracks: a chunk is saved before the next is read, so memory
    holds one chunk whatever the catalogue's size). Each movie's records are read from the
    track cache once.

    Yields ``movie_timelines``, ``movie_track_vad`` (one row per track, ``TRACK_COLUMNS``),
    ``movie_profiles`` (per label, see :func:`build_movie_profile`), ``movie_arcs``,
    ``movie_profile_plots`` (``<movie>/profile.svg``, :func:`movie_profile_svg`; none when
    ``plots``, ``inference.plots``, is ``none``), ``movie_plots`` (with ``plots: tracks``,
    ``<movie>/timelines/<pos>_<track>.png``), all keyed by movie partition id, and the
    updated ``movie_digests`` (saved after the chunk's partitions: a run that dies part-way
    re-aggregates the movies it had not saved). Nothing changed: one chunk of empty
    partitions and the digests as they were. Plots are made as their partitions are saved.
    """
    check_plots(plots)
    digests = dict(existing_digests)
    pending: Pending = []
    n_changed = n_in_chunk = 0
    models = digest_models(inference_models)
    movies = inference_tracks.groupby("movie_id", sort=False)
    for movie_id, group in movies:
        movie = group.reset_index(drop=True)
        digest = movie_digest(movie, inference_results, models, plots)
        if digests.get(movie_id) == digest:
            continue
        n_changed += 1
        pending.append((movie_id, movie, digest))
        n_in_chunk += len(movie)
        if n_in_chunk >= chunk_tracks:
            yield _chunk(pending, inference_results, inference_models, digests, plots=plots)
            pending, n_in_chunk = [], 0
    if pending or not n_changed:
        yield _chunk(pending, inference_results, inference_models, digests, plots=plots)
    n_movies = movies.ngroups
    logger.info(
        "inference: %d of %d movies aggregated, %d unchanged since the last run",
        n_changed,
        n_movies,
        n_movies - n_changed,
    )


# -------------------------------------------------------------------------- catalogue table


def _count_flagged(tracks: pd.DataFrame) -> Any:
    """Tracks flagged out of domain; NA when none was checked (no domain reference)."""
    if OUT_OF_DOMAIN not in tracks.columns or tracks[OUT_OF_DOMAIN].isna().all():
        return pd.NA
    return int(tracks[OUT_OF_DOMAIN].astype("boolean").fillna(False).sum())


def build_catalogue_table(
    inference_tracks: pd.DataFrame,
    movie_profiles: Mapping[str, Lazy],
    movie_track_vad: Mapping[str, Lazy],
    inference_models: pd.DataFrame,
    movie_digests: Mapping[str, str],
) -> pd.DataFrame:
    """One row per movie of this run's catalogue, in catalogue order: ``movie_id``,
    ``title``, the catalogue's extra columns (first row of the movie), coverage
    (``n_tracks``, ``n_scored``, ``n_failed``, ``n_out_of_domain``: NA when the tracks carry
    no such flag, ``scored_s``), ``models``, and per label ``{label}_{mean,std,opening,
    closing,trend_per_hour}`` (duration-weighted, see :func:`build_movie_profile`) and,
    where the models carry prediction intervals, ``{label}_mean_low`` / ``_mean_high`` and
    ``interval_level``; the model used, as on every output (``OUTPUT_IDENTITY``, see
    :func:`model_identity`), before the label columns.
    ``movie_digests`` orders the node after :func:`aggregate_movies` (partitions saved)."""
    extras = [c for c in inference_tracks.columns if c not in (*CATALOGUE_COLUMNS, "track")]
    identity = model_identity(inference_models)
    rows = []
    for movie_id, movie in inference_tracks.groupby("movie_id", sort=False):
        if movie_id not in movie_digests:
            raise ParameterError(f"movie {movie_id} was not aggregated: run aggregate_movies")
        profile = movie_profiles[movie_id]().set_index("label")
        tracks = movie_track_vad[movie_id]()
        failed = tracks["status"] == ERROR
        row: dict[str, Any] = {
            "movie_id": movie_id,
            "title": str(movie["title"].iloc[0]),
            **{c: movie[c].iloc[0] for c in extras},
            "n_tracks": len(tracks),
            "n_scored": int((~failed).sum()),
            "n_failed": int(failed.sum()),
            "n_out_of_domain": _count_flagged(tracks),
            "scored_s": float(tracks.loc[~failed, "duration_s"].sum()),
            **identity,
        }
        for label in VAD_LABELS:
            for stat in PROFILE_STATS:
                value = profile.loc[label, stat] if stat in profile.columns else np.nan
                row[f"{label}_{stat}"] = float(value) if pd.notna(value) else np.nan
            # The interval of the mean, where the profile has one (see build_movie_profile).
            for stat in (s for s in INTERVAL_STATS if s in profile.columns):
                value = profile.loc[label, stat]
                row[f"{label}_{stat}"] = float(value) if pd.notna(value) else np.nan
        if INTERVAL_LEVEL in profile.columns:
            row[INTERVAL_LEVEL] = float(profile[INTERVAL_LEVEL].iloc[0])
        rows.append(row)
    table = pd.DataFrame(rows)
    table["n_out_of_domain"] = table["n_out_of_domain"].astype("Int64")
    logger.info(
        "inference: catalogue table of %d movies (%d tracks failed)",
        len(table),
        int(table["n_failed"].sum()),
    )
    return table


def plot_catalogue(catalogue_table: pd.DataFrame) -> Figure:
    """The movies in the valence-arousal plane: one point per movie at its duration-weighted
    mean, whiskers ± its spread (std), colour = dominance; named up to MAX_FIGURE_LABELS."""
    fig = Figure(figsize=(9, 8), layout="constrained")
    ax = fig.subplots()
    scored = catalogue_table[catalogue_table["valence_mean"].notna()]
    ax.errorbar(
        scored["valence_mean"],
        scored["arousal_mean"],
        xerr=scored["valence_std"],
        yerr=scored["arousal_std"],
        fmt="none",
        ecolor="0.75",
        lw=0.8,
        zorder=1,
    )
    points = ax.scatter(
        scored["valence_mean"],
        scored["arousal_mean"],
        c=scored["dominance_mean"],
        cmap="viridis",
        vmin=0,
        vmax=1,
        s=40,
        zorder=2,
    )
    fig.colorbar(points, ax=ax, label="Dominance (weighted mean)")
    if len(scored) <= MAX_FIGURE_LABELS:
        for row in scored.itertuples(index=False):
            ax.annotate(str(row.title), (row.valence_mean, row.arousal_mean), fontsize=8,
                        xytext=(4, 4), textcoords="offset points")  # fmt: skip
    ax.axhline(0.5, color="0.9", lw=0.8, zorder=0)
    ax.axvline(0.5, color="0.9", lw=0.8, zorder=0)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Valence (duration-weighted mean, whiskers ± std)")
    ax.set_ylabel("Arousal (duration-weighted mean, whiskers ± std)")
    n_failed = int(catalogue_table["n_failed"].sum())
    ax.set_title(
        f"Catalogue: {len(scored)} of {len(catalogue_table)} movies scored "
        f"({n_failed} tracks unreadable)"
    )
    return fig
