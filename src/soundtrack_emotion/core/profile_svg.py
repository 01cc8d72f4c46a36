"""A movie's emotional arc as a self-contained SVG document: one panel per VAD dimension,
each track's overall value as a step over album time, the duration-weighted mean (dashed)
and mean ± std (band), the tracks' prediction intervals (lighter band), out-of-domain
tracks hatched, track numbers along the top.

Written as text rather than drawn by matplotlib: a matplotlib PNG of this figure took about
190 ms a movie (text layout and PNG encoding), more than scoring a movie of ten short
tracks, so a catalogue's profiles cost more than the catalogue's scoring. Here a movie costs
about 2.5 ms plus some 50 microseconds per track. The result is vector (sharp at any zoom),
every track carries a hover title with its values, and it opens in any browser or notebook
(``IPython.display.SVG``).
"""

from __future__ import annotations

import math
import re
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from soundtrack_emotion.core.vocabulary import VAD_COLORS, VAD_LABELS

# The page, in pixels (an 11 x 7 inch figure at 100 dpi).
WIDTH_PX, HEIGHT_PX = 1100, 700
PLOT_LEFT_PX, PLOT_RIGHT_PX = 72.0, 880.0
PLOT_TOP_PX, PLOT_BOTTOM_PX = 112.0, 640.0
PANEL_GAP_PX = 18.0
LEGEND_X_PX = 894.0
LEGEND_ROW_PX = 17.0
FONT_FAMILY = "DejaVu Sans, Helvetica, Arial, sans-serif"
Y_TICKS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
# About this many labelled minutes along the bottom.
TARGET_X_TICKS = 8
# Most track numbers along the top (every k-th beyond that, so they stay legible).
MAX_TRACK_TICKS = 25
# The title line (name and counts) is cut to this many characters, with an ellipsis, so it
# stays on the page (16 px DejaVu Sans: about 8.6 px a character).
MAX_TITLE_CHARS = 110
MAX_MODEL_CHARS = 150
SECONDS_PER_MINUTE = 60.0
STEP_WIDTH_PX = 2.0
STD_OPACITY, INTERVAL_OPACITY = 0.12, 0.18
GRID_COLOR, BOUNDARY_COLOR, FRAME_COLOR = "#e6e6e6", "#d0d0d0", "#444444"
TEXT_COLOR, HATCH_COLOR, FLAG_COLOR = "#222222", "#8c8c8c", "#b3261e"
STYLE = (
    f"text {{ font-family: {FONT_FAMILY}; fill: {TEXT_COLOR}; font-size: 11px; }}\n"
    ".title { font-size: 16px; }\n"
    ".axis-label { font-size: 12px; }\n"
    ".track-number { font-size: 9px; }\n"
    ".models { font-size: 10px; fill: #555555; }\n"
    f".demo {{ font-size: 10px; fill: {FLAG_COLOR}; font-weight: bold; }}\n"
    f".track-number.flagged {{ fill: {FLAG_COLOR}; font-weight: bold; }}\n"
    ".track:hover { fill: #000000; fill-opacity: 0.06; }\n"
)
HATCH = (
    '<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)">'
    f'<line x1="0" y1="0" x2="0" y2="6" stroke="{HATCH_COLOR}" stroke-width="1.2"/></pattern>'
)


def album_title(audio_path: str | None, title: str | None) -> str:
    """Title of a movie profile: ``title``, else named after ``audio_path``.

    >>> album_title("/music/Interstellar", None), album_title(None, "Memento")
    ('Emotional arc of Interstellar', 'Memento')
    """
    if title:
        return str(title)
    if audio_path is None or not str(audio_path).strip():
        return "Emotional arc of the demo's test songs"
    return f"Emotional arc of {Path(str(audio_path)).stem}"


