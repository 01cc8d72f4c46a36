"""The catalogue page: one self-contained HTML file to browse a catalogue run in a browser.

A sortable, filterable table of the movies (each with a small arc of its VAD over album time),
a valence-arousal map (one point per movie) and a page per movie (its arc and tracks). No
server and no network: the style and the script are inline, the data is one JSON document in
a ``<script type="application/json">`` element, and the script builds the DOM from it with
``textContent`` only, so a title such as ``</script><script>...`` stays text.

Prediction intervals are shown where the tables carry them: ``{label}_low`` / ``{label}_high``
on tracks and arcs, ``{label}_mean_low`` / ``{label}_mean_high`` (or ``{label}_low`` /
``{label}_high``) on the catalogue table, with their nominal level (``interval_level``); a
track flagged out of domain has its interval marked ``!`` (its coverage assumes music like
the training corpus); without them the page shows the spread only.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from soundtrack_emotion.core.families import variant_display_name
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.exceptions import DataValidationError
from soundtrack_emotion.pipelines.inference.page_assets import PAGE_CSS, PAGE_SCRIPT

PAGE_TITLE = "Soundtrack catalogue"
# Digits kept for every number of the embedded data: enough for a 0-1 score, and the JSON
# stays about 40 bytes per number-heavy track row.
DECIMALS = 4
LOW, HIGH = "low", "high"
# The catalogue table's own columns; any other non-label column is a catalogue extra (year...).
_CATALOGUE_COLUMNS = (
    "movie_id", "title", "n_tracks", "n_scored", "n_failed", "n_out_of_domain", "scored_s",
    "model", "model_version", "trained_on", "demo_model", "interval_level",
)  # fmt: skip
_TRACK_COLUMNS = ("position", "track", "duration_s", "status", "error", *VAD_LABELS)
_ARC_COLUMNS = ("position", "album_start_s", "album_end_s", *VAD_LABELS)
_DEMO_BANNER = (
    "DEMO: synthetic data. These scores come from models trained on the embedded synthetic "
    "demo corpus (generated audio and invented tags): they say the plumbing works, not how "
    "the music feels. Never use a demo model on real audio."
)

Lazy = Callable[[], pd.DataFrame]


def interval_columns(columns: Sequence[str], stem: str) -> tuple[str, str] | None:
    """The ``(low, high)`` columns of ``stem``'s prediction interval (``valence`` ->
    ``valence_low``, ``valence_high``), or None when the table carries none.

    >>> interval_columns(["valence", "valence_low", "valence_high"], "valence")
    ('valence_low', 'valence_high')
    >>> interval_columns(["valence"], "valence") is None
    True
    """
    pair = (f"{stem}_{LOW}", f"{stem}_{HIGH}")
    return pair if set(pair) <= set(columns) else None


def _movie_interval(columns: Sequence[str], label: str) -> tuple[str, str] | None:
    return interval_columns(columns, f"{label}_mean") or interval_columns(columns, label)


def _clean(value: Any) -> Any:
    """A JSON-ready scalar: None for NaN/NA, plain ints, floats rounded to ``DECIMALS``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, DECIMALS)
    return str(value)


def _is_true(value: Any) -> bool:
    """A flag as a table holds it: a bool, or its text once read back from CSV."""
    return str(value).strip().lower() in {"true", "1"}


def _rows(table: pd.DataFrame, columns: Sequence[str | None]) -> list[list[Any]]:
    """``table``'s rows as lists over ``columns`` (None or a missing column: null)."""
    values = [table[c].tolist() if c in table.columns else [None] * len(table) for c in columns]
    return [[_clean(v) for v in row] for row in zip(*values, strict=True)] if columns else []


def _interval_stems(table: pd.DataFrame) -> list[str | None]:
    stems: list[str | None] = []
    for label in VAD_LABELS:
        pair = interval_columns(list(table.columns), label)
        stems.extend(pair or (None, None))
    return stems


