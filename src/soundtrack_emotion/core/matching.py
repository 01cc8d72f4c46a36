"""Track identity and name matching shared by acquisition and dataset_creation.

* ``make_track_id``: the stable, file-name-safe id of a (artist, title) pair, used as the
  file stem of every per-track raw file and as the ``id`` column downstream.
* ``file_safe_ids``: file-name-safe ids for any names (movies of a catalogue), refusing two
  names that would share files, also on a case-insensitive file system.
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
_UNSAFE_FILE_CHARS = re.compile(r"[^\w.\-]+")
_SLUG_PART_CHARS = 40
# UTF-8 bytes of one slug part: 40 CJK characters would be 120.
_SLUG_PART_BYTES = 60
# UTF-8 bytes of an id from file_safe_ids, hash suffix included: far below the 255 bytes a
# file name may have, whatever suffix is added.
MAX_ID_BYTES = 96
_HASH_CHARS = 8


def normalise_name(text: str) -> str:
    """Case-folded, accent-free, punctuation-free form of an artist or title for comparison.

    >>> normalise_name("  Café  Tacvba (Live) ")
    'cafe tacvba live'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NON_WORD.sub(" ", ascii_only.casefold()).split())


def _truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding fits ``max_bytes``."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def _slug(text: str) -> str:
    slug = normalise_name(text).replace(" ", "-")[:_SLUG_PART_CHARS]
    return _truncate_utf8(slug, _SLUG_PART_BYTES).strip("-") or "x"


def _identity(text: str) -> str:
    """What makes two names the same track: the normalised name, or, for a name with no
    letter or digit (all symbols or emoji), the name itself, so such names stay apart."""
    return normalise_name(text) or unicodedata.normalize("NFKC", text).strip().casefold()


def make_track_id(artist: str, title: str) -> str:
    """Readable, stable id of a track: ``<artist-slug>__<title-slug>__<8 hex>``.

    The hash is over the normalised names, so case or spacing variants of the same track
    share an id, while different tracks whose slugs collide after truncation do not.
    """
    key = f"{_identity(artist)}\x1f{_identity(title)}"
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:8]
    return f"{_slug(artist)}__{_slug(title)}__{digest}"


def file_safe_id(name: str, *, what: str = "id") -> str:
    """``name`` as one file-name component: characters other than letters, digits, ".", "-"
    and "_" become "_"; longer than ``MAX_ID_BYTES`` in UTF-8, it is cut and ends in a hash of
    the whole name.

    >>> file_safe_id("Face/Off"), len(file_safe_id("星" * 200).encode()) <= MAX_ID_BYTES
    ('Face_Off', True)
    """
    safe = _UNSAFE_FILE_CHARS.sub("_", str(name)).strip("._")
    if not safe:
        raise ParameterError(f"{what} {name!r} has no letter or digit to name its files")
    if len(safe.encode("utf-8")) <= MAX_ID_BYTES:
        return safe
    digest = hashlib.sha1(str(name).encode("utf-8")).hexdigest()[:_HASH_CHARS]
    return f"{_truncate_utf8(safe, MAX_ID_BYTES - _HASH_CHARS - 1)}-{digest}"


def file_safe_ids(names: Sequence[str], *, what: str = "id") -> dict[str, str]:
    """``{name: file_safe_id(name)}`` for distinct ``names``; raises ``ParameterError`` naming
    both when two names would share files: equal ids, or ids equal but for case (they overwrite
    each other on a case-insensitive file system, as on macOS and Windows).

    >>> file_safe_ids(["Alien", "Aliens"])
    {'Alien': 'Alien', 'Aliens': 'Aliens'}
    """
    ids: dict[str, str] = {}
    owner: dict[str, str] = {}
    for name in dict.fromkeys(str(n) for n in names):
        safe = file_safe_id(name, what=what)
        key = safe.casefold()
        if key in owner:
            raise ParameterError(
                f"{what}s {owner[key]!r} and {name!r} would share files (as {ids[owner[key]]!r} "
                f"and {safe!r}, equal on a case-insensitive file system): rename one of them"
            )
        owner[key] = name
        ids[name] = safe
    return ids


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