def movie_profile_svg(
    arc: pd.DataFrame, profile: pd.DataFrame, *, audio_path: str | None, title: str | None,
    n_unreadable: int = 0,
) -> str:  # fmt: skip
    """The arc of an album as an SVG document (text).

    ``arc``: one row per readable track in album order (``position``, ``album_start_s``,
    ``album_end_s``, valence, arousal, dominance; optional ``track``: named in the hover
    titles; optional ``out_of_domain``: such tracks are hatched, their numbers marked ``!``;
    optional ``{label}_low`` / ``{label}_high`` and ``interval_level``: each track's
    prediction interval, shaded; optional ``model``, ``trained_on``, ``demo_model``: the
    models named under the title, demo models flagged); ``profile``: one row per label
    (``label``, ``mean``, ``std``); the title is ``title``, else named after ``audio_path``
    (:func:`album_title`), followed by the number of tracks, minutes, flagged tracks and
    ``n_unreadable`` (the movie's tracks that could not be scored, absent from ``arc``).

    >>> arc = pd.DataFrame({"position": [1, 2], "album_start_s": [0.0, 60.0],
    ...                     "album_end_s": [60.0, 150.0], "valence": [0.2, 0.8],
    ...                     "arousal": [0.5, 0.5], "dominance": [0.4, 0.6]})
    >>> profile = pd.DataFrame({"label": list(VAD_LABELS), "mean": 0.5, "std": 0.1})
    >>> svg = movie_profile_svg(arc, profile, audio_path=None, title="Memento")
    >>> svg.startswith("<svg") and "Memento (2 tracks, 2.5 min)" in svg
    True
    """
    edges_min, clock_known = _edges_min(arc)
    flagged = _out_of_domain(arc)
    span = (float(edges_min[0]), float(edges_min[-1]))
    stats = profile.set_index("label") if len(arc) else None
    minutes = f"{span[1] if len(arc) else 0.0:.1f} min" if clock_known else "length unknown"
    note = f", {int(flagged.sum())} out of domain" if flagged.any() else ""
    note += f", {n_unreadable} unreadable" if n_unreadable else ""
    counts = f" ({len(arc)} track{'' if len(arc) == 1 else 's'}, {minutes}{note})"
    heading = _cut(album_title(audio_path, title), MAX_TITLE_CHARS - len(counts)) + counts
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH_PX}" height="{HEIGHT_PX}" '
        f'viewBox="0 0 {WIDTH_PX} {HEIGHT_PX}">',
        f"<style>{STYLE}</style><defs>{HATCH}</defs>",
        f'<rect width="{WIDTH_PX}" height="{HEIGHT_PX}" fill="#ffffff"/>',
        f'<text class="title" x="{WIDTH_PX / 2:.1f}" y="28" '
        f'text-anchor="middle">{_text(heading)}</text>',
        *_model_line(arc),
    ]
    for index, label in enumerate(VAD_LABELS):
        top, bottom = _panel_rows(index)
        parts += _panel(label, arc, stats, edges_min, flagged, span=span, top=top,
                        bottom=bottom)  # fmt: skip
    parts += _track_numbers(arc, edges_min, flagged, span=span)
    parts += _time_axis(span, bottom=_panel_rows(len(VAD_LABELS) - 1)[1],
                        label="Album time (min)" if clock_known else "Tracks (lengths unknown)")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _model_line(arc: pd.DataFrame) -> list[str]:
    """Under the title, the models that made the values and their corpus (the arc's
    ``model`` and ``trained_on`` columns), and a warning when they are demo models."""
    if not len(arc) or "model" not in arc or not str(arc["model"].iloc[0]):
        return []
    trained_on = arc["trained_on"].iloc[0] if "trained_on" in arc else "unknown"
    text = _cut(f"{arc['model'].iloc[0]}, trained on {trained_on}", MAX_MODEL_CHARS)
    centre = WIDTH_PX / 2
    lines = [f'<text class="models" x="{centre:.1f}" y="45" '
             f'text-anchor="middle">{_text(text)}</text>']  # fmt: skip
    if "demo_model" in arc and bool(arc["demo_model"].iloc[0]):
        lines.append(f'<text class="demo" x="{centre:.1f}" y="59" text-anchor="middle">'
                     "DEMO models: these values say nothing about real music</text>")  # fmt: skip
    return lines