def _short_model(model: str) -> str:
    """``valence=mfcc_ridge.valence; arousal=mfcc_ridge.arousal`` -> ``MFCC Ridge``."""
    variants = dict.fromkeys(
        part.split("=", 1)[-1].rsplit(".", 1)[0].strip() for part in str(model).split(";")
    )
    return ", ".join(variant_display_name(v) for v in variants if v)


def _movie_rows(catalogue_table: pd.DataFrame, extras: Sequence[str]) -> dict[str, Any]:
    table = catalogue_table
    columns = list(table.columns)
    named: list[tuple[str, str | None]] = [
        ("id", "movie_id"), ("title", "title"), *((e, e) for e in extras),
        ("n_tracks", "n_tracks"), ("n_scored", "n_scored"), ("n_failed", "n_failed"),
        ("n_ood", "n_out_of_domain"), ("scored_s", "scored_s"), ("model", "model"),
        ("model_version", "model_version"), ("trained_on", "trained_on"), ("demo", "demo_model"),
    ]  # fmt: skip
    for label in VAD_LABELS:
        pair = _movie_interval(columns, label) or (None, None)
        named += [(f"{label}_mean", f"{label}_mean"), (f"{label}_std", f"{label}_std"),
                  (f"{label}_low", pair[0]), (f"{label}_high", pair[1])]  # fmt: skip
    rows = _rows(table, [source for _, source in named])
    names = [name for name, _ in named]
    demo_index = names.index("demo")
    for row in rows:
        row[demo_index] = _is_true(row[demo_index])
    short = [_short_model(m) for m in table["model"]] if "model" in columns else []
    names.append("model_short")
    for row, model in zip(rows, short or [""] * len(rows), strict=True):
        row.append(model)
    return {"columns": names, "rows": rows}


