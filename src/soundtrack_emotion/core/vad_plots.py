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
from matplotlib.axes import Axes
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
) -> None:
    """Shade each row's prediction interval (``{label}_low`` / ``{label}_high``, nominal
    level ``interval_level``) as a step band over ``edges`` [n + 1]; nothing without them."""
    low_column, high_column = f"{label}_low", f"{label}_high"
    if low_column not in table or high_column not in table:
        return
    low, high = table[low_column].to_numpy(float), table[high_column].to_numpy(float)
    if not np.isfinite(low).any():
        return
    level = table["interval_level"].iloc[0] if "interval_level" in table else math.nan
    name = f"{level:.0%} interval" if np.isfinite(level) else "interval"
    ax.fill_between(edges, np.append(low, low[-1]), np.append(high, high[-1]), step="post",
                    color=color, alpha=0.18, lw=0, label=name)  # fmt: skip


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


def plot_movie_profile(
    arc: pd.DataFrame, profile: pd.DataFrame, *, audio_path: str | None, title: str | None
) -> Figure:
    """The arc of an album: one panel per VAD dimension, each track's overall value as a step
    over album time, the duration-weighted mean as a dashed line and mean ± std as a band.

    ``arc``: one row per readable track in album order (``position``, ``album_start_s``,
    ``album_end_s``, valence, arousal, dominance, optional ``out_of_domain``: such tracks
    are hatched, their numbers marked ``!``; optional ``{label}_low`` / ``{label}_high``: each
    track's prediction interval, shaded); ``profile``: one row per label (``label``,
    ``mean``, ``std``); the title is ``title``, else named after ``audio_path``.
    """
    fig = Figure(figsize=(11, 7), layout="constrained")
    axes = fig.subplots(len(VAD_LABELS), 1, sharex=True)
    minutes = 60.0
    edges = np.append(arc["album_start_s"].to_numpy(float), arc["album_end_s"].to_numpy(float)[-1:])
    edges_min = edges / minutes if len(arc) else np.array([0.0, 1.0])
    stats = profile.set_index("label")
    flagged_tracks = _out_of_domain(arc)
    for ax, label in zip(axes, VAD_LABELS, strict=True):
        color = VAD_COLORS[label]
        if len(arc):
            ax.stairs(
                arc[label].to_numpy(float),
                edges_min,
                baseline=None,
                color=color,
                lw=2,
                label="track",
            )
            mean, std = float(stats.loc[label, "mean"]), float(stats.loc[label, "std"])
            ax.axhline(mean, color="black", ls="--", lw=1, label=f"weighted mean {mean:.2f}")
            ax.axhspan(mean - std, mean + std, color=color, alpha=0.12, label=f"± std {std:.2f}")
            _interval_band(ax, arc, label, edges_min, color=color)
            # one collection for all track boundaries: cost linear and small in tracks
            ax.vlines(edges_min[1:-1], 0, 1, transform=ax.get_xaxis_transform(),
                      color="0.85", lw=0.8, zorder=0)  # fmt: skip
            flagged = np.flatnonzero(flagged_tracks)
            for n, i in enumerate(flagged):
                ax.axvspan(edges_min[i], edges_min[i + 1], zorder=0, **OUT_OF_DOMAIN_STYLE,
                           label="out of domain" if n == 0 else None)  # fmt: skip
        ax.set_ylim(0, 1)
        ax.set_ylabel(label.capitalize())
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    if len(arc):
        top = axes[0].secondary_xaxis("top")
        centres = (edges_min[:-1] + edges_min[1:]) / 2
        every = math.ceil(len(arc) / MAX_TRACK_TICKS)  # keep the numbers legible on long albums
        numbers = [f"{p}!" if f else str(p) for p, f in zip(arc["position"], flagged_tracks,
                                                             strict=True)]  # fmt: skip
        top.set_xticks(centres[::every], labels=numbers[::every], fontsize=8)
        top.set_xlabel("Track number")
    axes[-1].set_xlim(edges_min[0], edges_min[-1])
    axes[-1].set_xlabel("Album time (min)")
    total_min = float(edges[-1]) / minutes if len(arc) else 0.0
    note = f", {int(flagged_tracks.sum())} out of domain" if flagged_tracks.any() else ""
    fig.suptitle(
        f"{album_title(audio_path, title)} ({len(arc)} tracks, {total_min:.1f} min{note})"
    )
    return fig
