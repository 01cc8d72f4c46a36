"""Seeded song-level train/validation/test assignment, optionally grouped (e.g. by artist)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from soundtrack_emotion.core.matching import normalise_name
from soundtrack_emotion.core.vocabulary import SPLITS
from soundtrack_emotion.exceptions import ParameterError

# artists: tracks sharing any credited artist (or Spotify artist id) are one group;
# primary_artist: the first credited artist; credit: the exact credit string; track: none.
GROUP_BY = ("artists", "primary_artist", "credit", "track")
_CREDIT_SEPARATORS = re.compile(
    r"\s*(?:,|;|&|\+|\bfeat\.?|\bft\.?|\bfeaturing\b|\bvs\.?|\bwith\b|\sx\s)\s*",
    re.IGNORECASE,
)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


def credited_artists(credit: str) -> list[str]:
    """The artists of a credit, normalised, first (primary) artist first.

    Splits on "&", "feat.", "ft.", "featuring", "x", "vs.", "with", commas, ";" and "+" (not
    "/": AC/DC), and on
    "and" only where both sides have two words or more and the right one does not start with
    "the" ("Hans Zimmer and Lisa Gerrard", not "Simon and Garfunkel", "Florence and the
    Machine").

    >>> credited_artists("Hans Zimmer & Lisa Gerrard feat. Klaus Badelt")
    ['hans zimmer', 'lisa gerrard', 'klaus badelt']
    """
    names: list[str] = []
    for part in _CREDIT_SEPARATORS.split(credit):
        pieces = _AND.split(part)
        safe = (
            len(pieces) > 1
            and all(len(p.split()) >= 2 for p in pieces)
            and not any(p.casefold().startswith("the ") for p in pieces[1:])
        )
        for piece in pieces if safe else [part]:
            name = normalise_name(piece)
            if name and name not in names:
                names.append(name)
    return names or [normalise_name(credit)]


def split_groups(
    ids: Sequence[str],
    credits: Sequence[str],
    spotify_artist_ids: Sequence[str],
    *,
    group_by: str = "artists",
) -> list[str]:
    """The group key of each track for ``assign_splits``, by ``group_by`` (``GROUP_BY``).

    ``artists``: connected components of the "shares an artist" relation over every
    credited artist name and every Spotify artist id (comma-separated), so "Hans Zimmer",
    "Hans Zimmer & Lisa Gerrard" and "Lisa Gerrard" are one group. The key of a group is
    its smallest member name, so it does not depend on the row order.
    """
    if group_by not in GROUP_BY:
        raise ParameterError(f"split.group_by must be one of {GROUP_BY}, got {group_by!r}")
    if group_by == "track":
        return [str(i) for i in ids]
    if group_by == "credit":
        return [normalise_name(c) for c in credits]
    if group_by == "primary_artist":
        return [credited_artists(c)[0] for c in credits]
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    nodes_per_track = []
    for credit, spotify_ids in zip(credits, spotify_artist_ids, strict=True):
        nodes = [f"name:{n}" for n in credited_artists(credit)]
        nodes += [f"spotify:{i}" for i in str(spotify_ids or "").split(",") if i.strip()]
        for other in nodes[1:]:
            a, b = find(nodes[0]), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
        nodes_per_track.append(nodes[0])
    return [find(node).split(":", 1)[1] for node in nodes_per_track]


def groups_spanning_splits(groups: Sequence[str], splits: Sequence[str]) -> list[str]:
    """The groups whose tracks are in more than one split (none, by construction)."""
    seen: dict[str, set[str]] = {}
    for group, split in zip(groups, splits, strict=True):
        seen.setdefault(group, set()).add(split)
    return sorted(g for g, s in seen.items() if len(s) > 1)


def split_targets(n: int, *, validation_fraction: float, test_fraction: float) -> dict[str, int]:
    """Number of items each split should get (rounded; train takes the rest)."""
    for name, value in (
        ("validation_fraction", validation_fraction),
        ("test_fraction", test_fraction),
    ):
        if not 0.0 <= value < 1.0:
            raise ParameterError(f"{name} must be in [0, 1), got {value!r}")
    if validation_fraction + test_fraction >= 1.0:
        raise ParameterError(
            "validation_fraction + test_fraction must leave room for training, got "
            f"{validation_fraction!r} + {test_fraction!r}"
        )
    n_test = round(n * test_fraction)
    n_validation = round(n * validation_fraction)
    return {"train": n - n_test - n_validation, "validation": n_validation, "test": n_test}


def assign_splits(
    groups: Sequence[str],
    *,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
) -> list[str]:
    """The split of each item, given its group key (items of one group share a split).

    Groups are visited in a seeded random order (independent of the input order) and each
    goes to the split furthest below its target count, so the fractions are met as closely
    as the group sizes allow. With one item per group the counts are exact.
    """
    targets = split_targets(
        len(groups), validation_fraction=validation_fraction, test_fraction=test_fraction
    )
    sizes: dict[str, int] = {}
    for key in groups:
        sizes[key] = sizes.get(key, 0) + 1
    keys = sorted(sizes)
    order = np.random.default_rng(seed).permutation(len(keys))
    filled = dict.fromkeys(SPLITS, 0)
    chosen: dict[str, str] = {}
    preference = ("test", "validation", "train")  # tie-break: fill the held-out sets first
    for i in order:
        key = keys[int(i)]
        split = max(preference, key=lambda s: targets[s] - filled[s])
        chosen[key] = split
        filled[split] += sizes[key]
    return [chosen[key] for key in groups]
