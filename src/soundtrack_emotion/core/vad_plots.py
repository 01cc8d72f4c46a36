"""VAD figures shared by inference and reporting: a track's timeline above its waveform.
Built on ``matplotlib.figure.Figure`` (no pyplot state), so they can be drawn from any thread
or process and saved by ``matplotlib.MatplotlibDataset``. A movie's arc is an SVG document
(``core.profile_svg``), cheap enough to write for every movie of a catalogue."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from soundtrack_emotion.core.vocabulary import VAD_COLORS, VAD_LABELS, WAVEFORM_COLOR


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


def file_name(track: str) -> str:
    """``track`` with every character but letters, digits, ``-_.`` replaced by ``_``."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(track))