# ---------------------------------------------------------------------------------- geometry


def _edges_min(arc: pd.DataFrame) -> tuple[np.ndarray, bool]:
    """Track edges [n + 1] in album minutes, and whether the album clock is known: ``[0, 1]``
    for an empty arc; one unit a track where a duration is missing (not known)."""
    if not len(arc):
        return np.array([0.0, 1.0]), True
    starts = arc["album_start_s"].to_numpy(float)
    edges = np.append(starts, arc["album_end_s"].to_numpy(float)[-1:]) / SECONDS_PER_MINUTE
    if not (np.isfinite(edges).all() and edges[-1] > edges[0]):
        return np.arange(len(arc) + 1, dtype=float), False
    return edges, True


def _out_of_domain(arc: pd.DataFrame) -> np.ndarray:
    """Whether each track is flagged out of domain [n] (False where unchecked or absent)."""
    if "out_of_domain" not in arc:
        return np.zeros(len(arc), dtype=bool)
    return arc["out_of_domain"].astype("boolean").fillna(False).to_numpy(bool)


def _panel_rows(index: int) -> tuple[float, float]:
    """Top and bottom pixel rows of panel ``index`` (0 = valence, at the top)."""
    n = len(VAD_LABELS)
    height = (PLOT_BOTTOM_PX - PLOT_TOP_PX - (n - 1) * PANEL_GAP_PX) / n
    top = PLOT_TOP_PX + index * (height + PANEL_GAP_PX)
    return top, top + height


def _x(minutes: np.ndarray | float, span: tuple[float, float]) -> np.ndarray:
    """Pixel columns of album ``minutes`` on the shared time axis ``span``."""
    width = span[1] - span[0] or 1.0
    return PLOT_LEFT_PX + (np.asarray(minutes, float) - span[0]) / width * (
        PLOT_RIGHT_PX - PLOT_LEFT_PX
    )


def _y(values: np.ndarray | float, top: float, bottom: float) -> np.ndarray:
    """Pixel rows of VAD ``values`` (0..1, clipped) in a panel from ``top`` to ``bottom``."""
    return bottom - np.clip(np.asarray(values, float), 0.0, 1.0) * (bottom - top)


def nice_ticks(low: float, high: float, *, target: int = TARGET_X_TICKS) -> np.ndarray:
    """About ``target`` round tick values (steps of 1, 2, 2.5 or 5 times a power of ten)
    from ``low`` to ``high``.

    >>> nice_ticks(0.0, 6.0).tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    >>> nice_ticks(0.0, 0.75).tolist()
    [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    >>> nice_ticks(0.0, 2e-5).tolist()[:3], nice_ticks(float("nan"), 1.0).tolist()
    ([0.0, 5e-06, 1e-05], [])
    """
    span = high - low
    if not (math.isfinite(low) and math.isfinite(high)):
        return np.array([])
    if not span > 0:
        return np.array([low])
    raw = span / target
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9)
    count = math.floor(high / step + 1e-9) - first + 1
    # rounded to the step's own precision: 3 * 0.1 is 0.30000000000000004
    decimals = max(0, 1 - math.floor(math.log10(step)))
    return np.round((first + np.arange(count)) * step, decimals)


def _cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


# Characters XML 1.0 does not allow in a document, even escaped (a file name may hold them).
NOT_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(text: str) -> str:
    """``text`` as SVG character data: markup escaped, characters XML forbids replaced."""
    return escape(NOT_IN_XML.sub("\ufffd", str(text)))


# ------------------------------------------------------------------------------------ panels


