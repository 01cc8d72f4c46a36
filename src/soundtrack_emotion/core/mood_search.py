"""Mood search over scored movies and tracks: which movies feel like this one, and what do we
have that is "melancholic but calm".

A **mood** is a target in VAD space (each dimension 0..1): any subset of ``valence``,
``arousal`` and ``dominance`` given as numbers, or words turned into VAD through the VAD
lexicon the labels were made with, compared in the labels' normal form
(:func:`~soundtrack_emotion.core.lexicon.normalise_tag`). Words count alike: the phrase's VAD is
the mean of its words' VAD, the labelling rule (count-weighted mean of a track's mood tags)
with every count 1. A dimension the query leaves out is not compared.

**Movie to mood.** The distance of a movie to a mood is the duration-weighted root mean square
distance of its music to the target, computed from the catalogue alone::

    sqrt( sum over queried labels of (mean - target)^2 + std^2 )

(``mean`` and ``std`` are the movie's duration-weighted mean and population spread), so a
movie that sits on the mood throughout ranks above one that only averages to it. **Track to
mood**: the Euclidean distance of the track's overall VAD to the target. Both are in VAD units.

**Movie to movie.** A movie's profile vector is, per label, its ``mean``, ``std``, ``opening``,
``closing`` and ``trend_per_hour`` (the catalogue table's columns). Each component is divided
by its spread over the catalogue (z-scores: a trend per hour and a spread are in different
units), then movies are compared by the weighted Euclidean distance, normalised by the total
weight of the components both movies have (:data:`PROFILE_WEIGHTS`; a single-track movie has
no trend). A diagonal Mahalanobis distance, in effect: the full covariance of 15 components
would need far more movies than a catalogue may have to be estimated.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from soundtrack_emotion.core.lexicon import normalise_tag
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.exceptions import ParameterError

# The catalogue table's per-label statistics that make a movie's profile vector, and how much
# each counts in a movie-to-movie distance: the overall mood first, its spread next, the way
# the album opens, closes and drifts last.
PROFILE_WEIGHTS: dict[str, float] = {
    "mean": 1.0,
    "std": 0.5,
    "opening": 0.25,
    "closing": 0.25,
    "trend_per_hour": 0.25,
}
# Words a mood phrase may join its mood words with; they carry no VAD of their own.
CONNECTIVES = frozenset(
    {"a", "an", "and", "but", "yet", "or", "with", "also", "plus", "the", "of", "very",
     "quite", "rather", "somewhat", "slightly", "bit", "little", "more", "mostly"}
)  # fmt: skip
# Longest lexicon entry (in words) matched inside a mood phrase.
MAX_PHRASE_WORDS = 3
# Near words suggested for a word the lexicon lacks.
N_SUGGESTIONS = 5
# Columns every hit keeps, when present: which model made the scores and on what corpus.
PROVENANCE_COLUMNS = ("model", "model_version", "trained_on", "demo_model")
# A track_vad row whose file could not be scored.
UNREADABLE_STATUS = "error"
_PHRASE_BREAKS = re.compile(r"[,;:/+&]+")


# -------------------------------------------------------------------------------------- moods


@dataclass(frozen=True)
class Mood:
    """A resolved mood: the target per queried label (0..1), the lexicon words it came from
    (empty for numbers) and the query as given."""

    target: dict[str, float]
    words: tuple[str, ...]
    text: str

    def describe(self) -> str:
        """``valence 0.20, arousal 0.30``, and the words when there are any."""
        values = ", ".join(f"{label} {value:.2f}" for label, value in self.target.items())
        return f"{values} (from {', '.join(self.words)})" if self.words else values


def lexicon_scores(lexicon: pd.DataFrame) -> dict[str, tuple[float, float, float]]:
    """``{normal form: (valence, arousal, dominance)}`` of a ``word, valence, arousal,
    dominance`` table (the catalogued ``vad_lexicon``, or a raw one: the first entry of a
    normal form wins, as when the labels were made)."""
    missing = [c for c in ("word", *VAD_LABELS) if c not in lexicon.columns]
    if missing:
        raise ParameterError(f"a VAD lexicon needs columns word, {', '.join(VAD_LABELS)}; "
                             f"missing {missing}")  # fmt: skip
    scores: dict[str, tuple[float, float, float]] = {}
    for word, *vad in lexicon[["word", *VAD_LABELS]].itertuples(index=False):
        scores.setdefault(normalise_tag(str(word)), tuple(float(v) for v in vad))
    scores.pop("", None)
    return scores


def _suggest(word: str, vocabulary: Iterable[str]) -> list[str]:
    return difflib.get_close_matches(word, list(vocabulary), n=N_SUGGESTIONS, cutoff=0.6)


def mood_words(text: str, scores: Mapping[str, tuple[float, float, float]]) -> list[str]:
    """The lexicon entries named in ``text``, in order: each part (split at commas and the
    like) is normalised, then matched left to right, longest entry first (up to
    ``MAX_PHRASE_WORDS`` words, so "laid back" is one entry), ``CONNECTIVES`` skipped.

    Raises ``ParameterError`` naming every word the lexicon lacks, with near words from it.
    """
    found: list[str] = []
    unknown: list[str] = []
    for part in _PHRASE_BREAKS.split(text):
        tokens = normalise_tag(part).split()
        start = 0
        while start < len(tokens):
            for size in range(min(MAX_PHRASE_WORDS, len(tokens) - start), 0, -1):
                phrase = " ".join(tokens[start : start + size])
                if phrase in scores and (size > 1 or phrase not in CONNECTIVES):
                    found.append(phrase)
                    break
            else:
                size = 1
                if tokens[start] not in CONNECTIVES:
                    unknown.append(tokens[start])
            start += size
    if unknown:
        hints = "; ".join(
            f"{word!r}: did you mean {', '.join(near)}?" if (near := _suggest(word, scores))
            else f"{word!r}: no near word"
            for word in dict.fromkeys(unknown)
        )  # fmt: skip
        raise ParameterError(
            f"mood {text!r}: not in the VAD lexicon ({len(scores)} words): {hints}"
        )
    if not found:
        raise ParameterError(f"mood {text!r} names no mood word (only {sorted(CONNECTIVES)})")
    return found


def resolve_mood(
    mood: str | Mapping[str, float] | Mood,
    lexicon: pd.DataFrame | None = None,
    *,
    values: Mapping[str, float] | None = None,
) -> Mood:
    """A query as a :class:`Mood`: words (through ``lexicon``) or ``{label: value}`` with any
    non-empty subset of ``VAD_LABELS``, each in [0, 1]. ``values`` pin labels whatever the
    words say ("calm" with valence 0.2: calm, and unhappy)."""
    resolved = _resolve(mood, lexicon)
    if not values:
        return resolved
    pinned = _label_values(values)
    target = {label: pinned.get(label, resolved.target.get(label)) for label in VAD_LABELS
              if label in pinned or label in resolved.target}  # fmt: skip
    return Mood(target, resolved.words, f"{resolved.text}, {_values_text(pinned)}")


def _resolve(mood: str | Mapping[str, float] | Mood, lexicon: pd.DataFrame | None) -> Mood:
    if isinstance(mood, Mood):
        return mood
    if isinstance(mood, str):
        if lexicon is None:
            raise ParameterError(f"mood {mood!r} is words: a VAD lexicon is needed to read it")
        scores = lexicon_scores(lexicon)
        words = mood_words(mood, scores)
        vad = np.mean([scores[word] for word in words], axis=0)
        return Mood(dict(zip(VAD_LABELS, map(float, vad), strict=True)), tuple(words), mood)
    if not isinstance(mood, Mapping):
        raise ParameterError(f"a mood is words or {{label: value}}, got {mood!r}")
    target = _label_values(mood)
    return Mood(target, (), _values_text(target))


def _label_values(values: Mapping[str, object]) -> dict[str, float]:
    """``{label: value}`` checked: known labels, at least one, each a number in [0, 1]."""
    unknown = [key for key in values if key not in VAD_LABELS]
    if unknown or not values:
        raise ParameterError(
            f"mood {dict(values)!r}: give values for any of {list(VAD_LABELS)}"
            + (f"; unknown {unknown}" if unknown else "")
        )
    return {label: _unit_value(values[label], label) for label in VAD_LABELS if label in values}


def _values_text(values: Mapping[str, float]) -> str:
    return ", ".join(f"{label}={value:g}" for label, value in values.items())


def _unit_value(value: object, label: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ParameterError(f"mood {label} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise ParameterError(f"mood {label} must be in [0, 1], got {number}")
    return number


# ------------------------------------------------------------------------------------- search


def check_k(k: object) -> int:
    """``k`` as an int, or a ``ParameterError`` unless it is a whole number >= 1."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ParameterError(f"k must be a whole number of results >= 1, got {k!r}")
    return int(k)


