"""Reading a ``track.getTopTags`` answer: the one parser acquisition and dataset_creation share.

Last.fm collapses a one-element list to the element itself and sends an empty one as ``""``
(``{"toptags": {"tag": ""}}`` is a valid answer with 0 tags, as is ``"tag": []``). A tag is
``{"name": str, "count": int >= 0}``; older API versions send the count as a digit string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class MalformedTopTags(ValueError):
    """The body is not a ``track.getTopTags`` answer; the message says what is wrong."""


def as_list(value: Any) -> list[Any]:
    """A Last.fm list: a list as is, a bare object as a one-element list, ``""``/null as []."""
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        return [value]
    if value in (None, ""):
        return []
    raise MalformedTopTags(f"expected a list, got {type(value).__name__} {value!r}"[:200])


def tag_entry(entry: Any) -> tuple[str, int]:
    """``(name, count)`` of one ``toptags.tag[]`` entry."""
    name = entry.get("name") if isinstance(entry, Mapping) else None
    count = entry.get("count") if isinstance(entry, Mapping) else None
    if isinstance(count, str) and count.isdigit():  # older API versions send strings
        count = int(count)
    if not isinstance(name, str) or isinstance(count, bool) or not isinstance(count, int):
        raise MalformedTopTags(f"bad tag entry {entry!r}"[:200])
    if count < 0:
        raise MalformedTopTags(f"bad tag entry {entry!r} (negative count)"[:200])
    return name, count


def parse_top_tags(data: Any) -> list[tuple[str, int]]:
    """``[(name, count), ...]`` of a decoded ``track.getTopTags`` body, in Last.fm's order.

    A Last.fm error body (``{"error": ..}``) is not handled here: callers check it first.
    """
    toptags = data.get("toptags") if isinstance(data, Mapping) else None
    if not isinstance(toptags, Mapping):
        raise MalformedTopTags("no 'toptags' object in the body")
    if "tag" not in toptags:
        raise MalformedTopTags("no 'toptags.tag' in the body")
    return [tag_entry(entry) for entry in as_list(toptags["tag"])]