def _panel(
    label: str, arc: pd.DataFrame, stats: pd.DataFrame | None, edges_min: np.ndarray,
    flagged: np.ndarray, *, span: tuple[float, float], top: float, bottom: float,
) -> list[str]:  # fmt: skip
    """One label's panel: frame, grid, y ticks and label, and the movie's marks."""
    color = VAD_COLORS[label]
    parts = [f'<g class="panel" data-label="{label}">']
    grid = "".join(f"M{PLOT_LEFT_PX:.1f} {y:.1f}H{PLOT_RIGHT_PX:.1f}"
                   for y in _y(np.array(Y_TICKS[1:-1]), top, bottom))  # fmt: skip
    parts.append(f'<path d="{grid}" stroke="{GRID_COLOR}" fill="none"/>')
    for value, y in zip(Y_TICKS, _y(np.array(Y_TICKS), top, bottom), strict=True):
        parts.append(f'<text x="{PLOT_LEFT_PX - 6:.1f}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{value:.1f}</text>')  # fmt: skip
    middle = (top + bottom) / 2
    parts.append(f'<text class="axis-label" x="22" y="{middle:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 22 {middle:.1f})">'
                 f"{label.capitalize()}</text>")  # fmt: skip
    if len(arc) and stats is not None:
        parts += _movie_marks(label, arc, stats.loc[label], edges_min, flagged, span=span,
                              top=top, bottom=bottom, color=color)  # fmt: skip
    parts.append(f'<rect x="{PLOT_LEFT_PX:.1f}" y="{top:.1f}" '
                 f'width="{PLOT_RIGHT_PX - PLOT_LEFT_PX:.1f}" height="{bottom - top:.1f}" '
                 f'fill="none" stroke="{FRAME_COLOR}"/>')  # fmt: skip
    parts.append("</g>")
    return parts


def _movie_marks(
    label: str, arc: pd.DataFrame, stats: pd.Series, edges_min: np.ndarray, flagged: np.ndarray,
    *, span: tuple[float, float], top: float, bottom: float, color: str,
) -> list[str]:  # fmt: skip
    """The movie's marks in one panel, back to front, then its legend."""
    xs = _x(edges_min, span)
    values = arc[label].to_numpy(float)
    mean, std = float(stats["mean"]), float(stats["std"])
    summarised = math.isfinite(mean) and math.isfinite(std)
    legend = [("line", color, "track")]
    if summarised:
        legend += [("dash", "#000000", f"weighted mean {mean:.2f}"),
                   ("band", color, f"± std {std:.2f}")]  # fmt: skip
    parts = [
        _spans(xs, flagged, top, bottom, 'fill="url(#hatch)" class="out-of-domain"'),
        _boundaries(xs, top, bottom),
    ]
    if summarised:
        band_top, band_bottom = _y(mean + std, top, bottom), _y(mean - std, top, bottom)
        parts.append(f'<rect class="std" x="{PLOT_LEFT_PX:.1f}" y="{band_top:.1f}" '
                     f'width="{PLOT_RIGHT_PX - PLOT_LEFT_PX:.1f}" '
                     f'height="{band_bottom - band_top:.1f}" fill="{color}" '
                     f'fill-opacity="{STD_OPACITY}"/>')  # fmt: skip
    interval = _intervals(arc, label)
    if interval is not None:
        low, high, name = interval
        known = np.isfinite(low) & np.isfinite(high)
        rows = np.stack([_y(high, top, bottom), _y(low, top, bottom)])
        parts.append(_band_path(xs, rows, known, f'class="interval" fill="{color}" '
                                f'fill-opacity="{INTERVAL_OPACITY}"'))  # fmt: skip
        legend.append(("interval", color, name))
    steps = _stairs(xs, _y(values, top, bottom))
    if steps:
        parts.append(f'<path class="steps" d="{steps}" stroke="{color}" '
                     f'stroke-width="{STEP_WIDTH_PX}" fill="none"/>')  # fmt: skip
    if summarised:
        y_mean = float(_y(mean, top, bottom))
        parts.append(f'<path class="mean" d="M{PLOT_LEFT_PX:.1f} {y_mean:.1f}'
                     f'H{PLOT_RIGHT_PX:.1f}" stroke="#000000" stroke-dasharray="6 4" '
                     'fill="none"/>')  # fmt: skip
    parts += _hover_titles(label, arc, values, interval, flagged, xs=xs, top=top, bottom=bottom)
    if flagged.any():
        legend.append(("hatch", HATCH_COLOR, "out of domain"))
    parts += _legend(legend, top)
    return [p for p in parts if p]