def _ranked(hits: pd.DataFrame, distance: np.ndarray, k: int) -> pd.DataFrame:
    """The ``k`` rows of ``hits`` nearest by ``distance`` (NaN: not comparable, left out),
    ties in table order, with ``rank`` (1-based) and ``distance`` in front."""
    order = pd.Series(distance, index=hits.index).dropna().sort_values(kind="stable")
    top = hits.loc[order.index[:k]].copy()
    top.insert(0, "distance", order.iloc[:k].to_numpy(float))
    top.insert(0, "rank", np.arange(1, len(top) + 1, dtype=np.int64))
    return top.reset_index(drop=True)


def movies_for_mood(
    catalogue: pd.DataFrame,
    mood: str | Mapping[str, float] | Mood,
    k: int = 5,
    *,
    lexicon: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ``k`` movies of ``catalogue`` (the catalogue table) nearest to ``mood``: their rows
    with ``rank`` and ``distance`` (duration-weighted RMS distance of the movie's music to the
    mood, in VAD units) in front. Unscored movies are left out."""
    k = check_k(k)
    target = resolve_mood(mood, lexicon).target
    squared = np.zeros(len(catalogue))
    for label, value in target.items():
        mean = _column(catalogue, f"{label}_mean")
        spread = np.nan_to_num(_column(catalogue, f"{label}_std"), nan=0.0)
        squared += (mean - value) ** 2 + spread**2
    return _ranked(_with_text_ids(catalogue), np.sqrt(squared), k)


def tracks_for_mood(
    track_vad: pd.DataFrame,
    mood: str | Mapping[str, float] | Mood,
    k: int = 5,
    *,
    lexicon: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ``k`` readable tracks of ``track_vad`` nearest to ``mood`` (Euclidean distance of
    the track's overall VAD to the target, over the queried labels): their rows with
    ``rank`` and ``distance`` in front."""
    k = check_k(k)
    target = resolve_mood(mood, lexicon).target
    squared = np.zeros(len(track_vad))
    for label, value in target.items():
        squared += (_column(track_vad, label) - value) ** 2
    if "status" in track_vad.columns:
        squared[(track_vad["status"] == UNREADABLE_STATUS).to_numpy()] = np.nan
    return _ranked(_with_text_ids(track_vad), np.sqrt(squared), k)


def _column(table: pd.DataFrame, name: str) -> np.ndarray:
    if name not in table.columns:
        raise ParameterError(f"the table has no column {name!r}; columns: {list(table.columns)}")
    return pd.to_numeric(table[name], errors="coerce").to_numpy(np.float64)


def _with_text_ids(table: pd.DataFrame) -> pd.DataFrame:
    """``movie_id`` as text (a CSV of numeric ids reads them as numbers)."""
    if "movie_id" not in table.columns:
        return table
    return table.assign(movie_id=table["movie_id"].astype(str))


# ----------------------------------------------------------------------------- movie profiles


def profile_columns(weights: Mapping[str, float] = PROFILE_WEIGHTS) -> list[str]:
    """The catalogue columns of a profile vector: ``{label}_{stat}`` per label and weighted
    statistic."""
    return [f"{label}_{stat}" for label in VAD_LABELS for stat in weights]


def profile_vectors(
    catalogue: pd.DataFrame, weights: Mapping[str, float] = PROFILE_WEIGHTS
) -> pd.DataFrame:
    """One row per movie (index ``movie_id``): its profile components standardised over the
    catalogue (minus the catalogue mean, over the catalogue's population std; a component
    that does not vary keeps its raw difference). NaN where a movie lacks a component."""
    _check_weights(weights)
    columns = profile_columns(weights)
    missing = [c for c in columns if c not in catalogue.columns]
    if missing:
        raise ParameterError(f"the catalogue table lacks profile columns {missing}")
    raw = catalogue[columns].apply(pd.to_numeric, errors="coerce").astype(np.float64)
    raw.index = _with_text_ids(catalogue)["movie_id"].to_numpy()
    raw.index.name = "movie_id"
    spread = raw.std(ddof=0).where(lambda s: s > 0, 1.0).fillna(1.0)
    return (raw - raw.mean()) / spread


def _check_weights(weights: Mapping[str, float]) -> None:
    unknown = [stat for stat in weights if stat not in PROFILE_WEIGHTS]
    negative = {stat: w for stat, w in weights.items() if not float(w) >= 0}
    if unknown or negative or not any(float(w) > 0 for w in weights.values()):
        raise ParameterError(
            f"profile weights {dict(weights)!r}: give non-negative weights, not all 0, for "
            f"any of {list(PROFILE_WEIGHTS)}"
            + (f"; unknown {unknown}" if unknown else "")
            + (f"; negative {negative}" if negative else "")
        )


def _component_weights(weights: Mapping[str, float]) -> np.ndarray:
    return np.array([float(weights[stat]) for _ in VAD_LABELS for stat in weights])


def profile_distances(
    vectors: pd.DataFrame | np.ndarray,
    query: np.ndarray,
    weights: Mapping[str, float] = PROFILE_WEIGHTS,
) -> np.ndarray:
    """Distance of each row of ``vectors`` (:func:`profile_vectors`) [n_movies, n_components]
    to the vector ``query`` [n_components]: ``sqrt(sum w_c (x_c - q_c)^2 / sum w_c)`` over
    the components both have; NaN when they share none."""
    w = _component_weights(weights)
    diff = np.asarray(vectors, dtype=np.float64) - query[np.newaxis, :]
    shared = np.isfinite(diff)
    total = (shared * w).sum(axis=1)
    squared = np.where(shared, diff, 0.0) ** 2 @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.sqrt(squared / total), np.nan)


