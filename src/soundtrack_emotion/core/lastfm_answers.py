"""Reading Last.fm's answers, ``track.getTopTags`` and ``tag.getTopTracks``: the one parser of
each that acquisition (which crawls them) and dataset_creation (which reads them back) share.

Last.fm collapses a one-element list to the element itself and sends an empty one as ``""``
(``{"toptags": {"tag": ""}}`` is a valid answer with 0 tags, as is ``"tag": []``). A tag is
``{"name": str, "count": int >= 0}``; older API versions send the count as a digit string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class MalformedAnswer(ValueError):
    """The body is not the answer it should be; the message says what is wrong."""


def as_list(value: Any) -> list[Any]:
    """A Last.fm list: a list as is, a bare object as a one-element list, ``""``/null as []."""
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        return [value]
    if value in (None, ""):
        return []
    raise MalformedAnswer(f"expected a list, got {type(value).__name__} {value!r}"[:200])


def tag_entry(entry: Any) -> tuple[str, int]:
    """``(name, count)`` of one ``toptags.tag[]`` entry."""
    name = entry.get("name") if isinstance(entry, Mapping) else None
    count = entry.get("count") if isinstance(entry, Mapping) else None
    if isinstance(count, str) and count.isdigit():  # older API versions send strings
        count = int(count)
    if not isinstance(name, str) or isinstance(count, bool) or not isinstance(count, int):
        raise MalformedAnswer(f"bad tag entry {entry!r}"[:200])
    if count < 0:
        raise MalformedAnswer(f"bad tag entry {entry!r} (negative count)"[:200])
    return name, count


def parse_top_tags(data: Any) -> list[tuple[str, int]]:
    """``[(name, count), ...]`` of a decoded ``track.getTopTags`` body, in Last.fm's order.

    A Last.fm error body (``{"error": ..}``) is not handled here: callers check it first.
    """
    toptags = data.get("toptags") if isinstance(data, Mapping) else None
    if not isinstance(toptags, Mapping):
        raise MalformedAnswer("no 'toptags' object in the body")
    if "tag" not in toptags:
        raise MalformedAnswer("no 'toptags.tag' in the body")
    return [tag_entry(entry) for entry in as_list(toptags["tag"])]


@dataclass(frozen=True)
class TopTrack:
    """One entry of a ``tag.getTopTracks`` page: its artist, title and rank in the tag."""

    artist: str
    title: str
    rank: int


def parse_top_tracks(data: Any) -> list[TopTrack]:
    """The tracks of a decoded ``tag.getTopTracks`` page, in rank order.

    An empty page (``"track": ""`` or ``[]``) has none; an entry with an empty artist or title
    is left out (there is no track to look for); an entry without a name is malformed. The
    rank is the entry's ``@attr.rank``, else its position (from 1).
    """
    tracks = data.get("tracks") if isinstance(data, Mapping) else None
    if not isinstance(tracks, Mapping):
        raise MalformedAnswer("no 'tracks' object in the body")
    if "track" not in tracks:
        raise MalformedAnswer("no 'tracks.track' in the body")
    found = []
    for position, entry in enumerate(as_list(tracks["track"])):
        artist = entry.get("artist") if isinstance(entry, Mapping) else None
        artist_name = artist.get("name") if isinstance(artist, Mapping) else artist
        title = entry.get("name") if isinstance(entry, Mapping) else None
        if not isinstance(artist_name, str) or not isinstance(title, str):
            raise MalformedAnswer(
                f"entry {position}: no track name or artist name in {entry!r}"[:200]
            )
        rank = (entry.get("@attr") or {}).get("rank")
        if artist_name and title:
            found.append(
                TopTrack(artist_name, title, int(rank) if str(rank).isdigit() else position + 1)
            )
    return found