def _intervals(arc: pd.DataFrame, label: str) -> tuple[np.ndarray, np.ndarray, str] | None:
    """Each track's interval bounds and the legend's name, or None without any."""
    low_column, high_column = f"{label}_low", f"{label}_high"
    if low_column not in arc or high_column not in arc:
        return None
    low, high = arc[low_column].to_numpy(float), arc[high_column].to_numpy(float)
    if not (np.isfinite(low) & np.isfinite(high)).any():
        return None
    level = float(arc["interval_level"].iloc[0]) if "interval_level" in arc else math.nan
    return low, high, f"{level:.0%} interval" if math.isfinite(level) else "interval"


def _stairs(xs: np.ndarray, ys: np.ndarray) -> str:
    """Path data of a connected step line: ``ys`` [n] held over ``xs`` [n + 1], broken where
    a value is missing (NaN)."""
    path, joined = [], False
    for i, y in enumerate(ys):
        if not np.isfinite(y):
            joined = False
            continue
        start = f"V{y:.1f}" if joined else f"M{xs[i]:.1f} {y:.1f}"
        path.append(f"{start}H{xs[i + 1]:.1f}")
        joined = True
    return "".join(path)


def _band_path(xs: np.ndarray, rows: np.ndarray, keep: np.ndarray, attributes: str) -> str:
    """One path of a rectangle per kept track ``i`` from ``xs[i]`` to ``xs[i + 1]`` between
    pixel rows ``rows[0, i]`` and ``rows[1, i]`` (one shape: no seams, one opacity)."""
    (index,) = np.nonzero(keep)
    if not len(index):
        return ""
    d = "".join(f"M{xs[i]:.1f} {rows[0, i]:.1f}H{xs[i + 1]:.1f}V{rows[1, i]:.1f}"
                f"H{xs[i]:.1f}Z" for i in index)  # fmt: skip
    return f'<path {attributes} d="{d}"/>'


def _spans(xs: np.ndarray, keep: np.ndarray, top: float, bottom: float, attributes: str) -> str:
    """Full-height spans of the kept tracks, as one path."""
    rows = np.array([[top] * (len(xs) - 1), [bottom] * (len(xs) - 1)])
    return _band_path(xs, rows, keep, attributes)


def _boundaries(xs: np.ndarray, top: float, bottom: float) -> str:
    """The boundaries between tracks as one path of vertical lines."""
    if len(xs) <= 2:
        return ""
    d = "".join(f"M{x:.1f} {top:.1f}V{bottom:.1f}" for x in xs[1:-1])
    return f'<path class="boundaries" d="{d}" stroke="{BOUNDARY_COLOR}" fill="none"/>'


def _hover_titles(
    label: str, arc: pd.DataFrame, values: np.ndarray,
    interval: tuple[np.ndarray, np.ndarray, str] | None, flagged: np.ndarray, *,
    xs: np.ndarray, top: float, bottom: float,
) -> list[str]:  # fmt: skip
    """A transparent column per track whose hover title reads its values."""
    names = arc["track"].astype(str).to_numpy() if "track" in arc else [""] * len(arc)
    parts = []
    for i, (position, name) in enumerate(zip(arc["position"], names, strict=True)):
        value = f"{values[i]:.2f}" if np.isfinite(values[i]) else "n/a"
        text = f"track {position}{' ' + name if name else ''}: {label} {value}"
        if interval is not None and np.isfinite(interval[0][i]) and np.isfinite(interval[1][i]):
            text += f", {interval[2]} {interval[0][i]:.2f} to {interval[1][i]:.2f}"
        if flagged[i]:
            text += ", out of domain (unlike the training music: trust it less)"
        parts.append(f'<rect class="track" x="{xs[i]:.1f}" y="{top:.1f}" '
                     f'width="{max(xs[i + 1] - xs[i], 0.0):.1f}" height="{bottom - top:.1f}" '
                     f'fill="#000000" fill-opacity="0">'
                     f"<title>{_text(text)}</title></rect>")  # fmt: skip
    return parts


