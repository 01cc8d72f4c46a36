"""Nodes of the search pipeline: the configured queries answered over the scored catalogue,
and every movie's nearest movies. The search itself: :mod:`~soundtrack_emotion.core.mood_search`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from soundtrack_emotion.core.mood_search import (
    PROVENANCE_COLUMNS,
    Mood,
    all_similar_movies,
    check_k,
    find_movie,
    movies_for_mood,
    resolve_mood,
    similar_movies,
    tracks_for_mood,
)
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.exceptions import ParameterError

logger = logging.getLogger(__name__)

FINDS = ("movies", "tracks")
QUERY_KEYS = ("name", "like", "mood", *VAD_LABELS, "k", "find")
QUERY_COLUMNS = (
    "query", "name", "kind", "k", "find", *(f"query_{label}" for label in VAD_LABELS),
    "query_words", "n_results", "error",
)  # fmt: skip
RESULT_COLUMNS = (
    "query", "name", "find", *(f"query_{label}" for label in VAD_LABELS), "rank", "distance",
    "movie_id", "title", "position", "track", *VAD_LABELS, "n_out_of_domain", "out_of_domain",
    *PROVENANCE_COLUMNS,
)  # fmt: skip


@dataclass(frozen=True)
class SearchQuery:
    """One entry of ``search.queries``: ``like`` a movie, or a ``mood`` (words or values)."""

    name: str
    like: str | None
    mood: str | dict[str, float] | None
    pinned: dict[str, float]  # labels a worded mood fixes whatever its words say
    k: int
    find: tuple[str, ...]

    @property
    def kind(self) -> str:
        if self.like is not None:
            return "like"
        return "mood" if isinstance(self.mood, str) else "vad"


def parse_query(spec: Mapping[str, Any], *, default_k: int) -> SearchQuery:
    """A ``search.queries`` entry: exactly one of ``like: <movie_id or title>``, ``mood:
    <words>`` or values for any of ``valence``/``arousal``/``dominance`` (values next to
    ``mood`` pin those labels); optional ``k``, ``name`` and ``find`` (``movies``,
    ``tracks`` or both, the default, for a mood)."""
    if not isinstance(spec, Mapping):
        raise ParameterError(f"search.queries entry {spec!r} must be a mapping, e.g. "
                             "{mood: 'sad but calm', k: 5}")  # fmt: skip
    unknown = [key for key in spec if key not in QUERY_KEYS]
    values = {label: spec[label] for label in VAD_LABELS if label in spec}
    given = [key for key in ("like", "mood") if key in spec] or (["values"] if values else [])
    if unknown or len(given) != 1 or ("like" in spec and values):
        raise ParameterError(
            f"search.queries entry {dict(spec)!r}: give exactly one of like, mood or "
            f"{'/'.join(VAD_LABELS)} values (a mood may pin labels with values; optionally k, "
            "name, find)" + (f"; unknown keys {unknown}" if unknown else "")
        )
    find = spec.get("find", FINDS)
    find = (find,) if isinstance(find, str) else tuple(find)
    if "like" in spec:
        if set(find) - {"movies"} and "find" in spec:
            raise ParameterError(f"search.queries entry {dict(spec)!r}: like finds movies only")
        find = ("movies",)
    if not find or set(find) - set(FINDS):
        raise ParameterError(f"search.queries entry {dict(spec)!r}: find must be any of {FINDS}")
    mood = spec.get("mood", values or None)
    pinned = values if "mood" in spec else {}
    like = str(spec["like"]) if "like" in spec else None
    k = check_k(spec.get("k", default_k))
    return SearchQuery(_query_name(spec, like, mood, pinned), like, mood, pinned, k, find)


def _query_name(
    spec: Mapping[str, Any], like: str | None, mood: Any, pinned: Mapping[str, float]
) -> str:
    if spec.get("name"):
        return str(spec["name"])
    if like is not None:
        return like
    words = [mood] if isinstance(mood, str) else []
    values = mood if isinstance(mood, Mapping) else pinned
    return ", ".join([*words, *(f"{label}={value}" for label, value in values.items())])


def run_search_queries(
    catalogue_table: pd.DataFrame,
    track_vad: pd.DataFrame,
    vad_lexicon: pd.DataFrame,
    *,
    queries: Sequence[Mapping[str, Any]],
    k: int,
    profile_weights: Mapping[str, float],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Answer every query of ``search.queries``.

    Returns ``search_results`` (one row per query, kind of result and rank: the query's
    resolved VAD, the hit's ``distance``, movie, track for a track, VAD (a movie's
    duration-weighted mean), out-of-domain count or flag and the model that scored it) and
    ``search_queries`` (one row per query: how it was read, how many results, and the
    ``error`` when it names a word the lexicon lacks or a movie the catalogue lacks: logged,
    the other queries still answered).
    """
    parsed = [parse_query(spec, default_k=k) for spec in queries or ()]
    search = partial(_search, catalogue=catalogue_table, track_vad=track_vad, lexicon=vad_lexicon,
                     weights=profile_weights)  # fmt: skip
    answers = [_answer(number, query, search) for number, query in enumerate(parsed, start=1)]
    query_rows = pd.DataFrame([row for row, _ in answers])
    frames = [_fixed(frame, RESULT_COLUMNS) for _, found in answers for frame in found]
    n_failed = int(sum(bool(row["error"]) for row, _ in answers))
    logger.info("search: %d queries answered, %d not", len(answers) - n_failed, n_failed)
    results = (
        pd.concat(frames, ignore_index=True) if frames else _fixed(pd.DataFrame(), RESULT_COLUMNS)
    )
    return results, _fixed(query_rows, QUERY_COLUMNS)


