"""Checks and reads the raw API bodies the crawl stores.

A body is stored only if it has the shape the rest of the project relies on; anything else
raises :class:`~soundtrack_emotion.exceptions.FetchError` (``malformed_json`` or
``unexpected_shape``) and the item is recorded as failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from soundtrack_emotion.core.lastfm_answers import (
    MalformedAnswer,
    as_list,
    parse_top_tags,
    parse_top_tracks,
)
from soundtrack_emotion.exceptions import FetchError


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as error:
        raise FetchError("malformed_json", str(error)[:200]) from error


def _as_list(value: Any) -> list[Any]:
    """Last.fm collapses a one-element list to the element itself; an empty one may be ""
    (the shared reading of :func:`lastfm_answers.as_list`, as a fetch error)."""
    try:
        return as_list(value)
    except MalformedAnswer as error:
        raise FetchError("unexpected_shape", str(error)) from None


def _get(body: Any, *keys: str) -> Any:
    node = body
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            raise FetchError("unexpected_shape", f"no {'.'.join(keys)!r} in the answer")
        node = node[key]
    return node


def parse_tag_top_tracks(body: bytes) -> tuple[list[tuple[str, str]], int]:
    """``(artist, title)`` of each track of a ``tag.getTopTracks`` page, in rank order
    (:func:`~soundtrack_emotion.core.lastfm_answers.parse_top_tracks`, the reading
    dataset_creation shares), and the ``totalPages`` the answer announces."""
    data = _json(body)
    try:
        tracks = parse_top_tracks(data)
    except MalformedAnswer as error:
        raise FetchError("unexpected_shape", str(error)) from None
    total_pages = _get(data, "tracks", "@attr", "totalPages")
    try:
        total_pages = int(total_pages)
    except (TypeError, ValueError):  # null, a list, "n/a": all malformed, none may crash
        raise FetchError(
            "unexpected_shape", f"totalPages is not a number: {total_pages!r}"[:200]
        ) from None
    return [(track.artist, track.title) for track in tracks], total_pages


def count_top_tags(body: bytes) -> int:
    """Number of tags in a ``track.getTopTags`` answer (0 for an unknown track), read by
    the parser dataset_creation uses (``lastfm_answers``), so both agree on every body."""
    try:
        return len(parse_top_tags(_json(body)))
    except MalformedAnswer as error:
        raise FetchError("unexpected_shape", str(error)) from None


def search_items(body: bytes) -> list[Mapping[str, Any]]:
    """The ``tracks.items`` of a Spotify search answer."""
    items = _get(_json(body), "tracks", "items")
    if not isinstance(items, list):
        raise FetchError("unexpected_shape", "tracks.items is not a list")
    return [item for item in items if isinstance(item, Mapping)]