def _movie_tables(
    movie_id: str, movie_track_vad: Mapping[str, Lazy], movie_arcs: Mapping[str, Lazy]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    missing = [name for name, parts in (("movie_track_vad", movie_track_vad),
               ("movie_arcs", movie_arcs)) if movie_id not in parts]  # fmt: skip
    if missing:
        raise DataValidationError(
            f"movie {movie_id!r} of catalogue_table has no partition in {missing}: "
            "run aggregate_movies"
        )
    return movie_track_vad[movie_id](), movie_arcs[movie_id]()


def _arc_with_intervals(arc: pd.DataFrame, tracks: pd.DataFrame) -> pd.DataFrame:
    """The arc, with the tracks' interval columns joined by position when the arc has none."""
    stems = [c for c in _interval_stems(tracks) if c and c not in arc.columns]
    if not stems or "position" not in arc.columns:
        return arc
    return arc.merge(tracks[["position", *stems]], on="position", how="left")


def _out_of_domain(tracks: pd.DataFrame) -> list[bool | None]:
    """Each row's out-of-domain flag; None where it was not checked."""
    if "out_of_domain" not in tracks.columns:
        return [None] * len(tracks)
    return [None if pd.isna(v) else _is_true(v) for v in tracks["out_of_domain"].tolist()]


def catalogue_page_data(
    catalogue_table: pd.DataFrame,
    movie_track_vad: Mapping[str, Lazy],
    movie_arcs: Mapping[str, Lazy],
    *,
    title: str = PAGE_TITLE,
) -> dict[str, Any]:
    """The page's data: the movies as rows over named columns (linear in the catalogue's
    size), and per movie its tracks and arc, with interval columns where the tables carry
    them (null otherwise).

    ``movie_track_vad`` / ``movie_arcs``: partition id (the table's ``movie_id``) -> loader,
    as the partitioned datasets load; only the table's movies are read."""
    extras = [
        c for c in catalogue_table.columns
        if c not in _CATALOGUE_COLUMNS and not c.startswith(tuple(f"{lb}_" for lb in VAD_LABELS))
    ]  # fmt: skip
    interval_stems = [f"{label}_{end}" for label in VAD_LABELS for end in (LOW, HIGH)]
    tracks: dict[str, list[list[Any]]] = {}
    arcs: dict[str, list[list[Any]]] = {}
    has_track_intervals = False
    for movie_id in catalogue_table["movie_id"].astype(str):
        track_table, arc = _movie_tables(movie_id, movie_track_vad, movie_arcs)
        stems = _interval_stems(track_table)
        has_track_intervals |= any(stems)
        rows = _rows(track_table, [*_TRACK_COLUMNS, "domain_score", *stems])
        for row, flag in zip(rows, _out_of_domain(track_table), strict=True):
            row.append(flag)
        tracks[movie_id] = rows
        arc = _arc_with_intervals(arc, track_table)
        arcs[movie_id] = _rows(arc, [*_ARC_COLUMNS, *_interval_stems(arc)])
        for row, flag in zip(arcs[movie_id], _out_of_domain(arc), strict=True):
            row.append(flag)
    movies = _movie_rows(catalogue_table, extras)
    demo = "demo_model" in catalogue_table and any(map(_is_true, catalogue_table["demo_model"]))
    return {
        "title": title,
        "labels": list(VAD_LABELS),
        "extras": extras,
        "demo": demo,
        "movie_columns": movies["columns"],
        "movies": movies["rows"],
        "track_columns": [*_TRACK_COLUMNS, "domain_score", *interval_stems, "out_of_domain"],
        "tracks": tracks,
        "arc_columns": [*_ARC_COLUMNS, *interval_stems, "out_of_domain"],
        "arcs": arcs,
        "intervals": {
            "movie": any(_movie_interval(list(catalogue_table.columns), lb) for lb in VAD_LABELS),
            "track": has_track_intervals,
            # The nominal level (e.g. 0.9) where the table says it (null otherwise).
            "level": _interval_level(catalogue_table),
        },
    }


def _interval_level(catalogue_table: pd.DataFrame) -> float | None:
    """The intervals' nominal level: the table's ``interval_level`` when every movie has the
    same one (None otherwise, or without the column)."""
    if "interval_level" not in catalogue_table:
        return None
    levels = set(catalogue_table["interval_level"].dropna().astype(float))
    return _clean(levels.pop()) if len(levels) == 1 else None


def script_json(data: Any) -> str:
    """``data`` as JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` (so no
    ``</script>`` nor ``<!--``) and no U+2028/U+2029 in the text; NaN is refused.

    >>> script_json({"title": "</script>"})
    '{"title":"\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(char, escape)
    return text


def render_catalogue_page(data: Mapping[str, Any]) -> str:
    """One self-contained HTML document from :func:`catalogue_page_data`'s ``data``."""
    title = html.escape(str(data["title"]))
    banner = f'<p class="banner" id="demo-banner">{html.escape(_DEMO_BANNER)}</p>'
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{title}</title><style>{PAGE_CSS}</style></head>\n'
        f"<body>\n<header><h1>{title}</h1>{banner if data['demo'] else ''}</header>\n"
        '<main id="app"><noscript>This page needs JavaScript to show the catalogue.</noscript>'
        "</main>\n"
        f'<script type="application/json" id="catalogue-data">{script_json(data)}</script>\n'
        f"<script>{PAGE_SCRIPT}</script>\n</body></html>\n"
    )


def build_catalogue_page(
    catalogue_table: pd.DataFrame,
    movie_track_vad: Mapping[str, Lazy],
    movie_arcs: Mapping[str, Lazy],
) -> str:
    """The catalogue page (self-contained HTML) of this run's ``catalogue_table``: its
    movies' tracks and arcs from the per-movie partitions."""
    return render_catalogue_page(catalogue_page_data(catalogue_table, movie_track_vad, movie_arcs))
