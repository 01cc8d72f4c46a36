"""VAD figures shared by inference and reporting: a track's timeline above its waveform, and
the emotional arc of a whole soundtrack album. Built on ``matplotlib.figure.Figure`` (no pyplot
state), so they can be drawn from any thread or process and saved by
``matplotlib.MatplotlibDataset``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from soundtrack_emotion.core.vocabulary import VAD_COLORS, VAD_LABELS, WAVEFORM_COLOR

# Most track numbers labelled along the top of a movie profile.
MAX_TRACK_TICKS = 25
# Tracks flagged out of domain: hatched grey behind their steps.
OUT_OF_DOMAIN_STYLE = {"facecolor": "none", "edgecolor": "0.55", "hatch": "///", "lw": 0}


def _out_of_domain(table: pd.DataFrame) -> np.ndarray:
    """Whether each row is flagged out of domain (False where unchecked or absent)."""
    if "out_of_domain" not in table:
        return np.zeros(len(table), dtype=bool)
    return table["out_of_domain"].astype("boolean").fillna(False).to_numpy(bool)


def _interval_band(
    ax: Axes, table: pd.DataFrame, label: str, edges: np.ndarray, *, color: str
) -> PolyCollection | None:
    """Shade each row's prediction interval (``{label}_low`` / ``{label}_high``, nominal
    level ``interval_level``) as a step band over ``edges`` [n + 1]; nothing (None) without
    them."""
    low_column, high_column = f"{label}_low", f"{label}_high"
    if low_column not in table or high_column not in table:
        return None
    low, high = table[low_column].to_numpy(float), table[high_column].to_numpy(float)
    if not np.isfinite(low).any():
        return None
    level = table["interval_level"].iloc[0] if "interval_level" in table else math.nan
    name = f"{level:.0%} interval" if np.isfinite(level) else "interval"
    return ax.fill_between(edges, np.append(low, low[-1]), np.append(high, high[-1]),
                           step="post", color=color, alpha=0.18, lw=0, label=name)  # fmt: skip


def _edges(timeline: pd.DataFrame) -> np.ndarray:
    """Window edges [n + 1] in seconds of a contiguous timeline [n rows]."""
    return np.append(timeline["start_s"].to_numpy(float), timeline["end_s"].to_numpy(float)[-1:])


def plot_vad_timeline(
    timeline: pd.DataFrame,
    waveform: pd.DataFrame,
    *,
    title: str,
    true_vad: Mapping[str, float] | None = None,
) -> Figure:
    """VAD over time (top, one step line per dimension, one step per window) above the
    waveform envelope (bottom), sharing the time axis (thesis Figs. 5.8-5.10).

    ``timeline``: one track's windows (``start_s``, ``end_s``, valence, arousal, dominance;
    optional ``{label}_low`` / ``{label}_high``: each window's prediction interval, shaded);
    ``waveform``: its envelope (``time_s``, ``low``, ``high``); ``true_vad``: labels drawn as
    dashed lines when the track is labelled.
    """
    fig = Figure(figsize=(10, 5.2), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    timeline = timeline.sort_values("start_s")
    edges = _edges(timeline) if len(timeline) else np.array([0.0, 1.0])
    for label in VAD_LABELS:
        color = VAD_COLORS[label]
        if len(timeline):
            top.stairs(
                timeline[label].to_numpy(float),
                edges,
                baseline=None,
                color=color,
                lw=2,
                label=label,
            )
            _interval_band(top, timeline, label, edges, color=color)
        if true_vad is not None and label in true_vad:
            top.axhline(
                true_vad[label],
                color=color,
                ls="--",
                lw=1.2,
                label=f"true {label} {true_vad[label]:.2f}",
            )
    top.set_ylim(0, 1)
    top.set_ylabel("Predicted VAD (0-1)")
    top.set_title(title)
    top.grid(alpha=0.3)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)

    if len(waveform):
        bottom.fill_between(
            waveform["time_s"], waveform["low"], waveform["high"], color=WAVEFORM_COLOR, lw=0
        )
    bottom.set_ylim(-1.05, 1.05)
    bottom.set_ylabel("Amplitude")
    bottom.set_xlabel("Time (s)")
    bottom.set_xlim(edges[0], edges[-1])
    return fig


def album_title(audio_path: str | None, title: str | None) -> str:
    """Title of a movie profile: ``title``, else named after ``audio_path``."""
    if title:
        return str(title)
    if audio_path is None or not str(audio_path).strip():
        return "Emotional arc of the demo's test songs"
    return f"Emotional arc of {Path(str(audio_path)).stem}"


def file_name(track: str) -> str:
    """``track`` with every character but letters, digits, ``-_.`` replaced by ``_``."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(track))


