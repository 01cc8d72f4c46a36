"""Track identity and name matching shared by acquisition and dataset_creation.

* ``make_track_id``: the stable, file-name-safe id of a (artist, title) pair, used as the
  file stem of every per-track raw file and as the ``id`` column downstream.
* ``clean_query``: the thesis's Spotify query cleaning (drop "&", bracketed text, and anything
  after " - "), keeping the words of a name that is all brackets ("(Fork and Knife)").
* ``best_match``: pick the Spotify search item whose artist and title are most similar to the
  Last.fm track, above a threshold -- not blindly the first hit.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from typing import Any

from soundtrack_emotion.exceptions import ParameterError

_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]|\{[^}]*\}")
_BRACKETS = re.compile(r"[()\[\]{}]")
_NON_WORD = re.compile(r"[^\w]+")
_SLUG_PART_CHARS = 40


def normalise_name(text: str) -> str:
    """Case-folded, accent-free, punctuation-free form of an artist or title for comparison.

    >>> normalise_name("  Café  Tacvba (Live) ")
    'cafe tacvba live'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NON_WORD.sub(" ", ascii_only.casefold()).split())


def _slug(text: str) -> str:
    return normalise_name(text).replace(" ", "-")[:_SLUG_PART_CHARS].strip("-") or "x"


def make_track_id(artist: str, title: str) -> str:
    """Readable, stable id of a track: ``<artist-slug>__<title-slug>__<8 hex>``.

    The hash is over the normalised names, so case or spacing variants of the same track
    share an id, while different tracks whose slugs collide after truncation do not.
    """
    key = f"{normalise_name(artist)}\x1f{normalise_name(title)}"
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:8]
    return f"{_slug(artist)}__{_slug(title)}__{digest}"


def clean_query(text: str) -> str:
    """The thesis's Spotify query cleaning: drop "&", bracketed text and anything after " - ".

    A name that would clean to nothing (all in brackets: "(Fork and Knife)", "[Michael W.
    Smith]") keeps its words instead, so it can still be searched and matched.

    >>> clean_query("Taxi (Ave Maria) - Remastered 2004 & more"), clean_query("[Michael W. Smith]")
    ('Taxi', 'Michael W. Smith')
    """
    head = text.split(" - ", 1)[0]
    cleaned = " ".join(_BRACKETED.sub(" ", head).replace("&", " ").split())
    if cleaned:
        return cleaned
    return " ".join(_BRACKETS.sub(" ", head or text).replace("&", " ").split())


def _similarity(left: str, right: str) -> float:
    if not left or not right:
        return 0.0
    if left == right:
        return 1.0
    return SequenceMatcher(None, left, right).ratio()


def name_similarity(a: str, b: str) -> float:
    """Similarity in [0, 1] of two names: the better of the query-cleaned and the uncleaned
    comparison (both normalised), so "(Fork and Knife)" still matches itself and "Taxi (Ave
    Maria)" still matches "Taxi"."""
    cleaned = _similarity(normalise_name(clean_query(a)), normalise_name(clean_query(b)))
    return max(cleaned, _similarity(normalise_name(a), normalise_name(b)))


def match_score(artist: str, title: str, item: Mapping[str, Any]) -> float:
    """Score of one Spotify ``tracks.items[]`` entry: the title similarity times the best
    similarity of the Last.fm artist to any of the item's artists (both must agree)."""
    artists = [a.get("name", "") for a in item.get("artists") or [] if isinstance(a, Mapping)]
    artist_score = max((name_similarity(artist, name) for name in artists), default=0.0)
    return artist_score * name_similarity(title, str(item.get("name", "")))


def best_match(
    artist: str, title: str, items: Sequence[Mapping[str, Any]], *, threshold: float = 0.6
) -> tuple[Mapping[str, Any] | None, float]:
    """The highest-scoring item and its score, or ``(None, best score)`` below ``threshold``.

    Ties keep Spotify's own ranking (the earlier item wins).
    """
    if not 0.0 <= threshold <= 1.0:
        raise ParameterError(f"threshold must be in [0, 1], got {threshold!r}")
    best, best_score = None, 0.0
    for item in items:
        if not isinstance(item, Mapping) or not item.get("id"):
            continue
        score = match_score(artist, title, item)
        if score > best_score:
            best, best_score = item, score
    if best is None or best_score < threshold:
        return None, best_score
    return best, best_score