def _answer(
    number: int,
    query: SearchQuery,
    search: Callable[[SearchQuery], tuple[Mood, list[pd.DataFrame]]],
) -> tuple[dict[str, Any], list[pd.DataFrame]]:
    """The query's ``search_queries`` row and its result tables (none, with the reason in
    ``error``, when it names a word or a movie that is not there)."""
    row: dict[str, Any] = {"query": number, "name": query.name, "kind": query.kind,
                           "k": query.k, "find": "+".join(query.find)}  # fmt: skip
    try:
        mood, found = search(query)
    except ParameterError as error:
        logger.warning("search: query %d (%s) not answered: %s", number, query.name, error)
        return {**row, "query_words": "", "n_results": 0, "error": str(error)}, []
    resolved = {f"query_{label}": mood.target.get(label, np.nan) for label in VAD_LABELS}
    row |= {**resolved, "query_words": " ".join(mood.words),
            "n_results": sum(len(frame) for frame in found), "error": ""}  # fmt: skip
    return row, [frame.assign(query=number, name=query.name, **resolved) for frame in found]


def _search(
    query: SearchQuery,
    *,
    catalogue: pd.DataFrame,
    track_vad: pd.DataFrame,
    lexicon: pd.DataFrame,
    weights: Mapping[str, float],
) -> tuple[Mood, list[pd.DataFrame]]:
    """The query's mood (a movie's own means for ``like``) and its result tables."""
    if query.like is not None:
        hits = similar_movies(catalogue, query.like, query.k, weights=weights)
        movie = catalogue.iloc[find_movie(catalogue, query.like)]
        target = {label: float(movie[f"{label}_mean"]) for label in VAD_LABELS}
        return Mood(target, (), query.like), [_movie_hits(hits)]
    mood = resolve_mood(query.mood, lexicon, values=query.pinned)
    found = []
    if "movies" in query.find:
        found.append(_movie_hits(movies_for_mood(catalogue, mood, query.k)))
    if "tracks" in query.find:
        found.append(tracks_for_mood(track_vad, mood, query.k).assign(find="tracks"))
    return mood, found


def _movie_hits(hits: pd.DataFrame) -> pd.DataFrame:
    means = {f"{label}_mean": label for label in VAD_LABELS}
    return hits.rename(columns=means).assign(find="movies")


def _fixed(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``table`` with exactly ``columns``, in order (missing ones empty)."""
    return table.reindex(columns=list(columns))


def find_similar_movies(
    catalogue_table: pd.DataFrame, k: int, profile_weights: Mapping[str, float]
) -> pd.DataFrame:
    """Every scored movie's ``k`` most similar movies (``similar_movies``)."""
    table = all_similar_movies(catalogue_table, k, weights=profile_weights)
    logger.info("search: nearest movies of %d movies", table["movie_id"].nunique())
    return table