def find_movie(catalogue: pd.DataFrame, movie: str) -> int:
    """Row position of ``movie`` in ``catalogue``: by ``movie_id``, else by a title that
    matches it case-insensitively and names one movie. A ``ParameterError`` names it and
    suggests near ids and titles otherwise."""
    ids = catalogue["movie_id"].astype(str).tolist()
    if str(movie) in ids:
        return ids.index(str(movie))
    titles = catalogue["title"].astype(str).tolist() if "title" in catalogue.columns else []
    matches = [i for i, title in enumerate(titles) if title.casefold() == str(movie).casefold()]
    if len(matches) == 1:
        return matches[0]
    near = _suggest(str(movie), dict.fromkeys([*ids, *titles]))
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    several = f" ({len(matches)} movies have that title: use the movie_id)" if matches else ""
    raise ParameterError(f"no movie {movie!r} in the catalogue ({len(ids)} movies){several}{hint}")


def similar_movies(
    catalogue: pd.DataFrame,
    movie_id: str,
    k: int = 5,
    *,
    weights: Mapping[str, float] = PROFILE_WEIGHTS,
) -> pd.DataFrame:
    """The ``k`` movies whose profile is nearest to ``movie_id``'s (see the module's
    docstring): their catalogue rows with ``rank`` and ``distance`` (RMS z-score) in front.
    The movie itself and movies with nothing to compare (unscored) are left out."""
    k = check_k(k)
    row = find_movie(catalogue, movie_id)
    vectors = profile_vectors(catalogue, weights)
    query = vectors.iloc[row].to_numpy()
    if not np.isfinite(query).any():
        raise ParameterError(f"movie {movie_id!r} has no scored track to compare")
    distance = profile_distances(vectors, query, weights)
    distance[row] = np.nan
    return _ranked(_with_text_ids(catalogue), distance, k)