# The movie profile: inches, and dots per inch (as movie_plots saves it, so the canvas's
# renderer is kept from one movie to the next).
PROFILE_SIZE_IN = (11.0, 7.0)
PROFILE_DPI = 110
# Fixed margins, as fractions of the figure, instead of a layout engine: every text on it has
# a bounded size (ticks 0-1, minutes, legends of a few short entries), and a layout pass
# would cost a second draw per movie.
PROFILE_MARGINS = {"left": 0.07, "right": 0.82, "bottom": 0.08, "top": 0.87, "hspace": 0.12}
SECONDS_PER_MINUTE = 60.0


class MovieProfileFigure:
    """The figure of :func:`plot_movie_profile`, built once and redrawn movie after movie:
    its panels, their tick objects and its Agg canvas (whose renderer caches text metrics)
    are made once, so a movie costs its own artists and one draw, linear in its tracks.

    :meth:`draw` returns the same ``Figure`` every time: save it before drawing the next
    movie (a lazy ``movie_plots`` partition is drawn as it is saved)."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=PROFILE_SIZE_IN, dpi=PROFILE_DPI)
        FigureCanvasAgg(self.figure)
        self.figure.subplots_adjust(**PROFILE_MARGINS)
        self.axes: list[Axes] = list(self.figure.subplots(len(VAD_LABELS), 1, sharex=True))
        for ax, label in zip(self.axes, VAD_LABELS, strict=True):
            ax.set_ylim(0, 1)
            ax.set_ylabel(label.capitalize())
            ax.grid(axis="y", alpha=0.3)
        self.axes[-1].set_xlabel("Album time (min)")
        self.track_axis = self.axes[0].secondary_xaxis("top")
        self.track_axis.set_xlabel("Track number")
        self._movie_artists: list[Artist] = []

    def draw(
        self, arc: pd.DataFrame, profile: pd.DataFrame, *, audio_path: str | None,
        title: str | None,
    ) -> Figure:  # fmt: skip
        """The profile of one movie (see :func:`plot_movie_profile`), in place of the last."""
        for artist in self._movie_artists:
            artist.remove()
        self._movie_artists = []
        edges = np.append(arc["album_start_s"].to_numpy(float),
                          arc["album_end_s"].to_numpy(float)[-1:])  # fmt: skip
        edges_min = edges / SECONDS_PER_MINUTE if len(arc) else np.array([0.0, 1.0])
        stats = profile.set_index("label")
        flagged_tracks = _out_of_domain(arc)
        for ax, label in zip(self.axes, VAD_LABELS, strict=True):
            if len(arc):
                self._draw_label(ax, label, arc=arc, stats=stats, edges_min=edges_min,
                                 flagged_tracks=flagged_tracks)  # fmt: skip
                ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9,
                          frameon=False)  # fmt: skip
            elif ax.get_legend() is not None:
                ax.get_legend().remove()
        self._number_tracks(arc, edges_min, flagged_tracks)
        self.axes[-1].set_xlim(edges_min[0], edges_min[-1])
        total_min = float(edges[-1]) / SECONDS_PER_MINUTE if len(arc) else 0.0
        note = f", {int(flagged_tracks.sum())} out of domain" if flagged_tracks.any() else ""
        self.figure.suptitle(
            f"{album_title(audio_path, title)} ({len(arc)} tracks, {total_min:.1f} min{note})"
        )
        return self.figure

    def _draw_label(
        self, ax: Axes, label: str, *, arc: pd.DataFrame, stats: pd.DataFrame,
        edges_min: np.ndarray, flagged_tracks: np.ndarray,
    ) -> None:  # fmt: skip
        """One panel's movie artists: the tracks' steps, the weighted mean and its ± std
        band, the intervals, the track boundaries and the out-of-domain tracks."""
        color = VAD_COLORS[label]
        mean, std = float(stats.loc[label, "mean"]), float(stats.loc[label, "std"])
        artists = [
            ax.stairs(arc[label].to_numpy(float), edges_min, baseline=None, color=color, lw=2,
                      label="track"),
            ax.axhline(mean, color="black", ls="--", lw=1, label=f"weighted mean {mean:.2f}"),
            ax.axhspan(mean - std, mean + std, color=color, alpha=0.12, label=f"± std {std:.2f}"),
            _interval_band(ax, arc, label, edges_min, color=color),
            # one collection for all track boundaries: cost linear and small in tracks
            ax.vlines(edges_min[1:-1], 0, 1, transform=ax.get_xaxis_transform(),
                      color="0.85", lw=0.8, zorder=0),
            _out_of_domain_spans(ax, edges_min, flagged_tracks),
        ]  # fmt: skip
        self._movie_artists += [a for a in artists if a is not None]

    def _number_tracks(
        self, arc: pd.DataFrame, edges_min: np.ndarray, flagged_tracks: np.ndarray
    ) -> None:
        """Track numbers along the top (``!``: out of domain), at most ``MAX_TRACK_TICKS``."""
        self.track_axis.set_visible(bool(len(arc)))
        if not len(arc):
            return
        centres = (edges_min[:-1] + edges_min[1:]) / 2
        every = math.ceil(len(arc) / MAX_TRACK_TICKS)  # keep the numbers legible on long albums
        numbers = [f"{p}!" if f else str(p) for p, f in zip(arc["position"], flagged_tracks,
                                                             strict=True)]  # fmt: skip
        self.track_axis.set_xticks(centres[::every], labels=numbers[::every], fontsize=8)


def _out_of_domain_spans(
    ax: Axes, edges: np.ndarray, flagged: np.ndarray
) -> PolyCollection | None:
    """The flagged tracks [n] over ``edges`` [n + 1] hatched grey, full height, as one
    collection (None when none is flagged)."""
    (index,) = np.nonzero(flagged)
    if not len(index):
        return None
    spans = [[(edges[i], 0), (edges[i], 1), (edges[i + 1], 1), (edges[i + 1], 0)] for i in index]
    collection = PolyCollection(spans, transform=ax.get_xaxis_transform(), zorder=0,
                                label="out of domain", **OUT_OF_DOMAIN_STYLE)  # fmt: skip
    return ax.add_collection(collection, autolim=False)


def plot_movie_profile(
    arc: pd.DataFrame, profile: pd.DataFrame, *, audio_path: str | None, title: str | None
) -> Figure:
    """The arc of an album: one panel per VAD dimension, each track's overall value as a step
    over album time, the duration-weighted mean as a dashed line and mean ± std as a band.

    ``arc``: one row per readable track in album order (``position``, ``album_start_s``,
    ``album_end_s``, valence, arousal, dominance, optional ``out_of_domain``: such tracks
    are hatched, their numbers marked ``!``; optional ``{label}_low`` / ``{label}_high``: each
    track's prediction interval, shaded); ``profile``: one row per label (``label``,
    ``mean``, ``std``); the title is ``title``, else named after ``audio_path``. A new figure;
    :class:`MovieProfileFigure` draws movie after movie on one.
    """
    return MovieProfileFigure().draw(arc, profile, audio_path=audio_path, title=title)
