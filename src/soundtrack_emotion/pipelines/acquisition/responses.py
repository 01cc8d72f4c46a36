"""Checks and reads the raw API bodies the crawl stores.

A body is stored only if it has the shape the rest of the project relies on; anything else
raises :class:`~soundtrack_emotion.exceptions.FetchError` (``malformed_json`` or
``unexpected_shape``) and the item is recorded as failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from soundtrack_emotion.exceptions import FetchError
from soundtrack_emotion.lastfm_top_tags import MalformedTopTags, as_list, parse_top_tags


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as error:
        raise FetchError("malformed_json", str(error)[:200]) from error


def _as_list(value: Any) -> list[Any]:
    """Last.fm collapses a one-element list to the element itself; an empty one may be ""
    (the shared reading of :func:`lastfm_top_tags.as_list`, as a fetch error)."""
    try:
        return as_list(value)
    except MalformedTopTags as error:
        raise FetchError("unexpected_shape", str(error)) from None


def _get(body: Any, *keys: str) -> Any:
    node = body
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            raise FetchError("unexpected_shape", f"no {'.'.join(keys)!r} in the answer")
        node = node[key]
    return node


def parse_tag_top_tracks(body: bytes) -> tuple[list[tuple[str, str]], int]:
    """``(artist, title)`` of each track of a ``tag.getTopTracks`` page, in rank order, and
    the ``totalPages`` the answer announces."""
    data = _json(body)
    tracks = _as_list(_get(data, "tracks", "track"))
    total_pages = _get(data, "tracks", "@attr", "totalPages")
    try:
        total_pages = int(total_pages)
    except (TypeError, ValueError):  # null, a list, "n/a": all malformed, none may crash
        raise FetchError(
            "unexpected_shape", f"totalPages is not a number: {total_pages!r}"[:200]
        ) from None
    pairs = []
    for position, track in enumerate(tracks):
        artist = track.get("artist") if isinstance(track, Mapping) else None
        artist_name = artist.get("name") if isinstance(artist, Mapping) else artist
        title = track.get("name") if isinstance(track, Mapping) else None
        # dataset_creation refuses a stored page with such an entry: do not store it.
        if not isinstance(artist_name, str) or not isinstance(title, str):
            raise FetchError("unexpected_shape", f"entry {position} has no track or artist name")
        if artist_name and title:
            pairs.append((artist_name, title))
    return pairs, total_pages


def count_top_tags(body: bytes) -> int:
    """Number of tags in a ``track.getTopTags`` answer (0 for an unknown track), read by
    the parser dataset_creation uses (``lastfm_top_tags``), so both agree on every body."""
    try:
        return len(parse_top_tags(_json(body)))
    except MalformedTopTags as error:
        raise FetchError("unexpected_shape", str(error)) from None


def search_items(body: bytes) -> list[Mapping[str, Any]]:
    """The ``tracks.items`` of a Spotify search answer."""
    items = _get(_json(body), "tracks", "items")
    if not isinstance(items, list):
        raise FetchError("unexpected_shape", "tracks.items is not a list")
    return [item for item in items if isinstance(item, Mapping)]