def all_similar_movies(
    catalogue: pd.DataFrame, k: int = 5, *, weights: Mapping[str, float] = PROFILE_WEIGHTS
) -> pd.DataFrame:
    """Every scored movie's ``k`` nearest movies: ``movie_id, title, rank, similar_id,
    similar_title, distance`` (see :func:`similar_movies`), in catalogue order."""
    k = check_k(k)
    table = _with_text_ids(catalogue)
    vectors = profile_vectors(table, weights).to_numpy()
    ids = table["movie_id"].tolist()
    titles = table["title"].astype(str).tolist() if "title" in table.columns else ids
    rows = []
    for row, query in enumerate(vectors):
        if not np.isfinite(query).any():
            continue
        distance = profile_distances(vectors, query, weights)
        distance[row] = np.nan
        comparable = np.flatnonzero(np.isfinite(distance))
        nearest = comparable[np.argsort(distance[comparable], kind="stable")[:k]]
        rows.extend(
            (ids[row], titles[row], rank, ids[hit], titles[hit], float(distance[hit]))
            for rank, hit in enumerate(nearest, start=1)
        )
    columns = ["movie_id", "title", "rank", "similar_id", "similar_title", "distance"]
    return pd.DataFrame(rows, columns=columns).astype({"rank": "int64", "distance": "float64"})