def _legend(entries: list[tuple[str, str, str]], top: float) -> list[str]:
    """The panel's legend to the right of the plot: a swatch and a text per entry."""
    parts = ['<g class="legend">']
    x0, x1 = LEGEND_X_PX, LEGEND_X_PX + 22
    for row, (kind, color, text) in enumerate(entries):
        y = top + 10 + row * LEGEND_ROW_PX
        if kind in ("line", "dash"):
            dash = ' stroke-dasharray="6 4"' if kind == "dash" else ""
            width = STEP_WIDTH_PX if kind == "line" else 1
            parts.append(f'<path d="M{x0:.1f} {y:.1f}H{x1:.1f}" stroke="{color}" '
                         f'stroke-width="{width}"{dash}/>')  # fmt: skip
        else:
            fill = {"band": f'fill="{color}" fill-opacity="{STD_OPACITY}"',
                    "interval": f'fill="{color}" fill-opacity="{INTERVAL_OPACITY}"',
                    "hatch": 'fill="url(#hatch)"'}[kind]  # fmt: skip
            parts.append(f'<rect x="{x0:.1f}" y="{y - 5:.1f}" width="22" height="10" {fill}/>')
        parts.append(f'<text x="{x1 + 6:.1f}" y="{y + 4:.1f}">{_text(text)}</text>')
    parts.append("</g>")
    return parts


# -------------------------------------------------------------------------------------- axes


def _track_numbers(
    arc: pd.DataFrame, edges_min: np.ndarray, flagged: np.ndarray, *, span: tuple[float, float]
) -> list[str]:
    """Track numbers along the top (``!``: out of domain), at most ``MAX_TRACK_TICKS``."""
    if not len(arc):
        return []
    centres = _x((edges_min[:-1] + edges_min[1:]) / 2, span)
    every = math.ceil(len(arc) / MAX_TRACK_TICKS)
    parts = ['<g class="track-numbers">',
             f'<text class="axis-label" x="{(PLOT_LEFT_PX + PLOT_RIGHT_PX) / 2:.1f}" '
             f'y="{PLOT_TOP_PX - 24:.1f}" text-anchor="middle">Track number</text>']  # fmt: skip
    positions = arc["position"].to_numpy()
    for i in range(0, len(arc), every):
        mark = "!" if flagged[i] else ""
        css = "track-number flagged" if flagged[i] else "track-number"
        parts.append(f'<text class="{css}" x="{centres[i]:.1f}" y="{PLOT_TOP_PX - 6:.1f}" '
                     f'text-anchor="middle">{positions[i]}{mark}</text>')  # fmt: skip
    parts.append("</g>")
    return parts


def _time_axis(span: tuple[float, float], *, bottom: float, label: str) -> list[str]:
    """Minute ticks and the axis ``label`` under the bottom panel."""
    parts = ['<g class="time-axis">']
    for tick in nice_ticks(*span):
        x = float(_x(tick, span))
        parts.append(f'<path d="M{x:.1f} {bottom:.1f}v5" stroke="{FRAME_COLOR}"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 18:.1f}" '
                     f'text-anchor="middle">{tick:g}</text>')  # fmt: skip
    parts.append(f'<text class="axis-label" x="{(PLOT_LEFT_PX + PLOT_RIGHT_PX) / 2:.1f}" '
                 f'y="{bottom + 40:.1f}" text-anchor="middle">{label}</text>')  # fmt: skip
    parts.append("</g>")
    return parts

